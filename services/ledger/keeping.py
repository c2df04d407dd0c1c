"""The board and its kept sums across a clean restart (``liandong.service.Keeper``).

Why: after a start, the first ``GET /stats`` and the SLA gauges waited for one read of every case the
worker owns (201 s at a million cases in RocksDB; ``liandong bench-scale``). At a clean stop, once
its agent has stopped (no batch in flight, none after), the worker now saves what the board holds
(the open cases' marks, the counts, the sums and the pending cases: nothing per closed case) with
the offsets of the table's changelog partitions it owns, beside the RocksDB files. At the next start
it loads them, counts each record the table restores past those offsets as a change (the record it
replaces read from the store), and once the table is restored keeps them if the worker owns the
same partitions and the store has the offsets they now stand for; else it reads every case, as
before. A file is used once: it is removed as it is loaded.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from liandong import get_logger
from liandong.clock import now as wall_clock
from liandong.domain.case import state_from_json
from liandong.service import View

from .api import CASES

if TYPE_CHECKING:
    from .app import Recorder

log = get_logger(__name__)

#: The file's layout; another one is not read (every case is read instead).
VERSION = 1


@dataclass
class Restoring:
    """A loaded board while the table restores: the offset counted up to in each partition it stands
    for, and the records restored so far (faust applies them to the store in batches, later)."""

    offsets: dict[int, int | None]  # None: nothing in that partition yet
    restored: dict[bytes, bytes | None] = field(default_factory=dict)
    broken: str | None = None  # why what was loaded cannot be kept


@dataclass
class Keeping:
    restoring: Restoring | None = None


def save(recorder: Recorder, path: Path, offsets: dict[int, int | None], generation: object,
         at: datetime | None = None) -> bool:
    """Writes the board with the table's ``offsets``, if it holds every case the worker owned for
    ``generation`` (the agent has stopped: nothing changes it any more)."""
    board = recorder.board
    if board.generation is None or board.generation != generation:
        log.info("board_not_kept", reason="not rebuilt for what the worker owns")
        return False
    if board.applying:
        log.info("board_not_kept", reason="a batch failed after it applied events")
        return False
    if not offsets:
        log.info("board_not_kept", reason="the worker owns no partition")
        return False
    data = {"version": VERSION, "offsets": offsets, "board": board.saved(at or wall_clock())}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, separators=(",", ":"), ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)  # whole or not at all
    log.info("board_kept", path=str(path), partitions=len(offsets), open=len(board.marks),
             pending=len(board.tallies.pending))
    return True


def load(recorder: Recorder, path: Path) -> bool:
    """Loads what ``save`` wrote (and removes the file); False if there is nothing to load."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return False
    except (OSError, ValueError) as exc:
        log.warning("board_not_loaded", path=str(path), reason=repr(exc))
        return False
    finally:
        path.unlink(missing_ok=True)  # used once: a later start without a clean stop reads every case
    if not isinstance(data, dict) or data.get("version") != VERSION:
        log.warning("board_not_loaded", path=str(path), reason=f"layout {data.get('version')!r}, not {VERSION}"
                    if isinstance(data, dict) else "not a saved board")
        return False
    try:
        recorder.board.load(data["board"])
        offsets = {int(p): None if o is None else int(o) for p, o in data["offsets"].items()}
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        recorder.board.clear()
        log.warning("board_not_loaded", path=str(path), reason=repr(exc))
        return False
    recorder.kept.restoring = Restoring(offsets)
    return True


def restored(recorder: Recorder, partition: int, offset: int, key: bytes, value: bytes | None,
             replaced: Any) -> None:
    """A changelog record the table restores: a change to the loaded board, if it stands for its partition."""
    r = recorder.kept.restoring
    if r is None or r.broken or partition not in r.offsets or offset <= _offset(r.offsets[partition]):
        return  # nothing loaded, a standby partition, or counted already
    before_raw = r.restored[key] if key in r.restored else replaced()
    r.restored[key] = value
    r.offsets[partition] = offset
    if value is None:
        r.broken = f"a case's record was removed ({key!r})"
        return
    try:
        board = recorder.board
        board.set(state_from_json(value), board.before(state_from_json(before_raw)) if before_raw else None)
    except Exception as exc:  # a record the board cannot count: every case is read instead
        r.broken = f"{key!r} at {partition}/{offset}: {exc!r}"


def _offset(o: int | None) -> int:
    return -1 if o is None else o


def recovered(recorder: Recorder, view: View, generation: object) -> None:
    """The table is restored: the loaded board is kept for ``generation``, or every case is read."""
    r, recorder.kept.restoring = recorder.kept.restoring, None
    if r is None:
        return
    offsets = view.offsets(CASES)
    why = r.broken or (None if offsets == r.offsets else
                       f"the store's offsets {offsets} are not those loaded and restored since {r.offsets}")
    if why is None:
        recorder.board.rebuilt(generation)
        log.info("board_loaded", partitions=len(offsets), open=len(recorder.board.marks),
                 pending=len(recorder.board.tallies.pending))
    else:
        recorder.board.clear()
        log.info("board_not_loaded", reason=why)
