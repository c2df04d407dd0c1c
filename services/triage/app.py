"""Triage (分类 / 分流 / 转送交办): routes each registered petition to its units, re-routes on an
objection, hands a case on after the bureau's jurisdiction decision.

Its decisions are ``liandong.domain.triage.Triage``; this module only declares the service.
State: table triage-cases (case number -> routing state; bureau-internal: holds contact details).
"""

from __future__ import annotations

from pathlib import Path

import yaml
from liandong_sdk.events import (
    CaseHandoffRejected,
    CaseHandoffRequested,
    CaseJurisdictionDecided,
    CaseJurisdictionEscalated,
    PetitionDiverted,
    PetitionRegistered,
    PetitionTriaged,
)

from liandong import BUREAU_PETITIONS, BUREAU_TRIAGE, UNIT_INBOX, UNIT_REPLIES, Bus, concrete_topics
from liandong.domain import ClockConfig
from liandong.domain.routing import RoutingMatrix
from liandong.domain.triage import Triage
from liandong.runtime import Runtime
from liandong.service import Service, Table, faust_runtime

TRIAGE = Service(
    "triage",
    topics_in=(BUREAU_PETITIONS, BUREAU_TRIAGE, UNIT_REPLIES),
    topics_out=(BUREAU_TRIAGE, UNIT_INBOX),  # the inbox carries contact details for that unit's case only
    emits=(PetitionTriaged, PetitionDiverted, CaseJurisdictionEscalated, CaseHandoffRequested),
    tables=(Table("triage-cases", {
        PetitionRegistered: Triage.registered,  # route, or divert to another channel
        CaseHandoffRejected: Triage.rejected,  # the lead unit objects: the next unit, or escalate
        CaseJurisdictionDecided: Triage.decided,  # the bureau names the unit
    }),),
)
SERVICE = TRIAGE.name
TOPICS_IN = concrete_topics(*TRIAGE.topics_in)
ROUTING_FILE = Path(__file__).with_name("routing.yaml")


def load_routing(path: Path = ROUTING_FILE) -> RoutingMatrix:
    return RoutingMatrix.from_data(yaml.safe_load(path.read_text(encoding="utf-8")))


def build(bus: Bus, *, clocks: ClockConfig | None = None, routing: RoutingMatrix | None = None,
          app_id: str = SERVICE) -> Runtime:
    return faust_runtime(TRIAGE, bus, Triage(routing or load_routing(), clocks or ClockConfig()), app_id=app_id)
