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
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from liandong_sdk.events import (
    AnswerRefused,
    CaseAccepted,
    CaseDeadlineSet,
    CaseExtensionApproved,
    CaseHandoffRejected,
    CaseHandoffRequested,
    CaseJurisdictionEscalated,
    PetitionDiverted,
    PetitionTriaged,
)
from liandong_sdk.records import case_ref, json_default
from liandong_sdk.rules import ClockConfig, Refused

from . import answers
from .incoming import Incoming
from .routing import RoutingMatrix

Out = list[tuple[str, dict[str, Any]]]
State = dict[str, Any]

_IDS = uuid.UUID("0b8a3c6e-2d55-4a0a-8f0e-7c1d7f4e9a21")


@dataclass(frozen=True)
class Triage:
    routing: RoutingMatrix
    clocks: ClockConfig
    #: The bus's time, to refuse answers dated in the future (None: not checked).
    now: Callable[[], datetime] | None = None

    # -- petition.registered ------------------------------------------------------------
    def registered(self, state: State | None, event: Incoming) -> tuple[State | None, Out]:
        held = (state or {}).get("held", []) if state is None or "case" not in state else []
        state, out = self._registered(event)
        for answer in held:  # answers read before the case (see ``answered``): judged now
            state, more = self._judge(state, _Held(answer))
            out += more
        return state, out

    def _registered(self, event: Incoming) -> tuple[State | None, Out]:
        event_id, data = event.id, event.data
        if data.get("repeat_of"):
            return None, []  # linked to the earlier case by intake; not handled twice (Art. 19)
        at: datetime = data["occurred_at"]
        case = case_ref(data["case"])
        decision = self.routing.decide(data["category_hint"], data["summary"])
        # An item assigned from above: its due date bounds every unit's clock (ISO text, or None).
        due_from_above = data["assigned_due_at"].isoformat() if data.get("assigned_due_at") else None
        if decision.diversion is not None:
            # Kept, so that the bureau can still route it (``liandong case route``: un-divert).
            kept = {"case": case, "petitioner": data["petitioner"], "summary": data["summary"],
                    "category": decision.category, "mode": "ASSIGN", "lead": None, "co": [], "tried": [], "attempt": 0,
                    "escalated": False, "handoffs": {}, "diverted": decision.diversion.channel,
                    "due_from_above": due_from_above}
            return kept, [(PetitionDiverted.TYPE, {
                **_base(event_id, "diverted", at, case),
                "category": decision.category, "diversion_channel": decision.diversion.channel,
                "explanation": decision.diversion.explanation, "matched": list(decision.matched),
            })]
        assert decision.route is not None
        state = {
            "case": case, "petitioner": data["petitioner"], "summary": data["summary"],
            "category": decision.category, "mode": decision.route.mode, "lead": decision.route.lead,
            "co": list(decision.co_units), "tried": [decision.route.lead], "attempt": 1, "escalated": False,
            "handoffs": {},
            "due_from_above": due_from_above,
        }
        out: Out = [(PetitionTriaged.TYPE, {
            **_base(event_id, "triaged", at, case),
            "category": decision.category, "lead_unit": decision.route.lead, "co_units": list(decision.co_units),
            "mode": decision.route.mode, "rationale": decision.route.rationale or f"route for {decision.category}",
            "matched": list(decision.matched),
            "diverted_part_channel": decision.diverted_part.channel if decision.diverted_part else None,
            "diverted_part_explanation": decision.diverted_part.explanation if decision.diverted_part else None,
        })]
        for unit, role in [(decision.route.lead, "LEAD"), *((u, "CO") for u in decision.co_units)]:
            state, handoff = self._handoff(event_id, at, state, unit, role)
            out.append(handoff)
        return state, out

    # -- a unit's answer about its handoff (the referee) -------------------------------------
    def answered(self, state: State | None, event: Incoming) -> tuple[State | None, Out]:
        """Checks the answer (``answers.check``; raises Refused) and publishes the checked copy;
        the lead's objection also re-routes the case."""
        unit = answers.speaker(event)
        if state is None or "case" not in state:
            # Triage knows nothing of the case yet: after a restart its state can lag behind the
            # handoffs it had published (the redelivered petition read after the units' answers).
            # Held, and judged once the case is known; never refused for a state not yet restored.
            return {"held": [*(state or {}).get("held", []), _hold(event)][-50:]}, []
        handoffs = state.get("handoffs", {})
        handoff, deadline = answers.check(handoffs.get(unit), event, unit, self.clocks, self.now() if self.now else None)
        assert state is not None  # a handoff was found in it
        state = {**state, "handoffs": {**handoffs, unit: handoff}}
        out: Out = [(event.type, {**event.data, "deadline": deadline})]
        if event.type in (CaseAccepted.TYPE, CaseExtensionApproved.TYPE) and deadline is not None:
            # the unit learns the handling deadline its answer started or moved, on its inbox
            out.append((CaseDeadlineSet.TYPE, {
                **_base(event.id, "deadline", event.data["occurred_at"], state["case"]), "deadline": deadline,
                "unit": unit, "cause_event_id": event.id, "cause_type": event.type}))
        if event.type == CaseHandoffRejected.TYPE:
            state, more = self.rejected(state, event)
            out += more
        return state, out

    def _judge(self, state: State | None, event: Incoming) -> tuple[State | None, Out]:
        try:
            new, out = self.answered(state, event)
        except Refused as exc:
            return state, self.refused(event, str(exc))
        return new, out

    def vouched(self, state: State | None, event: Incoming) -> tuple[State | None, Out]:
        """A unit's answer the coordination service judges (mediation, package, task, feedback):
        published again once it is known to speak for the unit whose topic it came on."""
        answers.speaker(event)
        return None, [(event.type, event.data)]

    def refused(self, event: Incoming, reason: str) -> Out:
        """What the unit is told of an answer the bus refused, on its inbox."""
        at: datetime = self.now() if self.now else event.data["occurred_at"]
        return [(AnswerRefused.TYPE, answers.refusal(event, reason, at, str(uuid.uuid5(_IDS, f"{event.id}/refused"))))]

    # -- case.handoff.rejected, once checked ----------------------------------------------------
    def rejected(self, state: State, event: Incoming) -> tuple[State, Out]:
        event_id, data = event.id, event.data
        if state["escalated"] or data["unit"] != state["lead"]:
            return state, []  # a co-unit's objection only drops it; the ledger records it
        at: datetime = data["occurred_at"]
        bounces = len(state["tried"])
        suggested = data.get("suggested_unit")
        nxt = None if bounces >= self.clocks.max_bounces else self.routing.next_lead(state["category"], state["tried"], suggested,
                                                                                     tuple(state["co"]))
        if nxt is None:
            state = {**state, "escalated": True}
            return state, [(CaseJurisdictionEscalated.TYPE, {
                **_base(event_id, "escalated", at, state["case"]),
                "units_tried": list(state["tried"]), "reason": data["reason"],
            })]
        state = {**state, "lead": nxt, "co": [u for u in state["co"] if u != nxt], "tried": [*state["tried"], nxt],
                 "attempt": state["attempt"] + 1}
        state, handoff = self._handoff(event_id, at, state, nxt, "LEAD")
        return state, [handoff]

    # -- case.jurisdiction.decided ---------------------------------------------------------
    def decided(self, state: State | None, event: Incoming) -> tuple[State | None, Out]:
        event_id, data = event.id, event.data
        unit = data["unit"]
        if state is None or "case" not in state or unit not in self.routing.handling_units:
            return state, []  # no such case here, or a unit without an inbox on the bus
        # An escalated case, a routed one the bureau re-routes, or a diverted one it routes after all.
        state = {**state, "lead": unit, "mode": "ASSIGN", "escalated": False, "attempt": state["attempt"] + 1,
                 "tried": [*state["tried"], unit], "co": [u for u in state["co"] if u != unit], "diverted": None}
        state, handoff = self._handoff(event_id, data["occurred_at"], state, unit, "LEAD")
        return state, [handoff]

    def _handoff(self, event_id: str, at: datetime, state: State, unit: str, role: str) -> tuple[State, tuple[str, dict[str, Any]]]:
        """The case handed to ``unit``: its handoff kept (a new one starts over) and the event."""
        handoff = answers.handed(self.clocks, at, role, state.get("due_from_above"))
        state = {**state, "handoffs": {**state.get("handoffs", {}), unit: handoff}}
        return state, (CaseHandoffRequested.TYPE, {
            **_base(event_id, f"handoff/{unit}", at, state["case"]),
            "deadline": {"clock": "ACCEPTANCE_NOTICE", "due_at": datetime.fromisoformat(handoff["acceptance_due_at"]),
                         "days": self.clocks.acceptance_notice_days, "day_basis": "CALENDAR"},
            "objection_due_at": datetime.fromisoformat(handoff["objection_due_at"]),
            "unit": unit, "role": role, "mode": state["mode"], "category": state["category"],
            "summary": state["summary"],
            # Contact details go to the handling units of this case only, on their own inbox.
            "petitioner": state["petitioner"],
            "attempt": state["attempt"],
        })


@dataclass(frozen=True)
class _Held:
    """An answer held in the state (JSON), as an incoming event again."""

    held: dict[str, Any]

    @property
    def type(self) -> str:
        return str(self.held["type"])

    @property
    def id(self) -> str:
        return str(self.held["id"])

    @property
    def topic(self) -> str:
        return str(self.held["topic"])

    @property
    def data(self) -> dict[str, Any]:
        return {**self.held["data"], "occurred_at": datetime.fromisoformat(self.held["data"]["occurred_at"])}


def _hold(event: Incoming) -> dict[str, Any]:
    data = json.loads(json.dumps({k: v for k, v in event.data.items() if k != "deadline"}, default=json_default))
    return {"type": event.type, "id": event.id, "topic": event.topic, "data": {**data, "deadline": None}}


def _base(event_id: str, what: str, at: datetime, case: dict[str, Any]) -> dict[str, Any]:
    return {"event_id": str(uuid.uuid5(_IDS, f"{event_id}/{what}")), "occurred_at": at, "case": case, "deadline": None}
