"""Running a service: its faust app and/or aiohttp site in one asyncio loop, until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from liandong_sdk import TopicSpec
from liandong_sdk.records import json_default

from ._bus import Bus
from ._logging import get_logger
from .metrics import exposition

log = get_logger(__name__)


@dataclass
class Runtime:
    """What a service runs: faust apps, web apps on loopback ports, and start/stop hooks."""

    name: str
    bus: Bus
    faust_apps: list[Any] = field(default_factory=list)
    web_apps: list[tuple[web.Application, int]] = field(default_factory=list)
    on_start: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    on_stop: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    #: Where /metrics is served (None: not served, e.g. several services in one test process).
    metrics_port: int | None = None
    _runners: list[web.AppRunner] = field(default_factory=list)

    async def start(self) -> None:
        for hook in self.on_start:
            await hook()
        for app in self.faust_apps:
            # Tables' changelogs are created up front, compacted, with their source topics' partition
            # count: faust would otherwise race its own topic creation on a first start.
            await asyncio.to_thread(self.bus.provision_topics, changelog_topics(app))
            await app.start()
        sites = list(self.web_apps)
        if self.metrics_port is not None:
            sites.append((metrics_app(), self.metrics_port))
        for web_app, port in sites:
            runner = web.AppRunner(web_app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, self.bus.settings.bind_host, port).start()
            self._runners.append(runner)
        log.info("service_started", service=self.name, ports=[p for _, p in sites])

    async def stop(self) -> None:
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()
        for app in reversed(self.faust_apps):
            await app.stop()
        for hook in self.on_stop:
            await hook()
        log.info("service_stopped", service=self.name)

    def run_forever(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()


def changelog_topics(app: Any) -> list[TopicSpec]:
    return [TopicSpec(t.changelog_topic.get_topic_name(), f"changelog of table {t.name} (state log)", compacted=True,
                      partitions=t.partitions or app.conf.topic_partitions) for t in app.tables.values()]



def metrics_app() -> web.Application:
    async def metrics(_: web.Request) -> web.Response:
        body, content_type = exposition()
        return web.Response(body=body, headers={"Content-Type": content_type})

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    return app


def json_response(body: Any, status: int = 200) -> web.Response:
    """A JSON answer of an HTTP API: UTF-8 text as is, times in ISO 8601, ids as text."""
    return web.json_response(body, status=status,
                             dumps=lambda o: json.dumps(o, ensure_ascii=False, default=json_default))
