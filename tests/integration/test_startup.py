"""A service that cannot start says why at once: no broker, refused credentials, a topic it cannot
see. ``Bus.check`` runs before any consumer joins; ``liandong run`` turns its StartupError into one
``error:`` line and exit status 1."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from liandong import Bus, StartupError


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port held but not listening: a connection to it is refused, and nobody else can take it."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield held.getsockname()[1]


def test_no_broker_is_named_within_the_startup_timeout(bus: Bus, closed_port: int) -> None:
    away = Bus.from_settings(f"127.0.0.1:{closed_port}", bus.settings).as_principal("svc-triage")
    started = time.monotonic()
    with pytest.raises(StartupError, match=rf"triage: no broker answered at 127.0.0.1:{closed_port} within 2 s"):
        away.check([], service="triage", timeout=2)
    assert time.monotonic() - started < 30


def test_refused_credentials_are_named(bus: Bus) -> None:
    wrong = replace(bus.as_principal("svc-triage"), explicit_password="not-the-password", principal_fixed=True)
    with pytest.raises(StartupError, match="did not let principal 'svc-triage' in"):
        wrong.check([], service="triage", timeout=10)


def test_a_topic_the_principal_cannot_see_is_named(bus: Bus) -> None:
    housing = bus.as_principal("unit-housing")
    housing.check(["liandong.unit.housing.replies"], service="housing", timeout=10)  # its own: fine
    with pytest.raises(StartupError, match=r"'unit-housing' sees no topic liandong\.bureau\.petitions, liandong\.no\.such"):
        # the bureau's topic (no ACL for a unit), and one that does not exist
        housing.check(["liandong.unit.housing.replies", "liandong.bureau.petitions", "liandong.no.such"],
                      service="housing", timeout=10)


def test_liandong_run_exits_at_once_with_one_line_naming_the_cause(service_env: dict[str, str], closed_port: int,
                                                                   tmp_path: object) -> None:
    env = {**service_env, "LIANDONG_BOOTSTRAP_SERVERS": f"127.0.0.1:{closed_port}", "LIANDONG_STARTUP_TIMEOUT": "2",
           "LIANDONG_METRICS_PORT": "0", "LIANDONG_RUN_DIR": str(tmp_path)}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "liandong.cli", "run", "triage"], env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    assert time.monotonic() - started < 30
    assert f"error: triage: no broker answered at 127.0.0.1:{closed_port}" in " ".join(done.stdout.split())
    assert "Traceback" not in done.stdout + done.stderr


@pytest.mark.parametrize(("content", "words"), [
    ("handling_dayz: 60\n", "unknown clock settings: handling_dayz"),
    ("handling_days: [60\n", "not valid YAML"),
    ("- 60\n", "must be a mapping of settings"),
    (None, "cannot be read"),
])
def test_a_bad_configuration_file_is_named_at_once(service_env: dict[str, str], tmp_path: Any, content: str | None,
                                                   words: str) -> None:
    clocks = tmp_path / "clocks.yaml"
    if content is not None:
        clocks.write_text(content, encoding="utf-8")
    env = {**service_env, "LIANDONG_CLOCKS_FILE": str(clocks), "LIANDONG_METRICS_PORT": "0",
           "LIANDONG_RUN_DIR": str(tmp_path)}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "liandong.cli", "run", "triage"], env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    out = " ".join(done.stdout.split())
    assert done.returncode == 1, done.stdout + done.stderr
    assert time.monotonic() - started < 30
    assert f"error: clocks file {clocks}: {words}" in out, out
    assert "Traceback" not in done.stdout + done.stderr
