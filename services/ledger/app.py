"""The ledger (台账): every case's current state and timeline, and the statistics.

Topics in:  liandong.bureau.petitions, liandong.bureau.triage, liandong.unit.*.inbox, liandong.unit.*.replies
Topics out: none (the table's changelog, ledger-cases-changelog, is its own state log)
State:      table ledger-cases (case number -> CaseState, without personal data), restored on restart
HTTP:       GET /cases/{case_number}, GET /cases?unit=&status=&overdue=, GET /stats?year=, GET /healthz
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from liandong import Bus, Event
from liandong._catalogue import BUREAU_PETITIONS, BUREAU_TRIAGE, HANDLING_UNITS, UNIT_INBOX, UNIT_REPLIES
from liandong._faust import consume, create_app, raw_topic
from liandong._runtime import Runtime
from liandong.domain import CaseState, ClockConfig
from liandong.domain.case import state_from_json, state_to_json

from .stats import statistics

SERVICE = "ledger"
TOPICS_IN = [BUREAU_PETITIONS, BUREAU_TRIAGE] + [t.format(unit=s) for s in HANDLING_UNITS.values()
                                                 for t in (UNIT_INBOX, UNIT_REPLIES)]
Clock = Callable[[], datetime]


def build(bus: Bus, *, port: int | None = None, clocks: ClockConfig | None = None, clock: Clock | None = None,
          app_id: str = SERVICE) -> Runtime:
    clocks = clocks or ClockConfig()
    now: Clock = clock or (lambda: datetime.now(UTC))
    app = create_app(app_id, bus)
    table = app.Table("ledger-cases", partitions=bus.settings.topic_partitions, key_type=bytes, value_type=bytes)

    async def record(event: Event) -> None:
        key = event.key.encode()
        raw = table.get(key)
        state = state_from_json(raw) if raw is not None else CaseState(event.key)
        if state.apply(event.type, event.data, event.id, clocks):  # False: seen before, nothing to do
            table[key] = state_to_json(state)

    @app.agent(raw_topic(app, *TOPICS_IN), name=f"{app_id}.record")
    async def agent(stream: Any) -> None:
        await consume(stream, bus.codec, record, app=app, service=SERVICE)

    def cases() -> list[CaseState]:
        return [state_from_json(v) for v in table.values()]

    runtime = Runtime(SERVICE, bus, faust_apps=[app])
    runtime.web_apps.append((make_api(cases, now), port or bus.settings.ledger_port))
    return runtime


def make_api(cases: Callable[[], list[CaseState]], now: Clock) -> web.Application:
    def view(c: CaseState, at: datetime) -> dict[str, Any]:
        d = c.to_dict()
        d["overdue"] = c.overdue(at)
        return d

    async def one(request: web.Request) -> web.Response:
        number = request.match_info["case_number"]
        found = next((c for c in cases() if c.case_number == number), None)
        if found is None:
            return _json({"error": f"no case {number}"}, status=404)
        return _json(view(found, now()))

    async def many(request: web.Request) -> web.Response:
        q = request.query
        at = now()
        selected = cases()
        if "unit" in q:
            selected = [c for c in selected if q["unit"] in c.handoffs]
        if "status" in q:
            selected = [c for c in selected if c.status.value == q["status"]]
        if q.get("overdue") in ("1", "true", "yes"):
            selected = [c for c in selected if c.overdue(at)]
        selected.sort(key=lambda c: c.case_number)
        limit = int(q.get("limit", "500"))
        return _json({"count": len(selected), "cases": [
            {"case_number": c.case_number, "status": c.status.value, "category": c.category, "lead_unit": c.lead_unit,
             "channel": c.channel, "registered_at": c.registered_at, "overdue": c.overdue(at)} for c in selected[:limit]]})

    async def stats(request: web.Request) -> web.Response:
        year = int(request.query["year"]) if "year" in request.query else None
        return _json(statistics(cases(), now(), year))

    async def health(_: web.Request) -> web.Response:
        return _json({"status": "ok"})

    api = web.Application()
    api.router.add_get("/cases/{case_number}", one)
    api.router.add_get("/cases", many)
    api.router.add_get("/stats", stats)
    api.router.add_get("/healthz", health)
    return api


def _json(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status,
                             dumps=lambda o: json.dumps(o, ensure_ascii=False, default=lambda x: x.isoformat()))
