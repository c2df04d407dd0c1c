"""A service binds its ports before anything else starts: a taken port fails the start at once,
naming it; port 0 binds a free port and reports which (no port is picked in advance)."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import pytest
from aiohttp import web

from liandong import Bus, StartupError
from liandong.runtime import Runtime


def test_a_taken_port_fails_the_start_and_names_it(schemas_bus: Bus) -> None:
    started: list[str] = []

    async def hook() -> None:
        started.append("on_start")

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        taken = held.getsockname()[1]
        runtime = Runtime("probe", schemas_bus, web_apps=[(web.Application(), taken)], on_start=[hook], preflight=False)
        with pytest.raises(StartupError, match=f"probe cannot serve http on 127.0.0.1:{taken}"):
            asyncio.run(runtime.start())
    assert started == [], "the service went on starting after its port was refused"


def test_port_zero_binds_a_free_port_and_reports_it(schemas_bus: Bus, tmp_path: Path) -> None:
    ports_file = tmp_path / "ports.json"
    runtime = Runtime("probe", schemas_bus, web_apps=[(web.Application(), 0)], metrics_port=0, ports_file=ports_file,
                      preflight=False)

    async def run() -> tuple[int, int]:
        await runtime.start()
        try:
            http, metrics = runtime.bound["http"], runtime.bound["metrics"]
            _, writer = await asyncio.open_connection("127.0.0.1", metrics)  # really listening
            writer.close()
            return http, metrics
        finally:
            await runtime.stop()

    http, metrics = asyncio.run(run())
    assert 0 not in (http, metrics) and http != metrics
    assert json.loads(ports_file.read_text()) == {"http": http, "metrics": metrics}


def test_the_http_api_answers_only_once_the_service_has_started(schemas_bus: Bus, tmp_path: Path) -> None:
    """A request that arrives while the service is still starting (intake rebuilding its registry)
    waits and is answered by the started service; ports.json appears only then."""
    ports_file = tmp_path / "ports.json"
    ready = asyncio.Event()
    release = asyncio.Event()
    answered_when: list[bool] = []

    async def hook() -> None:
        await release.wait()  # still starting: e.g. reading the log
        ready.set()

    async def handler(_: web.Request) -> web.Response:
        answered_when.append(ready.is_set())
        return web.Response(text="ok")

    api = web.Application()
    api.router.add_get("/", handler)
    runtime = Runtime("probe", schemas_bus, web_apps=[(api, 0)], metrics_port=0, ports_file=ports_file, on_start=[hook],
                      preflight=False)

    async def get(port: int) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        body = await reader.read()
        writer.close()
        return body

    async def run() -> bytes:
        starting = asyncio.ensure_future(runtime.start())
        while "http" not in runtime.bound:  # bound at once, before the hook
            await asyncio.sleep(0)
        assert not ports_file.exists()  # not reported: not ready
        request = asyncio.ensure_future(get(runtime.bound["http"]))  # accepted by the socket, not yet served
        _, writer = await asyncio.open_connection("127.0.0.1", runtime.bound["metrics"])  # /metrics is up already
        writer.close()
        release.set()
        await starting
        assert json.loads(ports_file.read_text())["http"] == runtime.bound["http"]
        try:
            return await request
        finally:
            await runtime.stop()

    body = asyncio.run(run())
    assert body.startswith(b"HTTP/1.1 200") and answered_when == [True]


def test_free_port_is_below_the_ephemeral_range_free_and_never_given_twice() -> None:
    import socket

    from liandong.broker import free_port

    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == 50 and all(10000 <= p < low for p in ports)
    with socket.socket() as s:
        s.bind(("127.0.0.1", ports[-1]))  # really free


def test_a_faust_app_that_crashed_ends_the_service_with_the_reason(schemas_bus: Bus) -> None:
    """Faust logs a crashed part (table recovery) and runs on without it: the service returns the
    reason (the process then exits 1 for a restart); a stop signal still returns None."""

    class App:  # what the runtime reads of a faust app
        crash_reason: BaseException | None = None

        class conf:
            id = "ledger"

        def __init__(self) -> None:
            self.checks = 0
            self.checked_twice = asyncio.Event()

        @property
        def crashed(self) -> bool:
            self.checks += 1
            if self.checks >= 2:
                self.checked_twice.set()
            return self.crash_reason is not None

    app = App()
    runtime = Runtime("ledger", schemas_bus, faust_apps=[app], preflight=False)

    async def crash_soon() -> BaseException | None:
        stop = asyncio.Event()
        waiting = asyncio.ensure_future(runtime.until_stopped_or_crashed(stop, every=0.01))
        await asyncio.wait_for(app.checked_twice.wait(), timeout=5)
        assert not waiting.done()  # checked, and running on: not crashed
        app.crash_reason = ValueError("Offset must be a positive integer")
        return await asyncio.wait_for(waiting, timeout=5)

    reason = asyncio.run(crash_soon())
    assert isinstance(reason, ValueError) and "positive integer" in str(reason)

    async def stopped() -> BaseException | None:
        stop = asyncio.Event()
        stop.set()
        return await runtime.until_stopped_or_crashed(stop, every=0.01)

    app.crash_reason = None
    assert asyncio.run(stopped()) is None


def test_a_service_process_collects_young_objects_less_often_and_freezes_what_it_started_with(
        schemas_bus: Bus) -> None:
    import gc
    import os
    import signal

    from liandong.runtime import GC_THRESHOLDS

    seen: dict[str, object] = {}

    async def started() -> None:  # the hooks run before the freeze; a stop signal ends the run
        seen["frozen while starting"] = gc.get_freeze_count()
        asyncio.get_running_loop().call_soon(os.kill, os.getpid(), signal.SIGTERM)

    runtime = Runtime("probe", schemas_bus, on_start=[started], preflight=False)
    before = gc.get_threshold()
    try:
        assert asyncio.run(runtime._main()) == 0
        assert gc.get_threshold() == GC_THRESHOLDS != before
        assert seen["frozen while starting"] == 0
        assert gc.get_freeze_count() > 1000  # the modules loaded, at least
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
