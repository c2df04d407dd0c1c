"""What may happen to a case, and the ledger's view of it.

A case is handed to a lead unit and co-units; each unit's handoff moves through
REQUESTED -> SIGNED -> ACCEPTED -> IN_PROGRESS -> RESOLVED (or OBJECTED / NOT_ACCEPTED).
The case's own status follows its lead unit. Applying an event twice changes nothing.
"""

from __future__ import annotations

import bisect
import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

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
        if event_type in UNIT_TRANSITIONS and data.get("unit") not in self.handoffs:
            self.pending.append({"event_type": event_type, "event_id": event_id, "data": _portable(data)})
            return True
        self._apply(event_type, data, event_id, clocks)
        if event_type == "case.handoff.requested":
            self._replay_pending(clocks)
        return True

    def _replay_pending(self, clocks: ClockConfig) -> None:
        waiting, self.pending = self.pending, []
        for p in sorted(waiting, key=lambda p: p["data"]["occurred_at"]):
            self.apply(p["event_type"], p["data"], p["event_id"], clocks)

    def _apply(self, event_type: str, data: dict[str, Any], event_id: str, clocks: ClockConfig) -> None:
        at: datetime = data["occurred_at"]
        unit = data.get("unit")
        detail = ""
        if event_type == "petition.registered":
            self.registered_at = data["received_at"]
            self.channel = data["channel"]
            self.category = data["category_hint"]
            self.repeat_of = data.get("repeat_of")
            self.assigned_by, self.assigned_due_at = data.get("assigned_by"), data.get("assigned_due_at")
            if self.assigned_by and self.assigned_due_at:
                detail = f"assigned by {self.assigned_by}, due {self.assigned_due_at.astimezone(BUREAU_TZ):%Y-%m-%d} (Beijing)"
        elif event_type == "petition.repeat.detected":
            self.repeat_of = data["earlier_case_number"]
            self.status = CaseStatus.REPEAT
            detail = f"repeat of {self.repeat_of}" + (" (closed)" if data["earlier_closed"] else " (open)")
        elif event_type == "petition.diverted":
            self.category = data["category"]
            self.diverted_to = data["diversion_channel"]
            self.status = CaseStatus.DIVERTED
            detail = f"diverted to {self.diverted_to}" + (f" (matched {', '.join(data['matched'])})"
                                                          if data.get("matched") else "")
        elif event_type == "petition.triaged":
            self.category = data["category"]
            self.lead_unit = data["lead_unit"]
            self.co_units = list(data["co_units"])
            self.mode = data["mode"]
            detail = f"lead {self.lead_unit}" + (f", co {', '.join(self.co_units)}" if self.co_units else "")
            if data.get("matched"):
                detail += f" (matched {', '.join(data['matched'])})"
            if data.get("diverted_part_channel"):  # the other part of a mixed petition, named
                detail += f"; the {data['diverted_part_channel']} part: {data['diverted_part_explanation']}"
        elif event_type == "case.jurisdiction.decided":
            self.lead_unit = unit
            detail = f"{data['decided_by']} decided: {unit}" + (f" (was diverted to {self.diverted_to})"
                                                                 if self.diverted_to else "")
            self.diverted_to = None  # the bureau routes a diverted case after all
        elif event_type == "case.handoff.requested":
            assert unit is not None
            self.handoffs[unit] = UnitHandoff(unit, data["role"], H.REQUESTED, at,
                                              _carried(data, "ACCEPTANCE_NOTICE") or clocks.acceptance_due(at),
                                              attempt=data["attempt"])
            if data["role"] == "LEAD":
                self.lead_unit = unit
                self.status = CaseStatus.ROUTED
            detail = f"{data['mode'].lower()} to {unit} as {data['role'].lower()}"
        elif event_type == "case.jurisdiction.escalated":
            self.status = CaseStatus.ESCALATED
            detail = data.get("reason", "")
        elif event_type in UNIT_TRANSITIONS:
            detail = self._apply_unit_answer(event_type, data, at, clocks)
        elif event_type == "answer.refused":
            detail = f"the bus refused {data['refused_type']}: {data['reason']}"
        elif event_type == "case.referred":
            self.referred_to = data["channel"]
            self.status = CaseStatus.REFERRED
            detail = f"referred to {self.referred_to}: {data['reason']}"
        elif event_type.startswith(("mediation.", "package.")):
            detail = coordination_detail(event_type, data)
        elif event_type.startswith("supervision."):
            detail = self._apply_supervision(event_type, data, at)
        # Kept in time order whatever order the topics were read in, so a replay gives the same timeline.
        bisect.insort(self.timeline, TimelineEntry(at, event_type, unit, detail, event_id),
                      key=lambda t: (t.at, t.event_id))

    def _apply_unit_answer(self, event_type: str, data: dict[str, Any], at: datetime, clocks: ClockConfig) -> str:
        h = self.handoffs.get(data["unit"])
        if h is None:
            return "answer from a unit without a handoff (ignored)"
        try:
            after = check_unit_transition(event_type, h.status)
        except IllegalTransition as exc:
            return f"ignored: {exc}"
        if after is not None:
            h.status = after
        detail = ""
        if event_type == "case.handoff.accepted":
            h.signed_at = at
        elif event_type == "case.handoff.rejected":
            self.objections += 1
            detail = data["reason"]
        elif event_type == "case.accepted":
            h.accepted_at = at
            h.handling_due_at = _carried(data, "HANDLING") or clocks.handling_due(at)
        elif event_type == "case.progress":
            self.progress_percent = max(self.progress_percent, data["percent"]) if h.role == "LEAD" else self.progress_percent
            detail = f"{data['percent']}%: {data['note']}"
        elif event_type == "case.extension.approved":
            h.extension_days += data["extra_days"]
            self.extensions += 1
            if h.accepted_at is not None:  # the moved due date, as the referee carried it
                h.handling_due_at = _carried(data, "HANDLING") or clocks.handling_due(h.accepted_at, h.extension_days)
            detail = f"+{data['extra_days']} days: {data['reason']}"
        elif event_type == "case.resolved":
            h.resolved_at = at
            detail = f"{data['outcome']} ({data['tag']})"
            if h.role == "LEAD":
                self.outcome, self.tag, self.resolved_at = data["outcome"], data["tag"], at
        if h.role == "LEAD" and after in _CASE_STATUS_OF and self.status is not CaseStatus.REFERRED:
            # A case referred to another channel (arbitration, court) stays so: the units' later answers are its history.
            self.status = _CASE_STATUS_OF[after]
        return detail

    def _apply_supervision(self, event_type: str, data: dict[str, Any], at: datetime) -> str:
        """Supervision on the timeline (督查督办): letters, listings, recommendations and answers."""
        if event_type in ("supervision.reminder", "supervision.notice", "supervision.listed"):
            return f"{data['letter_no']}: {data['stage']} ({data['trigger']})"
        rid = str(data["recommendation_id"])
        r = self.recommendations.setdefault(rid, {"unit": data["unit"], "kind": "UNKNOWN", "issued_at": None,
                                                  "adopted": None, "answered_at": None})
        if event_type == "supervision.recommendation":
            r.update(kind=data["kind"], issued_at=at)
            return f"{data['kind']}: {data['text']}"
        r.update(adopted=bool(data["adopted"]), answered_at=at)
        return "adopted" if data["adopted"] else f"not adopted: {data.get('reason') or ''}"

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
        if state is None and event.type == "answer.refused":
            return None, []  # a refusal about a case the ledger does not hold: nothing to show it on
        state = state or CaseState(event.data["case"]["case_number"])
        return (state, []) if state.apply(event.type, event.data, event.id, self.clocks) else (None, [])


def _carried(data: dict[str, Any], clock: str) -> datetime | None:
    """The due date an event carries for ``clock`` (the bus's, computed once where the event was checked)."""
    deadline = data.get("deadline")
    return deadline["due_at"] if deadline and deadline.get("clock") == clock else None


def coordination_detail(event_type: str, data: dict[str, Any]) -> str:
    """The timeline's words for a mediation or package event (联合调处 / 包案)."""
    d = data
    details = {
        "mediation.requested": lambda: f"joint mediation {d['mediation_id']} convened by {d['convener']}: {d['subject']}",
        "mediation.joined": lambda: f"{d['unit']} joins mediation {d['mediation_id']}",
        "mediation.declined": lambda: f"{d['unit']} declines mediation {d['mediation_id']}: {d['reason']}",
        "mediation.reminder": lambda: f"{d['unit']} reminded to answer mediation {d['mediation_id']}",
        "mediation.escalated": lambda: f"{d['unit']} did not answer mediation {d['mediation_id']}: bureau told",
        "mediation.session_held": lambda: f"session: {d['summary']}",
        "mediation.concluded": lambda: f"{d['result']}: {d['summary']}",
        "package.assigned": lambda: f"package {d['package_id']} assigned" + (" (leader's)" if d["leader_package"] else ""),
        "package.progress": lambda: f"{d['unit']} {d['percent']}%: {'; '.join(d['actions'])}",
        "package.reminder": lambda: f"{d['unit']} reminded: progress report {d['period']} missing",
        "package.extended": lambda: f"+{d['days']} days to {d['expected_resolution_on']}: {d['reason']}",
        "package.closed": lambda: f"package closed: {d['result']}",
    }
    make = details.get(event_type)
    return make() if make else ""


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
