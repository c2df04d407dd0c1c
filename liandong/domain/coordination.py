"""Coordination's decisions, as plain functions: joint mediation (联合调处), responsibility
packages (包案, 五包一) and joint task teams (一办五组). State in, events out, no Kafka here;
``services/coordination`` maps event types to these methods and loads the configuration.

State is JSON-ready: times are ISO 8601 strings. Three kinds of entries, each kept under its
message key (so the table is partitioned like the topics it is built from):
  a case's mediations   {mediation_id: mediation}
  a case's packages     {package_id: package}     (the key case of the package)
  one task              task                      (keyed by task number)

Time is injected: the ``*_tick(state, now)`` methods decide the reminders and escalations due at
``now``; each is issued once per stage (recorded in the state) and its event id is derived from
the entity and the stage, so a retry after a crash publishes the same ids again. Events out are
typed records, built from the plain record (``from_record``: a missing or unknown field fails here). What the state
or the configuration does not allow raises ``Refused``: nothing changes and nothing is published.
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from liandong_sdk.events import (
    CaseReferred,
    DiversionChannel,
    EventRecord,
    MediationConcluded,
    MediationDeclined,
    MediationEscalated,
    MediationJoined,
    MediationProposed,
    MediationReminderIssued,
    MediationRequested,
    MediationRequestSubmitted,
    MediationResult,
    MediationSessionHeld,
    PackageAssigned,
    PackageClosed,
    PackageExtended,
    PackageExtensionRequested,
    PackageOrdered,
    PackageProgressReported,
    PackageReminderIssued,
    PackageResult,
    TeamTaskAcknowledged,
    TeamTaskAssigned,
    TeamTaskCompleted,
    TeamTaskPublished,
    TeamTaskReminderIssued,
    known,
)
from liandong_sdk.records import case_ref, parse_time, utc_iso
from liandong_sdk.rules import HANDLING_UNITS, Refused

from .incoming import Incoming

Out = list[EventRecord]
State = dict[str, Any]
_IDS = uuid.UUID("6f1d0c2a-7b3e-4d8a-9c5f-2e4b8a1d3c70")

MEDIATION_RESULTS = known(MediationResult)
PACKAGE_RESULTS = known(PackageResult)
REFERRAL_CHANNELS = tuple(c for c in known(DiversionChannel) if c != DiversionChannel.DISCIPLINE)
DEFAULT_ROLES = ("leading_official", "responsible_unit_head", "street_cadre", "police_officer", "legal_adviser")

__all__ = ["DEFAULT_ROLES", "PACKAGE_RESULTS", "Coordination", "CoordinationConfig", "Group", "Refused", "Team",
           "teams_from_data"]


@dataclass(frozen=True)
class Group:
    name: str
    unit: str


@dataclass(frozen=True)
class Team:
    name: str
    office: Group
    groups: dict[str, Group]


@dataclass(frozen=True)
class CoordinationConfig:
    mediation_answer_days: int = 3
    mediation_reminder_days: int = 2
    package_roles: tuple[str, ...] = DEFAULT_ROLES
    package_cadence_days: int = 7
    package_max_extension_days: int = 30
    task_ack_days: int = 1
    teams: dict[str, Team] = field(default_factory=dict)

    @classmethod
    def from_data(cls, config: dict[str, Any], teams: dict[str, Any]) -> CoordinationConfig:
        """From the parsed ``config.yaml`` and ``teams.yaml`` (``services/coordination/config.py`` reads them)."""
        m, p, k = config.get("mediation", {}), config.get("packages", {}), config.get("tasks", {})
        return cls(
            mediation_answer_days=int(m.get("answer_days", 3)),
            mediation_reminder_days=int(m.get("reminder_days", 2)),
            package_roles=tuple(p.get("roles", DEFAULT_ROLES)),
            package_cadence_days=int(p.get("progress_cadence_days", 7)),
            package_max_extension_days=int(p.get("max_extension_days", 30)),
            task_ack_days=int(k.get("ack_days", 1)),
            teams=teams_from_data(teams),
        )


def teams_from_data(data: dict[str, Any]) -> dict[str, Team]:
    teams = {}
    for tid, t in (data.get("teams") or {}).items():
        groups = {gid: Group(g["name"], g["unit"]) for gid, g in t["groups"].items()}
        office = Group(t["office"]["name"], t["office"]["unit"])
        for g in (office, *groups.values()):
            if g.unit not in HANDLING_UNITS:
                raise ValueError(f"team {tid}: group {g.name!r} has unit {g.unit!r}, not a unit on the bus")
        teams[tid] = Team(t["name"], office, groups)
    return teams


@dataclass(frozen=True)
class Coordination:
    config: CoordinationConfig

    # == joint mediation ===================================================================
    def proposed(self, book: State | None, event: Incoming[MediationProposed]) -> tuple[State, Out]:
        """The bureau convenes a mediation: an invitation to every participant."""
        return self._request(book, event, event.payload.requested_by)

    def submitted(self, book: State | None, event: Incoming[MediationRequestSubmitted]) -> tuple[State, Out]:
        """A unit holding the case asks for one: the same, in its name."""
        return self._request(book, event, event.payload.unit)

    def _request(self, book: State | None, event: Incoming[Any], requester: str) -> tuple[State, Out]:
        book, mid = dict(book or {}), str(event.payload.mediation_id)
        if mid in book:
            return book, []  # the same request again
        opened, fanout = self._open_mediation(event.id, event.payload, event.payload.occurred_at, requester)
        return {**book, mid: opened}, fanout

    @staticmethod
    def _open_one(book: State | None, event: Incoming[Any]) -> tuple[State, str, State]:
        """The case's mediations, the id and a copy of the open mediation the event is about (or Refused)."""
        book, p = dict(book or {}), event.payload
        mid = str(p.mediation_id)
        found = book.get(mid)
        if found is None:
            raise Refused(f"{event.payload.TYPE}: no mediation {mid} on case {p.case.case_number}")
        if found["status"] != "OPEN":
            raise Refused(f"{event.payload.TYPE}: mediation {mid} is already concluded")
        return book, mid, _copy(found)

    def joined(self, book: State | None, event: Incoming[MediationJoined]) -> tuple[State, Out]:
        return self._answered(book, event, "JOINED")

    def declined(self, book: State | None, event: Incoming[MediationDeclined]) -> tuple[State, Out]:
        return self._answered(book, event, "DECLINED")

    def _answered(self, book: State | None, event: Incoming[Any], new: str) -> tuple[State, Out]:
        """An invited unit's answer: once (the same answer again changes nothing; another is refused)."""
        book, mid, m = self._open_one(book, event)
        unit = event.payload.unit
        answer = m["answers"].get(unit)
        if answer is None:
            raise Refused(f"{event.payload.TYPE}: {unit} is not invited to mediation {mid}")
        if answer["answer"] == new:
            return book, []
        if answer["answer"] != "PENDING":
            raise Refused(f"{event.payload.TYPE}: {unit} already answered {answer['answer']}")
        answer.update(answer=new, at=utc_iso(event.payload.occurred_at), reason=getattr(event.payload, "reason", None))
        return {**book, mid: m}, []

    def session_held(self, book: State | None, event: Incoming[MediationSessionHeld]) -> tuple[State, Out]:
        """The convener records a session."""
        book, mid, m = self._open_one(book, event)
        p = event.payload
        self._convener_only(m, p.unit, event.payload.TYPE)
        m["sessions"].append({"held_at": utc_iso(p.held_at), "attendees": list(p.attendees),
                              "summary": p.summary})
        return {**book, mid: m}, []

    def concluded(self, book: State | None, event: Incoming[MediationConcluded]) -> tuple[State, Out]:
        """The convener concludes; without an agreement the case is referred (arbitration, court)."""
        book, mid, m = self._open_one(book, event)
        p, at = event.payload, event.payload.occurred_at
        self._convener_only(m, p.unit, event.payload.TYPE)
        result = p.result
        if result not in MEDIATION_RESULTS:
            raise Refused(f"{event.payload.TYPE}: result '{result}' is not one of {', '.join(MEDIATION_RESULTS)}")
        m.update(status="CONCLUDED", result=result, concluded_at=utc_iso(at), summary=p.summary)
        out: Out = []
        if result == "NO_AGREEMENT":
            channel = p.referral if p.referral in REFERRAL_CHANNELS else "LITIGATION"
            m["referral"] = channel
            out.append(CaseReferred.from_record({
                **_base(event.id, "referred", at, m["case"]), "channel": channel, "mediation_id": mid,
                "reason": f"联合调处未达成协议: {p.summary}"}))
        return {**book, mid: m}, out

    def _open_mediation(self, event_id: str, p: Any, at: datetime, requester: str) -> tuple[State, Out]:
        convener = p.convener
        if convener not in HANDLING_UNITS:
            raise Refused(f"convener {convener!r} is not a unit on the bus")
        participants = list(dict.fromkeys([convener, *p.participants]))
        unknown = [u for u in participants if u not in HANDLING_UNITS]
        if unknown:
            raise Refused(f"participants not on the bus: {', '.join(unknown)}")
        if len(participants) < 2:
            raise Refused("a joint mediation needs at least two units")
        if not str(p.subject).strip():
            raise Refused("subject: must be a non-empty text")
        days = int(p.answer_days or self.config.mediation_answer_days)
        due = at + timedelta(days=days)
        case = case_ref(p.case.to_record())
        m = {"mediation_id": str(p.mediation_id), "case": case, "convener": convener,
             "participants": participants, "legal_advisers": list(p.legal_advisers), "subject": p.subject,
             "requested_by": requester, "requested_at": utc_iso(at), "answer_due_at": utc_iso(due), "status": "OPEN",
             "answers": {u: {"answer": "JOINED" if u == convener else "PENDING", "at": utc_iso(at) if u == convener else None,
                             "reason": None, "reminder_due_at": None, "escalated": False} for u in participants},
             "sessions": [], "result": None, "referral": None}
        out: Out = [MediationRequested.from_record({
            **_base(event_id, f"requested/{u}", at, case),
            "deadline": _deadline("MEDIATION_ANSWER", due, days), "mediation_id": m["mediation_id"], "unit": u,
            "convener": convener, "participants": participants, "legal_advisers": m["legal_advisers"],
            "requested_by": requester, "subject": m["subject"]}) for u in participants]
        return m, out

    @staticmethod
    def _convener_only(m: State, unit: str, event_type: str) -> None:
        if unit != m["convener"]:
            raise Refused(f"{event_type}: only the convener {m['convener']} may record this, not {unit}")

    def mediation_tick(self, book: State, now: datetime) -> tuple[State, Out]:
        """Reminders for participants that have not answered by the deadline, then escalations."""
        out: Out = []
        changed = dict(book)
        for mid, m in book.items():
            if m["status"] != "OPEN":
                continue
            m2 = _copy(m)
            for unit, a in m2["answers"].items():
                if a["answer"] != "PENDING":
                    continue
                if a["reminder_due_at"] is None and now >= parse_time(m2["answer_due_at"]):
                    due = now + timedelta(days=self.config.mediation_reminder_days)
                    a["reminder_due_at"] = utc_iso(due)
                    out.append(MediationReminderIssued.from_record({
                        **_base(mid, f"reminder/{unit}", now, m2["case"]),
                        "deadline": _deadline("MEDIATION_ANSWER", due, self.config.mediation_reminder_days),
                        "mediation_id": mid, "unit": unit, "convener": m2["convener"]}))
                elif a["reminder_due_at"] is not None and not a["escalated"] and now >= parse_time(a["reminder_due_at"]):
                    a["escalated"] = True
                    out.append(MediationEscalated.from_record({
                        **_base(mid, f"escalated/{unit}", now, m2["case"]), "mediation_id": mid, "unit": unit,
                        "reason": f"{unit} 未在期限内答复联合调处邀请（已提醒）"}))
            if m2 != m:
                changed[mid] = m2
        return changed, out

    # == responsibility packages ===========================================================
    def ordered(self, pkgs: State | None, event: Incoming[PackageOrdered]) -> tuple[State, Out]:
        """The bureau assigns a package: every member unit told."""
        pkgs, pid = dict(pkgs or {}), str(event.payload.package_id)
        if pid in pkgs:
            return pkgs, []
        assigned, fanout = self._assign_package(event.id, event.payload, event.payload.occurred_at)
        return {**pkgs, pid: assigned}, fanout

    @staticmethod
    def _open_package(pkgs: State | None, event: Incoming[Any]) -> tuple[State, str, State]:
        """The case's packages, the id and a copy of the open package the event is about (or Refused)."""
        pkgs, p = dict(pkgs or {}), event.payload
        pid = str(p.package_id)
        found = pkgs.get(pid)
        if found is None:
            raise Refused(f"{event.payload.TYPE}: no package {pid} on case {p.case.case_number}")
        if found["status"] != "OPEN":
            raise Refused(f"{event.payload.TYPE}: package {pid} is closed")
        return pkgs, pid, _copy(found)

    def reported(self, pkgs: State | None, event: Incoming[PackageProgressReported]) -> tuple[State, Out]:
        """A member unit's progress report."""
        pkgs, pid, pkg = self._open_package(pkgs, event)
        p = event.payload
        if p.unit not in pkg["units"]:
            raise Refused(f"{p.TYPE}: {p.unit} has no member in package {pid}")
        if not 0 <= p.percent <= 100:
            raise Refused(f"{p.TYPE}: percent must be 0 to 100")
        pkg.update(percent=p.percent, last_report_at=utc_iso(p.occurred_at), reports=pkg["reports"] + 1)
        pkg["actions"] = [*pkg["actions"], *p.actions][-50:]
        return {**pkgs, pid: pkg}, []

    def extension_requested(self, pkgs: State | None, event: Incoming[PackageExtensionRequested]) -> tuple[State, Out]:
        """Within the cap: the package's expected date moves, and everyone is told."""
        pkgs, pid, pkg = self._open_package(pkgs, event)
        p, at = event.payload, event.payload.occurred_at
        days = p.days
        total = pkg["extension_days"] + days
        if days < 1 or total > self.config.package_max_extension_days:
            raise Refused(f"{p.TYPE}: extensions total at most "
                          f"{self.config.package_max_extension_days} days ({pkg['extension_days']} used), asked {days}")
        expected = date.fromisoformat(pkg["expected_on"]) + timedelta(days=days)
        pkg.update(extension_days=total, expected_on=expected.isoformat())
        return {**pkgs, pid: pkg}, [PackageExtended.from_record({
            **_base(event.id, "extended", at, pkg["case"]), "package_id": pid, "days": days, "total_days": total,
            "expected_resolution_on": expected, "reason": p.reason})]

    def closed(self, pkgs: State | None, event: Incoming[PackageClosed]) -> tuple[State, Out]:
        pkgs, pid, pkg = self._open_package(pkgs, event)
        pkg.update(status="CLOSED", result=event.payload.result, resolved_on=event.payload.resolved_on.isoformat())
        return {**pkgs, pid: pkg}, []

    def _assign_package(self, event_id: str, order: PackageOrdered, at: datetime) -> tuple[State, Out]:
        roles = self.config.package_roles
        members = [m.to_record() for m in order.members]
        filled = [m["role"] for m in members]
        unknown = [r for r in filled if r not in roles]
        if unknown:
            raise Refused(f"package.ordered: unknown role slot(s) {', '.join(unknown)}; slots: {', '.join(roles)}")
        missing = [r for r in roles if r not in filled]
        doubled = sorted({r for r in filled if filled.count(r) > 1})
        if missing or doubled:
            raise Refused(f"package.ordered: every slot is filled once (missing: {', '.join(missing) or '-'}; "
                          f"twice: {', '.join(doubled) or '-'})")
        for m in members:
            if not str(m["person"]).strip():
                raise Refused(f"package.ordered: slot {m['role']} has no named person")
        cadence = int(order.progress_cadence_days or self.config.package_cadence_days)
        if cadence < 1:
            raise Refused("package.ordered: progress_cadence_days must be at least 1")
        case = case_ref(order.case.to_record())
        numbers = list(dict.fromkeys([case["case_number"], *order.case_numbers]))
        units = sorted({m["unit"] for m in members if m["unit"] in HANDLING_UNITS})
        p = {"package_id": str(order.package_id), "case": case, "case_numbers": numbers, "members": members,
             "units": units, "leader_package": bool(order.leader_package), "plan": order.plan,
             "cadence_days": cadence, "assigned_at": utc_iso(at), "expected_on": order.expected_resolution_on.isoformat(),
             "extension_days": 0, "last_report_at": None, "percent": 0, "reports": 0, "actions": [],
             "reminded": {}, "status": "OPEN", "result": None, "resolved_on": None}
        due = at + timedelta(days=cadence)
        out: Out = [PackageAssigned.from_record({
            **_base(event_id, f"assigned/{u}", at, case), "deadline": _deadline("PACKAGE_PROGRESS", due, cadence),
            "package_id": p["package_id"], "unit": u, "case_numbers": numbers, "members": members,
            "leader_package": p["leader_package"], "plan": p["plan"], "progress_cadence_days": cadence,
            "expected_resolution_on": order.expected_resolution_on}) for u in units]
        return p, out

    def package_tick(self, pkgs: State, now: datetime) -> tuple[State, Out]:
        """A reminder to every member unit for each reporting period that passes without a report."""
        out: Out = []
        changed = dict(pkgs)
        for pid, p in pkgs.items():
            if p["status"] != "OPEN":
                continue
            anchor = p["last_report_at"] or p["assigned_at"]
            period = int((now - parse_time(anchor)) / timedelta(days=p["cadence_days"]))
            if period < 1 or p["reminded"].get(anchor, 0) >= period:
                continue
            due = parse_time(anchor) + timedelta(days=p["cadence_days"] * (period + 1))
            for u in p["units"]:
                out.append(PackageReminderIssued.from_record({
                    **_base(pid, f"reminder/{anchor}/{period}/{u}", now, p["case"]),
                    "deadline": _deadline("PACKAGE_PROGRESS", due, p["cadence_days"]), "package_id": pid, "unit": u,
                    "period": period, "last_report_at": parse_time(p["last_report_at"]) if p["last_report_at"] else None}))
            changed[pid] = {**p, "reminded": {anchor: period}}
        return changed, out

    # == joint task teams ==================================================================
    def published(self, t: State | None, event: Incoming[TeamTaskPublished]) -> tuple[State | None, Out]:
        """A task for a team's group, i.e. its unit."""
        if t is not None:
            return t, []
        event_id, p = event.id, event.payload
        at: datetime = p.occurred_at
        team = self.config.teams.get(p.team)
        if team is None:
            raise Refused(f"team.task.published: no team {p.team!r}; teams: {', '.join(self.config.teams)}")
        group = team.groups.get(p.group)
        if group is None:
            raise Refused(f"team.task.published: team {p.team} has no group {p.group!r}")
        if p.due_days < 1:
            raise Refused("team.task.published: due_days must be at least 1")
        due = at + timedelta(days=p.due_days)
        t = {"task_number": p.task_number, "team": p.team, "group": p.group, "unit": group.unit,
             "campaign": p.campaign, "description": p.description, "published_at": utc_iso(at),
             "due_at": utc_iso(due), "ack_due_at": utc_iso(at + timedelta(days=self.config.task_ack_days)),
             "status": "ASSIGNED", "reminded": False, "acknowledged_at": None, "completed_at": None}
        return t, [TeamTaskAssigned.from_record({
            "event_id": _id(event_id, "assigned"), "occurred_at": at, "task_number": t["task_number"],
            "team": t["team"], "group": t["group"], "unit": group.unit, "campaign": t["campaign"],
            "description": t["description"], "deadline": _deadline("TASK_DUE", due, p.due_days)})]

    @staticmethod
    def _group_task(t: State | None, event: Incoming[Any]) -> State:
        """The task the group's unit answers about (or Refused)."""
        p = event.payload
        if t is None:
            raise Refused(f"{event.payload.TYPE}: no task {p.task_number}")
        if p.unit != t["unit"]:
            raise Refused(f"{event.payload.TYPE}: task {t['task_number']} belongs to {t['unit']}'s group, not {p.unit}")
        return t

    def acknowledged(self, t: State | None, event: Incoming[TeamTaskAcknowledged]) -> tuple[State | None, Out]:
        t = self._group_task(t, event)
        if t["status"] != "ASSIGNED":
            return t, []  # acknowledged (or done) already
        return {**t, "status": "ACKNOWLEDGED", "acknowledged_at": utc_iso(event.payload.occurred_at)}, []

    def completed(self, t: State | None, event: Incoming[TeamTaskCompleted]) -> tuple[State | None, Out]:
        t = self._group_task(t, event)
        if t["status"] == "COMPLETED":
            return t, []
        at = utc_iso(event.payload.occurred_at)
        return {**t, "status": "COMPLETED", "completed_at": at, "acknowledged_at": t["acknowledged_at"] or at}, []

    def task_tick(self, t: State, now: datetime) -> tuple[State, Out]:
        """One reminder to a group that has not acknowledged its task by the acknowledgement deadline."""
        if t["status"] != "ASSIGNED" or t["reminded"] or now < parse_time(t["ack_due_at"]):
            return t, []
        days = self.config.task_ack_days
        return {**t, "reminded": True}, [TeamTaskReminderIssued.from_record({
            "event_id": _id(t["task_number"], "reminder"), "occurred_at": now, "task_number": t["task_number"],
            "team": t["team"], "group": t["group"], "unit": t["unit"], "campaign": t["campaign"],
            "deadline": _deadline("TASK_ACK", now + timedelta(days=days), days)})]


# -- helpers ----------------------------------------------------------------------------------
def _id(seed: str, what: str) -> str:
    return str(uuid.uuid5(_IDS, f"{seed}/{what}"))


def _base(seed: str, what: str, at: datetime, case: State) -> dict[str, Any]:
    return {"event_id": _id(seed, what), "occurred_at": at, "case": case, "deadline": None}


def _deadline(clock: str, due: datetime, days: int) -> dict[str, Any]:
    return {"clock": clock, "due_at": due, "days": days, "day_basis": "CALENDAR"}


def _copy(d: State) -> State:
    return copy.deepcopy(d)
