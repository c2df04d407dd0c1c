"""Every service as its own process (``liandong run <service>``, each its own principal and its own
process group), N workers per service in one consumer group; started, watched, measured and
stopped as one; or one service at a time (``start_one``, ``kill``), for the fault tests. Used by
`liandong demo`, `liandong bench` and tests/e2e."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import psutil

from liandong._settings import get_settings
from liandong.broker import LocalBroker, broker_for, free_port
from liandong.tokens import local_token


@dataclass
class Worker:
    service: str
    index: int
    proc: subprocess.Popen[bytes]
    run_dir: Path
    log: Path
    peak_rss: int = 0
    #: What the process bound ("metrics", "http"): every port is 0 in its settings, so it binds
    #: a free one itself and reports it in <run_dir>/ports.json (no race with another process).
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def metrics_port(self) -> int | None:
        return self.ports.get("metrics")

    @property
    def label(self) -> str:
        return self.service if self.index == 0 else f"{self.service}#{self.index}"


@dataclass
class ServiceStack:
    """The services named, ``workers`` processes each (intake and the monitor always one)."""

    bootstrap: str
    run_dir: Path
    names: list[str]
    workers: int = 1
    #: Workers of a service other than ``workers`` (``{"ledger": 3}``).
    counts: dict[str, int] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)
    per_service_env: dict[str, dict[str, str]] = field(default_factory=dict)
    procs: list[Worker] = field(default_factory=list)
    #: The principals' passwords (default: the settings' secrets file).
    secrets_file: Path | None = None

    def __post_init__(self) -> None:
        from services.registry import SPECS

        self.specs = SPECS
        self._stop_sampling = threading.Event()
        self._sampler: threading.Thread | None = None
        self.run_dir.mkdir(parents=True, exist_ok=True)

    @property
    def tokens_path(self) -> Path:
        settings = get_settings()
        return settings.tokens_file or (self.secrets_file or settings.secrets_path).with_name("tokens.json")

    @cached_property
    def token(self) -> str:
        """The bureau's token for the services' HTTP APIs (issued once for this stack's tokens file)."""
        return local_token(self.tokens_path)

    def worker_dir(self, service: str, index: int) -> Path:
        return self.run_dir / (service if index == 0 else f"{service}-{index}")

    def env(self, service: str, index: int) -> dict[str, str]:
        settings = get_settings()
        return {**os.environ, "LIANDONG_BOOTSTRAP_SERVERS": self.bootstrap,
                "LIANDONG_SECRETS_FILE": str(self.secrets_file or settings.secrets_path),
                "LIANDONG_TOKENS_FILE": str(self.tokens_path),
                "LIANDONG_RUN_DIR": str(self.worker_dir(service, index)),
                "LIANDONG_INTAKE_PORT": "0", "LIANDONG_LEDGER_PORT": "0", "LIANDONG_METRICS_PORT": "0",
                "LIANDONG_LOG_JSON": "true", **self.extra_env, **self.per_service_env.get(service, {})}

    def port(self, service: str, name: str = "http") -> int:
        """A port the first running worker of ``service`` serves (after ``start``)."""
        for w in self.procs:
            if w.service == service and name in w.ports:
                return w.ports[name]
        raise KeyError(f"{service} serves no {name} port (not started?)")

    @property
    def intake_port(self) -> int:
        return self.port("intake")

    @property
    def ledger_port(self) -> int:
        return self.port("ledger")

    def metrics_urls(self) -> dict[str, str]:
        return {w.label: f"http://127.0.0.1:{w.metrics_port}/metrics" for w in self.procs if w.metrics_port}

    def start(self, timeout: float = 180.0) -> None:
        for name in self.names:
            count = self.counts.get(name, 1 if name in ("intake", "monitor") else self.workers)
            for i in range(count):
                self._spawn(name, i)
        deadline = time.monotonic() + timeout
        for w in self.procs:
            self._wait_serving(w, deadline, timeout)
        self._sampler = threading.Thread(target=self._sample, name="rss-sampler", daemon=True)
        self._sampler.start()

    def start_one(self, name: str, timeout: float = 120.0) -> None:
        """Starts one more worker of ``name`` (or starts it again, after ``kill``) and waits until it
        serves /metrics."""
        index = sum(w.service == name for w in self.procs)
        self._wait_serving(self._spawn(name, index), time.monotonic() + timeout, timeout)

    def kill(self, name: str) -> None:
        """SIGKILL to every worker of ``name`` (its whole process group), waited for."""
        for w in [w for w in self.procs if w.service == name]:
            _signal_group(w.proc.pid, signal.SIGKILL)
            w.proc.wait(timeout=30)
            self.procs.remove(w)

    def _spawn(self, name: str, i: int) -> Worker:
        log = self.run_dir / "logs" / f"{name}{'' if i == 0 else f'-{i}'}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        run_dir = self.worker_dir(name, i)
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "ports.json").unlink(missing_ok=True)  # a restarted worker reports its new ports
        with open(log, "ab") as out:
            # Its own session: Ctrl-C in the terminal reaches the demo only, which stops the services in order.
            proc = subprocess.Popen([sys.executable, "-m", "liandong.cli", "run", name], env=self.env(name, i),
                                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        worker = Worker(name, i, proc, run_dir, log)
        self.procs.append(worker)
        # Every process started, for whoever must check that none is left behind.
        with open(self.run_dir / "pids", "a") as pids:
            pids.write(f"{proc.pid} {worker.label}\n")
        return worker

    @staticmethod
    def _wait_serving(w: Worker, deadline: float, timeout: float) -> None:
        while not (w.ports or _read_ports(w)) or not _serves(w.metrics_port):
            if w.proc.poll() is not None:
                raise RuntimeError(f"{w.label} exited with {w.proc.returncode}; its log: {w.log}\n{_tail(w.log)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{w.label} did not serve /metrics within {timeout:.0f} s; its log: {w.log}")
            time.sleep(0.2)

    def tails(self, service: str, size: int = 3000) -> str:
        """The end of every log of ``service``'s workers, for a failure's message."""
        return "\n".join(f"--- {w.label} (exit code {w.proc.poll()}) {w.log} ---\n{_tail(w.log, size)}"
                         for w in self.procs if w.service == service)

    def dead(self) -> list[str]:
        return [w.label for w in self.procs if w.proc.poll() is not None]

    def pids(self) -> list[int]:
        return [w.proc.pid for w in self.procs]

    def _sample(self) -> None:
        while not self._stop_sampling.wait(0.5):
            self.sample_rss()

    def sample_rss(self) -> None:
        for w in self.procs:
            with contextlib.suppress(psutil.Error):
                w.peak_rss = max(w.peak_rss, psutil.Process(w.proc.pid).memory_info().rss)

    def peak_rss(self) -> dict[str, int]:
        """Peak resident memory per service (the largest of its workers), bytes."""
        out: dict[str, int] = {}
        for w in self.procs:
            out[w.service] = max(out.get(w.service, 0), w.peak_rss)
        return out

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM to every process group, then SIGKILL to what is left after ``timeout``."""
        self._stop_sampling.set()
        for w in self.procs:
            _signal_group(w.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for w in self.procs:
            try:
                w.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(w.proc.pid, signal.SIGKILL)
                w.proc.wait()
        for w in self.procs:  # anything a service left in its group
            _signal_group(w.proc.pid, signal.SIGKILL)

    def __enter__(self) -> ServiceStack:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def _read_ports(w: Worker) -> bool:
    try:
        w.ports = {k: int(v) for k, v in json.loads((w.run_dir / "ports.json").read_text()).items()}
    except (OSError, ValueError):
        return False
    return True


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _serves(port: int | None) -> bool:
    if port is None:
        return True
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def _tail(path: Path, size: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-size:]
    except OSError:
        return ""


def own_broker(run_dir: Path, keep: bool = False) -> contextlib.AbstractContextManager[str]:
    """LIANDONG_BOOTSTRAP_SERVERS when set; else a fresh local broker of its own (data under
    ``run_dir/broker``, free ports), stopped after the block unless ``keep``."""
    return broker_for(LocalBroker(run_dir / "broker", port=free_port(), controller_port=free_port()), keep=keep)
