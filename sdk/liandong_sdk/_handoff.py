"""A unit's handoff of a case and the answers each of its states allows.

REQUESTED -> SIGNED -> ACCEPTED -> IN_PROGRESS -> RESOLVED, or OBJECTED / NOT_ACCEPTED. The SDK
checks an answer against this before publishing it; the ledger applies the same table.
"""

from __future__ import annotations

from enum import StrEnum

from ._errors import IllegalTransition


class HandoffStatus(StrEnum):
    REQUESTED = "REQUESTED"
    SIGNED = "SIGNED"
    OBJECTED = "OBJECTED"
    ACCEPTED = "ACCEPTED"
    NOT_ACCEPTED = "NOT_ACCEPTED"
    IN_PROGRESS = "IN_PROGRESS"
    RESOLVED = "RESOLVED"


H = HandoffStatus
#: Unit answers: which handoff states allow them, and the state after.
UNIT_TRANSITIONS: dict[str, tuple[frozenset[HandoffStatus], HandoffStatus | None]] = {
    "case.handoff.accepted": (frozenset({H.REQUESTED}), H.SIGNED),
    "case.handoff.rejected": (frozenset({H.REQUESTED, H.SIGNED}), H.OBJECTED),
    "case.accepted": (frozenset({H.SIGNED}), H.ACCEPTED),
    "case.not_accepted": (frozenset({H.SIGNED}), H.NOT_ACCEPTED),
    "case.progress": (frozenset({H.ACCEPTED, H.IN_PROGRESS}), H.IN_PROGRESS),
    "case.extension.approved": (frozenset({H.ACCEPTED, H.IN_PROGRESS}), None),
    "case.resolved": (frozenset({H.ACCEPTED, H.IN_PROGRESS}), H.RESOLVED),
}

def check_unit_transition(event_type: str, current: HandoffStatus | None) -> HandoffStatus | None:
    """The handoff status after ``event_type``; raises IllegalTransition if not allowed now."""
    allowed, after = UNIT_TRANSITIONS[event_type]
    if current not in allowed:
        state = current.value if current else "no handoff"
        raise IllegalTransition(f"{event_type} is not allowed in state {state} "
                                f"(allowed in: {', '.join(sorted(s.value for s in allowed))})")
    return after
