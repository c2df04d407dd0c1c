"""Supervision's decisions, as plain functions over ``liandong.domain.supervision``: an incoming
event and the case's supervision record in, the events to publish out. No Kafka here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from liandong.domain.supervision import Action, SupervisedCase, Supervisor

#: What moves a clock (or names a trigger); every other event on the topics read is skipped.
WATCHED = frozenset({
    "petition.registered", "petition.triaged", "petition.diverted", "petition.repeat.detected",
    "case.handoff.requested", "case.handoff.rejected", "case.accepted", "case.not_accepted",
    "case.extension.approved", "case.resolved",
    "supervision.recommendation", "supervision.feedback",
    "supervision.reminder", "supervision.notice", "supervision.listed",  # our own letters, read back
})


def on_event(sup: Supervisor, event_type: str, event_id: str, data: dict[str, Any], state: SupervisedCase,
             earlier: SupervisedCase | None = None) -> tuple[bool, list[Action]]:
    """Folds the event into ``state`` (True if it changed); for a repeat petition, the notice to the
    unit that had the earlier case (``earlier``, whose record then changed too)."""
    out: list[Action] = []
    if event_type == "petition.repeat.detected" and event_id not in state.seen:
        out = sup.repeat(earlier, event_id, data)
    return sup.apply(state, event_type, data, event_id), out


def tick(sup: Supervisor, state: SupervisedCase, now: datetime) -> list[Action]:
    """The letters and listings due now for one case (marked issued in ``state``)."""
    return sup.due(state, now)
