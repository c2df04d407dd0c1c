"""Triage's decisions (分类 / 分流 / 转送交办), as plain functions: the case's routing state and an
incoming event in, the new state and the events to publish out. No Kafka here, so every rule is
unit-testable; ``services/triage`` maps event types to these methods.

Triage hands cases to units, so it is also the referee of their answers (``answers``): it keeps
each unit's handoff, checks every answer against it and publishes what it accepts again (the
checked copy, with the deadline that now applies), which is what every other service acts on.

Event ids are derived from the incoming event's id: handling the same event twice yields
the same outgoing ids, which downstream handlers recognise.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from liandong_sdk.events import (
    EVENT_CLASSES,
    CaseAccepted,
    CaseDeadlineSet,
    CaseExtensionApproved,
    CaseHandoffRejected,
    CaseHandoffRequested,
    CaseJurisdictionDecided,
    CaseJurisdictionEscalated,
    CaseRef,
    Clock,
    DayBasis,
    Deadline,
    DiversionChannel,
    EventRecord,
    HandoffMode,
    HandoffRole,
    MatterCategory,
    PetitionDiverted,
    Petitioner,
    PetitionRegistered,
    PetitionTriaged,
    ReviewDecided,
    ReviewRequested,
    Unit,
)
from liandong_sdk.records import case_ref, json_default
from liandong_sdk.rules import ClockConfig, Refused

from . import answers
from .answers import CaseAnswer
from .incoming import Incoming
from .routing import RoutingMatrix

Out = list[EventRecord]
State = dict[str, Any]

_IDS = uuid.UUID("0b8a3c6e-2d55-4a0a-8f0e-7c1d7f4e9a21")


@dataclass(frozen=True)
class Triage:
    routing: RoutingMatrix
    clocks: ClockConfig
    #: The bus's time, to refuse answers dated in the future (None: not checked).
    now: Callable[[], datetime] | None = None

    # -- petition.registered ------------------------------------------------------------
    def registered(self, state: State | None, event: Incoming[PetitionRegistered]) -> tuple[State | None, Out]:
        held = (state or {}).get("held", []) if state is None or "case" not in state else []
        state, out = self._registered(event)
        for answer in held:  # answers read before the case (see ``answered``): judged now
            state, more = self._judge(state, _Held(answer))
            out += more
        return state, out

    def _registered(self, event: Incoming[PetitionRegistered]) -> tuple[State | None, Out]:
        p = event.payload
        if p.repeat_of:
            return None, []  # linked to the earlier case by intake; not handled twice (Art. 19)
        at, case = p.occurred_at, p.case
        decision = self.routing.decide(p.category_hint, p.summary)
        # An item assigned from above: its due date bounds every unit's clock (ISO text, or None).
        due_from_above = p.assigned_due_at.isoformat() if p.assigned_due_at else None
        kept = {"case": case_ref(case.to_record()), "petitioner": p.petitioner.to_record(), "summary": p.summary,
                "category": decision.category, "tried": [], "escalated": False, "handoffs": {},
                "due_from_above": due_from_above}
        if decision.diversion is not None:
            # Kept, so that the bureau can still route it (``liandong case route``: un-divert).
            kept |= {"mode": "ASSIGN", "lead": None, "co": [], "attempt": 0, "diverted": decision.diversion.channel}
            return kept, [PetitionDiverted(
                event_id=_id(event.id, "diverted"), occurred_at=at, case=case,
                category=MatterCategory(decision.category), diversion_channel=DiversionChannel(decision.diversion.channel),
                explanation=decision.diversion.explanation, matched=list(decision.matched))]
        route = decision.route
        assert route is not None
        state = kept | {"mode": route.mode, "lead": route.lead, "co": list(decision.co_units), "tried": [route.lead],
                        "attempt": 1}
        part = decision.diverted_part
        out: Out = [PetitionTriaged(
            event_id=_id(event.id, "triaged"), occurred_at=at, case=case,
            category=MatterCategory(decision.category), lead_unit=Unit(route.lead),
            co_units=[Unit(u) for u in decision.co_units], mode=HandoffMode(route.mode),
            rationale=route.rationale or f"route for {decision.category}", matched=list(decision.matched),
            diverted_part_channel=DiversionChannel(part.channel) if part else None,
            diverted_part_explanation=part.explanation if part else None,
        )]
        for unit, role in [(route.lead, "LEAD"), *((u, "CO") for u in decision.co_units)]:
            state, handoff = self._handoff(event.id, at, state, unit, role)
            out.append(handoff)
        return state, out

    # -- a unit's answer about its handoff (the referee) -------------------------------------
    def answered(self, state: State | None, event: Incoming[CaseAnswer]) -> tuple[State | None, Out]:
        """Checks the answer (``answers.check``; raises Refused) and publishes the checked copy;
        the lead's objection also re-routes the case."""
        unit = answers.speaker(event)
        if state is None or "case" not in state:
            # Triage knows nothing of the case yet: after a restart its state can lag behind the
            # handoffs it had published (the redelivered petition read after the units' answers).
            # Held, and judged once the case is known; never refused for a state not yet restored.
            return {"held": [*(state or {}).get("held", []), _hold(event)][-50:]}, []
        p = event.payload
        handoffs = state.get("handoffs", {})
        handoff, deadline = answers.check(handoffs.get(unit), p, unit, self.clocks, self.now() if self.now else None)
        state = {**state, "handoffs": {**handoffs, unit: handoff}}
        out: Out = [replace(p, deadline=deadline)]
        if isinstance(p, (CaseAccepted, CaseExtensionApproved)) and deadline is not None:
            # the unit learns the handling deadline its answer started or moved, on its inbox
            out.append(CaseDeadlineSet(
                event_id=_id(event.id, "deadline"), occurred_at=p.occurred_at, case=p.case, deadline=deadline,
                unit=unit, cause_event_id=event.id, cause_type=p.TYPE))
        if isinstance(p, CaseHandoffRejected):
            state, more = self._rerouted(state, p, event.id)
            out += more
        return state, out

    def _judge(self, state: State | None, event: Incoming[CaseAnswer]) -> tuple[State | None, Out]:
        try:
            new, out = self.answered(state, event)
        except Refused as exc:
            return state, self.refused(event, str(exc))
        return new, out

    def vouched(self, state: State | None, event: Incoming[EventRecord]) -> tuple[State | None, Out]:
        """A unit's answer the coordination service judges (mediation, package, task, feedback):
        published again once it is known to speak for the unit whose topic it came on."""
        answers.speaker(event)
        return None, [event.payload]

    def refused(self, event: Incoming[EventRecord], reason: str) -> Out:
        """What the unit is told of an answer the bus refused, on its inbox."""
        at: datetime = self.now() if self.now else event.payload.occurred_at  # type: ignore[attr-defined]
        return [answers.refusal(event, reason, at, str(uuid.uuid5(_IDS, f"{event.id}/refused")))]

    # -- review and re-check (复查/复核, Art. 35, 36) -----------------------------------------------
    def review_requested(self, state: State | None, event: Incoming[ReviewRequested]) -> tuple[State | None, Out]:
        """The bureau asked a reviewing body to review (or re-check): kept, so that only that body's
        decision passes; a decision read before the request (another topic) is judged now."""
        p = event.payload
        review = {"body": p.unit.value, "applied_at": p.applied_at.isoformat(),
                  "due_at": p.deadline.due_at.isoformat() if p.deadline else None, "decision": None}
        state = {**(state or {}), "reviews": {**(state or {}).get("reviews", {}), p.stage.value: review}}
        held, state["held_decisions"] = state.get("held_decisions", []), []
        out: Out = []
        for decision in held:
            try:
                state, more = self.review_decided(state, _Held(decision))
            except Refused as exc:
                more = self.refused(_Held(decision), str(exc))
            out += more
        return state, out

    def review_decided(self, state: State | None, event: Incoming[ReviewDecided]) -> tuple[State | None, Out]:
        """A reviewing body's decision, checked (``answers.check_review``) and published again."""
        body = answers.speaker(event)
        p = event.payload
        state = state or {}
        review = state.get("reviews", {}).get(p.stage.value)
        if review is None:
            # The request (on the body's inbox) may be read after the decision (on its replies): held.
            return {**state, "held_decisions": [*state.get("held_decisions", []), _hold(event)][-50:]}, []
        review = answers.check_review(review, p, body, self.now() if self.now else None)
        return {**state, "reviews": {**state["reviews"], p.stage.value: review}}, [p]

    # -- case.handoff.rejected, once checked ----------------------------------------------------
    def rejected(self, state: State, event: Incoming[CaseHandoffRejected]) -> tuple[State, Out]:
        """The lead's objection (checked): the case handed to the next unit, or escalated to the bureau."""
        return self._rerouted(state, event.payload, event.id)

    def _rerouted(self, state: State, p: CaseHandoffRejected, event_id: str) -> tuple[State, Out]:
        if state["escalated"] or p.unit != state["lead"]:
            return state, []  # a co-unit's objection only drops it; the ledger records it
        at = p.occurred_at
        bounces = len(state["tried"])
        suggested = p.suggested_unit if p.suggested_unit is not Unit.UNKNOWN else None
        nxt = None if bounces >= self.clocks.max_bounces else self.routing.next_lead(state["category"], state["tried"], suggested,
                                                                                     tuple(state["co"]))
        if nxt is None:
            state = {**state, "escalated": True}
            return state, [CaseJurisdictionEscalated(
                event_id=_id(event_id, "escalated"), occurred_at=at, case=p.case,
                units_tried=[Unit(u) for u in state["tried"]], reason=p.reason)]
        state = {**state, "lead": nxt, "co": [u for u in state["co"] if u != nxt], "tried": [*state["tried"], nxt],
                 "attempt": state["attempt"] + 1}
        state, handoff = self._handoff(event_id, at, state, nxt, "LEAD")
        return state, [handoff]

    # -- case.jurisdiction.decided ---------------------------------------------------------
    def decided(self, state: State | None, event: Incoming[CaseJurisdictionDecided]) -> tuple[State | None, Out]:
        p = event.payload
        unit = p.unit
        if state is None or "case" not in state or unit not in self.routing.handling_units:
            return state, []  # no such case here, or a unit without an inbox on the bus
        # An escalated case, a routed one the bureau re-routes, or a diverted one it routes after all.
        state = {**state, "lead": unit, "mode": "ASSIGN", "escalated": False, "attempt": state["attempt"] + 1,
                 "tried": [*state["tried"], unit], "co": [u for u in state["co"] if u != unit], "diverted": None}
        state, handoff = self._handoff(event.id, p.occurred_at, state, unit, "LEAD")
        return state, [handoff]

    def _handoff(self, event_id: str, at: datetime, state: State, unit: str, role: str) -> tuple[State, CaseHandoffRequested]:
        """The case handed to ``unit``: its handoff kept (a new one starts over) and the event."""
        handoff = answers.handed(self.clocks, at, role, state.get("due_from_above"))
        state = {**state, "handoffs": {**state.get("handoffs", {}), unit: handoff}}
        return state, CaseHandoffRequested(
            event_id=_id(event_id, f"handoff/{unit}"), occurred_at=at, case=CaseRef.from_record(state["case"]),
            deadline=Deadline(clock=Clock.ACCEPTANCE_NOTICE, due_at=datetime.fromisoformat(handoff["acceptance_due_at"]),
                              days=self.clocks.acceptance_notice_days, day_basis=DayBasis.CALENDAR),
            objection_due_at=datetime.fromisoformat(handoff["objection_due_at"]),
            unit=Unit(unit), role=HandoffRole(role), mode=HandoffMode(state["mode"]),
            category=MatterCategory(state["category"]), summary=state["summary"],
            # Contact details go to the handling units of this case only, on their own inbox.
            petitioner=Petitioner.from_record(state["petitioner"]),
            attempt=state["attempt"],
        )


@dataclass(frozen=True)
class _Held:
    """An answer held in the state (JSON), as an incoming event again."""

    held: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.held["id"])

    @property
    def topic(self) -> str:
        return str(self.held["topic"])

    @property
    def payload(self) -> Any:
        return EVENT_CLASSES[self.held["type"]].from_record(self.held["data"])

    @property
    def signature_error(self) -> str | None:
        return None  # held only once its speaker was known (``answered``, ``review_decided``)


def _hold(event: Incoming[EventRecord]) -> dict[str, Any]:
    p = replace(event.payload, deadline=None)  # type: ignore[type-var]
    data = json.loads(json.dumps(p.to_record(), default=json_default))
    return {"type": p.TYPE, "id": event.id, "topic": event.topic, "data": data}


def _id(event_id: str, what: str) -> uuid.UUID:
    """The id of what handling ``event_id`` publishes (``what``): the same each time it is handled."""
    return uuid.uuid5(_IDS, f"{event_id}/{what}")
