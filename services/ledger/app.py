"""The ledger (台账): every case's current state and timeline, and the statistics.

Topics in:  liandong.bureau.petitions, liandong.bureau.triage, liandong.unit.*.inbox, liandong.unit.*.replies
Topics out: none (the table's changelog, ledger-cases-changelog, is its own state log)
State:      table ledger-cases (case number -> CaseState, without personal data), restored on restart
HTTP:       GET /cases/{case_number}, GET /cases?unit=&status=&overdue=, GET /stats?year=, GET /healthz,
            GET /mediations, /packages, /teams (coordination.py, table ledger-coordination)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

from aiohttp import web

from liandong import (
    BUREAU_COORDINATION,
    BUREAU_PETITIONS,
    BUREAU_SUPERVISION,
    BUREAU_TRIAGE,
    HANDLING_UNITS,
    UNIT_INBOX,
    UNIT_REPLIES,
    Bus,
    Event,
    get_logger,
)
from liandong.clock import now as bus_now
from liandong.domain import CaseState, CaseStatus, ClockConfig
from liandong.domain.case import state_from_json, state_to_json
from liandong.metrics import (
    EXTENSIONS,
    MEDIATION_OUTCOMES,
    OBJECTIONS,
    ON_TIME_ACCEPTANCE,
    OPEN_CASES,
    OVERDUE_CASES,
    PACKAGE_OUTCOMES,
    RESOLUTIONS,
    SIGNFOR_LATENCY,
    SUPERVISION_ACTIONS,
)
from liandong.runtime import Runtime, json_response
from liandong.streams import Batch, consume_batches, create_app, raw_topic
from liandong.streams import table as faust_table

from .coordination import CoordinationViews
from .coordination import add_routes as add_coordination_routes
from .stats import statistics

SERVICE = "ledger"
log = get_logger(SERVICE)
TOPICS_IN = [BUREAU_PETITIONS, BUREAU_TRIAGE, BUREAU_COORDINATION, BUREAU_SUPERVISION] + [
    t.format(unit=s) for s in HANDLING_UNITS.values() for t in (UNIT_INBOX, UNIT_REPLIES)]
Clock = Callable[[], datetime]


def build(bus: Bus, *, port: int | None = None, clocks: ClockConfig | None = None, clock: Clock | None = None,
          app_id: str = SERVICE) -> Runtime:
    clocks = clocks or ClockConfig()
    now: Clock = clock or bus_now  # the wall clock, or the simulation's compressed one
    app = create_app(app_id, bus)
    table = faust_table(app, "ledger-cases", bus.settings.topic_partitions)
    views = CoordinationViews(app, bus.settings.topic_partitions)  # mediations, packages, team tasks

    async def record(event: Event, batch: Batch) -> None:
        views.record(event)  # mediations, packages and team tasks (ledger/coordination.py; counts team tasks)
        if event.type.startswith("team.task."):  # keyed by task, not by case: no case state
            return
        key = event.key.encode()
        # A case's state is decoded once per batch and encoded once at its end, however many events it had.
        state = batch.get(table, key, state_from_json) or CaseState(event.key)
        if state.apply(event.type, event.data, event.id, clocks):  # False: seen before, nothing to do
            batch.put(table, key, state, state_to_json)
            # counted as of this event (later ones in the batch may re-route the case)
            batch.after(partial(count, event, state.lead_unit, state.registered_at))

    @app.timer(interval=5.0)  # type: ignore[untyped-decorator]
    async def refresh_gauges() -> None:
        # A timer's exception would stop the worker's timers: never let one escape.
        try:
            set_gauges(cases(), now())
        except Exception:
            log.exception("ledger_gauges_failed")

    @app.agent(raw_topic(app, *TOPICS_IN), name=f"{app_id}.record")
    async def agent(stream: Any) -> None:
        await consume_batches(stream, bus.codec, record, app=app, service=SERVICE)

    def cases() -> list[CaseState]:
        return [state_from_json(v) for v in table.values()]

    runtime = Runtime(SERVICE, bus, faust_apps=[app])
    api = make_api(cases, now)
    add_coordination_routes(api, views.all, now)  # GET /mediations, /packages, /teams
    runtime.web_apps.append((api, port if port is not None else bus.settings.ledger_port))
    return runtime


def count(event: Event, lead_unit: str | None, registered_at: datetime | None) -> None:
    """Counters for the unit SLA board, once per newly applied event."""
    unit = event.data.get("unit")
    if event.type == "case.handoff.accepted" and unit == lead_unit and registered_at:
        signed = event.data["occurred_at"]
        SIGNFOR_LATENCY.labels(unit).observe(max(0.0, (signed - registered_at).total_seconds()))
    elif event.type == "case.handoff.rejected":
        OBJECTIONS.labels(unit).inc()
    elif event.type == "case.extension.approved":
        EXTENSIONS.labels(unit).inc()
    elif event.type == "case.resolved":
        RESOLUTIONS.labels(unit, event.data["outcome"]).inc()
    elif event.type == "mediation.concluded":
        MEDIATION_OUTCOMES.labels(event.data["result"]).inc()
    elif event.type == "package.closed":
        PACKAGE_OUTCOMES.labels(event.data["result"]).inc()
    elif event.type.startswith("supervision.") and event.type != "supervision.feedback":
        SUPERVISION_ACTIONS.labels(event.data["unit"], event.type.removeprefix("supervision.")).inc()


def set_gauges(all_cases: list[CaseState], at: datetime) -> None:
    open_by_unit: Counter[str] = Counter()
    overdue: Counter[tuple[str, str]] = Counter()
    accepted: Counter[str] = Counter()
    on_time: Counter[str] = Counter()
    for c in all_cases:
        lead = c.lead
        if lead is None:
            continue
        if c.status not in (CaseStatus.RESOLVED, CaseStatus.NOT_ACCEPTED):
            open_by_unit[lead.unit] += 1
        for clock in c.overdue(at):
            overdue[(lead.unit, clock)] += 1
        if lead.accepted_at is not None:
            accepted[lead.unit] += 1
            on_time[lead.unit] += lead.accepted_at <= lead.acceptance_due_at
    for unit in HANDLING_UNITS:
        OPEN_CASES.labels(unit).set(open_by_unit[unit])
        for clock in ("ACCEPTANCE_NOTICE", "HANDLING"):
            OVERDUE_CASES.labels(unit, clock).set(overdue[(unit, clock)])
        if accepted[unit]:
            ON_TIME_ACCEPTANCE.labels(unit).set(on_time[unit] / accepted[unit])


def make_api(cases: Callable[[], list[CaseState]], now: Clock) -> web.Application:
    def view(c: CaseState, at: datetime) -> dict[str, Any]:
        d = c.to_dict()
        d["overdue"] = c.overdue(at)
        return d

    async def one(request: web.Request) -> web.Response:
        number = request.match_info["case_number"]
        found = next((c for c in cases() if c.case_number == number), None)
        if found is None:
            return json_response({"error": f"no case {number}"}, status=404)
        return json_response(view(found, now()))

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
        return json_response({"count": len(selected), "cases": [
            {"case_number": c.case_number, "status": c.status.value, "category": c.category, "lead_unit": c.lead_unit,
             "channel": c.channel, "registered_at": c.registered_at, "overdue": c.overdue(at)} for c in selected[:limit]]})

    async def stats(request: web.Request) -> web.Response:
        year = int(request.query["year"]) if "year" in request.query else None
        return json_response(statistics(cases(), now(), year))

    async def health(_: web.Request) -> web.Response:
        return json_response({"status": "ok"})

    api = web.Application()
    api.router.add_get("/cases/{case_number}", one)
    api.router.add_get("/cases", many)
    api.router.add_get("/stats", stats)
    api.router.add_get("/healthz", health)
    return api
