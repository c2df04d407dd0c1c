"""Triage (分类 / 分流 / 转送交办) as a faust app.

Topics in:  liandong.bureau.petitions (petition.registered),
            liandong.unit.*.replies (case.handoff.rejected), liandong.bureau.triage (case.jurisdiction.decided)
Topics out: liandong.bureau.triage (petition.triaged / diverted, case.jurisdiction.escalated),
            liandong.unit.<unit>.inbox (case.handoff.requested, with contact details for that unit's case)
State:      table triage-cases (case number -> routing state; bureau-internal: holds contact details)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from liandong import BUREAU_PETITIONS, BUREAU_TRIAGE, HANDLING_UNITS, UNIT_REPLIES, Bus, Event
from liandong.domain import ClockConfig
from liandong.domain.routing import RoutingMatrix
from liandong.runtime import Runtime
from liandong.streams import Batch, consume_batches, create_app, raw_topic
from liandong.streams import table as faust_table

from .handlers import Triage

SERVICE = "triage"
TOPICS_IN = [BUREAU_PETITIONS, BUREAU_TRIAGE] + [UNIT_REPLIES.format(unit=s) for s in HANDLING_UNITS.values()]
ROUTING_FILE = Path(__file__).with_name("routing.yaml")
_ROUTED = frozenset({"petition.registered", "case.handoff.rejected", "case.jurisdiction.decided"})
_HANDLED_KEEP = 50  # event ids remembered per case, so a redelivered event is not applied twice


def load_routing(path: Path = ROUTING_FILE) -> RoutingMatrix:
    return RoutingMatrix.from_data(yaml.safe_load(path.read_text(encoding="utf-8")))


def build(bus: Bus, *, clocks: ClockConfig | None = None, routing: RoutingMatrix | None = None,
          app_id: str = SERVICE) -> Runtime:
    triage = Triage(routing or load_routing(), clocks or ClockConfig())
    app = create_app(app_id, bus)
    # case number -> routing state as JSON (bureau-internal: it holds the contact details to hand on)
    cases = faust_table(app, "triage-cases", bus.settings.topic_partitions)

    async def route(event: Event, batch: Batch) -> None:
        if event.type not in _ROUTED:
            return  # most of what triage reads (the units' other answers) needs nothing: skip the table
        key = event.key.encode()
        state = batch.get(cases, key, json.loads)
        if state is not None and event.id in state.get("handled", ()):
            return  # redelivered: already routed
        if event.type == "petition.registered":
            new_state, out = triage.registered(event.id, event.data)
        elif event.type == "case.handoff.rejected":
            new_state, out = triage.rejected(event.id, event.data, state)
        elif event.type == "case.jurisdiction.decided":
            new_state, out = triage.decided(event.id, event.data, state)
        else:
            return
        for name, record in out:
            batch.send(bus.codec.encode(name, record, source=f"/liandong/{SERVICE}"))
        if new_state is not None:  # remembered as handled once the batch's messages are acknowledged
            handled = [*(new_state.get("handled") or ())[-_HANDLED_KEEP:], event.id]
            batch.put(cases, key, {**new_state, "handled": handled}, _encode)

    @app.agent(raw_topic(app, *TOPICS_IN), name=f"{app_id}.route")
    async def agent(stream: Any) -> None:
        await consume_batches(stream, bus.codec, route, app=app, service=SERVICE)

    return Runtime(SERVICE, bus, faust_apps=[app])


def _encode(state: dict[str, Any]) -> bytes:
    return json.dumps(state, ensure_ascii=False).encode()
