"""The ledger (台账): every case's current state and timeline, and the statistics.

Its decision is ``liandong.domain.Ledger.record`` (fold an event into its case's record), and each
event it records is linked into its case's audit chain (``liandong.audit``: signed, hash-chained,
sealed with the ledger's key); this module declares the service, counts for the unit SLA board and
serves the HTTP API.
Topics in:  liandong.bureau.petitions, .triage, .coordination, .supervision, liandong.unit.*.inbox,
            liandong.bureau.answers (the units' answers as the referee accepted them),
            liandong.bureau.notices and .deliveries (notices issued and delivered: on the timeline, without their text),
            liandong.bureau.callbacks (the petitioners' evaluations: satisfaction by unit)
Topics out: none (the tables' changelogs are their state logs)
State:      table ledger-cases (case number -> CaseState, without personal data), restored on restart;
            table ledger-audit (case number/index -> one link of the case's audit chain);
            table ledger-coordination (case or task number -> mediations, packages, team tasks:
            liandong.domain.views)
HTTP:       GET /cases/{case_number}, GET /cases/{case_number}/audit, GET /cases?unit=&status=&overdue=,
            GET /stats?year=, GET /healthz,
            GET /mediations, /packages, /teams
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from liandong_sdk.events import (
    EVENT_CLASSES,
    AnswerRefused,
    CaseExtensionApproved,
    CaseHandoffAccepted,
    CaseHandoffRejected,
    CaseResolved,
    EventRecord,
    MediationConcluded,
    PackageClosed,
    SatisfactionEvaluated,
    SupervisionListed,
    SupervisionNoticeIssued,
    SupervisionRecommendationIssued,
    SupervisionReminderIssued,
    TeamTaskAcknowledged,
    TeamTaskAssigned,
    TeamTaskCompleted,
)

from liandong import (
    BUREAU_ANSWERS,
    BUREAU_CALLBACKS,
    BUREAU_COORDINATION,
    BUREAU_DELIVERIES,
    BUREAU_NOTICES,
    BUREAU_PETITIONS,
    BUREAU_SUPERVISION,
    BUREAU_TRIAGE,
    EVENT_TYPES,
    UNIT_INBOX,
    Bus,
    Event,
    Verifier,
    concrete_topics,
    get_logger,
    load_clocks,
)
from liandong.api import Api
from liandong.audit import Chain, link_key
from liandong.domain import CaseState, ClockConfig, Ledger, views
from liandong.domain.case import state_from_json, state_to_json
from liandong.domain.incoming import Incoming
from liandong.metrics import (
    CALLBACKS,
    EXTENSIONS,
    MEDIATION_OUTCOMES,
    OBJECTIONS,
    PACKAGE_OUTCOMES,
    RESOLUTIONS,
    SIGNFOR_LATENCY,
    SUPERVISION_ACTIONS,
    TEAM_TASKS,
)
from liandong.runtime import Runtime
from liandong.service import Clock, Job, Keeper, Put, Service, Table, View, faust_runtime

from . import keeping
from .api import AUDIT, CASES, COORDINATION, make_api, owned_tally
from .board import Before, Board
from .keeping import Keeping
from .stats import Tally

log = get_logger(__name__)

TOPICS = (BUREAU_PETITIONS, BUREAU_TRIAGE, BUREAU_COORDINATION, BUREAU_SUPERVISION, UNIT_INBOX, BUREAU_ANSWERS,
          BUREAU_NOTICES, BUREAU_DELIVERIES, BUREAU_CALLBACKS)
#: Every event of a case on the topics it reads (team tasks are keyed by task, not by case).
CASE_EVENTS = tuple(cls for name, cls in EVENT_CLASSES.items()
                    if (EVENT_TYPES[name].checked_on or EVENT_TYPES[name].topic) in TOPICS
                    and EVENT_TYPES[name].key_field == "case.case_number")


@dataclass(frozen=True)
class Recorder:
    """The ledger's decision, and the audit chain every event it records is linked into."""

    ledger: Ledger
    chain: Chain
    #: What checks a case's chain for the API (None: no principals directory, nothing to check against).
    verifier: Verifier | None = None
    #: The unit SLA board's gauges, kept as the cases this worker owns change.
    board: Board = field(default_factory=Board)
    #: What the case of the event ``record`` applied last added before it (``Board.before``), for
    #: ``counts``, which runs right after ``record`` for the same event.
    before: list[Before | None] = field(default_factory=lambda: [None])
    #: The board loaded at start, while the table restores (``keeping``).
    kept: Keeping = field(default_factory=Keeping)

    @classmethod
    def unsealed(cls, clocks: ClockConfig) -> Recorder:
        """A ledger without keys (tests in memory): its chain links unsealed, checked against nothing."""
        return cls(Ledger(clocks), Chain(None))

    def record(self, state: CaseState | None, event: Incoming[EventRecord]) -> tuple[CaseState | None, list[Any]]:
        self.before[0] = self.board.before(state) if state is not None else None  # as stored, before the change
        new, out = self.ledger.record(state, event)
        if new is not None:  # newly recorded (a repeat gives None): linked once
            number = new.case_number
            # Links a record written before they were kept apart still holds move out with this change.
            puts = [Put(AUDIT, link_key(number, i), link) for i, link in enumerate(new.audit)]
            link = self.chain.link(number, new.audit_head, event)
            puts.append(Put(AUDIT, link_key(number, new.audit_length), link))
            new.audit, new.audit_length, new.audit_head = [], new.audit_length + 1, link["hash"]
            self.board.applying.add(number)  # until counted: a batch that fails never counts it
            out = [*out, *puts]
        return new, out

    def view(self, view: views.View | None, event: Incoming[EventRecord]) -> tuple[views.View | None, list[Any]]:
        """The coordination view under the event's key after it; None (nothing to store) if seen before."""
        view = view if view is not None else {}
        return (view, []) if views.fold(view, event.payload, event.id) else (None, [])


def count_tasks(_: Recorder, view: views.View, event: Event) -> Callable[[], None]:
    """The team task board's counter, for a newly applied event (once its batch is complete)."""
    step = _TASK_STEPS.get(type(event.payload))
    return (lambda: TEAM_TASKS.labels(step).inc()) if step else (lambda: None)


_TASK_STEPS: dict[type[EventRecord], str] = {
    TeamTaskAssigned: "assigned", TeamTaskAcknowledged: "acknowledged", TeamTaskCompleted: "completed"}


def counts(recorder: Recorder, state: CaseState, event: Event) -> Callable[[], None]:
    """What the unit SLA board counts for a newly applied event, as of that event (later ones in
    the same batch may re-route the case); counted, and the case's mark set, once the batch is complete."""
    before = recorder.before[0]

    def done() -> None:
        count(event, state.lead_unit, state.registered_at)
        recorder.board.set(state, before)
    return done


async def refresh_gauges(recorder: Recorder, view: View, at: datetime) -> None:
    # Each worker the cases it owns, not its standby copies: the dashboards sum over workers.
    if await rebuilt(recorder, view, at):
        async with view.exclusive:
            recorder.board.settle(at)
            recorder.board.publish(at)


async def rebuilt(recorder: Recorder, view: View, at: datetime) -> bool:
    """Whether the board holds every case this worker owns, after reading them if what it owns has
    changed; False while the tables are not whole, or when another rebalance came in between.

    The board is read and settled only between batches (``view.exclusive``): a batch's handlers
    say what a case added before it changes (``Board.before``), and its counts use that after the
    broker's acknowledgements; a settle or a read in between would count the case twice."""
    board = recorder.board
    async with board.rebuilding:
        generation = view.peers.generation()
        if generation is None:
            return False  # the tables are not whole yet
        async with view.exclusive:
            if board.applying:  # a batch applied events it never counted (it failed): read every case
                log.warning("board_reread", reason="a batch failed after it applied events", cases=len(board.applying))
                board.applying.clear()
                board.generation = None
            if board.generation == generation:
                return True
            board.clear()  # what this worker owns changed: read its cases once
        keys = view.owned_keys(CASES)
        for start in range(0, len(keys), REBUILD_SLICE):
            async with view.exclusive:
                for key in keys[start:start + REBUILD_SLICE]:
                    board.read(key, view.get(CASES, key))  # as it is now: a batch may have changed it since
                board.settle(at)  # what is kept stays a slice
            await asyncio.sleep(0)  # let the agent and the API go on
            if view.peers.generation() != generation:
                return False  # another rebalance: read again next time
        async with view.exclusive:
            board.rebuilt(generation)
        return True


#: Cases read between two turns of the event loop while the board is rebuilt.
REBUILD_SLICE = 500


async def tallied(recorder: Recorder, view: View, unit: str | None, at: datetime) -> Tally:
    """This worker's part of the statistics: from the kept sums once the board holds every case it
    owns; while the tables are restoring, counted over the cases it has (``owned_tally``)."""
    kept = None
    if await rebuilt(recorder, view, at):
        async with view.exclusive:
            kept = recorder.board.tallies.totals(at, unit)
    return owned_tally(view, unit, at, kept)


def api(recorder: Recorder, view: View, now: Clock) -> Api:
    return make_api(view, now, recorder.verifier, lambda unit, at: tallied(recorder, view, unit, at))


LEDGER = Service(
    "ledger",
    topics_in=TOPICS,
    topics_out=(),
    emits=(),
    tables=(
        # The case's record recognises an event it has applied (by id): no ids kept beside it.
        Table(CASES, {**{cls: Recorder.record for cls in CASE_EVENTS}, AnswerRefused: Recorder.record}, counts=counts,
              dedupe=False,
              encode=state_to_json, decode=state_from_json),
        Table(COORDINATION, dict.fromkeys(views.EVENTS, Recorder.view), counts=count_tasks, dedupe=False),
        # Each case's audit links, one entry each (``link_key``), put by ``Recorder.record``.
        Table(AUDIT, {}, dedupe=False),
    ),
    jobs=(Job(5.0, refresh_gauges),),
    http=api,
    decodes_all=True,  # it reads every topic: every bad message reaches the dead-letter topic through it
    unhurried=True,  # no one waits on it for an answer
    keeper=Keeper(CASES, load=keeping.load, save=keeping.save, restored=keeping.restored,
                  recovered=keeping.recovered),
)
SERVICE = LEDGER.name
TOPICS_IN = concrete_topics(*LEDGER.topics_in)


def build(bus: Bus, *, port: int | None = None, clocks: ClockConfig | None = None, clock: Clock | None = None,
          app_id: str = SERVICE) -> Runtime:
    recorder = Recorder(Ledger(clocks or load_clocks()), Chain(bus.signer), bus.verifier)
    return faust_runtime(LEDGER, bus, recorder, app_id=app_id, clock=clock,
                         port=port if port is not None else bus.settings.ledger_port)


def count(event: Event, lead_unit: str | None, registered_at: datetime | None) -> None:
    """Counters for the unit SLA board, once per newly applied event."""
    counter = _COUNTERS.get(type(event.payload))
    if counter is not None:
        counter(event.payload, lead_unit, registered_at)


def _signed(p: CaseHandoffAccepted, lead_unit: str | None, registered_at: datetime | None) -> None:
    if p.unit == lead_unit and registered_at:
        SIGNFOR_LATENCY.labels(p.unit).observe(max(0.0, (p.occurred_at - registered_at).total_seconds()))


def _supervised(action: str) -> Callable[[Any, str | None, datetime | None], None]:
    return lambda p, _, __: SUPERVISION_ACTIONS.labels(p.unit, action).inc()


#: Per event class, what it counts (the SLA board's counters): (payload, lead unit, registered at).
_COUNTERS: dict[type[EventRecord], Callable[[Any, str | None, datetime | None], None]] = {
    CaseHandoffAccepted: _signed,
    CaseHandoffRejected: lambda p, _, __: OBJECTIONS.labels(p.unit).inc(),
    CaseExtensionApproved: lambda p, _, __: EXTENSIONS.labels(p.unit).inc(),
    CaseResolved: lambda p, _, __: RESOLUTIONS.labels(p.unit, p.outcome).inc(),
    MediationConcluded: lambda p, _, __: MEDIATION_OUTCOMES.labels(p.result).inc(),
    PackageClosed: lambda p, _, __: PACKAGE_OUTCOMES.labels(p.result).inc(),
    SatisfactionEvaluated: lambda p, _, __: CALLBACKS.labels(p.unit, p.evaluation).inc(),
    **{cls: _supervised(cls.TYPE.removeprefix("supervision.")) for cls in (
        SupervisionReminderIssued, SupervisionNoticeIssued, SupervisionListed, SupervisionRecommendationIssued)},
}
