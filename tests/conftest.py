"""Test fixtures. Tests marked ``kafka`` share one real broker per test session: the local
one started by the same code as `liandong broker start` (on free ports, in a temporary
folder), or the cluster named by LIANDONG_BOOTSTRAP_SERVERS."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
import shutil
import signal
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from kafka.admin import NewTopic

# One tokens file for every service a test runs in this process (set before the settings are read).
if "LIANDONG_TOKENS_FILE" not in os.environ:
    _tokens_dir = tempfile.mkdtemp(prefix="liandong-tokens-")
    atexit.register(shutil.rmtree, _tokens_dir, ignore_errors=True)
    os.environ["LIANDONG_TOKENS_FILE"] = str(Path(_tokens_dir) / "tokens.json")

from liandong import Bus, Verifier, get_settings
from liandong.api import call_api
from liandong.broker import LocalBroker, broker_for, free_port
from liandong.security import Grant, ensure_signing_keys
from liandong.tokens import TokenStore, local_token

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def secrets_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's secrets (admin and every principal), or LIANDONG_SECRETS_FILE's for an external cluster."""
    configured = os.environ.get("LIANDONG_SECRETS_FILE")
    return Path(configured) if configured else tmp_path_factory.mktemp("secrets") / "secrets.json"


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory, secrets_file: Path) -> Iterator[str]:
    """LIANDONG_BOOTSTRAP_SERVERS's cluster, else a broker of the session's own, stopped at its end."""
    broker = LocalBroker(tmp_path_factory.mktemp("kafka"), port=free_port(), controller_port=free_port(),
                         secrets_file=secrets_file)
    with broker_for(broker) as bootstrap:
        yield bootstrap


@pytest.fixture(scope="session")
def bus(kafka_bootstrap: str, secrets_file: Path) -> Bus:
    """The admin's bus, with topics, principals and ACLs provisioned; ``bus.as_principal(...)`` for others."""
    from services.registry import provision

    settings = get_settings().model_copy(update={"secrets_file": secrets_file})
    b = Bus.from_settings(kafka_bootstrap, settings)
    provision(b)
    return b


@pytest.fixture(scope="session")
def service_env(kafka_bootstrap: str, secrets_file: Path, bus: Bus) -> dict[str, str]:
    """Environment for a subprocess that joins the session's cluster."""
    return {**os.environ, "LIANDONG_BOOTSTRAP_SERVERS": kafka_bootstrap, "LIANDONG_SECRETS_FILE": str(secrets_file)}


@pytest.fixture(scope="session")
def schemas_bus() -> Bus:
    """A bus object for codec-only (no broker) tests."""
    return Bus.from_settings("127.0.0.1:1", get_settings())


@pytest.fixture
def group_id() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


def _interrupted(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A SIGTERM (a CI's time limit, a kill) ends the session as Ctrl-C does, so every fixture's
    teardown still runs and the brokers and services the tests started stop with it; by default it
    would end pytest alone. Set again before each test: a runtime a test ran in this process puts
    the default back when its event loop closes."""
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) is not _interrupted:
        signal.signal(signal.SIGTERM, _interrupted)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "kafka_bootstrap" in getattr(item, "fixturenames", ()) or "bus" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.kafka)


class ServiceHost:
    """Runs service runtimes (faust apps, web APIs) in an event loop on a background thread."""

    def __init__(self) -> None:
        import asyncio
        import threading

        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="service-host", daemon=True)
        self._thread.start()
        self.runtimes: list[Any] = []

    def start(self, runtime: Any) -> Any:
        import asyncio

        asyncio.run_coroutine_threadsafe(runtime.start(), self.loop).result(timeout=120)
        self.runtimes.append(runtime)
        return runtime

    def stop(self, runtime: Any) -> None:
        import asyncio

        asyncio.run_coroutine_threadsafe(runtime.stop(), self.loop).result(timeout=120)
        self.runtimes.remove(runtime)

    def close(self) -> None:
        """Stops every runtime, and the loop even when one of them fails to stop (its error raised after)."""
        try:
            with contextlib.ExitStack() as stops:  # run last to first: stopped in the reverse order of starting
                for rt in list(self.runtimes):
                    stops.callback(self.stop, rt)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=30)


@pytest.fixture
def host() -> Iterator[ServiceHost]:
    h = ServiceHost()
    try:
        yield h
    finally:
        h.close()


@cache
def api_token(principal: str = "svc-bureau") -> str:
    """A token for ``principal``, valid for the services this test process runs."""
    path = Path(os.environ["LIANDONG_TOKENS_FILE"])
    return local_token(path) if principal == "svc-bureau" else TokenStore(path).issue(principal, note="tests")


def api(port: int, path: str, body: bytes | None = None, *, principal: str = "svc-bureau",
        content_type: str = "application/x-ndjson") -> tuple[int, Any]:
    """Calls a service's HTTP API on loopback as ``principal``: the status and the JSON answer."""
    return call_api(f"http://127.0.0.1:{port}{path}", api_token(principal), body, content_type=content_type, timeout=60)


def api_get(port: int, path: str) -> Any:
    """The answer to a GET as the bureau; None for an error or while nothing answers (starting)."""
    try:
        status, answer = api(port, path)
    except OSError:
        return None
    return answer if status == 200 else None


def wait_for(predicate: Any, timeout: float = 60.0, interval: float = 0.1, message: str = "condition") -> Any:
    """Polls ``predicate`` until it returns a truthy value (returned), or fails after ``timeout``."""
    import time

    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}; last value: {last!r}")


async def until(check: Callable[[], Awaitable[Any]], timeout: float = 60.0, interval: float = 0.1,
                message: str = "condition") -> Any:
    """``wait_for`` inside an event loop: awaits ``check()`` until it returns a truthy value (returned),
    or fails after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last = None
    while loop.time() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}; last value: {last!r}")


def read_topic(bus: Bus, topic: str, principal: str | None = None,
               timeout: float = 60.0) -> list[tuple[bytes, bytes, dict[str, bytes]]]:
    """Every message on ``topic`` so far (key, value, headers), read to the end offsets it had when asked,
    as ``principal`` would (default: the bus's own), with no group: a slow first fetch does not cut it
    short. Fails after ``timeout`` seconds without reaching them."""
    from kafka import KafkaConsumer, TopicPartition

    reader = bus.as_principal(principal) if principal else bus
    consumer = KafkaConsumer(bootstrap_servers=bus.bootstrap_servers, enable_auto_commit=False, **reader.client_config())
    try:
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(parts)
        consumer.seek_to_beginning()
        ends = consumer.end_offsets(parts)
        out = []
        deadline = time.monotonic() + timeout
        while any(consumer.position(tp) < ends[tp] for tp in parts):
            assert time.monotonic() < deadline, f"{topic} not read to its end within {timeout:.0f} s"
            for records in consumer.poll(timeout_ms=500).values():
                out += [(r.key, r.value, dict(r.headers)) for r in records]
        return out
    finally:
        consumer.close()


def create_topics(bus: Bus, partitions: int, *names: str) -> None:
    """Test topics of their own (one replica)."""
    admin = bus.admin()
    try:
        admin.create_topics([NewTopic(name, partitions, 1) for name in names])
    finally:
        admin.close()


def publish_checked(bus: Bus, name: str, record: dict[str, Any]) -> None:
    """Publishes an event as the services downstream of the referee read it: a unit's answer as its
    checked copy on ``liandong.bureau.answers`` (what triage publishes once it has accepted it),
    anything else on its own topic. For tests of those services without triage in front of them."""
    from liandong_sdk import OutgoingMessage, event_type

    with bus.publisher("test") as pub:
        msg = bus.codec.encode(name, record, source="/liandong/triage")
        checked_on = event_type(name).checked_on
        pub.send(OutgoingMessage(checked_on, msg.key, msg.value, msg.headers) if checked_on else msg).get(timeout=30)


@contextlib.contextmanager
def provisioned_broker(folder: Path) -> Iterator[tuple[LocalBroker, Bus]]:
    """A broker of its own under ``folder`` (its own secrets), provisioned; stopped afterwards."""
    from services.registry import provision

    secrets = folder / "secrets.json"
    broker = LocalBroker(folder / "broker", port=free_port(), controller_port=free_port(), secrets_file=secrets)
    info = broker.start()
    try:
        bus = Bus.from_settings(info.bootstrap_servers, get_settings().model_copy(update={"secrets_file": secrets}))
        provision(bus)
        yield broker, bus
    finally:
        broker.stop()


@pytest.fixture
def fresh_broker(tmp_path: Path) -> Iterator[tuple[LocalBroker, Bus]]:
    """A broker of the test's own (it may stop and start it), provisioned; stopped after the test."""
    with provisioned_broker(tmp_path) as both:
        yield both


def signing_keys(folder: Path, grants: list[Grant]) -> tuple[dict[str, str], Verifier]:
    """Ed25519 keys made in ``folder`` for the principals of ``grants``: each one's seed, and a
    verifier of the principals directory (who may write what)."""
    listed = ensure_signing_keys(folder / "signing-keys.json", folder / "principals.json", grants)
    return json.loads((folder / "signing-keys.json").read_text()), Verifier.from_directory(listed)
