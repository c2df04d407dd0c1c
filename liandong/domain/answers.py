"""The referee of the units' answers (the bus is the referee): one place where every answer a unit
writes on its replies topic is checked, whatever client wrote it, before any service acts on it.

A unit speaks only for itself (the unit of an answer is the unit of the replies topic it came on),
only about a case handed to it, only as the case's state allows (``UNIT_TRANSITIONS``), within the
regulation (an objection within its window, extensions within the cap) and with its outcome's
fields complete. What passes is published again with the deadline that applies after it; what does
not raises ``Refused`` with a reason the unit can act on, and changes nothing anywhere.

A unit's handoff, as the referee keeps it (plain JSON data, times as ISO strings)::

    {"status": "SIGNED", "role": "LEAD", "handed_at": ..., "acceptance_due_at": ...,
     "objection_due_at": ..., "accepted_at": None, "handling_due_at": None, "extension_days": 0,
     "cap": None}   # cap: the due date of an item assigned from above, which no clock passes
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from liandong_sdk.events import (
    AnswerRefused,
    CaseAccepted,
    CaseExtensionApproved,
    CaseHandoffAccepted,
    CaseHandoffRejected,
    CaseNotAccepted,
    CaseProgressReported,
    CaseRef,
    CaseResolved,
    Clock,
    DayBasis,
    Deadline,
    EventRecord,
    ResolutionOutcome,
    ResolutionTag,
    ReviewDecided,
    ReviewDecision,
    Unit,
    known,
)
from liandong_sdk.records import parse_time
from liandong_sdk.rules import (
    BUREAU_TZ,
    HANDLING_UNITS,
    UNIT_TRANSITIONS,
    ClockConfig,
    HandoffStatus,
    Refused,
    check_unit_transition,
    replies_unit,
)

from .incoming import Incoming

Handoff = dict[str, Any]
#: A unit's answer about its handoff (the case state machine's unit transitions).
CaseAnswer = (CaseHandoffAccepted | CaseHandoffRejected | CaseAccepted | CaseNotAccepted | CaseExtensionApproved
              | CaseProgressReported | CaseResolved)

#: A clock skew the referee tolerates between a unit's clock and its own (an answer "from the future").
SKEW = timedelta(minutes=10)
OUTCOMES = known(ResolutionOutcome)
TAGS = known(ResolutionTag)


def speaker(event: Incoming[EventRecord]) -> Unit:
    """The unit an answer is from: the unit of its replies topic, which its ``unit`` must name and
    whose principal signed it."""
    unit = replies_unit(event.topic)
    kind = event.payload.TYPE
    if unit is None:
        raise Refused(f"{kind} came on {event.topic}, which is no unit's replies topic")
    if event.signature_error is not None:
        raise Refused(f"{kind} is not {unit}'s word: {event.signature_error}")
    named = getattr(event.payload, "unit", None)
    if named != unit:
        raise Refused(f"{kind} names unit {named} but came on {unit}'s replies topic: "
                      f"a unit answers only for itself")
    return Unit(unit)


def handed(clocks: ClockConfig, at: datetime, role: str, due_from_above: str | None = None) -> Handoff:
    """A unit's handoff as the referee records it when the case is handed to the unit at ``at``;
    ``due_from_above``: the due date of an item assigned from above, which no clock may pass."""
    return {"status": HandoffStatus.REQUESTED.value, "role": role, "handed_at": at.isoformat(),
            "acceptance_due_at": _capped(clocks.acceptance_due(at), due_from_above).isoformat(),
            "objection_due_at": clocks.objection_due(at).isoformat(),
            "accepted_at": None, "handling_due_at": None, "extension_days": 0, "cap": due_from_above}


def check(handoff: Handoff | None, answer: CaseAnswer, unit: str, clocks: ClockConfig,
          now: datetime | None = None) -> tuple[Handoff, Deadline | None]:
    """The unit's handoff after its answer and the deadline that applies after it; raises
    ``Refused`` (``IllegalTransition`` for a step the state does not allow) with the reason."""
    kind, case_number, at = answer.TYPE, answer.case.case_number, answer.occurred_at
    if handoff is None:
        raise Refused(f"{case_number} was never handed to {unit}")
    _dated(kind, at, parse_time(handoff["handed_at"]), f"{case_number} was handed to {unit}", now)
    after = check_unit_transition(kind, HandoffStatus(handoff["status"]))
    h = dict(handoff)
    if after is not None:
        h["status"] = after.value
    return h, _CHECKS[type(answer)](Checked(answer, case_number, unit, at, handoff, h, clocks))


@dataclass
class Checked:
    """One unit answer being checked: ``before`` is the handoff as it was, ``after`` as the answer leaves it."""

    answer: Any  # the answer's class is the one its check is registered for in ``_CHECKS``
    case_number: str
    unit: str
    at: datetime
    before: Handoff
    after: Handoff
    clocks: ClockConfig

    @property
    def kind(self) -> str:
        return str(self.answer.TYPE)


def _signed(a: Checked) -> Deadline | None:
    _text(a.answer.signed_by, "signed_by", a.kind)
    return _deadline(Clock.ACCEPTANCE_NOTICE, a.after["acceptance_due_at"], a.clocks.acceptance_notice_days)


def _objected(a: Checked) -> Deadline | None:
    window = parse_time(a.before["objection_due_at"])
    if a.at > window:
        raise Refused(f"the objection window for {a.case_number} closed at {_local(window)} "
                      f"({a.clocks.objection_working_days} working days after the handoff); objected {_local(a.at)}")
    _text(a.answer.reason, "reason", a.kind)
    suggested = a.answer.suggested_unit
    if suggested not in (None, Unit.UNKNOWN) and (suggested not in HANDLING_UNITS or suggested == a.unit):
        raise Refused(f"suggested_unit {suggested} is not another unit on the bus")
    return _deadline(Clock.OBJECTION, a.before["objection_due_at"], a.clocks.objection_working_days, working=True)


def _accepted(a: Checked) -> Deadline | None:
    h = a.after
    h["accepted_at"] = a.at.isoformat()
    h["handling_due_at"] = _capped(a.clocks.handling_due(a.at), h.get("cap")).isoformat()
    return _deadline(Clock.HANDLING, h["handling_due_at"], a.clocks.handling_days)


def _not_accepted(a: Checked) -> Deadline | None:
    _text(a.answer.reason, "reason", a.kind)
    return None


def _extended(a: Checked) -> Deadline | None:
    h, clocks = a.after, a.clocks
    extra, used = a.answer.extra_days, h["extension_days"]
    if extra < 1 or used + extra > clocks.extension_max_days:
        raise Refused(f"extensions of {a.case_number} total at most {clocks.extension_max_days} days "
                      f"(Art. 32; {used} used), asked {extra}")
    _text(a.answer.reason, "reason", a.kind)
    h["extension_days"] = used + extra
    h["handling_due_at"] = _capped(clocks.handling_due(parse_time(h["accepted_at"]), used + extra), h.get("cap")).isoformat()
    return _deadline(Clock.HANDLING, h["handling_due_at"], clocks.handling_days + used + extra)


def _handling(a: Checked) -> Deadline | None:
    return _deadline(Clock.HANDLING, a.after["handling_due_at"], a.clocks.handling_days + a.after["extension_days"])


def _progress(a: Checked) -> Deadline | None:
    if not 0 <= a.answer.percent <= 100:
        raise Refused(f"case.progress: percent must be 0..100, got {a.answer.percent}")
    return _handling(a)


def _resolved(a: Checked) -> Deadline | None:
    outcome, tag = a.answer.outcome, a.answer.tag
    if outcome not in OUTCOMES or tag not in TAGS:
        raise Refused(f"case.resolved needs an outcome ({', '.join(OUTCOMES)}) and a tag ({', '.join(TAGS)}), "
                      f"got {outcome} / {tag}")
    _text(a.answer.opinion, "opinion", a.kind)
    return _handling(a)


#: What each answer must satisfy beyond its transition, and the deadline that applies after it.
_CHECKS: dict[type[EventRecord], Callable[[Checked], Deadline | None]] = {
    CaseHandoffAccepted: _signed, CaseHandoffRejected: _objected, CaseAccepted: _accepted,
    CaseNotAccepted: _not_accepted, CaseExtensionApproved: _extended, CaseProgressReported: _progress,
    CaseResolved: _resolved,
}
#: The answers about a handoff (the case state machine's unit transitions).
CASE_ANSWERS: tuple[type[EventRecord], ...] = tuple(_CHECKS)
assert {cls.TYPE for cls in CASE_ANSWERS} == set(UNIT_TRANSITIONS), "every unit transition the rules know, checked"


#: A review or re-check as the referee keeps it, under ``reviews[stage]`` of the case (plain JSON)::
#:
#:     {"body": "DISTRICT_GOVERNMENT", "applied_at": ..., "due_at": ..., "decision": None}
Review = dict[str, Any]
DECISIONS = known(ReviewDecision)


def check_review(review: Review, decision: ReviewDecided, body: str, now: datetime | None = None) -> Review:
    """The review after the body's decision; raises ``Refused`` with the reason. A body decides only
    what was requested of it, once, after the application, with a known decision and its text. A
    decision after its period is accepted (the petitioner is owed one) and supervised as overdue."""
    stage, case_number, at = decision.stage.value, decision.case.case_number, decision.occurred_at
    what = "re-check" if stage == "RECHECK" else "review"
    if review["body"] != body:
        raise Refused(f"the {what} of {case_number} was requested of {review['body']}, not of {body}")
    if review["decision"] is not None:
        raise Refused(f"the {what} of {case_number} was decided before ({review['decision']}); a body decides once")
    _dated(decision.TYPE, at, parse_time(review["applied_at"]), "the application", now)
    if decision.decision not in DECISIONS:
        raise Refused(f"review.decided needs a decision ({', '.join(DECISIONS)}), got {decision.decision}")
    _text(decision.text, "text", decision.TYPE)
    _text(decision.decided_by, "decided_by", decision.TYPE)
    return {**review, "decision": decision.decision.value, "decided_at": at.isoformat()}


def refusal(event: Incoming[EventRecord], reason: str, at: datetime, event_id: str) -> AnswerRefused:
    """The ``answer.refused`` telling the unit whose topic carried ``event`` why it was refused."""
    p = event.payload
    unit = replies_unit(event.topic) or getattr(p, "unit", None) or Unit.UNKNOWN
    case: CaseRef | None = getattr(p, "case", None)
    key = case.case_number if case is not None else str(getattr(p, "task_number", ""))
    return AnswerRefused(event_id=uuid.UUID(event_id), occurred_at=at, case=case, unit=Unit(unit), key=key,
                         refused_event_id=event.id, refused_type=p.TYPE, reason=reason)


def _dated(kind: str, at: datetime, earliest: datetime, what: str, now: datetime | None) -> None:
    """Refused: an answer dated before what it answers (``what``, at ``earliest``), or in the future."""
    if at < earliest:
        raise Refused(f"{kind} at {_local(at)} is dated before {what} ({_local(earliest)})")
    if now is not None and at > now + SKEW:
        raise Refused(f"{kind} is dated {_local(at)}, in the future (the bus's time is {_local(now)})")


def _capped(due: datetime, cap: str | None) -> datetime:
    """``due``, or the due date from above if that comes first."""
    return min(due, parse_time(cap)) if cap else due


def _text(value: str | None, name: str, kind: str) -> None:
    if not (value or "").strip():
        raise Refused(f"{kind}: {name} must not be empty")


def _deadline(clock: Clock, due: str | None, days: int, *, working: bool = False) -> Deadline | None:
    if due is None:
        return None
    return Deadline(clock=clock, due_at=parse_time(due), days=days, day_basis=DayBasis.WORKING if working else DayBasis.CALENDAR)


def _local(at: datetime) -> str:
    return at.astimezone(BUREAU_TZ).strftime("%Y-%m-%d %H:%M") + " (Beijing)"
