"""The due index of a ticking table: a tick takes the keys due, each once, and looks at nothing else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from liandong.service import DueIndex


def test_the_due_index_gives_the_keys_due_and_nothing_else_once() -> None:
    t0 = datetime(2026, 3, 2, tzinfo=UTC)
    index = DueIndex()
    index.set(b"a", t0 + timedelta(days=1))
    index.set(b"b", t0 + timedelta(days=3))
    index.set(b"c", t0 + timedelta(days=2))
    index.set(b"c", t0 + timedelta(days=5))  # moved later: its earlier entry is stale
    index.set(b"d", t0)
    index.set(b"d", None)  # nothing due any more
    assert index.take(t0 + timedelta(days=2)) == [b"a"]
    assert index.take(t0 + timedelta(days=2)) == []  # taken once
    assert index.take(t0 + timedelta(days=10)) == [b"b", b"c"]
    assert len(index) == 0
