"""The department SDK's side of joint mediation (联合调处), responsibility packages (包案) and joint
task teams (一办五组): what arrives on the inbox, and the answers, checked before publishing.

    with DepartmentClient("JUSTICE") as dept:
        dept.inbox()                                        # also collects mediations, packages, tasks
        for m in dept.mediations.values():
            if m.answer == "PENDING":
                dept.join_mediation(m.mediation_id)         # or decline_mediation(id, reason)
        dept.record_session(mid, held_at, ["司法局张科长", "法律顾问李律师"], "双方就工资数额达成一致")   # convener
        dept.conclude_mediation(mid, "AGREEMENT", "签订调解协议")                                      # convener
        dept.report_package_progress(pid, 40, ["已走访当事人"])
        dept.acknowledge_task("HEAT-2026-001", "王科长"); dept.complete_task("HEAT-2026-001", "已排查 12 个小区")

A wrong field raises ``InvalidAnswer``, an answer the state does not allow raises
``IllegalTransition`` (e.g. a session recorded by a unit that is not the convener, an answer to
a mediation already answered); nothing is published then.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from ._catalogue import HANDLING_UNITS
from ._errors import IllegalTransition, InvalidAnswer
from ._wire import Event
from .events import (
    DiversionChannel,
    MediationConcluded,
    MediationDeclined,
    MediationJoined,
    MediationReminderIssued,
    MediationRequested,
    MediationRequestSubmitted,
    MediationResult,
    MediationSessionHeld,
    PackageAssigned,
    PackageProgressReported,
    PackageReminderIssued,
    TeamTaskAcknowledged,
    TeamTaskAssigned,
    TeamTaskCompleted,
    TeamTaskReminderIssued,
    known,
)
from .records import case_ref, parse_time

_IDS = uuid.UUID("8e0c4f1b-5a2d-4c7e-9b36-1d7a2f5c8e93")
MEDIATION_RESULTS = known(MediationResult)
#: Where a joint mediation without agreement may refer the case (the diversion channels but discipline).
REFERRAL_CHANNELS = tuple(c for c in known(DiversionChannel) if c != DiversionChannel.DISCIPLINE)


@dataclass
class Mediation:
    """A joint mediation this unit is invited to (or convenes)."""

    mediation_id: str
    case_number: str
    case: dict[str, Any]
    convener: str
    participants: list[str]
    legal_advisers: list[str]
    subject: str
    answer_due_at: datetime | None
    answer: str = "PENDING"  # PENDING, JOINED, DECLINED
    sessions: int = 0
    concluded: bool = False
    reminders: int = 0


@dataclass
class Package:
    """A responsibility package with a member from this unit."""

    package_id: str
    case_number: str
    case: dict[str, Any]
    case_numbers: list[str]
    members: list[dict[str, Any]]
    plan: str
    cadence_days: int
    expected_on: date
    leader_package: bool
    reports: int = 0
    reminders: int = 0


@dataclass
class Task:
    """A campaign task of a joint task team's group this unit staffs."""

    task_number: str
    team: str
    group: str
    campaign: str
    description: str
    due_at: datetime | None
    status: str = "ASSIGNED"  # ASSIGNED, ACKNOWLEDGED, COMPLETED
    reminders: int = 0
    answered: dict[str, int] = field(default_factory=dict)


class CoordinationMixin:
    """Mixed into DepartmentClient: it provides ``unit``, ``now``, ``cases`` and ``_publisher``."""

    unit: str
    now: Callable[[], datetime]
    cases: dict[str, Any]
    _publisher: Any

    def _init_coordination(self) -> None:
        self.mediations: dict[str, Mediation] = {}
        self.packages: dict[str, Package] = {}
        self.tasks: dict[str, Task] = {}

    # -- persisted with the client's state file ---------------------------------------------
    def _coordination_state(self) -> dict[str, Any]:
        """JSON-ready (dates and times left to the encoder's ``default``)."""
        return {"mediations": {k: asdict(v) for k, v in self.mediations.items()},
                "packages": {k: asdict(v) for k, v in self.packages.items()},
                "tasks": {k: asdict(v) for k, v in self.tasks.items()}}

    def _load_coordination(self, data: dict[str, Any]) -> None:
        for k, v in data.get("mediations", {}).items():
            self.mediations[k] = Mediation(**{**v, "answer_due_at": parse_time(v["answer_due_at"]) if v["answer_due_at"] else None})
        for k, v in data.get("packages", {}).items():
            self.packages[k] = Package(**{**v, "expected_on": date.fromisoformat(v["expected_on"])})
        for k, v in data.get("tasks", {}).items():
            self.tasks[k] = Task(**{**v, "due_at": parse_time(v["due_at"]) if v["due_at"] else None})

    # -- receiving ------------------------------------------------------------------------
    def _track(self, ev: Event) -> None:
        """Keeps what the inbox brought besides handoffs (``_TRACKS``: what each event type changes)."""
        track = _TRACKS.get(ev.type)
        if track is not None:
            track(self, ev.key, ev.data)

    def _mediation_requested(self, key: str, d: dict[str, Any]) -> None:
        mid = str(d["mediation_id"])
        if mid not in self.mediations:
            self.mediations[mid] = Mediation(
                mid, key, case_ref(d["case"]), d["convener"], list(d["participants"]), list(d["legal_advisers"]),
                d["subject"], d["deadline"]["due_at"] if d["deadline"] else None,
                answer="JOINED" if d["convener"] == self.unit else "PENDING")

    def _mediation_reminded(self, key: str, d: dict[str, Any]) -> None:
        m = self.mediations.get(str(d["mediation_id"]))
        if m is not None:
            m.reminders += 1

    def _package_assigned(self, key: str, d: dict[str, Any]) -> None:
        pid = str(d["package_id"])
        if pid not in self.packages:
            self.packages[pid] = Package(pid, key, case_ref(d["case"]), list(d["case_numbers"]),
                                         [dict(m) for m in d["members"]], d["plan"], d["progress_cadence_days"],
                                         d["expected_resolution_on"], d["leader_package"])

    def _package_reminded(self, key: str, d: dict[str, Any]) -> None:
        p = self.packages.get(str(d["package_id"]))
        if p is not None:
            p.reminders += 1

    def _task_assigned(self, key: str, d: dict[str, Any]) -> None:
        if key not in self.tasks:
            self.tasks[key] = Task(key, d["team"], d["group"], d["campaign"], d["description"],
                                   d["deadline"]["due_at"] if d["deadline"] else None)

    def _task_reminded(self, key: str, d: dict[str, Any]) -> None:
        t = self.tasks.get(key)
        if t is not None:
            t.reminders += 1

    # -- joint mediation ------------------------------------------------------------------
    def request_mediation(self, case_number: str, participants: list[str], subject: str, *,
                          legal_advisers: list[str] | None = None, convener: str | None = None,
                          answer_days: int = 3, mediation_id: str | None = None) -> str:
        """Asks for a joint mediation of a case handed to this unit; returns the mediation id."""
        h = self.cases.get(case_number)
        if h is None:
            raise IllegalTransition(f"{case_number} was not handed to {self.unit}: it cannot ask for its mediation")
        convener = convener or self.unit
        units = list(dict.fromkeys([convener, *participants]))
        bad = [u for u in units if u not in HANDLING_UNITS]
        if bad:
            raise InvalidAnswer(f"participants: not units on the bus: {', '.join(bad)}")
        if len(units) < 2:
            raise InvalidAnswer("participants: a joint mediation needs at least two units")
        if not isinstance(answer_days, int) or answer_days < 1:
            raise InvalidAnswer(f"answer_days: must be a whole number of days >= 1, got {answer_days!r}")
        mid = mediation_id or str(uuid.uuid5(_IDS, f"{h.handoff_id or case_number}/mediation/{subject}"))
        self._publish(MediationRequestSubmitted.TYPE, {
            "event_id": uuid.uuid5(_IDS, f"{mid}/submitted"), "occurred_at": self.now(), "case": h.case,
            "deadline": None, "unit": self.unit, "mediation_id": mid, "convener": convener, "participants": units,
            "legal_advisers": [_text("legal_advisers", a) for a in legal_advisers or []],
            "subject": _text("subject", subject), "answer_days": answer_days})
        return mid

    def join_mediation(self, mediation_id: str) -> None:
        m = self._pending(mediation_id)
        self._publish(MediationJoined.TYPE, {**self._m_base(m, "joined"), "unit": self.unit})
        m.answer = "JOINED"

    def decline_mediation(self, mediation_id: str, reason: str) -> None:
        reason = _text("reason", reason)
        m = self._pending(mediation_id)
        self._publish(MediationDeclined.TYPE, {**self._m_base(m, "declined"), "unit": self.unit, "reason": reason})
        m.answer = "DECLINED"

    def record_session(self, mediation_id: str, held_at: datetime, attendees: list[str], summary: str) -> None:
        m = self._convening(mediation_id)
        if not isinstance(held_at, datetime) or held_at.tzinfo is None:
            raise InvalidAnswer("held_at: must be a time with its time zone")
        if not attendees:
            raise InvalidAnswer("attendees: at least one")
        record = {**self._m_base(m, f"session/{m.sessions}"), "unit": self.unit, "held_at": held_at,
                  "attendees": [_text("attendees", a) for a in attendees], "summary": _text("summary", summary)}
        self._publish(MediationSessionHeld.TYPE, record)
        m.sessions += 1

    def conclude_mediation(self, mediation_id: str, result: str, summary: str, referral: str | None = None) -> None:
        """Ends the mediation; without agreement, ``referral`` names where the case goes (arbitration, litigation)."""
        m = self._convening(mediation_id)
        if result not in MEDIATION_RESULTS:
            raise InvalidAnswer(f"result: must be one of {', '.join(MEDIATION_RESULTS)}, got {result!r}")
        if result == "NO_AGREEMENT" and referral not in REFERRAL_CHANNELS:
            raise InvalidAnswer(f"referral: without agreement name one of {', '.join(REFERRAL_CHANNELS)}, got {referral!r}")
        if result != "NO_AGREEMENT" and referral is not None:
            raise InvalidAnswer("referral: only a mediation without agreement refers the case on")
        self._publish(MediationConcluded.TYPE, {**self._m_base(m, "concluded"), "unit": self.unit, "result": result,
                                              "summary": _text("summary", summary), "referral": referral})
        m.concluded = True

    def _mediation(self, mediation_id: str) -> Mediation:
        m = self.mediations.get(mediation_id)
        if m is None:
            raise IllegalTransition(f"{self.unit} was not invited to mediation {mediation_id}")
        if m.concluded:
            raise IllegalTransition(f"mediation {mediation_id} is concluded")
        return m

    def _pending(self, mediation_id: str) -> Mediation:
        m = self._mediation(mediation_id)
        if m.answer != "PENDING":
            raise IllegalTransition(f"mediation {mediation_id}: {self.unit} already answered {m.answer}")
        return m

    def _convening(self, mediation_id: str) -> Mediation:
        m = self._mediation(mediation_id)
        if m.convener != self.unit:
            raise IllegalTransition(f"mediation {mediation_id}: only the convener {m.convener} records sessions "
                                    f"and concludes")
        return m

    def _m_base(self, m: Mediation, what: str) -> dict[str, Any]:
        return {"event_id": uuid.uuid5(_IDS, f"{m.mediation_id}/{self.unit}/{what}"), "occurred_at": self.now(),
                "case": m.case, "deadline": None, "mediation_id": m.mediation_id}

    # -- responsibility packages ---------------------------------------------------------------
    def report_package_progress(self, package_id: str, percent: int, actions: list[str]) -> None:
        p = self.packages.get(package_id)
        if p is None:
            raise IllegalTransition(f"{self.unit} has no member in package {package_id}")
        if not isinstance(percent, int) or not 0 <= percent <= 100:
            raise InvalidAnswer(f"percent: must be a whole number from 0 to 100, got {percent!r}")
        if not actions:
            raise InvalidAnswer("actions: name at least one action taken")
        self._publish(PackageProgressReported.TYPE, {
            "event_id": uuid.uuid5(_IDS, f"{package_id}/{self.unit}/progress/{p.reports}"), "occurred_at": self.now(),
            "case": p.case, "deadline": None, "package_id": package_id, "unit": self.unit, "percent": percent,
            "actions": [_text("actions", a) for a in actions]})
        p.reports += 1

    # -- joint task teams --------------------------------------------------------------------
    def acknowledge_task(self, task_number: str, acknowledged_by: str) -> None:
        t = self._task(task_number)
        if t.status != "ASSIGNED":
            raise IllegalTransition(f"task {task_number} is {t.status.lower()} already")
        self._publish(TeamTaskAcknowledged.TYPE, {**self._t_base(t, "acknowledged"),
                                                 "acknowledged_by": _text("acknowledged_by", acknowledged_by)})
        t.status = "ACKNOWLEDGED"

    def complete_task(self, task_number: str, report: str) -> None:
        t = self._task(task_number)
        if t.status == "COMPLETED":
            raise IllegalTransition(f"task {task_number} is completed already")
        self._publish(TeamTaskCompleted.TYPE, {**self._t_base(t, "completed"), "report": _text("report", report)})
        t.status = "COMPLETED"

    def _task(self, task_number: str) -> Task:
        t = self.tasks.get(task_number)
        if t is None:
            raise IllegalTransition(f"task {task_number} was not assigned to a group of {self.unit}")
        return t

    def _t_base(self, t: Task, what: str) -> dict[str, Any]:
        return {"event_id": uuid.uuid5(_IDS, f"{t.task_number}/{self.unit}/{what}"), "occurred_at": self.now(),
                "task_number": t.task_number, "team": t.team, "group": t.group, "unit": self.unit}

    def _publish(self, event_type: str, record: dict[str, Any]) -> None:
        raise NotImplementedError  # DepartmentClient's: sent at once, confirmed by commit()


#: What each inbox event (besides handoffs) changes in what the client keeps, in one place.
_TRACKS: dict[str, Callable[[CoordinationMixin, str, dict[str, Any]], None]] = {
    MediationRequested.TYPE: CoordinationMixin._mediation_requested,
    MediationReminderIssued.TYPE: CoordinationMixin._mediation_reminded,
    PackageAssigned.TYPE: CoordinationMixin._package_assigned,
    PackageReminderIssued.TYPE: CoordinationMixin._package_reminded,
    TeamTaskAssigned.TYPE: CoordinationMixin._task_assigned,
    TeamTaskReminderIssued.TYPE: CoordinationMixin._task_reminded,
}


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidAnswer(f"{name}: must be a non-empty text")
    return value.strip()
