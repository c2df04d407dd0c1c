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
        runtime = Runtime("probe", schemas_bus, web_apps=[(web.Application(), taken)], on_start=[hook])
        with pytest.raises(StartupError, match=f"probe cannot serve http on 127.0.0.1:{taken}"):
            asyncio.run(runtime.start())
    assert started == [], "the service went on starting after its port was refused"


def test_port_zero_binds_a_free_port_and_reports_it(schemas_bus: Bus, tmp_path: Path) -> None:
    ports_file = tmp_path / "ports.json"
    runtime = Runtime("probe", schemas_bus, web_apps=[(web.Application(), 0)], metrics_port=0, ports_file=ports_file)

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
