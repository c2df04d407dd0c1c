"""`liandong smoke` (the smoke scenario) end to end, as a user runs it."""

from __future__ import annotations

import subprocess
import sys

from liandong import EVENT_TYPES


def test_smoke_round_trips_every_event_type(service_env: dict[str, str]) -> None:
    env = {**service_env, "COLUMNS": "160"}
    result = subprocess.run([sys.executable, "-m", "liandong.cli", "smoke"], capture_output=True, text=True,
                            env=env, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(EVENT_TYPES)}/{len(EVENT_TYPES)} event types round-tripped" in result.stdout
    for name in EVENT_TYPES:
        assert name in result.stdout
