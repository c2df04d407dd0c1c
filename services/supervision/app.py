"""Supervision (督查督办): watches every open clock of every case and escalates, by the ladder
reminder (提醒函) -> notice (督办函) -> public listing (挂牌督办).

Its decisions are ``liandong.domain.supervision.Supervisor``; this module only declares the
service. State: table supervision-clocks (case number -> running clocks and the letters already
issued; no personal data). Every ``tick_seconds`` the tick issues what is due, each letter once
(derived event ids, remembered in the table and recognised when read back from the bus).

The clocks, the escalation ladder and the holidays come from ``liandong/clocks.yaml``
(``LIANDONG_CLOCKS_FILE`` names another). Recommendations (三项建议) are issued by the bureau:
``liandong supervise recommend``; a unit answers with ``DepartmentClient.answer_recommendation``.
"""

from __future__ import annotations

from liandong_sdk.events import (
    CaseAccepted,
    CaseExtensionApproved,
    CaseHandoffRejected,
    CaseHandoffRequested,
    CaseNotAccepted,
    CaseResolved,
    PetitionDiverted,
    PetitionRegistered,
    PetitionRepeatDetected,
    PetitionTriaged,
    ReviewDecided,
    ReviewRequested,
    SatisfactionEvaluated,
    SupervisionFeedbackGiven,
    SupervisionListed,
    SupervisionNoticeIssued,
    SupervisionRecommendationIssued,
    SupervisionReminderIssued,
)

from liandong import (
    BUREAU_ANSWERS,
    BUREAU_CALLBACKS,
    BUREAU_PETITIONS,
    BUREAU_SUPERVISION,
    BUREAU_TRIAGE,
    BUS_UNITS,
    UNIT_INBOX,
    Bus,
    concrete_topics,
    load_clocks,
)
from liandong.domain import ClockConfig
from liandong.domain.incoming import Incoming
from liandong.domain.supervision import SupervisedCase, Supervisor
from liandong.runtime import Runtime
from liandong.service import Clock, Elsewhere, Service, Table, faust_runtime

S = Supervisor


def _earlier_case(event: Incoming[PetitionRepeatDetected]) -> str:
    return event.payload.earlier_case_number


SUPERVISION = Service(
    "supervision",
    topics_in=(BUREAU_PETITIONS, BUREAU_TRIAGE, BUREAU_SUPERVISION, UNIT_INBOX, BUREAU_ANSWERS, BUREAU_CALLBACKS),
    topics_out=(BUREAU_SUPERVISION, UNIT_INBOX),
    emits=(SupervisionReminderIssued, SupervisionNoticeIssued, SupervisionListed),
    tables=(Table(
        "supervision-clocks",
        {
            # the bureau's forward clock (15 days): opened at registration, stopped once triaged
            PetitionRegistered: S.watch, PetitionTriaged: S.watch, PetitionDiverted: S.watch,
            PetitionRepeatDetected: S.watch,
            # each unit's acceptance notice clock, then its handling clock
            CaseHandoffRequested: S.watch, CaseHandoffRejected: S.watch, CaseAccepted: S.watch,
            CaseNotAccepted: S.watch, CaseExtensionApproved: S.watch, CaseResolved: S.watch,
            # the three recommendations (三项建议) and the units' feedback
            SupervisionRecommendationIssued: S.watch, SupervisionFeedbackGiven: S.watch,
            # a reviewing body's decision clock: review (复查) or re-check (复核), 30 days each
            ReviewRequested: S.watch, ReviewDecided: S.watch,
            # the petitioner unsatisfied at the callback (回访): a notice to the unit whose opinion it was
            SatisfactionEvaluated: S.evaluated,
            # our own letters, read back (after a restart: not issued twice)
            SupervisionReminderIssued: S.watch, SupervisionNoticeIssued: S.watch, SupervisionListed: S.watch,
        },
        # a repeat petition: a notice to the unit that had the earlier case, on that case's record
        elsewhere={PetitionRepeatDetected: Elsewhere(_earlier_case, S.repeated)},
        tick=S.tick,  # the ladder: what is due now
        next_due=S.next_due,  # a tick visits only the cases due, not every open one
        dedupe=False,  # a case's record remembers the events it has seen
        encode=SupervisedCase.to_json, decode=SupervisedCase.from_json,
    ),),
    tick_seconds=5.0,
    unhurried=True,  # no one waits on it for an answer
)
SERVICE = SUPERVISION.name
TOPICS_IN = concrete_topics(*SUPERVISION.topics_in)


def build(bus: Bus, *, clocks: ClockConfig | None = None, clock: Clock | None = None, app_id: str = SERVICE,
          tick_seconds: float | None = None) -> Runtime:
    supervisor = Supervisor(clocks or load_clocks(), letter_units=tuple(BUS_UNITS))
    return faust_runtime(SUPERVISION, bus, supervisor, app_id=app_id, clock=clock, tick_seconds=tick_seconds)
