"""The due index of a ticking table: a tick takes the keys due, each once, and looks at nothing else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from structlog.testing import capture_logs

from liandong.service import DueIndex, Stalled


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


def test_ticks_put_off_for_unread_input_are_reported_once_a_minute_until_they_run_again() -> None:
    t = [100.0]
    stalled = Stalled("supervision", every=60.0, clock=lambda: t[0])
    unread = ["liandong.unit.hrss.inbox/7: end unknown"]
    with capture_logs() as logs:
        assert not stalled.waiting(unread)  # the first tick put off: a restart catching up, most likely
        t[0] = 159.0
        assert not stalled.waiting(unread)
        t[0] = 160.0
        assert stalled.waiting(unread)
        t[0] = 200.0
        assert not stalled.waiting(unread)  # said a minute ago
        t[0] = 221.0
        assert stalled.waiting(unread)
        stalled.clear()  # a tick ran: a later wait starts counting again
        t[0] = 300.0
        assert not stalled.waiting(unread)
    said = [e for e in logs if e["event"] == "ticks_waiting"]
    assert [(e["seconds"], e["unread"]) for e in said] == [(60, unread), (121, unread)]
    assert all(e["service"] == "supervision" and e["log_level"] == "warning" for e in said)
