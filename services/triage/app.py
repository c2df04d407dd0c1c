"""Triage (分类 / 分流 / 转送交办): routes each registered petition to its units, re-routes on an
objection, hands a case on after the bureau's jurisdiction decision; and, as the one that hands
cases out, referees every unit's answer (the bus is the referee: ``liandong.domain.answers``).

Its decisions are ``liandong.domain.triage.Triage``; this module only declares the service.
State: table triage-cases (case number -> routing state and each unit's handoff; bureau-internal:
holds contact details).
Answers: read on every unit's replies topic; the accepted ones published again on
liandong.bureau.answers (with the deadline that applies), the refused ones told to the unit on its
inbox (answer.refused).
"""

from __future__ import annotations

from pathlib import Path

from liandong_sdk.events import (
    EVENT_CLASSES,
    AnswerRefused,
    CaseDeadlineSet,
    CaseHandoffRequested,
    CaseJurisdictionDecided,
    CaseJurisdictionEscalated,
    PetitionDiverted,
    PetitionRegistered,
    PetitionTriaged,
    ReviewDecided,
    ReviewRequested,
)

from liandong import (
    BUREAU_ANSWERS,
    BUREAU_PETITIONS,
    BUREAU_TRIAGE,
    EVENT_TYPES,
    REVIEWING_BODIES,
    UNIT_INBOX,
    UNIT_REPLIES,
    Bus,
    concrete_topics,
    load_clocks,
    load_config_file,
)
from liandong.clock import now
from liandong.domain import ClockConfig
from liandong.domain.answers import CASE_ANSWERS
from liandong.domain.routing import RoutingMatrix
from liandong.domain.triage import Triage
from liandong.runtime import Runtime
from liandong.service import Service, Table, faust_runtime

#: Every answer a unit writes (on its replies topic): the case answers triage referees, and the others.
ANSWERS = tuple(cls for name, cls in EVENT_CLASSES.items() if EVENT_TYPES[name].topic == UNIT_REPLIES)

#: The reviewing bodies' inboxes: the review and re-check requests, whose decisions triage referees.
REVIEW_INBOXES = tuple(UNIT_INBOX.format(unit=slug) for slug in REVIEWING_BODIES.values())

TRIAGE = Service(
    "triage",
    topics_in=(BUREAU_PETITIONS, BUREAU_TRIAGE, UNIT_REPLIES, *REVIEW_INBOXES),
    # the inbox carries contact details for that unit's case only; the answers topic, the checked answers
    topics_out=(BUREAU_TRIAGE, UNIT_INBOX, BUREAU_ANSWERS),
    emits=(PetitionTriaged, PetitionDiverted, CaseJurisdictionEscalated, CaseHandoffRequested, AnswerRefused, CaseDeadlineSet,
           *ANSWERS),
    tables=(Table("triage-cases", {
        PetitionRegistered: Triage.registered,  # route, or divert to another channel
        CaseJurisdictionDecided: Triage.decided,  # the bureau names the unit
        # A unit's answer about its handoff, checked; the lead's objection re-routes (the next unit, or escalate).
        **{cls: Triage.answered for cls in ANSWERS if cls in CASE_ANSWERS},
        # A reviewing body's decision: only on what was requested of it (复查/复核).
        ReviewRequested: Triage.review_requested, ReviewDecided: Triage.review_decided,
        # Mediation, package, task and feedback answers: checked for who speaks, judged by coordination.
        **{cls: Triage.vouched for cls in ANSWERS if cls not in (*CASE_ANSWERS, ReviewDecided)},
    }, refusal=Triage.refused),),
)
SERVICE = TRIAGE.name
TOPICS_IN = concrete_topics(*TRIAGE.topics_in)
ROUTING_FILE = Path(__file__).with_name("routing.yaml")


def load_routing(path: Path = ROUTING_FILE) -> RoutingMatrix:
    return load_config_file(path, RoutingMatrix.from_data, "routing")


def build(bus: Bus, *, clocks: ClockConfig | None = None, routing: RoutingMatrix | None = None,
          app_id: str = SERVICE) -> Runtime:
    return faust_runtime(TRIAGE, bus, Triage(routing or load_routing(), clocks or load_clocks(), now), app_id=app_id)
