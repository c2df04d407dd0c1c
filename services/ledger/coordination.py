"""The ledger's views of joint mediation, responsibility packages (动态台账) and joint task teams.

Built from the events the ledger reads anyway (bureau.coordination, every inbox and replies),
kept in table ledger-coordination under the message key (a case number, or a task number for
team tasks). Topics are not ordered with each other, so an answer may come before the request
it answers: every fold creates what it needs and fills the rest in when it arrives.

HTTP (api.py): GET /mediations?open=1&case=, GET /packages?open=1&stale=1, GET /teams?team=&campaign=
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from liandong_sdk.events import (
    EVENT_CLASSES,
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

from liandong import Event
from liandong.metrics import TEAM_TASKS

View = dict[str, Any]
_KEEP = 500  # event ids remembered per key

#: A fold changes the view under the event's key; ``at`` is when the event happened (ISO, UTC).
Fold = Callable[[View, dict[str, Any], str], None]
_FOLDS: dict[type[EventRecord], Fold] = {}


def _folds(*classes: type[EventRecord]) -> Callable[[Fold], Fold]:
    def register(fold: Fold) -> Fold:
        _FOLDS.update(dict.fromkeys(classes, fold))
        return fold

    return register


def fold(view: View, event_type: str, data: dict[str, Any], event_id: str) -> bool:
    """Applies one event to the view of its key; False (no change) if seen before or not a view event."""
    apply = _FOLDS.get(EVENT_CLASSES[event_type])
    if apply is None or event_id in view.setdefault("handled", []):
        return False
    view["handled"] = [*view["handled"][-_KEEP:], event_id]
    apply(view, data, utc_iso(data["occurred_at"]))
    return True


# -- joint mediation (联合调处) -------------------------------------------------------------------
@_folds(CaseReferred)
def _referred(view: View, data: dict[str, Any], at: str) -> None:
    if data.get("mediation_id"):
        _mediation(view, str(data["mediation_id"]), data)["referral"] = data["channel"]


@_folds(MediationRequested)
def _requested(view: View, data: dict[str, Any], at: str) -> None:
    m = _mediation(view, str(data["mediation_id"]), data)
    m.update(convener=data["convener"], participants=list(data["participants"]),
             legal_advisers=list(data["legal_advisers"]), subject=data["subject"],
             requested_by=data["requested_by"], requested_at=at,
             answer_due_at=utc_iso(data["deadline"]["due_at"]) if data["deadline"] else None)
    for u in data["participants"]:
        m["answers"].setdefault(u, {"answer": "JOINED" if u == data["convener"] else "PENDING",
                                    "at": at if u == data["convener"] else None, "reason": None})


@_folds(MediationJoined)
def _joined(view: View, data: dict[str, Any], at: str) -> None:
    _mediation(view, str(data["mediation_id"]), data)["answers"][data["unit"]] = {"answer": "JOINED", "at": at, "reason": None}


@_folds(MediationDeclined)
def _declined(view: View, data: dict[str, Any], at: str) -> None:
    _mediation(view, str(data["mediation_id"]), data)["answers"][data["unit"]] = {
        "answer": "DECLINED", "at": at, "reason": data.get("reason")}


@_folds(MediationReminderIssued)
def _reminded(view: View, data: dict[str, Any], at: str) -> None:
    m = _mediation(view, str(data["mediation_id"]), data)
    m["reminded"] = sorted({*m["reminded"], data["unit"]})


@_folds(MediationEscalated)
def _mediation_escalated(view: View, data: dict[str, Any], at: str) -> None:
    m = _mediation(view, str(data["mediation_id"]), data)
    m["escalated"] = sorted({*m["escalated"], data["unit"]})


@_folds(MediationSessionHeld)
def _session(view: View, data: dict[str, Any], at: str) -> None:
    m = _mediation(view, str(data["mediation_id"]), data)
    m["sessions"].append({"held_at": utc_iso(data["held_at"]), "attendees": list(data["attendees"]),
                          "summary": data["summary"]})
    m["sessions"].sort(key=lambda s: s["held_at"])


@_folds(MediationConcluded)
def _concluded(view: View, data: dict[str, Any], at: str) -> None:
    m = _mediation(view, str(data["mediation_id"]), data)
    m.update(status="CONCLUDED", result=data["result"], summary=data["summary"], concluded_at=at)
    m["referral"] = m["referral"] or data.get("referral")


# -- responsibility packages (包案) --------------------------------------------------------------
@_folds(PackageAssigned)
def _assigned(view: View, data: dict[str, Any], at: str) -> None:
    p = _package(view, str(data["package_id"]), data)
    p.update(case_numbers=list(data["case_numbers"]), members=[dict(x) for x in data["members"]],
             leader_package=data["leader_package"], plan=data["plan"],
             cadence_days=data["progress_cadence_days"], assigned_at=p["assigned_at"] or at,
             expected_on=p["expected_on"] or data["expected_resolution_on"].isoformat())
    p["units"] = sorted({*p["units"], data["unit"]})


@_folds(PackageProgressReported)
def _reported(view: View, data: dict[str, Any], at: str) -> None:
    p = _package(view, str(data["package_id"]), data)
    p["reports"].append({"at": at, "unit": data["unit"], "percent": data["percent"], "actions": list(data["actions"])})
    p["reports"].sort(key=lambda r: r["at"])
    p["percent"] = p["reports"][-1]["percent"]
    p["last_report_at"] = p["reports"][-1]["at"]


@_folds(PackageReminderIssued)
def _package_reminded(view: View, data: dict[str, Any], at: str) -> None:
    p = _package(view, str(data["package_id"]), data)
    last = utc_iso(data["last_report_at"]) if data["last_report_at"] else "-"
    p["reminders"] = sorted({*p["reminders"], f"{last}/{data['period']}"})


@_folds(PackageExtended)
def _package_extended(view: View, data: dict[str, Any], at: str) -> None:
    _package(view, str(data["package_id"]), data).update(
        extension_days=data["total_days"], expected_on=data["expected_resolution_on"].isoformat())


@_folds(PackageClosed)
def _closed(view: View, data: dict[str, Any], at: str) -> None:
    _package(view, str(data["package_id"]), data).update(
        status="CLOSED", result=data["result"], resolved_on=data["resolved_on"].isoformat(), summary=data["summary"])


# -- joint task teams (一办五组) -------------------------------------------------------------------
def _task(view: View, data: dict[str, Any]) -> View:
    return view.setdefault("task", {  # type: ignore[no-any-return]
        "task_number": data["task_number"], "team": data["team"], "group": data["group"], "unit": data["unit"],
        "campaign": None, "description": None, "assigned_at": None, "due_at": None, "status": "ASSIGNED",
        "reminders": 0, "acknowledged_at": None, "completed_at": None})


@_folds(TeamTaskAssigned)
def _task_assigned(view: View, data: dict[str, Any], at: str) -> None:
    _task(view, data).update(campaign=data["campaign"], description=data["description"], assigned_at=at,
                             due_at=utc_iso(data["deadline"]["due_at"]) if data["deadline"] else None)
    TEAM_TASKS.labels("assigned").inc()


@_folds(TeamTaskReminderIssued)
def _task_reminded(view: View, data: dict[str, Any], at: str) -> None:
    t = _task(view, data)
    t["campaign"] = t["campaign"] or data["campaign"]
    t["reminders"] += 1


@_folds(TeamTaskAcknowledged)
def _acknowledged(view: View, data: dict[str, Any], at: str) -> None:
    t = _task(view, data)
    t["acknowledged_at"] = t["acknowledged_at"] or at
    t["status"] = "COMPLETED" if t["status"] == "COMPLETED" else "ACKNOWLEDGED"
    TEAM_TASKS.labels("acknowledged").inc()


@_folds(TeamTaskCompleted)
def _completed(view: View, data: dict[str, Any], at: str) -> None:
    t = _task(view, data)
    t.update(status="COMPLETED", completed_at=at)
    t["acknowledged_at"] = t["acknowledged_at"] or at
    TEAM_TASKS.labels("completed").inc()


#: The events the views are built from.
EVENTS: tuple[type[EventRecord], ...] = tuple(_FOLDS)


def _mediation(view: View, mid: str, data: dict[str, Any]) -> View:
    return view.setdefault("mediations", {}).setdefault(mid, {  # type: ignore[no-any-return]
        "mediation_id": mid, "case_number": data["case"]["case_number"], "convener": None, "participants": [],
        "legal_advisers": [], "subject": None, "requested_by": None, "requested_at": None, "answer_due_at": None,
        "answers": {}, "reminded": [], "escalated": [], "sessions": [], "status": "OPEN", "result": None,
        "summary": None, "referral": None, "concluded_at": None})


def _package(view: View, pid: str, data: dict[str, Any]) -> View:
    return view.setdefault("packages", {}).setdefault(pid, {  # type: ignore[no-any-return]
        "package_id": pid, "case_number": data["case"]["case_number"], "case_numbers": [], "members": [],
        "units": [], "leader_package": False, "plan": None, "cadence_days": None, "assigned_at": None,
        "expected_on": None, "extension_days": 0, "percent": 0, "last_report_at": None, "reports": [],
        "reminders": [], "status": "OPEN", "result": None, "resolved_on": None, "summary": None})


# -- questions ------------------------------------------------------------------------------
def mediations(views: list[View], *, open_only: bool = False, case: str | None = None) -> list[View]:
    found = [m for v in views for m in (v.get("mediations") or {}).values()]
    if open_only:
        found = [m for m in found if m["status"] == "OPEN"]
    if case:
        found = [m for m in found if m["case_number"] == case]
    return sorted(found, key=lambda m: (m["requested_at"] or "", m["mediation_id"]))


def packages(views: list[View], now: datetime) -> list[View]:
    """The dynamic ledger (动态台账): each package with its progress, staleness and result."""
    out = []
    for v in views:
        for p in (v.get("packages") or {}).values():
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


# -- the ledger's handler and HTTP -----------------------------------------------------------
def record_view(_: object, view: View | None, event: Event) -> tuple[View | None, list[Any]]:
    """The view under the event's key after it; None (nothing to store) if seen before."""
    view = view if view is not None else {}
    return (view, []) if fold(view, event.type, event.data, event.id) else (None, [])
