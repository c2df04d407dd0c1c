"""Intake as a runnable service: the registry rebuilt from the log, then the HTTP endpoint."""

from __future__ import annotations

import asyncio

from liandong import BUREAU_PETITIONS, Bus, load_clocks
from liandong.runtime import Runtime
from services.triage.app import load_routing

from .http import make_web_app
from .service import SERVICE, TOPICS_IN, IntakeService


def build(bus: Bus, *, port: int | None = None) -> Runtime:
    service = IntakeService(bus, load_routing(), load_clocks())

    async def start() -> None:
        await asyncio.to_thread(service.start)

    async def stop() -> None:
        await asyncio.to_thread(service.stop)

    return Runtime(SERVICE, bus, web_apps=[(make_web_app(service), port if port is not None else bus.settings.intake_port)],
                   on_start=[start], on_stop=[stop], topics=(*TOPICS_IN, BUREAU_PETITIONS))
