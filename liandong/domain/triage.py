"""Triage's decisions (分类 / 分流 / 转送交办), as plain functions: the case's routing state and an
incoming event in, the new state and the events to publish out. No Kafka here, so every rule is
unit-testable; ``services/triage`` maps event types to these methods.

Event ids are derived from the incoming event's id: handling the same event twice yields
the same outgoing ids, which downstream handlers recognise.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from liandong_sdk.records import case_ref
from liandong_sdk.rules import ClockConfig

from .incoming import Incoming
from .routing import RoutingMatrix

Out = list[tuple[str, dict[str, Any]]]
State = dict[str, Any]

_IDS = uuid.UUID("0b8a3c6e-2d55-4a0a-8f0e-7c1d7f4e9a21")


@dataclass(frozen=True)
class Triage:
    routing: RoutingMatrix
    clocks: ClockConfig

    # -- petition.registered ------------------------------------------------------------
    def registered(self, state: State | None, event: Incoming) -> tuple[State | None, Out]:
        event_id, data = event.id, event.data
        if data.get("repeat_of"):
            return None, []  # linked to the earlier case by intake; not handled twice (Art. 19)
        at: datetime = data["occurred_at"]
        case = case_ref(data["case"])
        decision = self.routing.decide(data["category_hint"], data["summary"])
        if decision.diversion is not None:
            return None, [("petition.diverted", {
                **_base(event_id, "diverted", at, case),
                "category": decision.category, "diversion_channel": decision.diversion.channel,
                "explanation": decision.diversion.explanation,
            })]
        assert decision.route is not None
        state = {
            "case": case, "petitioner": data["petitioner"], "summary": data["summary"],
            "category": decision.category, "mode": decision.route.mode, "lead": decision.route.lead,
            "co": list(decision.co_units), "tried": [decision.route.lead], "attempt": 1, "escalated": False,
        }
        out: Out = [("petition.triaged", {
            **_base(event_id, "triaged", at, case),
            "category": decision.category, "lead_unit": decision.route.lead, "co_units": list(decision.co_units),
            "mode": decision.route.mode, "rationale": decision.route.rationale or f"route for {decision.category}",
        })]
        out.append(self._handoff(event_id, at, state, decision.route.lead, "LEAD"))
        out += [self._handoff(event_id, at, state, unit, "CO") for unit in decision.co_units]
        return state, out

    # -- case.handoff.rejected ------------------------------------------------------------
    def rejected(self, state: State | None, event: Incoming) -> tuple[State | None, Out]:
        event_id, data = event.id, event.data
        if state is None or state["escalated"] or data["unit"] != state["lead"]:
            return state, []  # a co-unit's objection only drops it; the ledger records it
        at: datetime = data["occurred_at"]
        bounces = len(state["tried"])
        suggested = data.get("suggested_unit")
        nxt = None if bounces >= self.clocks.max_bounces else self.routing.next_lead(state["category"], state["tried"], suggested,
                                                                                     tuple(state["co"]))
        if nxt is None:
            state = {**state, "escalated": True}
            return state, [("case.jurisdiction.escalated", {
                **_base(event_id, "escalated", at, state["case"]),
                "units_tried": list(state["tried"]), "reason": data["reason"],
            })]
        state = {**state, "lead": nxt, "co": [u for u in state["co"] if u != nxt], "tried": [*state["tried"], nxt],
                 "attempt": state["attempt"] + 1}
        return state, [self._handoff(event_id, at, state, nxt, "LEAD")]

    # -- case.jurisdiction.decided ---------------------------------------------------------
    def decided(self, state: State | None, event: Incoming) -> tuple[State | None, Out]:
        event_id, data = event.id, event.data
        unit = data["unit"]
        if state is None or unit not in self.routing.handling_units:
            return state, []  # no such case here, or a unit without an inbox on the bus
        state = {**state, "lead": unit, "mode": "ASSIGN", "escalated": False, "attempt": state["attempt"] + 1,
                 "tried": [*state["tried"], unit], "co": [u for u in state["co"] if u != unit]}
        return state, [self._handoff(event_id, data["occurred_at"], state, unit, "LEAD")]

    def _handoff(self, event_id: str, at: datetime, state: dict[str, Any], unit: str, role: str) -> tuple[str, dict[str, Any]]:
        due = self.clocks.acceptance_due(at)
        return ("case.handoff.requested", {
            **_base(event_id, f"handoff/{unit}", at, state["case"]),
            "deadline": {"clock": "ACCEPTANCE_NOTICE", "due_at": due, "days": self.clocks.acceptance_notice_days,
                         "day_basis": "CALENDAR"},
            "unit": unit, "role": role, "mode": state["mode"], "category": state["category"],
            "summary": state["summary"],
            # Contact details go to the handling units of this case only, on their own inbox.
            "petitioner": state["petitioner"],
            "attempt": state["attempt"],
        })


def _base(event_id: str, what: str, at: datetime, case: dict[str, Any]) -> dict[str, Any]:
    return {"event_id": str(uuid.uuid5(_IDS, f"{event_id}/{what}")), "occurred_at": at, "case": case, "deadline": None}
