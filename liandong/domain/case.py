"""What may happen to a case, and the ledger's view of it.

A case is handed to a lead unit and co-units; each unit's handoff moves through
REQUESTED -> SIGNED -> ACCEPTED -> IN_PROGRESS -> RESOLVED (or OBJECTED / NOT_ACCEPTED).
The case's own status follows its lead unit. Applying an event twice changes nothing.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

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
    CaseReferred,
    CaseResolved,
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
    PetitionDiverted,
    PetitionRegistered,
    PetitionRepeatDetected,
    PetitionTriaged,
    SupervisionFeedbackGiven,
    SupervisionListed,
    SupervisionNoticeIssued,
    SupervisionRecommendationIssued,
    SupervisionReminderIssued,
)
from liandong_sdk.records import json_default
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


@dataclass
class CaseState:
    """The ledger's record of one case: no personal data, only what the statistics need."""

    case_number: str
    status: CaseStatus = CaseStatus.REGISTERED
    channel: str = "UNKNOWN"
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
    #: Unit answers read before the handoff they answer (topics are not ordered with each other).
    pending: list[dict[str, Any]] = field(default_factory=list)

    # -- applying events ------------------------------------------------------------------
    def apply(self, event_type: str, data: dict[str, Any], event_id: str, clocks: ClockConfig) -> bool:
        """Folds one event into the state; False (and no change) if it was applied before."""
        if any(t.event_id == event_id for t in self.timeline) or any(p["event_id"] == event_id for p in self.pending):
            return False
        cls = EVENT_CLASSES[event_type]
        if cls in _ANSWERS and data.get("unit") not in self.handoffs:
            self.pending.append({"event_type": event_type, "event_id": event_id, "data": _portable(data)})
            return True
        self._apply(event_type, data, event_id, clocks)
        if cls is CaseHandoffRequested:
            self._replay_pending(clocks)
        return True

    def _replay_pending(self, clocks: ClockConfig) -> None:
        waiting, self.pending = self.pending, []
        for p in sorted(waiting, key=lambda p: p["data"]["occurred_at"]):
            self.apply(p["event_type"], p["data"], p["event_id"], clocks)

    def _apply(self, event_type: str, data: dict[str, Any], event_id: str, clocks: ClockConfig) -> None:
        at: datetime = data["occurred_at"]
        fold = _FOLDS.get(EVENT_CLASSES[event_type])
        detail = fold(self, data, at, clocks) if fold is not None else ""  # others: on the timeline as they are
        # Kept in time order whatever order the topics were read in, so a replay gives the same timeline.
        bisect.insort(self.timeline, TimelineEntry(at, event_type, data.get("unit"), detail, event_id),
                      key=lambda t: (t.at, t.event_id))

    # -- questions --------------------------------------------------------------------------
    @property
    def lead(self) -> UnitHandoff | None:
        return self.handoffs.get(self.lead_unit) if self.lead_unit else None

    def overdue(self, now: datetime) -> list[str]:
        """Which clocks of the lead unit are past due and still running."""
        h = self.lead
        if h is None or self.status in (CaseStatus.RESOLVED, CaseStatus.NOT_ACCEPTED, CaseStatus.DIVERTED,
                                        CaseStatus.REFERRED):
            return []
        late = []
        if h.accepted_at is None and h.status in (H.REQUESTED, H.SIGNED) and now > h.acceptance_due_at:
            late.append("ACCEPTANCE_NOTICE")
        if h.handling_due_at is not None and h.resolved_at is None and now > h.handling_due_at:
            late.append("HANDLING")
        return late

    def to_dict(self) -> dict[str, Any]:
        # By hand rather than dataclasses.asdict, which deep-copies every value: the ledger encodes
        # a state per event it applies, and asdict was most of that cost.
        d = dict(vars(self))
        d["co_units"] = list(self.co_units)
        d["handoffs"] = {u: dict(vars(h)) for u, h in self.handoffs.items()}
        d["timeline"] = [dict(vars(t)) for t in self.timeline]
        d["recommendations"] = {k: dict(v) for k, v in self.recommendations.items()}
        d["pending"] = [dict(p) for p in self.pending]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CaseState:
        d = dict(d)
        d["status"] = CaseStatus(d["status"])
        d["handoffs"] = {u: UnitHandoff(**{**h, "status": HandoffStatus(h["status"])}) for u, h in d["handoffs"].items()}
        d["timeline"] = [TimelineEntry(**t) for t in d["timeline"]]
        return cls(**d)


@dataclass(frozen=True)
class Ledger:
    """The ledger's decision: fold every event of a case into the case's record (it publishes nothing)."""

    clocks: ClockConfig

    def record(self, state: CaseState | None, event: Incoming) -> tuple[CaseState | None, list[Any]]:
        """The case's record after the event; None (nothing to store) if the record had it already."""
        if state is None and event.type == AnswerRefused.TYPE:
            return None, []  # a refusal about a case the ledger does not hold: nothing to show it on
        state = state or CaseState(event.data["case"]["case_number"])
        return (state, []) if state.apply(event.type, event.data, event.id, self.clocks) else (None, [])


# -- what each event does to a case's record, and the words on its timeline ----------------------
#: A fold changes the record for one event and returns the timeline's detail.
Fold = Callable[[CaseState, dict[str, Any], datetime, ClockConfig], str]
_FOLDS: dict[type[EventRecord], Fold] = {}


def _folds(*classes: type[EventRecord]) -> Callable[[Fold], Fold]:
    def register(fold: Fold) -> Fold:
        for cls in classes:
            _FOLDS[cls] = fold
        return fold

    return register


@_folds(PetitionRegistered)
def _registered(c: CaseState, d: dict[str, Any], at: datetime, clocks: ClockConfig) -> str:
    c.registered_at, c.channel, c.category = d["received_at"], d["channel"], d["category_hint"]
    c.repeat_of = d.get("repeat_of")
    c.assigned_by, c.assigned_due_at = d.get("assigned_by"), d.get("assigned_due_at")
    if c.assigned_by and c.assigned_due_at:
        return f"assigned by {c.assigned_by}, due {c.assigned_due_at.astimezone(BUREAU_TZ):%Y-%m-%d} (Beijing)"
    return ""


@_folds(PetitionRepeatDetected)
def _repeat(c: CaseState, d: dict[str, Any], at: datetime, clocks: ClockConfig) -> str:
    c.repeat_of, c.status = d["earlier_case_number"], CaseStatus.REPEAT
    return f"repeat of {c.repeat_of}" + (" (closed)" if d["earlier_closed"] else " (open)")


@_folds(PetitionDiverted)
def _diverted(c: CaseState, d: dict[str, Any], at: datetime, clocks: ClockConfig) -> str:
    c.category, c.diverted_to, c.status = d["category"], d["diversion_channel"], CaseStatus.DIVERTED
    return f"diverted to {c.diverted_to}" + (f" (matched {', '.join(d['matched'])})" if d.get("matched") else "")


@_folds(PetitionTriaged)
def _triaged(c: CaseState, d: dict[str, Any], at: datetime, clocks: ClockConfig) -> str:
    c.category, c.lead_unit, c.co_units, c.mode = d["category"], d["lead_unit"], list(d["co_units"]), d["mode"]
    detail = f"lead {c.lead_unit}" + (f", co {', '.join(c.co_units)}" if c.co_units else "")
    if d.get("matched"):
        detail += f" (matched {', '.join(d['matched'])})"
    if d.get("diverted_part_channel"):  # the other part of a mixed petition, named
        detail += f"; the {d['diverted_part_channel']} part: {d['diverted_part_explanation']}"
    return detail


@_folds(CaseJurisdictionDecided)
def _decided(c: CaseState, d: dict[str, Any], at: datetime, clocks: ClockConfig) -> str:
    c.lead_unit = d["unit"]
    detail = f"{d['decided_by']} decided: {c.lead_unit}" + (f" (was diverted to {c.diverted_to})" if c.diverted_to else "")
    c.diverted_to = None  # the bureau routes a diverted case after all
    return detail


@_folds(CaseHandoffRequested)
def _handed(c: CaseState, d: dict[str, Any], at: datetime, clocks: ClockConfig) -> str:
    unit = d["unit"]
    c.handoffs[unit] = UnitHandoff(unit, d["role"], H.REQUESTED, at,
                                   _carried(d, "ACCEPTANCE_NOTICE") or clocks.acceptance_due(at), attempt=d["attempt"])
    if d["role"] == "LEAD":
        c.lead_unit, c.status = unit, CaseStatus.ROUTED
    return f"{d['mode'].lower()} to {unit} as {d['role'].lower()}"


@_folds(CaseJurisdictionEscalated)
def _escalated(c: CaseState, d: dict[str, Any], at: datetime, clocks: ClockConfig) -> str:
    c.status = CaseStatus.ESCALATED
    return str(d.get("reason", ""))


@_folds(AnswerRefused)
def _refused(c: CaseState, d: dict[str, Any], at: datetime, clocks: ClockConfig) -> str:
    return f"the bus refused {d['refused_type']}: {d['reason']}"


@_folds(CaseReferred)
def _referred(c: CaseState, d: dict[str, Any], at: datetime, clocks: ClockConfig) -> str:
    c.referred_to, c.status = d["channel"], CaseStatus.REFERRED
    return f"referred to {c.referred_to}: {d['reason']}"


# -- a unit's answers: the handoff's transition (the referee checked it), then what each one adds --
Answer = Callable[[CaseState, UnitHandoff, dict[str, Any], datetime, ClockConfig], str]


def _signed(c: CaseState, h: UnitHandoff, d: dict[str, Any], at: datetime, clocks: ClockConfig) -> str:
    h.signed_at = at
    return ""


def _objected(c: CaseState, h: UnitHandoff, d: dict[str, Any], at: datetime, clocks: ClockConfig) -> str:
    c.objections += 1
    return str(d["reason"])


def _accepted(c: CaseState, h: UnitHandoff, d: dict[str, Any], at: datetime, clocks: ClockConfig) -> str:
    h.accepted_at = at
    h.handling_due_at = _carried(d, "HANDLING") or clocks.handling_due(at)
    return ""


def _progress(c: CaseState, h: UnitHandoff, d: dict[str, Any], at: datetime, clocks: ClockConfig) -> str:
    if h.role == "LEAD":
        c.progress_percent = max(c.progress_percent, d["percent"])
    return f"{d['percent']}%: {d['note']}"


def _extended(c: CaseState, h: UnitHandoff, d: dict[str, Any], at: datetime, clocks: ClockConfig) -> str:
    h.extension_days += d["extra_days"]
    c.extensions += 1
    if h.accepted_at is not None:  # the moved due date, as the referee carried it
        h.handling_due_at = _carried(d, "HANDLING") or clocks.handling_due(h.accepted_at, h.extension_days)
    return f"+{d['extra_days']} days: {d['reason']}"


def _resolved(c: CaseState, h: UnitHandoff, d: dict[str, Any], at: datetime, clocks: ClockConfig) -> str:
    h.resolved_at = at
    if h.role == "LEAD":
        c.outcome, c.tag, c.resolved_at = d["outcome"], d["tag"], at
    return f"{d['outcome']} ({d['tag']})"


def _no_detail(c: CaseState, h: UnitHandoff, d: dict[str, Any], at: datetime, clocks: ClockConfig) -> str:
    return ""


_ANSWERS: dict[type[EventRecord], Answer] = {
    CaseHandoffAccepted: _signed, CaseHandoffRejected: _objected, CaseAccepted: _accepted,
    CaseNotAccepted: _no_detail, CaseProgressReported: _progress, CaseExtensionApproved: _extended,
    CaseResolved: _resolved,
}
assert {cls.TYPE for cls in _ANSWERS} == set(UNIT_TRANSITIONS), "every unit answer the rules know, folded"


def _answer_fold(cls: type[EventRecord], answer: Answer) -> Fold:
    def fold(c: CaseState, d: dict[str, Any], at: datetime, clocks: ClockConfig) -> str:
        h = c.handoffs.get(d["unit"])
        if h is None:
            return "answer from a unit without a handoff (ignored)"
        try:
            after = check_unit_transition(cls.TYPE, h.status)
        except IllegalTransition as exc:
            return f"ignored: {exc}"
        if after is not None:
            h.status = after
        detail = answer(c, h, d, at, clocks)
        if h.role == "LEAD" and after in _CASE_STATUS_OF and c.status is not CaseStatus.REFERRED:
            # A case referred to another channel (arbitration, court) stays so: the units' later answers are its history.
            c.status = _CASE_STATUS_OF[after]
        return detail

    return fold


_FOLDS.update({cls: _answer_fold(cls, answer) for cls, answer in _ANSWERS.items()})


def _carried(data: dict[str, Any], clock: str) -> datetime | None:
    """The due date an event carries for ``clock`` (the bus's, computed once where the event was checked)."""
    deadline = data.get("deadline")
    return deadline["due_at"] if deadline and deadline.get("clock") == clock else None


#: The timeline's words for a mediation or package event (联合调处 / 包案): nothing else changes.
_COORDINATION: dict[type[EventRecord], Callable[[dict[str, Any]], str]] = {
    MediationRequested: lambda d: f"joint mediation {d['mediation_id']} convened by {d['convener']}: {d['subject']}",
    MediationJoined: lambda d: f"{d['unit']} joins mediation {d['mediation_id']}",
    MediationDeclined: lambda d: f"{d['unit']} declines mediation {d['mediation_id']}: {d['reason']}",
    MediationReminderIssued: lambda d: f"{d['unit']} reminded to answer mediation {d['mediation_id']}",
    MediationEscalated: lambda d: f"{d['unit']} did not answer mediation {d['mediation_id']}: bureau told",
    MediationSessionHeld: lambda d: f"session: {d['summary']}",
    MediationConcluded: lambda d: f"{d['result']}: {d['summary']}",
    PackageAssigned: lambda d: f"package {d['package_id']} assigned" + (" (leader's)" if d["leader_package"] else ""),
    PackageProgressReported: lambda d: f"{d['unit']} {d['percent']}%: {'; '.join(d['actions'])}",
    PackageReminderIssued: lambda d: f"{d['unit']} reminded: progress report {d['period']} missing",
    PackageExtended: lambda d: f"+{d['days']} days to {d['expected_resolution_on']}: {d['reason']}",
    PackageClosed: lambda d: f"package closed: {d['result']}",
}


def _words_only(words: Callable[[dict[str, Any]], str]) -> Fold:
    def fold(c: CaseState, d: dict[str, Any], at: datetime, clocks: ClockConfig) -> str:
        return words(d)

    return fold


_FOLDS.update({cls: _words_only(words) for cls, words in _COORDINATION.items()})


# -- supervision (督查督办): letters, listings, the three recommendations and their answers ---------
@_folds(SupervisionReminderIssued, SupervisionNoticeIssued, SupervisionListed)
def _letter(c: CaseState, d: dict[str, Any], at: datetime, clocks: ClockConfig) -> str:
    return f"{d['letter_no']}: {d['stage']} ({d['trigger']})"


def _recommendation(c: CaseState, d: dict[str, Any]) -> dict[str, Any]:
    return c.recommendations.setdefault(str(d["recommendation_id"]), {
        "unit": d["unit"], "kind": "UNKNOWN", "issued_at": None, "adopted": None, "answered_at": None})


@_folds(SupervisionRecommendationIssued)
def _recommended(c: CaseState, d: dict[str, Any], at: datetime, clocks: ClockConfig) -> str:
    _recommendation(c, d).update(kind=d["kind"], issued_at=at)
    return f"{d['kind']}: {d['text']}"


@_folds(SupervisionFeedbackGiven)
def _feedback(c: CaseState, d: dict[str, Any], at: datetime, clocks: ClockConfig) -> str:
    _recommendation(c, d).update(adopted=bool(d["adopted"]), answered_at=at)
    return "adopted" if d["adopted"] else f"not adopted: {d.get('reason') or ''}"


def _portable(data: dict[str, Any]) -> dict[str, Any]:
    """What a unit answer needs kept, JSON-safe (ids and references dropped)."""
    return {k: v for k, v in data.items() if k not in ("case", "deadline", "event_id")}


def state_to_json(state: CaseState) -> bytes:
    return json.dumps(state.to_dict(), default=json_default, ensure_ascii=False, separators=(",", ":")).encode()


def state_from_json(raw: bytes) -> CaseState:
    return CaseState.from_dict(_parse_times(json.loads(raw)))


def _parse_times(node: Any, key: str = "") -> Any:
    if isinstance(node, dict):
        return {k: _parse_times(v, k) for k, v in node.items()}
    if isinstance(node, list):
        return [_parse_times(v) for v in node]
    if isinstance(node, str) and (key == "at" or key.endswith("_at")):
        return datetime.fromisoformat(node)
    return node
