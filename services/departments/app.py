"""A reference department as a runnable service (one per unit)."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime

from liandong import Bus
from liandong._catalogue import HANDLING_UNITS
from liandong._runtime import Runtime

from .reference import Behaviour, ReferenceDepartment
from .sdk import DepartmentClient

UNIT_BY_SLUG = {slug: unit for unit, slug in HANDLING_UNITS.items()}


def build(bus: Bus, slug: str, *, behaviour: Behaviour | None = None) -> Runtime:
    unit = UNIT_BY_SLUG[slug]
    stop = threading.Event()
    worker: list[threading.Thread] = []
    client: list[DepartmentClient] = []

    def loop() -> None:
        c = DepartmentClient(unit, bus, state_file=bus.settings.run_dir / f"department-{slug}.json")
        client.append(c)
        try:
            ReferenceDepartment(c, behaviour).run_forever(stop, lambda: datetime.now(UTC),
                                                          bus.settings.sim_seconds_per_day)
        finally:
            c.close()

    async def start() -> None:
        bus.settings.run_dir.mkdir(parents=True, exist_ok=True)
        t = threading.Thread(target=loop, name=f"department-{slug}", daemon=True)
        t.start()
        worker.append(t)

    async def halt() -> None:
        stop.set()
        for t in worker:
            await asyncio.to_thread(t.join, 30)

    return Runtime(f"department-{slug}", on_start=[start], on_stop=[halt])
