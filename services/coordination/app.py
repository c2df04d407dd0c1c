"""Coordination (联合调处 / 包案 / 一办五组) as a faust app.

Topics in:  liandong.bureau.coordination (mediation.proposed, package.ordered, package.extension.requested,
            package.closed, team.task.published: the bureau's requests),
            liandong.unit.*.replies (mediation.request.submitted / joined / declined / session_held / concluded,
            package.progress, team.task.acknowledged / completed)
Topics out: liandong.unit.<unit>.inbox (mediation.requested / reminder, package.assigned / reminder,
            team.task.assigned / reminder), liandong.bureau.coordination (mediation.escalated, case.referred,
            package.extended)
State:      tables coordination-mediations (case -> its mediations), coordination-packages (key case -> its
            packages), coordination-tasks (task number -> task); no personal data.
Timer:      every ``tick_seconds``, ``tick(clock())`` issues the reminders and escalations that are due.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from liandong import BUREAU_COORDINATION, HANDLING_UNITS, UNIT_REPLIES, Bus, Event, get_logger
from liandong.clock import now as bus_now
from liandong.runtime import Runtime
from liandong.streams import consume, create_app, raw_topic, send

from .handlers import MEDIATION_EVENTS, PACKAGE_EVENTS, TASK_EVENTS, Coordination, CoordinationConfig, Out, Refused

SERVICE = "coordination"
log = get_logger(SERVICE)
TOPICS_IN = [BUREAU_COORDINATION] + [UNIT_REPLIES.format(unit=s) for s in HANDLING_UNITS.values()]
_HANDLED_KEEP = 100  # event ids remembered per entry, so a redelivered event is not applied twice
Clock = Callable[[], datetime]


def build(bus: Bus, *, clock: Clock | None = None, config: CoordinationConfig | None = None,
          tick_seconds: float = 1.0, app_id: str = SERVICE) -> Runtime:
    coordination = Coordination(config or CoordinationConfig.load())
    now: Clock = clock or bus_now  # the wall clock, or the simulation's compressed one
    app = create_app(app_id, bus)
    partitions = bus.settings.topic_partitions
    # use_partitioner: the timer writes too (outside a stream); the key hashes like the topics' keys do.
    tables = {kind: app.Table(f"coordination-{kind}", partitions=partitions, key_type=bytes, value_type=bytes,
                              use_partitioner=True)
              for kind in ("mediations", "packages", "tasks")}
    lock = asyncio.Lock()  # the agent and the timer change the same entries

    def kind_of(event_type: str) -> str | None:
        if event_type in MEDIATION_EVENTS:
            return "mediations"
        if event_type in PACKAGE_EVENTS:
            return "packages"
        if event_type in TASK_EVENTS:
            return "tasks"
        return None

    async def publish(out: Out) -> None:
        for name, record in out:
            await send(app, bus.codec.encode(name, record, source=f"/liandong/{SERVICE}"), wait=True)

    async def handle(event: Event) -> None:
        kind = kind_of(event.type)
        if kind is None:
            return  # case answers, and this service's own outputs on bureau.coordination
        table = tables[kind]
        key = event.key.encode()
        async with lock:
            raw = table.get(key)
            entry = json.loads(raw) if raw is not None else {"handled": [], "state": None}
            if event.id in entry["handled"]:
                return
            try:
                state, out = coordination.handle(event.type, event.id, event.data, entry["state"])
            except Refused as exc:
                log.warning("coordination_refused", event_type=event.type, key=event.key, reason=str(exc))
                state, out = entry["state"], []
            await publish(out)  # first publish, then remember: a crash in between re-publishes the same ids
            table[key] = _dump({"handled": [*entry["handled"][-_HANDLED_KEEP:], event.id], "state": state})

    async def tick(at: datetime) -> int:
        """Issues whatever is due at ``at``; returns how many events it published."""
        published = 0
        async with lock:
            for kind, table in tables.items():
                for key, raw in list(table.items()):
                    entry = json.loads(raw)
                    if entry["state"] is None:
                        continue
                    if kind == "mediations":
                        state, out = coordination.mediation_tick(entry["state"], at)
                    elif kind == "packages":
                        state, out = coordination.package_tick(entry["state"], at)
                    else:
                        state, out = coordination.task_tick(entry["state"], at)
                    if not out:
                        continue
                    await publish(out)
                    table[key] = _dump({**entry, "state": state})
                    published += len(out)
        return published

    @app.timer(interval=tick_seconds)  # type: ignore[untyped-decorator]
    async def clock_tick() -> None:
        # A timer's exception would stop the worker's timers: never let one escape.
        try:
            await tick(now())
        except Exception:
            log.exception("coordination_tick_failed")

    @app.agent(raw_topic(app, *TOPICS_IN), name=f"{app_id}.coordinate")
    async def agent(stream: Any) -> None:
        await consume(stream, bus.codec, handle, app=app, service=SERVICE)

    return Runtime(SERVICE, bus, faust_apps=[app])


def _dump(entry: dict[str, Any]) -> bytes:
    return json.dumps(entry, ensure_ascii=False, separators=(",", ":")).encode()
