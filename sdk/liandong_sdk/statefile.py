"""What a client keeps on disk: a snapshot, and a journal of the entries changed since.

Why: writing the whole state at every commit made each commit cost as much as every case the
department was ever handed (1.5 MB of JSON after 2,000 cases, at each answer when cases come one
at a time). Each commit now appends one line with the entries it changed; the snapshot is written
again, and the journal started afresh, only once the journal has grown as large as the snapshot,
so writing costs about as much as what changed.

Files: ``<path>`` (JSON: parts, each a map of key -> entry, plus ``generation``) and
``<path>.journal`` (one JSON line per write: ``{"g": generation, "parts": {part: {key: entry}}}``).
A journal line counts only with the snapshot of its generation: a snapshot written just before a
crash left the older journal behind, and its lines (already in that snapshot) are not applied. A
last line cut short by a crash is ignored: the offsets it would have preceded were not committed.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .records import json_default

__all__ = ["MIN_JOURNAL", "Parts", "StateFile"]

Parts = dict[str, dict[str, Any]]

#: Below this many bytes of journal the snapshot is not written again (a small state).
MIN_JOURNAL = 64 * 1024


class StateFile:
    """A state kept as a snapshot and a journal (see the module)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.journal = path.with_name(path.name + ".journal")
        self.generation = 0
        self._snapshot_bytes = 0
        self._journal_bytes = 0

    def load(self, upgrade: Callable[[dict[str, Any]], Parts] = lambda data: data) -> Parts:
        """Every part as last written (empty when nothing was); ``upgrade``: the snapshot of an
        older format as parts."""
        parts: Parts = {}
        if self.path.exists():
            raw = self.path.read_bytes()
            data: dict[str, Any] = json.loads(raw)
            self.generation = int(data.pop("generation", 0))
            self._snapshot_bytes = len(raw)
            parts = upgrade(data)
        if self.journal.exists():
            raw_lines = self.journal.read_bytes().splitlines()
            kept = []
            for line in raw_lines:
                try:
                    entry = json.loads(line)
                except ValueError:
                    break  # cut short by a crash: the last line, never committed
                if entry.get("g") != self.generation:
                    continue  # written before the snapshot now on disk, which holds it
                kept.append(line)
                for part, changed in entry["parts"].items():
                    parts.setdefault(part, {}).update(changed)
            if len(kept) < len(raw_lines):  # what a crash left: gone before anything is appended after it
                _replace(self.journal, b"".join(line + b"\n" for line in kept))
            self._journal_bytes = sum(len(line) + 1 for line in kept)
        return parts

    def write(self, changed: Parts, whole: Callable[[], Parts]) -> None:
        """Appends ``changed`` (part -> key -> entry) to the journal; writes ``whole()`` as the new
        snapshot instead once the journal would outgrow the snapshot."""
        if not changed:
            return
        line = _dumps({"g": self.generation, "parts": changed}) + b"\n"
        if self._journal_bytes + len(line) > max(self._snapshot_bytes, MIN_JOURNAL):
            self._snapshot(whole())
            return
        with open(self.journal, "ab") as f:
            f.write(line)
        self._journal_bytes += len(line)

    def _snapshot(self, parts: Parts) -> None:
        data = _dumps({**parts, "generation": self.generation + 1})
        _replace(self.path, data)  # from here the old journal's lines no longer count
        self.generation += 1
        self._snapshot_bytes, self._journal_bytes = len(data), 0
        with contextlib.suppress(FileNotFoundError):
            self.journal.unlink()


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, default=json_default).encode()


def _replace(path: Path, data: bytes) -> None:
    """Writes ``path`` whole or not at all."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
