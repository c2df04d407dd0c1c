"""The local broker: started by the same code as `liandong broker start`, stopped with no JVM left."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from liandong.broker import LocalBroker, free_port

# With LIANDONG_BOOTSTRAP_SERVERS set, tests use that cluster and start no broker of their own.
local_only = pytest.mark.skipif(bool(os.environ.get("LIANDONG_BOOTSTRAP_SERVERS")),
                                reason="an external cluster is configured; no local broker is started")


def _java_processes_for(run_dir: Path) -> list[int]:
    """Live processes whose command line runs kafka.Kafka with a config in ``run_dir``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
            state = (proc / "stat").read_text().split(") ", 1)[1][0]
        except OSError:
            continue
        if state != "Z" and b"kafka.Kafka" in args and any(str(run_dir).encode() in a for a in args):
            found.append(int(proc.name))
    return found


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "liandong.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **env}, check=False, timeout=180)


@local_only
def test_cli_start_status_stop_leaves_no_process(tmp_path: Path) -> None:
    port = free_port()
    env = {"LIANDONG_RUN_DIR": str(tmp_path), "LIANDONG_BROKER_PORT": str(port),
           "LIANDONG_CONTROLLER_PORT": str(free_port())}
    try:
        started = _cli(env, "broker", "start")
        assert started.returncode == 0, started.stdout + started.stderr
        status = _cli(env, "broker", "status")
        assert status.returncode == 0
        assert status.stdout.strip() == f"127.0.0.1:{port}"
        assert _java_processes_for(tmp_path / "broker")
        stopped = _cli(env, "broker", "stop")
        assert "broker stopped" in stopped.stdout
        assert _java_processes_for(tmp_path / "broker") == []
        assert _cli(env, "broker", "status").returncode == 1
    finally:
        LocalBroker(tmp_path / "broker").stop()


def test_stop_of_a_broker_that_is_not_running_says_so(tmp_path: Path) -> None:
    assert LocalBroker(tmp_path / "never", port=free_port(), controller_port=free_port()).stop() is False


@local_only
def test_a_cluster_id_that_starts_with_a_dash_formats(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Kafka's base64 cluster ids start with "-" one time in 64; the storage tool must not read it as an option."""
    import liandong.broker

    monkeypatch.setattr(liandong.broker, "_cluster_id", lambda: "-AbCdEfGhIjKlMnOpQrStUv")
    broker = LocalBroker(tmp_path / "dash", port=free_port(), controller_port=free_port(),
                         secrets_file=tmp_path / "secrets.json")
    broker.start()
    try:
        meta = (tmp_path / "dash" / "data" / "meta.properties").read_text()
        assert "cluster.id=-AbCdEfGhIjKlMnOpQrStUv" in meta
    finally:
        broker.stop()
    assert _java_processes_for(tmp_path / "dash") == []
