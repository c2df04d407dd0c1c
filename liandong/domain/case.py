"""What may happen to a case, and the ledger's view of it.

A case is handed to a lead unit and co-units; each unit's handoff moves through
REQUESTED -> SIGNED -> ACCEPTED -> IN_PROGRESS -> RESOLVED (or OBJECTED / NOT_ACCEPTED).
The case's own status follows its lead unit. Applying an event twice changes nothing.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import pydantic_core
from liandong_sdk.events import (
    EVENT_CLASSES,
    AnswerRefused,
    CaseAccepted,
    CaseExtensionApproved,
    CaseHandoffAccepted,
    CaseHandoffRejected,
    CaseHandoffRequested,
    CaseJurisdictionDecided,
    CaseJurisdictionEscalated,
    CaseNotAccepted,
    CaseProgressReported,
    CaseRef,
    CaseReferred,
    CaseResolved,
    Clock,
    Deadline,
    EventRecord,
    MediationConcluded,
    MediationDeclined,
    MediationEscalated,
    MediationJoined,
    MediationReminderIssued,
    MediationRequested,
    MediationSessionHeld,
    NoticeDelivered,
    NoticeIssued,
    PackageAssigned,
    PackageClosed,
    PackageExtended,
    PackageProgressReported,
    PackageReminderIssued,
    PetitionDiverted,
    PetitionRegistered,
    PetitionRepeatDetected,
    PetitionTriaged,
    ReviewDecided,
    ReviewRequested,
    SatisfactionEvaluated,
    SupervisionFeedbackGiven,
    SupervisionListed,
    SupervisionNoticeIssued,
    SupervisionRecommendationIssued,
    SupervisionReminderIssued,
)
from liandong_sdk.rules import (
    BUREAU_TZ,
    UNIT_TRANSITIONS,
    ClockConfig,
    HandoffStatus,
    IllegalTransition,
    check_unit_transition,
)

from .incoming import Incoming


class CaseStatus(StrEnum):
    REGISTERED = "REGISTERED"
    REPEAT = "REPEAT"  # linked to an earlier case, not handled again
    DIVERTED = "DIVERTED"
    ROUTED = "ROUTED"
    ESCALATED = "ESCALATED"  # objections exhausted: the bureau decides jurisdiction
    SIGNED = "SIGNED"
    ACCEPTED = "ACCEPTED"
    NOT_ACCEPTED = "NOT_ACCEPTED"
    IN_PROGRESS = "IN_PROGRESS"
    RESOLVED = "RESOLVED"
    REFERRED = "REFERRED"  # sent on to arbitration or litigation (e.g. after a failed joint mediation)


#: Each case status in the bureau's words, written once (the report, any page that shows a status), in
#: the order a report lists them: the furthest along first.
STATUS_WORDS: dict[CaseStatus, str] = {
    CaseStatus.RESOLVED: "已办结", CaseStatus.IN_PROGRESS: "办理中", CaseStatus.ACCEPTED: "已受理", CaseStatus.SIGNED: "已签收",
    CaseStatus.ROUTED: "已转送", CaseStatus.REGISTERED: "已登记", CaseStatus.ESCALATED: "待裁定",
    CaseStatus.NOT_ACCEPTED: "不予受理", CaseStatus.DIVERTED: "已分流", CaseStatus.REPEAT: "重复信访",
    CaseStatus.REFERRED: "已移送",
}
assert set(STATUS_WORDS) == set(CaseStatus), "every case status has its words"

H = HandoffStatus
_CASE_STATUS_OF = {
    H.SIGNED: CaseStatus.SIGNED, H.ACCEPTED: CaseStatus.ACCEPTED, H.NOT_ACCEPTED: CaseStatus.NOT_ACCEPTED,
    H.IN_PROGRESS: CaseStatus.IN_PROGRESS, H.RESOLVED: CaseStatus.RESOLVED,
}


@dataclass
class UnitHandoff:
    unit: str
    role: str
    status: HandoffStatus
    requested_at: datetime
    acceptance_due_at: datetime
    attempt: int = 1
    signed_at: datetime | None = None
    accepted_at: datetime | None = None
    resolved_at: datetime | None = None
    handling_due_at: datetime | None = None
    extension_days: int = 0


@dataclass
class TimelineEntry:
    at: datetime
    event: str
    unit: str | None = None
    detail: str = ""
    event_id: str = ""


@dataclass(frozen=True, slots=True)
class Clocks:
    """The due times of the lead unit's clocks that still run (None: not running): all it takes to
    say which are overdue at any time, without the case's record."""

    acceptance_due_at: datetime | None
    handling_due_at: datetime | None

    def overdue(self, now: datetime) -> list[str]:
        late = []
        if self.acceptance_due_at is not None and now > self.acceptance_due_at:
            late.append("ACCEPTANCE_NOTICE")
        if self.handling_due_at is not None and now > self.handling_due_at:
            late.append("HANDLING")
        return late


@dataclass
class CaseState:
    """The ledger's record of one case: no personal data, only what the statistics need."""

    case_number: str
    status: CaseStatus = CaseStatus.REGISTERED
    channel: str = "UNKNOWN"
    #: How many people brought the petition (人次; a group visit's size): a count, not personal data.
    persons: int = 1
    category: str = "OTHER"
    registered_at: datetime | None = None
    repeat_of: str | None = None
    #: An item assigned or supervised from above (上级交办): by whom, and the due date it set.
    assigned_by: str | None = None
    assigned_due_at: datetime | None = None
    diverted_to: str | None = None
    referred_to: str | None = None  # arbitration or litigation, after case.referred
    lead_unit: str | None = None
    co_units: list[str] = field(default_factory=list)
    mode: str | None = None
    handoffs: dict[str, UnitHandoff] = field(default_factory=dict)
    objections: int = 0
    extensions: int = 0
    progress_percent: int = 0
    outcome: str | None = None
    tag: str | None = None
    resolved_at: datetime | None = None
    timeline: list[TimelineEntry] = field(default_factory=list)
    #: The three recommendations (三项建议) on this case: id -> unit, kind, issued_at, adopted (None: no answer yet).
    recommendations: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: The written notices to the petitioner (告知书): number -> kind, channel, issued_at, delivered_at
    #: (not their text or recipient: personal data stays on the bureau's notices topic).
    notices: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: The petitioner's evaluation at the callback (回访): evaluation, unit, called_at; None until recorded.
    satisfaction: dict[str, Any] | None = None
    #: Review and re-check (复查/复核), by stage (REVIEW, RECHECK): body, reviewed_unit, applied_at, due_at,
    #: decision (None until decided), decided_at.
    reviews: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Unit answers read before the handoff they answer (topics are not ordered with each other).
    pending: list[dict[str, Any]] = field(default_factory=list)
    #: How many events of the case are linked into its audit chain (``liandong.audit`` links and
    #: verifies it; the ledger keeps each link under ``link_key``, not in this record).
    audit_length: int = 0
    #: The hash of the chain's last link (None: no link yet): what the next one follows.
    audit_head: str | None = None
    #: The links themselves, only in a record written before they were kept apart (each is moved
    #: out the next time the case changes); else empty.
    audit: list[dict[str, Any]] = field(default_factory=list)

    # -- applying events ------------------------------------------------------------------
    def apply(self, record: EventRecord, event_id: str, clocks: ClockConfig) -> bool:
        """Folds one event into the state; False (and no change) if it was applied before."""
        if any(t.event_id == event_id for t in self.timeline) or any(p["event_id"] == event_id for p in self.pending):
            return False
        if type(record) in _ANSWERS and getattr(record, "unit", None) not in self.handoffs:
            self.pending.append({"event_type": record.TYPE, "event_id": event_id, "data": record.to_record()})
            return True
        self._apply(record, event_id, clocks)
        if isinstance(record, CaseHandoffRequested):
            self._replay_pending(clocks)
        return True

    def _replay_pending(self, clocks: ClockConfig) -> None:
        waiting, self.pending = self.pending, []
        for p in sorted(waiting, key=lambda p: p["data"]["occurred_at"]):
            self.apply(EVENT_CLASSES[p["event_type"]].from_record(p["data"]), p["event_id"], clocks)

    def _apply(self, record: EventRecord, event_id: str, clocks: ClockConfig) -> None:
        at: datetime = record.occurred_at  # type: ignore[attr-defined]  # every event of the catalogue has it
        fold = _FOLDS.get(type(record))
        detail = fold(self, record, at, clocks) if fold is not None else ""  # others: on the timeline as they are
        # Kept in time order whatever order the topics were read in, so a replay gives the same timeline.
        bisect.insort(self.timeline, TimelineEntry(at, record.TYPE, getattr(record, "unit", None), detail, event_id),
                      key=lambda t: (t.at, t.event_id))

    # -- questions --------------------------------------------------------------------------
    @property
    def lead(self) -> UnitHandoff | None:
        return self.handoffs.get(self.lead_unit) if self.lead_unit else None

    def concerns(self, unit: str | None) -> bool:
        """Whether the case is ``unit``'s to see (``concerned``)."""
        return unit in self.concerned()

    def concerned(self) -> frozenset[str]:
        """The units the case is theirs to see: those it was handed to, and those a review or
        re-check was asked of."""
        return frozenset(self.handoffs) | {r["body"] for r in self.reviews.values() if r["body"]}

    def overdue(self, now: datetime) -> list[str]:
        """Which clocks of the lead unit are past due and still running."""
        clocks = self.clocks()
        return clocks.overdue(now) if clocks is not None else []

    def clocks(self) -> Clocks | None:
        """The lead unit's clocks that still run (None: no lead unit, or the case is closed)."""
        h = self.lead
        if h is None or self.status in (CaseStatus.RESOLVED, CaseStatus.NOT_ACCEPTED, CaseStatus.DIVERTED,
                                        CaseStatus.REFERRED):
            return None
        return Clocks(h.acceptance_due_at if h.accepted_at is None and h.status in (H.REQUESTED, H.SIGNED) else None,
                      h.handling_due_at if h.resolved_at is None else None)

    def to_dict(self) -> dict[str, Any]:
        # By hand rather than dataclasses.asdict, which deep-copies every value: the ledger encodes
        # a state per event it applies, and asdict was most of that cost.
        d = dict(vars(self))
        d["co_units"] = list(self.co_units)
        d["handoffs"] = {u: dict(vars(h)) for u, h in self.handoffs.items()}
        d["timeline"] = [dict(vars(t)) for t in self.timeline]
        d["recommendations"] = {k: dict(v) for k, v in self.recommendations.items()}
        d["notices"] = {k: dict(v) for k, v in self.notices.items()}
        d["reviews"] = {k: dict(v) for k, v in self.reviews.items()}
        d["pending"] = [dict(p) for p in self.pending]
        d["audit"] = list(self.audit)  # links are never changed once made
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CaseState:
        d = dict(d)
        if "audit_length" not in d:  # written with its links inside: they are the whole chain
            links = d.get("audit") or []
            d["audit_length"], d["audit_head"] = len(links), links[-1]["hash"] if links else None
        d["status"] = CaseStatus(d["status"])
        d["handoffs"] = {u: UnitHandoff(**{**h, "status": HandoffStatus(h["status"])}) for u, h in d["handoffs"].items()}
        d["timeline"] = [TimelineEntry(**t) for t in d["timeline"]]
        return cls(**d)


@dataclass(frozen=True)
class Ledger:
    """The ledger's decision: fold every event of a case into the case's record (it publishes nothing)."""

    clocks: ClockConfig

    def record(self, state: CaseState | None, event: Incoming[EventRecord]) -> tuple[CaseState | None, list[Any]]:
        """The case's record after the event; None (nothing to store) if the record had it already."""
        p = event.payload
        case: CaseRef | None = getattr(p, "case", None)
        if case is None:
            return None, []  # a refusal about no case (a task's answer): nothing to show it on
        if state is None and isinstance(p, AnswerRefused):
            return None, []  # a refusal about a case the ledger does not hold: nothing to show it on
        state = state or CaseState(case.case_number)
        return (state, []) if state.apply(p, event.id, self.clocks) else (None, [])


# -- what each event does to a case's record, and the words on its timeline ----------------------
#: A fold changes the record for one event and returns the timeline's detail.
#: Each is annotated with the record class it is registered for.
Fold = Callable[[CaseState, Any, datetime, ClockConfig], str]
_FOLDS: dict[type[EventRecord], Fold] = {}


def _folds(*classes: type[EventRecord]) -> Callable[[Fold], Fold]:
    def register(fold: Fold) -> Fold:
        for cls in classes:
            _FOLDS[cls] = fold
        return fold

    return register


@_folds(PetitionRegistered)
def _registered(c: CaseState, p: PetitionRegistered, at: datetime, clocks: ClockConfig) -> str:
    c.registered_at, c.channel, c.category = p.received_at, p.channel, p.category_hint
    c.persons = max(1, p.petitioner.group_size)
    c.repeat_of = p.repeat_of
    c.assigned_by, c.assigned_due_at = p.assigned_by, p.assigned_due_at
    if c.assigned_by and c.assigned_due_at:
        return f"assigned by {c.assigned_by}, due {c.assigned_due_at.astimezone(BUREAU_TZ):%Y-%m-%d} (Beijing)"
    return ""


@_folds(PetitionRepeatDetected)
def _repeat(c: CaseState, p: PetitionRepeatDetected, at: datetime, clocks: ClockConfig) -> str:
    c.repeat_of, c.status = p.earlier_case_number, CaseStatus.REPEAT
    if p.not_accepted_reason:
        return f"not accepted: {p.not_accepted_reason}"
    return f"repeat of {c.repeat_of}" + (" (closed)" if p.earlier_closed else " (open)")


@_folds(PetitionDiverted)
def _diverted(c: CaseState, p: PetitionDiverted, at: datetime, clocks: ClockConfig) -> str:
    c.category, c.diverted_to, c.status = p.category, p.diversion_channel, CaseStatus.DIVERTED
    return f"diverted to {c.diverted_to}" + (f" (matched {', '.join(p.matched)})" if p.matched else "")


@_folds(PetitionTriaged)
def _triaged(c: CaseState, p: PetitionTriaged, at: datetime, clocks: ClockConfig) -> str:
    c.category, c.lead_unit, c.co_units, c.mode = p.category, p.lead_unit, list(p.co_units), p.mode
    detail = f"lead {c.lead_unit}" + (f", co {', '.join(c.co_units)}" if c.co_units else "")
    if p.matched:
        detail += f" (matched {', '.join(p.matched)})"
    if p.diverted_part_channel:  # the other part of a mixed petition, named
        detail += f"; the {p.diverted_part_channel} part: {p.diverted_part_explanation}"
    return detail


@_folds(CaseJurisdictionDecided)
def _decided(c: CaseState, p: CaseJurisdictionDecided, at: datetime, clocks: ClockConfig) -> str:
    c.lead_unit = p.unit
    detail = f"{p.decided_by} decided: {c.lead_unit}" + (f" (was diverted to {c.diverted_to})" if c.diverted_to else "")
    c.diverted_to = None  # the bureau routes a diverted case after all
    return detail


@_folds(CaseHandoffRequested)
def _handed(c: CaseState, p: CaseHandoffRequested, at: datetime, clocks: ClockConfig) -> str:
    unit = p.unit
    c.handoffs[unit] = UnitHandoff(unit, p.role, H.REQUESTED, at,
                                   _carried(p, Clock.ACCEPTANCE_NOTICE) or clocks.acceptance_due(at), attempt=p.attempt)
    if p.role == "LEAD":
        c.lead_unit, c.status = unit, CaseStatus.ROUTED
    return f"{p.mode.lower()} to {unit} as {p.role.lower()}"


@_folds(CaseJurisdictionEscalated)
def _escalated(c: CaseState, p: CaseJurisdictionEscalated, at: datetime, clocks: ClockConfig) -> str:
    c.status = CaseStatus.ESCALATED
    return p.reason


@_folds(AnswerRefused)
def _refused(c: CaseState, p: AnswerRefused, at: datetime, clocks: ClockConfig) -> str:
    return f"the bus refused {p.refused_type}: {p.reason}"


@_folds(CaseReferred)
def _referred(c: CaseState, p: CaseReferred, at: datetime, clocks: ClockConfig) -> str:
    c.referred_to, c.status = p.channel, CaseStatus.REFERRED
    return f"referred to {c.referred_to}: {p.reason}"


# -- a unit's answers: the handoff's transition (the referee checked it), then what each one adds --
#: Each is annotated with the answer class it is registered for.
Answer = Callable[[CaseState, UnitHandoff, Any, datetime, ClockConfig], str]


def _signed(c: CaseState, h: UnitHandoff, p: CaseHandoffAccepted, at: datetime, clocks: ClockConfig) -> str:
    h.signed_at = at
    return ""


def _objected(c: CaseState, h: UnitHandoff, p: CaseHandoffRejected, at: datetime, clocks: ClockConfig) -> str:
    c.objections += 1
    return p.reason


def _accepted(c: CaseState, h: UnitHandoff, p: CaseAccepted, at: datetime, clocks: ClockConfig) -> str:
    h.accepted_at = at
    h.handling_due_at = _carried(p, Clock.HANDLING) or clocks.handling_due(at)
    return ""


def _progress(c: CaseState, h: UnitHandoff, p: CaseProgressReported, at: datetime, clocks: ClockConfig) -> str:
    if h.role == "LEAD":
        c.progress_percent = max(c.progress_percent, p.percent)
    return f"{p.percent}%: {p.note}"


def _extended(c: CaseState, h: UnitHandoff, p: CaseExtensionApproved, at: datetime, clocks: ClockConfig) -> str:
    h.extension_days += p.extra_days
    c.extensions += 1
    if h.accepted_at is not None:  # the moved due date, as the referee carried it
        h.handling_due_at = _carried(p, Clock.HANDLING) or clocks.handling_due(h.accepted_at, h.extension_days)
    return f"+{p.extra_days} days: {p.reason}"


def _resolved(c: CaseState, h: UnitHandoff, p: CaseResolved, at: datetime, clocks: ClockConfig) -> str:
    h.resolved_at = at
    if h.role == "LEAD":
        c.outcome, c.tag, c.resolved_at = p.outcome, p.tag, at
    return f"{p.outcome} ({p.tag})"


def _no_detail(c: CaseState, h: UnitHandoff, p: CaseNotAccepted, at: datetime, clocks: ClockConfig) -> str:
    return ""


_ANSWERS: dict[type[EventRecord], Answer] = {
    CaseHandoffAccepted: _signed, CaseHandoffRejected: _objected, CaseAccepted: _accepted,
    CaseNotAccepted: _no_detail, CaseProgressReported: _progress, CaseExtensionApproved: _extended,
    CaseResolved: _resolved,
}
assert {cls.TYPE for cls in _ANSWERS} == set(UNIT_TRANSITIONS), "every unit answer the rules know, folded"


def _answer_fold(cls: type[EventRecord], answer: Answer) -> Fold:
    def fold(c: CaseState, p: Any, at: datetime, clocks: ClockConfig) -> str:
        h = c.handoffs.get(p.unit)
        if h is None:
            return "answer from a unit without a handoff (ignored)"
        try:
            after = check_unit_transition(cls.TYPE, h.status)
        except IllegalTransition as exc:
            return f"ignored: {exc}"
        if after is not None:
            h.status = after
        detail = answer(c, h, p, at, clocks)
        if h.role == "LEAD" and after in _CASE_STATUS_OF and c.status is not CaseStatus.REFERRED:
            # A case referred to another channel (arbitration, court) stays so: the units' later answers are its history.
            c.status = _CASE_STATUS_OF[after]
        return detail

    return fold


_FOLDS.update({cls: _answer_fold(cls, answer) for cls, answer in _ANSWERS.items()})


def _carried(p: Any, clock: Clock) -> datetime | None:
    """The due date an event carries for ``clock`` (the bus's, computed once where the event was checked)."""
    deadline: Deadline | None = p.deadline
    return deadline.due_at if deadline is not None and deadline.clock == clock else None


#: The timeline's words for a mediation or package event (联合调处 / 包案): nothing else changes.
_COORDINATION: dict[type[EventRecord], Callable[[Any], str]] = {
    MediationRequested: lambda p: f"joint mediation {p.mediation_id} convened by {p.convener}: {p.subject}",
    MediationJoined: lambda p: f"{p.unit} joins mediation {p.mediation_id}",
    MediationDeclined: lambda p: f"{p.unit} declines mediation {p.mediation_id}: {p.reason}",
    MediationReminderIssued: lambda p: f"{p.unit} reminded to answer mediation {p.mediation_id}",
    MediationEscalated: lambda p: f"{p.unit} did not answer mediation {p.mediation_id}: bureau told",
    MediationSessionHeld: lambda p: f"session: {p.summary}",
    MediationConcluded: lambda p: f"{p.result}: {p.summary}",
    PackageAssigned: lambda p: f"package {p.package_id} assigned" + (" (leader's)" if p.leader_package else ""),
    PackageProgressReported: lambda p: f"{p.unit} {p.percent}%: {'; '.join(p.actions)}",
    PackageReminderIssued: lambda p: f"{p.unit} reminded: progress report {p.period} missing",
    PackageExtended: lambda p: f"+{p.days} days to {p.expected_resolution_on}: {p.reason}",
    PackageClosed: lambda p: f"package closed: {p.result}",
}


def _words_only(words: Callable[[Any], str]) -> Fold:
    def fold(c: CaseState, p: Any, at: datetime, clocks: ClockConfig) -> str:
        return words(p)

    return fold


_FOLDS.update({cls: _words_only(words) for cls, words in _COORDINATION.items()})


# -- supervision (督查督办): letters, listings, the three recommendations and their answers ---------
@_folds(SupervisionReminderIssued, SupervisionNoticeIssued, SupervisionListed)
def _letter(c: CaseState, p: SupervisionReminderIssued | SupervisionNoticeIssued | SupervisionListed, at: datetime,
            clocks: ClockConfig) -> str:
    return f"{p.letter_no}: {p.stage} ({p.trigger})"


def _recommendation(c: CaseState, p: SupervisionRecommendationIssued | SupervisionFeedbackGiven) -> dict[str, Any]:
    return c.recommendations.setdefault(str(p.recommendation_id), {
        "unit": p.unit, "kind": "UNKNOWN", "issued_at": None, "adopted": None, "answered_at": None})


@_folds(SupervisionRecommendationIssued)
def _recommended(c: CaseState, p: SupervisionRecommendationIssued, at: datetime, clocks: ClockConfig) -> str:
    _recommendation(c, p).update(kind=p.kind, issued_at=at)
    return f"{p.kind}: {p.text}"


@_folds(SupervisionFeedbackGiven)
def _feedback(c: CaseState, p: SupervisionFeedbackGiven, at: datetime, clocks: ClockConfig) -> str:
    _recommendation(c, p).update(adopted=p.adopted, answered_at=at)
    return "adopted" if p.adopted else f"not adopted: {p.reason or ''}"


# -- the written notices (告知书): issued, then delivered (the two may be read in either order) ------
def _notice(c: CaseState, number: str) -> dict[str, Any]:
    return c.notices.setdefault(number, {"kind": "OTHER", "channel": "UNKNOWN", "issued_at": None, "delivered_at": None})


@_folds(NoticeIssued)
def _notice_issued(c: CaseState, p: NoticeIssued, at: datetime, clocks: ClockConfig) -> str:
    _notice(c, p.notice_no).update(kind=p.kind.value, channel=p.delivery_channel.value, issued_at=at)
    return f"{p.notice_no}: {p.kind} by {p.delivery_channel}"


@_folds(NoticeDelivered)
def _notice_delivered(c: CaseState, p: NoticeDelivered, at: datetime, clocks: ClockConfig) -> str:
    _notice(c, p.notice_no).update(kind=p.kind.value, channel=p.delivery_channel.value, delivered_at=at)
    return f"{p.notice_no}: delivered by {p.delivery_channel} ({p.receipt})"


@_folds(SatisfactionEvaluated)
def _evaluated(c: CaseState, p: SatisfactionEvaluated, at: datetime, clocks: ClockConfig) -> str:
    if c.satisfaction is None:  # one evaluation per case: intake refuses a second
        c.satisfaction = {"evaluation": p.evaluation.value, "unit": p.unit.value, "called_at": p.called_at}
    return f"{p.evaluation}" + (f": {p.remark}" if p.remark else "")


# -- review and re-check (复查/复核): requested of a body, then decided (read in either order) ------------
def _review(c: CaseState, stage: str) -> dict[str, Any]:
    return c.reviews.setdefault(stage, {"body": None, "reviewed_unit": None, "applied_at": None, "due_at": None,
                                        "decision": None, "decided_at": None})


@_folds(ReviewRequested)
def _review_requested(c: CaseState, p: ReviewRequested, at: datetime, clocks: ClockConfig) -> str:
    _review(c, p.stage.value).update(body=p.unit.value, reviewed_unit=p.reviewed_unit.value, applied_at=p.applied_at,
                                     due_at=p.deadline.due_at if p.deadline else None)
    what = "re-check (复核)" if p.stage == "RECHECK" else "review (复查)"
    return f"{what} of {p.reviewed_unit}'s decision asked of {p.unit}: {p.grounds}"


@_folds(ReviewDecided)
def _review_decided(c: CaseState, p: ReviewDecided, at: datetime, clocks: ClockConfig) -> str:
    _review(c, p.stage.value).update(body=p.unit.value, decision=p.decision.value, decided_at=at)
    return f"{p.stage} {p.decision}: {p.text}"


def state_to_json(state: CaseState) -> bytes:
    # pydantic-core's encoder (Rust, comes with pydantic): the ledger encodes a case's record at each
    # batch that changes it, and json.dumps with a ``default`` for every time took three times as long.
    return pydantic_core.to_json(state.to_dict())


def state_from_json(raw: bytes) -> CaseState:
    return CaseState.from_dict(_parse_times(pydantic_core.from_json(raw)))


#: Parts of a record with no times in them, not walked (the audit chain is most of a record's bytes).
_TIMELESS = frozenset({"audit"})


def _parse_times(node: Any, key: str = "") -> Any:
    if isinstance(node, dict):
        return {k: v if k in _TIMELESS else _parse_times(v, k) for k, v in node.items()}
    if isinstance(node, list):
        return [_parse_times(v) for v in node]
    if isinstance(node, str) and (key == "at" or key.endswith("_at")):
        return datetime.fromisoformat(node)
    return node
