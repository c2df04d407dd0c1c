"""The ledger's HTTP API: the cases, the statistics, mediations, packages and task teams.

Any worker answers for every case: one case is asked of the worker that owns it, a list gathers
what every worker owns, and the statistics add up the sums each worker keeps of its own cases.
A unit's principal sees the cases handed to it (and the mediations, packages and tasks it takes
part in); the bureau and operators see everything.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from aiohttp import web
from liandong_sdk import HANDLING_UNITS, Verifier
from pydantic import BaseModel, ConfigDict, Field

from liandong.api import Api, Call, Handler, Parameters, json_response, problem
from liandong.audit import link_key, verify
from liandong.domain import CaseState, CaseStatus, bureau_year, views
from liandong.service import Clock, View, forward, forwarded
from liandong.tokens import Caller, Role

from .stats import Tally, report, tally, tally_package

CASES, COORDINATION, AUDIT = "ledger-cases", "ledger-coordination", "ledger-audit"
#: Where a worker answers the others with its part of the statistics (``?unit=``: of that unit's cases).
TALLIES_PATH = "/_workers/tallies"
#: A worker's part of the statistics: (a unit, or None for every case; now) -> the summed tallies.
Tallied = Callable[[str | None, datetime], Awaitable[Tally]]
#: Who may read the ledger: not a channel (it registers petitions, it does not follow cases).
READERS = frozenset({Role.BUREAU, Role.OPERATOR, Role.UNIT})
CASE_NUMBER = r"^\d{6}-\d{4}-\d{6}$"
UnitCode = StrEnum("UnitCode", {u: u for u in HANDLING_UNITS})  # type: ignore[misc]
Status = StrEnum("Status", {s.value: s.value for s in CaseStatus})  # type: ignore[misc]
CaseNumber = Annotated[str, Field(pattern=CASE_NUMBER, examples=["140214-2026-000123"],
                                  description="District code, year and sequence.")]


# -- parameters ---------------------------------------------------------------------------------
class CasePath(Parameters):
    case_number: CaseNumber


class CasesQuery(Parameters):
    unit: UnitCode | None = Field(None, description="Only cases handed to this unit.")
    status: Status | None = Field(None, description="Only cases in this status.")
    overdue: bool = Field(False, description="Only cases with a clock past due.")
    limit: int = Field(500, ge=1, le=10_000_000, description="At most this many cases (by case number).")


class StatsQuery(Parameters):
    year: int | None = Field(None, ge=2000, le=2100, description="The bureau year (default: the latest with cases).")


class MediationsQuery(Parameters):
    open: bool = Field(False, description="Only mediations not concluded.")
    case: CaseNumber | None = None


class PackagesQuery(Parameters):
    open: bool = Field(False, description="Only packages not closed.")
    stale: bool = Field(False, description="Only packages whose last progress report is older than their cadence.")


class TeamsQuery(Parameters):
    team: str | None = Field(None, max_length=100, description="Only this team.")
    campaign: str | None = Field(None, max_length=200, description="Only this campaign; teams with no task in it are left out.")


# -- answers ------------------------------------------------------------------------------------
class Model(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)


class Handoff(Model):
    unit: str
    role: str
    """LEAD or CO."""
    status: str
    """REQUESTED, SIGNED, OBJECTED, ACCEPTED, NOT_ACCEPTED, IN_PROGRESS or RESOLVED."""
    requested_at: datetime
    acceptance_due_at: datetime
    attempt: int
    signed_at: datetime | None
    accepted_at: datetime | None
    resolved_at: datetime | None
    handling_due_at: datetime | None
    extension_days: int


class TimelineEntry(Model):
    at: datetime
    event: str
    """The event type, e.g. case.handoff.accepted."""
    unit: str | None
    detail: str
    event_id: str


class Recommendation(Model):
    unit: str
    kind: str
    issued_at: datetime | None
    adopted: bool | None
    answered_at: datetime | None


class Notice(Model):
    kind: str
    """ACCEPTANCE, NOT_ACCEPTED, DIVERSION, EXTENSION or OPINION."""
    channel: str
    """How it is delivered: SMS, POST, ONLINE or IN_PERSON."""
    issued_at: datetime | None
    delivered_at: datetime | None
    """When a delivery system confirmed it reached the petitioner (null: not yet)."""


class CaseSatisfaction(Model):
    evaluation: str
    """SATISFIED, BASICALLY_SATISFIED or UNSATISFIED."""
    unit: str
    called_at: datetime


class CaseReview(Model):
    """A review (复查) or re-check (复核) of the case's decision."""

    body: str | None
    """The reviewing body that decides."""
    reviewed_unit: str | None
    """Whose decision is examined (the handling unit, or the reviewing body for a re-check)."""
    applied_at: datetime | None
    due_at: datetime | None
    """The end of the body's decision period."""
    decision: str | None
    """UPHELD, CHANGED or REVOKED; null until decided."""
    decided_at: datetime | None


class Case(Model):
    """One case as the ledger holds it (no personal data)."""

    case_number: str
    status: Status
    channel: str
    category: str
    registered_at: datetime | None
    repeat_of: str | None
    assigned_by: str | None
    assigned_due_at: datetime | None
    diverted_to: str | None
    referred_to: str | None
    lead_unit: str | None
    co_units: list[str]
    mode: str | None
    handoffs: dict[str, Handoff]
    objections: int
    extensions: int
    progress_percent: int
    outcome: str | None
    tag: str | None
    resolved_at: datetime | None
    timeline: list[TimelineEntry]
    recommendations: dict[str, Recommendation]
    satisfaction: CaseSatisfaction | None
    """The petitioner's evaluation at the callback (回访), once recorded."""
    reviews: dict[str, CaseReview] = {}
    """Review and re-check by stage (REVIEW, RECHECK), once applied for."""
    notices: dict[str, Notice]
    """The written notices to the petitioner, by number (not their text: that is personal data)."""
    pending: list[dict[str, Any]]
    """Unit answers read before the handoff they answer, applied once it arrives."""
    overdue: list[str]
    """The lead unit's clocks past due now (ACCEPTANCE_NOTICE, HANDLING)."""


class AuditLink(Model):
    """One event of the case as the ledger recorded it, linked into the chain (no personal data:
    the value only as its SHA-256)."""

    event_id: str
    ce_type: str | None
    ce_time: str | None
    key: str
    value_sha256: str
    """Lowercase hex SHA-256 of the message value as read."""
    topic: str
    """The topic the ledger read it on (a checked answer: liandong.bureau.answers)."""
    signer: str | None
    """The publishing principal (``ld_signer``)."""
    signature: str | None
    """Its Ed25519 signature (``ld_signature``, base64), over the signing input of docs/security.md."""
    answer: dict[str, str | None] | None = None
    """A unit's answer (the referee's checked copy): the unit's own signature of it as sent: signer,
    signature, ce_time, value_sha256 and the replies topic it came on."""
    prev: str
    """The previous link's hash (the first link: SHA-256 of ``liandong-chain-v1\\n<case number>``)."""
    hash: str
    """SHA-256 of the JSON array [prev, event_id, ce_type, ce_time, key, value_sha256, topic, signer, signature,
    answer] (compact separators, UTF-8)."""
    sealed_by: str | None = None
    seal: str | None = None
    """The ledger's Ed25519 signature of ``hash`` (base64)."""


class AuditBreak(Model):
    index: int
    """The link's position in the chain (0: the first event recorded)."""
    event_id: str | None
    type: str | None
    problem: str
    """changed, removed or unsigned."""
    reason: str


class Audit(Model):
    """A case's audit chain and whether it holds (``liandong audit verify`` checks it again itself)."""

    case_number: str
    intact: bool | None
    """Whether every link holds; null when the ledger has no principals directory to check against."""
    length: int
    head: str | None
    """The last link's hash."""
    first_broken: AuditBreak | None
    links: list[AuditLink]


class CaseSummary(Model):
    case_number: str
    status: Status
    category: str
    lead_unit: str | None
    channel: str
    registered_at: datetime | None
    overdue: list[str]


class CaseList(Model):
    count: int
    """How many cases matched (before ``limit``)."""
    cases: list[CaseSummary]


class SatisfactionCounts(Model):
    evaluated: int
    """Opinions evaluated at a callback."""
    satisfied: int
    basically_satisfied: int
    unsatisfied: int
    rate: float | None
    """The satisfaction rate (满意率): satisfied and basically satisfied over evaluated (null: none evaluated)."""


class Satisfaction(SatisfactionCounts):
    by_unit: dict[str, SatisfactionCounts]
    """The same, per unit whose opinion was evaluated."""


class NoticeCounts(Model):
    issued: dict[str, int]
    """Notices issued, by kind (ACCEPTANCE, NOT_ACCEPTED, DIVERSION, EXTENSION, OPINION)."""
    delivered: int
    """Of them, confirmed delivered by a delivery system."""


class Statistics(Model):
    """The bureau's annual report figures for one year."""

    year: int
    total: int
    year_on_year_change: float | None
    previous_year_total: int | None
    persons: int
    """People who brought this year's petitions (人次; a group's size counts each)."""
    persons_year_on_year_change: float | None
    previous_year_persons: int | None
    visits: dict[str, int]
    """Petitions in person (来访): batches (批次) and persons (人次)."""
    group_visits: dict[str, int]
    """Visits of five or more people (集体访): batches and persons."""
    by_mode: dict[str, int]
    """Routed cases by handoff mode: FORWARD (转送) or ASSIGN (交办)."""
    by_channel: dict[str, int]
    channel_share: dict[str, float | None]
    by_category: dict[str, int]
    category_share: dict[str, float | None]
    most_complained_units: list[dict[str, Any]]
    """The units with the most cases as lead (unit, cases, share of the routed cases)."""
    by_month_category: dict[str, dict[str, int]]
    """Petitions per month of registration (bureau time, e.g. 2026-01) and matter."""
    by_lead_unit: dict[str, int]
    by_unit: dict[str, dict[str, int]]
    by_status: dict[str, int]
    diverted: int
    resolved: int
    outcomes: dict[str, int]
    on_time_acceptance_rate: float | None
    on_time_closing_rate: float | None
    objection_rate: float | None
    extension_rate: float | None
    repeat_rate: float | None
    review_rate: float | None
    """Reviews (复查) applied for over the cases resolved."""
    recheck_rate: float | None
    """Re-checks (复核) applied for over the reviews decided."""
    reviews: dict[str, dict[str, Any]]
    """Per stage (REVIEW, RECHECK): applied, decided, upheld, changed, revoked, change_rate."""
    overdue: int
    supervision: dict[str, Any]
    """督查督办: overdue by unit, letters issued and what followed them, the three recommendations."""
    satisfaction: Satisfaction
    """The callbacks (回访): the petitioners' evaluations of the opinions, by unit."""
    packages: dict[str, Any]
    """Responsibility packages (包案) on this year's cases: assigned, closed, by result, resolution_rate."""
    notices: NoticeCounts
    """The written notices to the petitioners (告知书)."""


class Mediation(Model):
    mediation_id: str
    case_number: str
    convener: str | None
    participants: list[str]
    legal_advisers: list[str]
    subject: str | None
    requested_by: str | None
    requested_at: str | None
    answer_due_at: str | None
    answers: dict[str, dict[str, Any]]
    reminded: list[str]
    escalated: list[str]
    sessions: list[dict[str, Any]]
    status: str
    result: str | None
    summary: str | None
    referral: str | None
    concluded_at: str | None


class MediationList(Model):
    count: int
    mediations: list[Mediation]


class Package(Model):
    package_id: str
    case_number: str
    case_numbers: list[str]
    members: list[dict[str, Any]]
    units: list[str]
    leader_package: bool
    plan: str | None
    cadence_days: int | None
    assigned_at: str | None
    expected_on: str | None
    extension_days: int
    percent: int
    last_report_at: str | None
    reports: list[dict[str, Any]]
    reminders: list[str]
    status: str
    result: str | None
    resolved_on: str | None
    summary: str | None
    days_since_report: float | None
    stale: bool
    overdue: bool


class PackageList(Model):
    count: int
    packages: list[Package]


class Teams(Model):
    teams: dict[str, dict[str, Any]]
    """Per team, per campaign and per group: tasks assigned, acknowledged, completed, overdue."""


# -- the API ------------------------------------------------------------------------------------
def owned_tally(view: View, unit: str | None, at: datetime, kept: Tally | None = None) -> Tally:
    """This worker's part of the statistics: its cases' tallies (``kept``: their sum as the worker
    keeps it, added to here; None: counted now, over every case it owns) and the responsibility
    packages on them."""
    totals = kept
    if totals is None:
        totals = Counter()
        for case in view.owned(CASES):
            if unit is None or case.concerns(unit):
                totals.update(tally(case, at))
    for package in views.package_records(view.owned(COORDINATION)):
        case = view.get(CASES, package["case_number"])  # kept under the same key: on the same worker
        if case is not None and case.registered_at is not None and (unit is None or case.concerns(unit)):
            totals.update(tally_package(package, bureau_year(case.registered_at)))
    return totals


def make_api(cases: View, now: Clock, verifier: Verifier | None = None, tallied: Tallied | None = None) -> Api:
    api = Api("ledger", "Liandong ledger (台账)", __doc__ or "")
    errors = (503,)

    async def counted(unit: str | None, at: datetime) -> Tally:
        return owned_tally(cases, unit, at)

    own = tallied or counted

    def get(path: str, summary: str, **kw: Any) -> Callable[[Handler], Handler]:
        return api.get(path, summary, allow=READERS, **kw)

    def case(c: CaseState, at: datetime) -> dict[str, Any]:
        d = c.to_dict()
        for part in ("audit", "audit_length", "audit_head"):
            del d[part]  # the chain is served on its own (/cases/{n}/audit)
        d["overdue"] = c.overdue(at)
        return d

    async def one_case(call: Call) -> CaseState | web.StreamResponse:
        """The case of the path, from the worker that owns it; a 404 when the caller may not see it."""
        number = call.path.case_number
        owner = None if forwarded(call.request) else cases.owner(CASES, number)
        if owner is not None:
            return await forward(call.request, owner)
        found: CaseState | None = cases.get(CASES, number)
        if found is None or not (_sees_all(call.caller) or found.concerns(_unit(call.caller))):
            return problem(404, f"no case {number}" + ("" if _sees_all(call.caller) else f" handed to {_unit(call.caller)}"))
        return found

    async def visible(call: Call) -> list[CaseState]:
        found = await cases.everywhere(CASES)
        return found if _sees_all(call.caller) else [c for c in found if c.concerns(_unit(call.caller))]

    @get("/cases/{case_number}", "One case: its state, handoffs and timeline.", response=Case,
             path_parameters=CasePath, errors=(404, 503))
    async def get_case(call: Call) -> web.StreamResponse:
        found = await one_case(call)
        return found if isinstance(found, web.StreamResponse) else json_response(case(found, now()))

    @get("/cases/{case_number}/audit", "One case's audit chain: every event as recorded, signed and hash-chained, "
         "and the first link that does not hold.", response=Audit, path_parameters=CasePath, errors=(404, 503))
    async def get_audit(call: Call) -> web.StreamResponse:
        found = await one_case(call)
        if isinstance(found, web.StreamResponse):
            return found
        # A link missing from the table breaks the chain where it was (the next one does not follow).
        links = found.audit or [link for i in range(found.audit_length)
                                if (link := cases.get(AUDIT, link_key(found.case_number, i))) is not None]
        broken = verify(found.case_number, links, verifier) if verifier is not None else None
        return json_response({"case_number": found.case_number, "intact": None if verifier is None else broken is None,
                              "length": len(links), "head": links[-1]["hash"] if links else None,
                              "first_broken": broken.to_dict() if broken else None, "links": links})

    @get("/cases", "Cases, by case number; a unit's principal sees the cases handed to it.", response=CaseList,
             query=CasesQuery, errors=(403, 503))
    async def list_cases(call: Call) -> web.StreamResponse:
        q: CasesQuery = call.query
        if q.unit is not None and not _sees_all(call.caller) and q.unit != _unit(call.caller):
            return problem(403, f"{_principal(call.caller)} sees only the cases of {_unit(call.caller)}")
        at = now()
        selected = await visible(call)
        if q.unit is not None:
            selected = [c for c in selected if q.unit in c.handoffs]
        if q.status is not None:
            selected = [c for c in selected if c.status.value == q.status]
        if q.overdue:
            selected = [c for c in selected if c.overdue(at)]
        selected.sort(key=lambda c: c.case_number)
        return json_response({"count": len(selected), "cases": [
            {"case_number": c.case_number, "status": c.status.value, "category": c.category, "lead_unit": c.lead_unit,
             "channel": c.channel, "registered_at": c.registered_at, "overdue": c.overdue(at)} for c in selected[:q.limit]]})

    @get("/stats", "The annual report's figures (a unit's principal: over its own cases).", response=Statistics,
             query=StatsQuery, errors=errors)
    async def stats(call: Call) -> web.StreamResponse:
        # Each worker sends the sum of its cases' parts, not its cases: the answer costs as much at
        # a million cases as at a thousand (services/ledger/tallies.py).
        at, unit = now(), None if _sees_all(call.caller) else _unit(call.caller)
        totals = await own(unit, at)
        for part in await cases.ask_others(TALLIES_PATH + (f"?unit={unit}" if unit else "")):
            totals.update({tuple(key): n for key, n in part})
        return json_response(report(totals, at, call.query.year))

    async def tallies_for_others(request: web.Request) -> web.Response:
        totals = await own(request.query.get("unit") or None, now())
        return web.json_response([[list(key), n] for key, n in totals.items()])

    api.internal.append(("GET", TALLIES_PATH, tallies_for_others))

    async def coordination_views(call: Call) -> list[views.View]:
        return await cases.everywhere(COORDINATION)

    @get("/mediations", "Joint mediations (联合调处) and their answers.", response=MediationList,
             query=MediationsQuery, errors=errors)
    async def list_mediations(call: Call) -> web.StreamResponse:
        q: MediationsQuery = call.query
        found = views.mediations(await coordination_views(call), open_only=q.open, case=q.case)
        if not _sees_all(call.caller):
            found = [m for m in found if _unit(call.caller) in (m["participants"] or [m["convener"]])]
        return json_response({"count": len(found), "mediations": found})

    @get("/packages", "Responsibility packages (包案): the dynamic ledger (动态台账).", response=PackageList,
             query=PackagesQuery, errors=errors)
    async def list_packages(call: Call) -> web.StreamResponse:
        q: PackagesQuery = call.query
        found = views.packages(await coordination_views(call), now())
        if q.open:
            found = [p for p in found if p["status"] == "OPEN"]
        if q.stale:
            found = [p for p in found if p["stale"]]
        if not _sees_all(call.caller):
            found = [p for p in found if _unit(call.caller) in p["units"]]
        return json_response({"count": len(found), "packages": found})

    @get("/teams", "Joint task teams: tasks per team, campaign and group.", response=Teams, query=TeamsQuery,
             errors=errors)
    async def list_teams(call: Call) -> web.StreamResponse:
        q: TeamsQuery = call.query
        mine: Callable[[views.View], bool] = (lambda _: True) if _sees_all(call.caller) else \
            (lambda v: bool(v.get("task")) and v["task"]["unit"] == _unit(call.caller))
        found = views.teams([v for v in await coordination_views(call) if mine(v)], now())
        if q.team is not None:
            found = {k: v for k, v in found.items() if k == q.team}
        if q.campaign is not None:  # a team with nothing in the campaign is not part of the answer
            found = {k: {**team, "campaigns": {q.campaign: team["campaigns"][q.campaign]}}
                     for k, team in found.items() if q.campaign in team["campaigns"]}
        return json_response({"teams": found})

    return api


def _sees_all(caller: Caller | None) -> bool:
    return caller is None or caller.sees_every_case


def _unit(caller: Caller | None) -> str | None:
    return caller.unit if caller else None


def _principal(caller: Caller | None) -> str:
    return caller.principal if caller else "?"
