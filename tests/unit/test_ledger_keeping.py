"""The board kept across a clean restart (services/ledger/keeping.py): what is saved and loaded gives
the figures the board had; records restored past the saved offsets count as changes; the loaded
board is kept only where the store has the offsets it now stands for, and a file is used once."""

from __future__ import annotations

import copy
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from liandong.domain import ClockConfig
from liandong.domain.case import state_to_json
from services.ledger import keeping
from services.ledger.app import Recorder
from services.ledger.stats import report, statistics
from tests.unit.cases import random_case
from tests.unit.test_ledger_board import recount, same

NOW = datetime(2026, 6, 1, tzinfo=UTC)


class View:
    """What the keeping asks of the ledger's view: the consumer generation, the table's offsets."""

    def __init__(self, offsets: dict[int, int | None], generation: object = 3) -> None:
        self.offsets_now, self.generation_now, self.peers = offsets, generation, self

    def generation(self) -> object:
        return self.generation_now

    def offsets(self, _: str) -> dict[int, int | None]:
        return dict(self.offsets_now)


def filled(seed: int, n: int = 300) -> tuple[Recorder, dict[str, Any]]:
    """A ledger whose board holds ``n`` random cases, some changed since (as the ledger asks ``before``)."""
    rng, recorder, latest = random.Random(seed), Recorder.unsealed(ClockConfig()), {}
    board = recorder.board
    board.rebuilt(3)  # every case the worker owns: it has none yet
    for _ in range(n):
        case = random_case(rng, rng.randrange(n // 2))
        old = latest.get(case.case_number)
        board.set(case, board.before(old) if old is not None else None)
        latest[case.case_number] = case
    return recorder, latest


def figures(recorder: Recorder, at: datetime) -> tuple[Any, ...]:
    board = recorder.board
    return board.figures(at), report(board.tallies.totals(at), at, 2026), report(board.tallies.totals(at, "HRSS"), at, 2026)


def test_a_saved_board_loads_with_the_same_figures_and_holds_nothing_per_closed_case(tmp_path: Path) -> None:
    recorder, latest = filled(1)
    path = tmp_path / "kept.json"
    assert keeping.save(recorder, path, {0: 41, 1: 7}, 3, at=NOW)
    saved = json.loads(path.read_text())
    assert saved["offsets"] == {"0": 41, "1": 7} and len(saved["board"]["marks"]) < len(latest)
    loaded = Recorder.unsealed(ClockConfig())
    assert keeping.load(loaded, path) and not path.exists()  # used once
    keeping.recovered(loaded, View({0: 41, 1: 7}), 9)  # type: ignore[arg-type]
    assert loaded.board.generation == 9  # kept: no case read
    for at in (NOW, NOW + timedelta(days=30), NOW + timedelta(days=400)):
        a, b = figures(recorder, at), figures(loaded, at)
        assert same(a[0], b[0]) and a[1:] == b[1:], at
        assert same(b[0], recount(latest.values(), at))
        assert b[1] == statistics(latest.values(), at, 2026)
    assert report(loaded.board.tallies.totals(NOW), NOW, 2026)["total"] > 0


def test_records_restored_past_the_saved_offsets_count_as_changes(tmp_path: Path) -> None:
    recorder, latest = filled(2)
    path = tmp_path / "kept.json"
    assert keeping.save(recorder, path, {0: 10}, 3, at=NOW)
    loaded = Recorder.unsealed(ClockConfig())
    keeping.load(loaded, path)
    store = {k.encode(): state_to_json(c) for k, c in latest.items()}  # the store as the stop left it
    rng, offset = random.Random(5), 10
    for n in range(60):  # written while the worker was away: changes to known cases, and new ones
        case = random_case(rng, rng.randrange(200))
        key = case.case_number.encode()
        for _ in range(1 + (n % 3 == 0)):  # some twice: faust applies them to the store later, in batches
            offset += 1
            keeping.restored(loaded, 0, offset, key, state_to_json(case), lambda key=key: store.get(key))
            case = copy.deepcopy(case)
        latest[case.case_number] = case
        keeping.restored(loaded, 1, offset, key, b"{}", lambda: None)  # another partition: a standby, passed over
    keeping.recovered(loaded, View({0: offset}), 4)  # type: ignore[arg-type]
    assert loaded.board.generation == 4
    at = NOW + timedelta(days=3)
    assert same(loaded.board.figures(at), recount(latest.values(), at))
    assert report(loaded.board.tallies.totals(at), at, 2026) == statistics(latest.values(), at, 2026)


def test_a_board_is_kept_only_for_the_store_it_was_saved_with(tmp_path: Path) -> None:
    path = tmp_path / "kept.json"
    for offsets_now, why in (({0: 12}, "the store has records the board did not count"),
                             ({0: 11, 1: 3}, "the worker owns another partition now"),
                             ({0: None}, "the store has lost its records")):
        recorder, _ = filled(3, n=40)
        assert keeping.save(recorder, path, {0: 11}, 3, at=NOW)
        loaded = Recorder.unsealed(ClockConfig())
        assert keeping.load(loaded, path)
        keeping.recovered(loaded, View(offsets_now), 2)  # type: ignore[arg-type]
        assert loaded.board.generation is None and not loaded.board.marks, why  # every case read instead
    recorder, _ = filled(4, n=40)
    assert not keeping.save(recorder, path, {0: 11}, 4, at=NOW)  # rebuilt for another generation
    assert not keeping.save(recorder, path, {}, 3, at=NOW)
    recorder.board.applying.add("140214-2026-000001")
    assert not keeping.save(recorder, path, {0: 11}, 3, at=NOW)  # a batch failed: not whole
    assert not path.exists()  # nothing saved
    path.write_text('{"version": 0}')
    assert not keeping.load(recorder, path) and not path.exists()  # another layout: not read, and gone
    path.write_text("{not json")
    assert not keeping.load(recorder, path) and not path.exists()
    assert not keeping.load(recorder, path)  # no file: nothing to load
