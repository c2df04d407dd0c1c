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

from datetime import datetime, timedelta
from typing import Any

from liandong_sdk.events import ResolutionOutcome, ResolutionTag, known
from liandong_sdk.rules import (
    BUREAU_TZ,
    HANDLING_UNITS,
    ClockConfig,
    HandoffStatus,
    Refused,
    check_unit_transition,
    replies_unit,
)

from .incoming import Incoming

Handoff = dict[str, Any]
Deadline = dict[str, Any]

#: The answers about a handoff (the case state machine's unit transitions).
CASE_ANSWERS = ("case.handoff.accepted", "case.handoff.rejected", "case.accepted", "case.not_accepted",
                "case.progress", "case.extension.approved", "case.resolved")
#: A clock skew the referee tolerates between a unit's clock and its own (an answer "from the future").
SKEW = timedelta(minutes=10)
OUTCOMES = known(ResolutionOutcome)
TAGS = known(ResolutionTag)


def speaker(event: Incoming) -> str:
    """The unit an answer is from: the unit of its replies topic, which its ``unit`` must name."""
    unit = replies_unit(event.topic)
    if unit is None:
        raise Refused(f"{event.type} came on {event.topic}, which is no unit's replies topic")
    named = event.data.get("unit")
    if named != unit:
        raise Refused(f"{event.type} names unit {named} but came on {unit}'s replies topic: "
                      f"a unit answers only for itself")
    return unit


def handed(clocks: ClockConfig, at: datetime, role: str, due_from_above: str | None = None) -> Handoff:
    """A unit's handoff as the referee records it when the case is handed to the unit at ``at``;
    ``due_from_above``: the due date of an item assigned from above, which no clock may pass."""
    return {"status": HandoffStatus.REQUESTED.value, "role": role, "handed_at": at.isoformat(),
            "acceptance_due_at": _capped(clocks.acceptance_due(at), due_from_above).isoformat(),
            "objection_due_at": clocks.objection_due(at).isoformat(),
            "accepted_at": None, "handling_due_at": None, "extension_days": 0, "cap": due_from_above}


def check(handoff: Handoff | None, event: Incoming, unit: str, clocks: ClockConfig,
          now: datetime | None = None) -> tuple[Handoff, Deadline | None]:
    """The unit's handoff after its answer and the deadline that applies after it; raises
    ``Refused`` (``IllegalTransition`` for a step the state does not allow) with the reason."""
    kind, data = event.type, event.data
    case_number = data["case"]["case_number"]
    if handoff is None:
        raise Refused(f"{case_number} was never handed to {unit}")
    at: datetime = data["occurred_at"]
    handed_at = _time(handoff["handed_at"])
    if at < handed_at:
        raise Refused(f"{kind} at {_local(at)} is dated before {case_number} was handed to {unit} ({_local(handed_at)})")
    if now is not None and at > now + SKEW:
        raise Refused(f"{kind} is dated {_local(at)}, in the future (the bus's time is {_local(now)})")
    after = check_unit_transition(kind, HandoffStatus(handoff["status"]))
    h = dict(handoff)
    if after is not None:
        h["status"] = after.value
    deadline: Deadline | None = None
    if kind == "case.handoff.accepted":
        _text(data, "signed_by", kind)
        deadline = _deadline("ACCEPTANCE_NOTICE", h["acceptance_due_at"], clocks.acceptance_notice_days)
    elif kind == "case.handoff.rejected":
        window = _time(handoff["objection_due_at"])
        if at > window:
            raise Refused(f"the objection window for {case_number} closed at {_local(window)} "
                          f"({clocks.objection_working_days} working days after the handoff); objected {_local(at)}")
        _text(data, "reason", kind)
        suggested = data.get("suggested_unit")
        if suggested not in (None, "UNKNOWN") and (suggested not in HANDLING_UNITS or suggested == unit):
            raise Refused(f"suggested_unit {suggested} is not another unit on the bus")
        deadline = _deadline("OBJECTION", handoff["objection_due_at"], clocks.objection_working_days, working=True)
    elif kind == "case.accepted":
        h["accepted_at"] = at.isoformat()
        h["handling_due_at"] = _capped(clocks.handling_due(at), h.get("cap")).isoformat()
        deadline = _deadline("HANDLING", h["handling_due_at"], clocks.handling_days)
    elif kind == "case.not_accepted":
        _text(data, "reason", kind)
    elif kind == "case.extension.approved":
        extra, used = data["extra_days"], h["extension_days"]
        if extra < 1 or used + extra > clocks.extension_max_days:
            raise Refused(f"extensions of {case_number} total at most {clocks.extension_max_days} days "
                          f"(Art. 32; {used} used), asked {extra}")
        _text(data, "reason", kind)
        h["extension_days"] = used + extra
        h["handling_due_at"] = _capped(clocks.handling_due(_time(h["accepted_at"]), used + extra), h.get("cap")).isoformat()
        deadline = _deadline("HANDLING", h["handling_due_at"], clocks.handling_days + used + extra)
    elif kind in ("case.progress", "case.resolved"):
        if kind == "case.progress" and not 0 <= data["percent"] <= 100:
            raise Refused(f"case.progress: percent must be 0..100, got {data['percent']}")
        if kind == "case.resolved":
            if data["outcome"] not in OUTCOMES or data["tag"] not in TAGS:
                raise Refused(f"case.resolved needs an outcome ({', '.join(OUTCOMES)}) and a tag ({', '.join(TAGS)}), "
                              f"got {data['outcome']} / {data['tag']}")
            _text(data, "opinion", kind)
        deadline = _deadline("HANDLING", h["handling_due_at"], clocks.handling_days + h["extension_days"])
    return h, deadline


def refusal(event: Incoming, reason: str, at: datetime, event_id: str) -> dict[str, Any]:
    """The ``answer.refused`` record telling the unit whose topic carried ``event`` why it was refused."""
    data = event.data
    unit = replies_unit(event.topic) or data.get("unit") or "UNKNOWN"
    case = data.get("case")
    key = case["case_number"] if isinstance(case, dict) and "case_number" in case else str(data.get("task_number", ""))
    return {"event_id": event_id, "occurred_at": at, "case": case if isinstance(case, dict) else None,
            "deadline": None, "unit": unit, "key": key, "refused_event_id": event.id, "refused_type": event.type,
            "reason": reason}


def _capped(due: datetime, cap: str | None) -> datetime:
    """``due``, or the due date from above if that comes first."""
    return min(due, _time(cap)) if cap else due


def _text(data: dict[str, Any], name: str, kind: str) -> None:
    if not str(data.get(name) or "").strip():
        raise Refused(f"{kind}: {name} must not be empty")


def _deadline(clock: str, due: str | None, days: int, *, working: bool = False) -> Deadline | None:
    if due is None:
        return None
    return {"clock": clock, "due_at": _time(due), "days": days, "day_basis": "WORKING" if working else "CALENDAR"}


def _time(value: str | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def _local(at: datetime) -> str:
    return at.astimezone(BUREAU_TZ).strftime("%Y-%m-%d %H:%M") + " (Beijing)"
