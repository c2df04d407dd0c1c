"""The ledger's views of joint mediation, responsibility packages (动态台账) and joint task teams.

Built from the events the ledger reads anyway (bureau.coordination, every inbox and replies),
kept in table ledger-coordination under the message key (a case number, or a task number for
team tasks). Topics are not ordered with each other, so an answer may come before the request
it answers: every fold creates what it needs and fills the rest in when it arrives.

Plain folds over typed events, like the case's record (``case.py``); the ledger service
(``services/ledger``) keeps them in its table, counts them and serves them: GET /mediations?open=1&case=,
GET /packages?open=1&stale=1, GET /teams?team=&campaign=.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from liandong_sdk.events import (
    CaseRef,
    CaseReferred,
    EventRecord,
    MediationConcluded,
    MediationDeclined,
    MediationEscalated,
    MediationJoined,
    MediationReminderIssued,
    MediationRequested,
    MediationSessionHeld,
    PackageAssigned,
    PackageClosed,
    PackageExtended,
    PackageProgressReported,
    PackageReminderIssued,
    TeamTaskAcknowledged,
    TeamTaskAssigned,
    TeamTaskCompleted,
    TeamTaskReminderIssued,
)
from liandong_sdk.records import utc_iso

View = dict[str, Any]
_KEEP = 500  # event ids remembered per key

#: A fold changes the view under the event's key; ``at`` is when the event happened (ISO, UTC).
Fold = Callable[[View, Any, str], None]
_FOLDS: dict[type[EventRecord], Fold] = {}


def _folds(*classes: type[EventRecord]) -> Callable[[Fold], Fold]:
    def register(fold: Fold) -> Fold:
        _FOLDS.update(dict.fromkeys(classes, fold))
        return fold

    return register


def fold(view: View, record: EventRecord, event_id: str) -> bool:
    """Applies one event to the view of its key; False (no change) if seen before or not a view event."""
    apply = _FOLDS.get(type(record))
    if apply is None or event_id in view.setdefault("handled", []):
        return False
    view["handled"] = [*view["handled"][-_KEEP:], event_id]
    apply(view, record, utc_iso(record.occurred_at))  # type: ignore[attr-defined]
    return True


# -- joint mediation (联合调处) -------------------------------------------------------------------
@_folds(CaseReferred)
def _referred(view: View, p: CaseReferred, at: str) -> None:
    if p.mediation_id:
        _mediation(view, str(p.mediation_id), p.case)["referral"] = p.channel


@_folds(MediationRequested)
def _requested(view: View, p: MediationRequested, at: str) -> None:
    m = _mediation(view, str(p.mediation_id), p.case)
    m.update(convener=p.convener, participants=list(p.participants), legal_advisers=list(p.legal_advisers),
             subject=p.subject, requested_by=p.requested_by, requested_at=at,
             answer_due_at=utc_iso(p.deadline.due_at) if p.deadline else None)
    for u in p.participants:
        m["answers"].setdefault(u, {"answer": "JOINED" if u == p.convener else "PENDING",
                                    "at": at if u == p.convener else None, "reason": None})


@_folds(MediationJoined)
def _joined(view: View, p: MediationJoined, at: str) -> None:
    _mediation(view, str(p.mediation_id), p.case)["answers"][p.unit] = {"answer": "JOINED", "at": at, "reason": None}


@_folds(MediationDeclined)
def _declined(view: View, p: MediationDeclined, at: str) -> None:
    _mediation(view, str(p.mediation_id), p.case)["answers"][p.unit] = {"answer": "DECLINED", "at": at, "reason": p.reason}


@_folds(MediationReminderIssued)
def _reminded(view: View, p: MediationReminderIssued, at: str) -> None:
    m = _mediation(view, str(p.mediation_id), p.case)
    m["reminded"] = sorted({*m["reminded"], p.unit})


@_folds(MediationEscalated)
def _mediation_escalated(view: View, p: MediationEscalated, at: str) -> None:
    m = _mediation(view, str(p.mediation_id), p.case)
    m["escalated"] = sorted({*m["escalated"], p.unit})


@_folds(MediationSessionHeld)
def _session(view: View, p: MediationSessionHeld, at: str) -> None:
    m = _mediation(view, str(p.mediation_id), p.case)
    m["sessions"].append({"held_at": utc_iso(p.held_at), "attendees": list(p.attendees), "summary": p.summary})
    m["sessions"].sort(key=lambda s: s["held_at"])


@_folds(MediationConcluded)
def _concluded(view: View, p: MediationConcluded, at: str) -> None:
    m = _mediation(view, str(p.mediation_id), p.case)
    m.update(status="CONCLUDED", result=p.result, summary=p.summary, concluded_at=at)
    m["referral"] = m["referral"] or p.referral


# -- responsibility packages (包案) --------------------------------------------------------------
@_folds(PackageAssigned)
def _assigned(view: View, p: PackageAssigned, at: str) -> None:
    pkg = _package(view, str(p.package_id), p.case)
    pkg.update(case_numbers=list(p.case_numbers), members=[m.to_record() for m in p.members],
               leader_package=p.leader_package, plan=p.plan, cadence_days=p.progress_cadence_days,
               assigned_at=pkg["assigned_at"] or at,
               expected_on=pkg["expected_on"] or p.expected_resolution_on.isoformat())
    pkg["units"] = sorted({*pkg["units"], p.unit})


@_folds(PackageProgressReported)
def _reported(view: View, p: PackageProgressReported, at: str) -> None:
    pkg = _package(view, str(p.package_id), p.case)
    pkg["reports"].append({"at": at, "unit": p.unit, "percent": p.percent, "actions": list(p.actions)})
    pkg["reports"].sort(key=lambda r: r["at"])
    pkg["percent"] = pkg["reports"][-1]["percent"]
    pkg["last_report_at"] = pkg["reports"][-1]["at"]


@_folds(PackageReminderIssued)
def _package_reminded(view: View, p: PackageReminderIssued, at: str) -> None:
    pkg = _package(view, str(p.package_id), p.case)
    last = utc_iso(p.last_report_at) if p.last_report_at else "-"
    pkg["reminders"] = sorted({*pkg["reminders"], f"{last}/{p.period}"})


@_folds(PackageExtended)
def _package_extended(view: View, p: PackageExtended, at: str) -> None:
    _package(view, str(p.package_id), p.case).update(
        extension_days=p.total_days, expected_on=p.expected_resolution_on.isoformat())


@_folds(PackageClosed)
def _closed(view: View, p: PackageClosed, at: str) -> None:
    _package(view, str(p.package_id), p.case).update(
        status="CLOSED", result=p.result, resolved_on=p.resolved_on.isoformat(), summary=p.summary)


# -- joint task teams (一办五组) -------------------------------------------------------------------
def _task(view: View, p: TeamTaskAssigned | TeamTaskReminderIssued | TeamTaskAcknowledged | TeamTaskCompleted) -> View:
    return view.setdefault("task", {  # type: ignore[no-any-return]
        "task_number": p.task_number, "team": p.team, "group": p.group, "unit": p.unit,
        "campaign": None, "description": None, "assigned_at": None, "due_at": None, "status": "ASSIGNED",
        "reminders": 0, "acknowledged_at": None, "completed_at": None})


@_folds(TeamTaskAssigned)
def _task_assigned(view: View, p: TeamTaskAssigned, at: str) -> None:
    _task(view, p).update(campaign=p.campaign, description=p.description, assigned_at=at,
                          due_at=utc_iso(p.deadline.due_at) if p.deadline else None)


@_folds(TeamTaskReminderIssued)
def _task_reminded(view: View, p: TeamTaskReminderIssued, at: str) -> None:
    t = _task(view, p)
    t["campaign"] = t["campaign"] or p.campaign
    t["reminders"] += 1


@_folds(TeamTaskAcknowledged)
def _acknowledged(view: View, p: TeamTaskAcknowledged, at: str) -> None:
    t = _task(view, p)
    t["acknowledged_at"] = t["acknowledged_at"] or at
    t["status"] = "COMPLETED" if t["status"] == "COMPLETED" else "ACKNOWLEDGED"


@_folds(TeamTaskCompleted)
def _completed(view: View, p: TeamTaskCompleted, at: str) -> None:
    t = _task(view, p)
    t.update(status="COMPLETED", completed_at=at)
    t["acknowledged_at"] = t["acknowledged_at"] or at


#: The events the views are built from.
EVENTS: tuple[type[EventRecord], ...] = tuple(_FOLDS)


def _mediation(view: View, mid: str, case: CaseRef) -> View:
    return view.setdefault("mediations", {}).setdefault(mid, {  # type: ignore[no-any-return]
        "mediation_id": mid, "case_number": case.case_number, "convener": None, "participants": [],
        "legal_advisers": [], "subject": None, "requested_by": None, "requested_at": None, "answer_due_at": None,
        "answers": {}, "reminded": [], "escalated": [], "sessions": [], "status": "OPEN", "result": None,
        "summary": None, "referral": None, "concluded_at": None})


def _package(view: View, pid: str, case: CaseRef) -> View:
    return view.setdefault("packages", {}).setdefault(pid, {  # type: ignore[no-any-return]
        "package_id": pid, "case_number": case.case_number, "case_numbers": [], "members": [],
        "units": [], "leader_package": False, "plan": None, "cadence_days": None, "assigned_at": None,
        "expected_on": None, "extension_days": 0, "percent": 0, "last_report_at": None, "reports": [],
        "reminders": [], "status": "OPEN", "result": None, "resolved_on": None, "summary": None})


def mediations(views: list[View], *, open_only: bool = False, case: str | None = None) -> list[View]:
    found = [m for v in views for m in (v.get("mediations") or {}).values()]
    if open_only:
        found = [m for m in found if m["status"] == "OPEN"]
    if case:
        found = [m for m in found if m["case_number"] == case]
    return sorted(found, key=lambda m: (m["requested_at"] or "", m["mediation_id"]))


def package_records(views: list[View]) -> list[View]:
    """Every package the views hold, as folded (status, result, case number, ...)."""
    return [p for v in views for p in (v.get("packages") or {}).values()]


def packages(views: list[View], now: datetime) -> list[View]:
    """The dynamic ledger (动态台账): each package with its progress, staleness and result."""
    out = []
    for p in package_records(views):
        anchor = p["last_report_at"] or p["assigned_at"]
        stale_days = (now - datetime.fromisoformat(anchor)) / timedelta(days=1) if anchor else None
        open_ = p["status"] == "OPEN"
        out.append({**p, "days_since_report": None if stale_days is None else round(stale_days, 2),
                    "stale": bool(open_ and stale_days is not None and p["cadence_days"]
                                  and stale_days > p["cadence_days"]),
                    "overdue": bool(open_ and p["expected_on"] and now.date() > date.fromisoformat(p["expected_on"]))})
    return sorted(out, key=lambda p: (p["assigned_at"] or "", p["package_id"]))


def teams(views: list[View], now: datetime) -> dict[str, Any]:
    """Per team and per campaign (and per group): tasks assigned, acknowledged, completed, overdue."""
    result: dict[str, Any] = {}
    for v in views:
        t = v.get("task")
        if not t:
            continue
        overdue = t["status"] != "COMPLETED" and t["due_at"] is not None and now > datetime.fromisoformat(t["due_at"])
        team = result.setdefault(t["team"], {"team": t["team"], **_zero(), "campaigns": {}})
        campaign = team["campaigns"].setdefault(t["campaign"] or "?", {"campaign": t["campaign"], **_zero(), "groups": {}})
        group = campaign["groups"].setdefault(t["group"], {"group": t["group"], "unit": t["unit"], **_zero(), "tasks": []})
        for bucket in (team, campaign, group):
            bucket["assigned"] += 1
            bucket["acknowledged"] += t["acknowledged_at"] is not None
            bucket["completed"] += t["status"] == "COMPLETED"
            bucket["unacknowledged"] += t["acknowledged_at"] is None
            bucket["overdue"] += overdue
            bucket["reminded"] += t["reminders"] > 0
        group["tasks"].append({**t, "overdue": overdue})
    return result


def _zero() -> dict[str, int]:
    return {"assigned": 0, "acknowledged": 0, "completed": 0, "unacknowledged": 0, "overdue": 0, "reminded": 0}
