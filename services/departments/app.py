"""A reference department as a runnable service (one per unit)."""

from __future__ import annotations

import asyncio
import threading

from liandong_sdk import DepartmentClient

from liandong import HANDLING_UNITS, Bus, get_logger
from liandong.clock import now as bus_now
from liandong.clock import simulated
from liandong.runtime import Runtime

from .reference import Behaviour, ReferenceDepartment

UNIT_BY_SLUG = {slug: unit for unit, slug in HANDLING_UNITS.items()}
log = get_logger("departments")


def build(bus: Bus, slug: str, *, behaviour: Behaviour | None = None) -> Runtime:
    unit = UNIT_BY_SLUG[slug]
    cfg = bus.settings
    behaviour = behaviour or Behaviour(
        sign_after_days=cfg.sim_sign_after_days, accept_after_days=cfg.sim_sign_after_days + 2,
        progress_after_days=cfg.sim_resolve_after_days / 2, resolve_after_days=cfg.sim_resolve_after_days,
        objection_rate=cfg.sim_objection_rate, extension_rate=cfg.sim_extension_rate, jitter=cfg.sim_delay_jitter,
        seed=sum(map(ord, slug)))
    stop = threading.Event()
    worker: list[threading.Thread] = []
    client: list[DepartmentClient] = []

    def loop() -> None:
        # The department keeps trying: a broker that is restarting must not end it for good.
        while not stop.is_set():
            try:
                c = DepartmentClient(unit, bus, clock=bus_now, state_file=bus.settings.run_dir / f"department-{slug}.json")
            except Exception:
                log.exception("department_connect_failed", unit=unit)
                stop.wait(1.0)
                continue
            client.append(c)
            try:
                # On the simulation's compressed clock a simulated day is a day of that clock.
                ReferenceDepartment(c, behaviour).run_forever(stop, bus_now, 86400.0 if simulated() else
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

    return Runtime(f"department-{slug}", bus, on_start=[start], on_stop=[halt])
