"""Running a service: its faust app and/or aiohttp site in one asyncio loop, until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
import signal
import socket
import sys
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from faust.exceptions import AlreadyConfiguredWarning
from liandong_sdk import StartupError, TopicSpec
from liandong_sdk.records import json_default

from ._bus import Bus
from ._logging import get_logger
from .metrics import exposition

log = get_logger(__name__)


#: The collector's thresholds in a service process (Python's are 700, 10, 10). Why: a batch makes and
#: drops tens of thousands of objects (decoded events, records, Kafka requests); collecting young
#: objects every 700 promoted many of them that die a moment later, and the full collections that
#: followed took 75-110 ms each in the ledger and triage (12% and 7% of their CPU in the benchmark).
GC_THRESHOLDS = (20_000, 20, 20)


@dataclass
class Runtime:
    """What a service runs: faust apps, web apps on loopback ports, and start/stop hooks."""

    name: str
    bus: Bus
    faust_apps: list[Any] = field(default_factory=list)
    #: HTTP APIs and their ports (0: any free port), named for ports.json ("http" when unnamed).
    web_apps: list[tuple[web.Application, int]] = field(default_factory=list)
    on_start: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    on_stop: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    #: The topics it reads and writes: checked before it starts (``Bus.check``), so that an absent
    #: broker, refused credentials or a missing topic or ACL stop it at once, named.
    topics: tuple[str, ...] = ()
    #: False: start without that check (a unit test's runtime with no broker behind it).
    preflight: bool = True
    #: Seconds a stop may take (``run_forever``) before the process exits anyway.
    stop_timeout: float = 8.0
    #: Where /metrics is served (None: not served, e.g. several services in one test process).
    metrics_port: int | None = None
    #: The ports actually bound, by name ("metrics", "http"): known once ``start`` has bound them
    #: (reported in ``ports_file`` once the service has started).
    bound: dict[str, int] = field(default_factory=dict)
    #: Where to report them (JSON), for whoever started this process with port 0.
    ports_file: Path | None = None
    _runners: list[web.AppRunner] = field(default_factory=list)

    async def start(self) -> None:
        # Ports first: a port that is taken fails the start at once, before any consumer has joined.
        # The HTTP APIs answer only once the service has started (intake's registry rebuilt from the
        # log, say): until then a connection waits in the listening socket's backlog. The ports are
        # reported (ports.json) once the service is ready, so whoever waits for that file waits for it.
        pending: list[tuple[web.AppRunner, socket.socket]] = []
        try:
            await self._bind(pending)
            if "http" in self.bound:
                for app in self.faust_apps:
                    # In the group's metadata: how the other workers reach this one's API (View.owner).
                    with warnings.catch_warnings():  # faust's web server, which read it first, is off
                        warnings.simplefilter("ignore", AlreadyConfiguredWarning)
                        app.conf.canonical_url = self.url
            if self.preflight:
                await asyncio.to_thread(self.bus.check, self.topics, service=self.name)
            for hook in self.on_start:
                await hook()
            for app in self.faust_apps:
                # Tables' changelogs are created up front, compacted, with their source topics' partition
                # count: faust would otherwise race its own topic creation on a first start.
                await asyncio.to_thread(self.bus.provision_topics, changelog_topics(app))
                await app.start()
        except BaseException:
            for _, sock in pending:
                sock.close()
            for runner in self._runners:
                await runner.cleanup()
            self._runners.clear()
            raise
        for runner, sock in pending:
            await web.SockSite(runner, sock).start()
        self._report()
        log.info("service_started", service=self.name, ports=self.bound)

    async def _bind(self, pending: list[tuple[web.AppRunner, socket.socket]]) -> None:
        """Binds every port; serves /metrics at once; adds the HTTP APIs' runners and sockets to ``pending``."""
        host = self.bus.settings.bind_host
        sites = [("http" if i == 0 else f"http{i}", app, port) for i, (app, port) in enumerate(self.web_apps)]
        if self.metrics_port is not None:
            sites.append(("metrics", metrics_app(), self.metrics_port))
        for name, web_app, port in sites:
            try:
                sock = _listening(host, port)
            except OSError as exc:
                raise StartupError(f"{self.name} cannot serve {name} on {host}:{port}: {exc.strerror or exc}; "
                                   f"free the port or choose another (0: any free port)") from None
            runner = web.AppRunner(web_app, access_log=None)
            await runner.setup()
            self._runners.append(runner)
            self.bound[name] = sock.getsockname()[1]
            if name == "metrics":
                await web.SockSite(runner, sock).start()
            else:
                pending.append((runner, sock))

    @property
    def url(self) -> str:
        """Where this worker's HTTP API is reached from other machines (once bound)."""
        settings = self.bus.settings
        host = settings.advertised_host or (socket.getfqdn() if settings.bind_host in ("0.0.0.0", "::", "") else
                                            settings.bind_host)
        return f"http://{host}:{self.bound['http']}"

    def _report(self) -> None:
        if self.ports_file is not None:
            self.ports_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.ports_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.bound))
            tmp.replace(self.ports_file)  # whole or not at all: the reader polls for it

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
        """Runs until SIGINT or SIGTERM, then stops within ``stop_timeout`` seconds whatever the broker's
        state; exits the process (without waiting for threads still blocked on an absent broker)."""
        # Not asyncio.run: its shutdown joins the executor's threads, and one blocked on an absent
        # broker (the lag scrape, a kafka-python bootstrap) would hold the exit for half a minute.
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        code = loop.run_until_complete(self._main())
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)

    async def _main(self) -> int:
        gc.set_threshold(*GC_THRESHOLDS)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await self.start()
        # What exists once started (modules, the apps and their clients) lives as long as the process:
        # kept out of every later full collection, which would otherwise walk it each time.
        gc.collect()
        gc.freeze()
        crashed: BaseException | None = None
        try:
            crashed = await self.until_stopped_or_crashed(stop)
        finally:
            try:
                await asyncio.wait_for(self.stop(), timeout=self.stop_timeout)
            except TimeoutError:
                # A broker that is away can hold faust's last commit and flush for minutes. What was not
                # committed is read again by the next worker (the order of acks makes that safe).
                log.warning("stop_timed_out", service=self.name, after_s=self.stop_timeout,
                            note="uncommitted events are redelivered to the next worker")
        return 0 if crashed is None else 1

    async def until_stopped_or_crashed(self, stop: asyncio.Event, every: float = 1.0) -> BaseException | None:
        """Waits for a stop signal (None), or for one of the faust apps to crash (the reason).

        Why: faust logs a part that crashed (a table's recovery, say) and runs on without it, serving
        half its job; exiting non-zero, the cause named, gets the worker restarted whole."""
        while not stop.is_set():
            for app in self.faust_apps:
                if app.crashed:
                    reason = app.crash_reason or RuntimeError("crashed")
                    log.error("service_crashed", service=self.name, app=app.conf.id, reason=repr(reason))
                    return reason
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every)
        return None


def _listening(host: str, port: int) -> socket.socket:
    """A socket bound and listening (as aiohttp's TCPSite would make it), served later."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


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
