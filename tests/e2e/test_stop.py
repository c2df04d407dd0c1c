"""SIGTERM stops every service within 10 s, whatever the broker's state: here the broker is gone
first, which used to leave the faust services waiting on their last commit for minutes."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from liandong import Bus
from liandong.broker import LocalBroker
from liandong.sim.stack import ServiceStack

pytestmark = pytest.mark.timeout(300)
SERVICES = ["intake", "triage", "ledger", "monitor", "supervision", "coordination", "housing"]


def test_sigterm_stops_every_service_within_10_s_with_the_broker_gone(
        fresh_broker: tuple[LocalBroker, Bus], tmp_path: Path) -> None:
    broker, bus = fresh_broker
    stack = ServiceStack(bus.bootstrap_servers, tmp_path / "stack", SERVICES, secrets_file=bus.settings.secrets_path)
    try:
        stack.start()
        broker.stop()
        started = time.monotonic()
        for w in stack.procs:
            w.proc.send_signal(signal.SIGTERM)  # the process only, as an init system would
        took = {}
        for w in stack.procs:
            w.proc.wait(timeout=30)
            took[w.label] = round(time.monotonic() - started, 1)
        slow = {name: t for name, t in took.items() if t > 10}
        assert not slow, f"stopped after more than 10 s: {slow} (all: {took})"
        assert {w.label: w.proc.returncode for w in stack.procs} == {name: 0 for name in SERVICES}
    finally:
        stack.stop()  # whatever is left (a failed assertion): SIGTERM, then SIGKILL to the groups
