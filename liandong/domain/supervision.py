"""Supervision (督查督办): which clocks a case has running, which escalation stage is due, and
the triggers beyond time. Plain data and functions: the supervision service folds the bus's
events in with ``Supervisor.apply`` and asks ``Supervisor.due(state, now)`` on its timer.

Clocks watched, one per case and scope (the scope is the unit, or the recommendation):

==========================================  =================================  ====================================
clock / scope                               opened by                          stopped by
==========================================  =================================  ====================================
``FORWARD/BUREAU``                          petition.registered                petition.triaged / diverted /
                                                                               repeat.detected, a handoff
``ACCEPTANCE_NOTICE/<unit>``                case.handoff.requested             case.accepted / not_accepted,
                                                                               case.handoff.rejected
``HANDLING/<unit>``                         case.accepted                      case.resolved (extension moves it)
``RECOMMENDATION_FEEDBACK/<recommendation>``  supervision.recommendation       supervision.feedback
``REVIEW/<body>``, ``RECHECK/<body>``       review.requested                   review.decided
==========================================  =================================  ====================================

A deadline carried by the opening event (the due date travels with the event) wins when it is
earlier than the configured one: that is how an item assigned from above carries a shorter
deadline. Events may be read in any order across topics: a stop read before its start leaves a
stopped clock that the start does not reopen.

The escalation ladder (``ClockConfig.ladder``): a reminder letter (提醒函) before the due date,
a supervision notice (督办函) at it, a public listing (挂牌督办) after a further delay. Each
stage fires once per clock opening: its event id is derived from the case, the clock and the
stage, and remembered in ``issued`` (also when the service reads its own event back), so a
restart neither repeats nor loses one. A reminder that comes due only after the notice is due
(the service was down) is not sent: the notice is.

Triggers beyond time: a repeat petition on a matter whose earlier case the lead unit did not
accept (should-accept-not-accepted), accepted but has not resolved (should-handle-not-handled),
resolved in the petitioner's favour (the opinion not implemented) or otherwise closed (repeat
after closure) yields a supervision notice to that unit naming the trigger; the bureau can
issue one for any trigger by hand (``notice``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from liandong_sdk.events import (
    CaseAccepted,
    CaseExtensionApproved,
    CaseHandoffRejected,
    CaseHandoffRequested,
    CaseNotAccepted,
    CaseRef,
    CaseResolved,
    Deadline,
    EventRecord,
    PetitionDiverted,
    PetitionRegistered,
    PetitionRepeatDetected,
    PetitionTriaged,
    RecommendationKind,
    ReviewDecided,
    ReviewRequested,
    Satisfaction,
    SatisfactionEvaluated,
    SupervisionFeedbackGiven,
    SupervisionListed,
    SupervisionNoticeIssued,
    SupervisionRecommendationIssued,
    SupervisionReminderIssued,
    SupervisionTrigger,
    known,
)
from liandong_sdk.records import case_ref, json_default, parse_time
from liandong_sdk.rules import HANDLING_UNITS, ClockConfig, bureau_year

from .incoming import Incoming

STAGES = ("REMINDER", "NOTICE", "LISTING")
STAGE_EVENT: dict[str, type[EventRecord]] = {
    "REMINDER": SupervisionReminderIssued, "NOTICE": SupervisionNoticeIssued, "LISTING": SupervisionListed}
EVENT_STAGE = {v: k for k, v in STAGE_EVENT.items()}
CLOCK_NAMES = {
    "FORWARD": "转送交办期限", "ACCEPTANCE_NOTICE": "受理告知期限", "HANDLING": "办理期限",
    "RECOMMENDATION_FEEDBACK": "三项建议书面答复期限", "REVIEW": "复查期限", "RECHECK": "复核期限",
}
TRIGGERS = known(SupervisionTrigger)
RECOMMENDATION_KINDS = known(RecommendationKind)
_LETTER = {"REMINDER": "提醒函", "NOTICE": "督办函", "LISTING": "挂牌督办"}
_IDS = uuid.UUID("6f1d3b52-8a47-4c1e-9e2b-2d5a7c9f0b83")
_SEEN_KEEP = 200  # input event ids remembered per case (a redelivered event is applied once)

Action = EventRecord  # a letter or listing to publish


@dataclass
class RunningClock:
    """One clock of a case. ``opened_at`` is None for a stop read before its start."""

    clock: str
    scope: str
    unit: str
    opened_at: datetime | None = None
    due_at: datetime | None = None
    base_due_at: datetime | None = None  # before extensions
    days: int = 0
    basis: str = "CALENDAR"
    extension_days: int = 0
    closed_at: datetime | None = None
    trigger: str = "OVERDUE"

    @property
    def key(self) -> str:
        return f"{self.clock}/{self.scope}"

    @property
    def running(self) -> bool:
        return self.opened_at is not None and self.closed_at is None and self.due_at is not None

    def deadline(self) -> dict[str, Any] | None:
        if self.due_at is None:
            return None
        return {"clock": self.clock, "due_at": self.due_at, "days": self.days + self.extension_days,
                "day_basis": self.basis}


@dataclass
class SupervisedCase:
    """The supervision service's record of one case (no personal data)."""

    case_number: str
    case: dict[str, Any] | None = None  # the CaseRef to put on letters
    clocks: dict[str, RunningClock] = field(default_factory=dict)
    lead_unit: str | None = None
    unit_status: dict[str, str] = field(default_factory=dict)  # REQUESTED/OBJECTED/ACCEPTED/NOT_ACCEPTED/RESOLVED
    unit_since: dict[str, int] = field(default_factory=dict)  # when (epoch ms) each unit's status was reached
    outcomes: dict[str, str] = field(default_factory=dict)  # each unit's resolution outcome
    issued: list[str] = field(default_factory=list)  # ids of supervision events issued for this case
    seen: list[str] = field(default_factory=list)

    def running(self) -> list[RunningClock]:
        return [c for c in self.clocks.values() if c.running]

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), default=json_default, ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> SupervisedCase:
        d = json.loads(raw)
        d["clocks"] = {k: RunningClock(**_times(c)) for k, c in d["clocks"].items()}
        return cls(**d)


@dataclass(frozen=True)
class Supervisor:
    clocks: ClockConfig = field(default_factory=ClockConfig)
    #: Units that receive letters on an inbox; a clock of any other unit (the bureau's own
    #: forward clock) is only listed publicly once it is late.
    letter_units: Collection[str] = tuple(HANDLING_UNITS)

    # -- the service's handlers: (state, event) -> (state, letters) ------------------------------
    def watch(self, state: SupervisedCase | None, event: Incoming[EventRecord]) -> tuple[SupervisedCase | None, list[Action]]:
        """The case's clocks after an event that starts, stops or moves one (None: seen before)."""
        case: CaseRef | None = getattr(event.payload, "case", None)
        if case is None:
            return None, []
        state = state or SupervisedCase(case.case_number)
        return (state, []) if self.apply(state, event.payload, event.id) else (None, [])

    def repeated(self, earlier: SupervisedCase | None,
                 event: Incoming[PetitionRepeatDetected]) -> tuple[SupervisedCase | None, list[Action]]:
        """A repeat petition, on the earlier case's record: the notice to the unit that had it (once)."""
        out = self.repeat(earlier, event.id, event.payload)
        return (earlier if out else None), out

    def evaluated(self, state: SupervisedCase | None,
                  event: Incoming[SatisfactionEvaluated]) -> tuple[SupervisedCase | None, list[Action]]:
        """An unsatisfied petitioner at the callback (回访): a notice to the unit whose opinion it was,
        to check its handling, explain and report (once per evaluation)."""
        p = event.payload
        if p.evaluation != Satisfaction.UNSATISFIED:
            return None, []
        state = state or SupervisedCase(p.case.case_number)
        if state.case is None:
            state.case = case_ref(p.case.to_record())
        remark = f"：{p.remark}" if p.remark else ""
        text = (f"回访中信访人对处理意见表示不满意{remark}。请核查办理情况，做好解释疏导，告知其可依法申请复查，"
                "并书面报告。")
        out = self.notice(state, p.unit.value, "PETITIONER_UNSATISFIED", text, p.occurred_at, f"{event.id}/unsatisfied")
        return (state if out else None), out

    def tick(self, state: SupervisedCase, now: datetime) -> tuple[SupervisedCase, list[Action]]:
        """The letters and listings due now for one case (marked issued in its record)."""
        return state, (self.due(state, now) if state.running() else [])

    # -- folding events in ---------------------------------------------------------------------
    def apply(self, state: SupervisedCase, record: EventRecord, event_id: str) -> bool:
        """Folds one event into ``state``; False (and no change) if it was applied before."""
        case: CaseRef | None = getattr(record, "case", None)
        if event_id in state.seen or case is None:
            return False
        state.seen = [*state.seen[-(_SEEN_KEEP - 1):], event_id]
        if state.case is None:
            state.case = case_ref(case.to_record())
        observe = _OBSERVERS.get(type(record))
        if observe is not None:
            observe(self, state, record, record.occurred_at, getattr(record, "unit", None),  # type: ignore[attr-defined]
                    record.deadline)  # type: ignore[attr-defined]
        elif type(record) in EVENT_STAGE and event_id not in state.issued:
            state.issued.append(event_id)  # our own letter read back (e.g. after a restart)
        return True

    # What each event does to the case's clocks (``unit``: the unit it names; ``carried``: its deadline).
    def _registered(self, state: SupervisedCase, p: PetitionRegistered, at: datetime, unit: str | None,
                    carried: Deadline | None) -> None:
        if not p.repeat_of:
            self._open(state, "FORWARD", "BUREAU", "BUREAU", at, self.clocks.forward_due(at), self.clocks.forward_days,
                       carried)

    def _forwarded(self, state: SupervisedCase, p: EventRecord, at: datetime, unit: str | None,
                   carried: Deadline | None) -> None:
        self._close(state, "FORWARD", "BUREAU", "BUREAU", at)

    def _handed(self, state: SupervisedCase, p: CaseHandoffRequested, at: datetime, unit: str | None,
                carried: Deadline | None) -> None:
        if not unit:
            return
        self._close(state, "FORWARD", "BUREAU", "BUREAU", at)
        _status(state, unit, "REQUESTED", at)
        if p.role == "LEAD":
            state.lead_unit = unit
        self._open(state, "ACCEPTANCE_NOTICE", unit, unit, at, self.clocks.acceptance_due(at),
                   self.clocks.acceptance_notice_days, carried)

    def _extended(self, state: SupervisedCase, p: CaseExtensionApproved, at: datetime, unit: str | None,
                  carried: Deadline | None) -> None:
        c = state.clocks.get(f"HANDLING/{unit}") if unit else None
        if c is not None and c.base_due_at is not None:
            c.extension_days += p.extra_days
            if carried and carried.clock == "HANDLING":
                c.due_at = carried.due_at  # the moved due date, as the referee computed it
            elif c.opened_at is not None:
                c.due_at = max(c.base_due_at, self.clocks.handling_due(c.opened_at, c.extension_days))

    def _resolved(self, state: SupervisedCase, p: CaseResolved, at: datetime, unit: str | None,
                  carried: Deadline | None) -> None:
        if unit:
            self._close(state, "HANDLING", unit, unit, at)
            _status(state, unit, "RESOLVED", at)
            state.outcomes[unit] = str(p.outcome)

    def _recommended(self, state: SupervisedCase, p: SupervisionRecommendationIssued, at: datetime, unit: str | None,
                     carried: Deadline | None) -> None:
        if unit:
            self._open(state, "RECOMMENDATION_FEEDBACK", str(p.recommendation_id), unit, at,
                       self.clocks.recommendation_due(at), self.clocks.recommendation_answer_days, carried,
                       trigger="MISSING_ANSWER")

    def _answered(self, state: SupervisedCase, p: SupervisionFeedbackGiven, at: datetime, unit: str | None,
                  carried: Deadline | None) -> None:
        if unit:
            self._close(state, "RECOMMENDATION_FEEDBACK", str(p.recommendation_id), unit, at)

    def _review_requested(self, state: SupervisedCase, p: ReviewRequested, at: datetime, unit: str | None,
                          carried: Deadline | None) -> None:
        if unit:
            stage, applied = p.stage.value, p.applied_at
            due, days = ((self.clocks.recheck_decide_due(applied), self.clocks.recheck_decide_days) if stage == "RECHECK"
                         else (self.clocks.review_decide_due(applied), self.clocks.review_decide_days))
            self._open(state, stage, unit, unit, applied, due, days, carried)

    def _review_decided(self, state: SupervisedCase, p: ReviewDecided, at: datetime, unit: str | None,
                        carried: Deadline | None) -> None:
        if unit:
            self._close(state, p.stage.value, unit, unit, at)

    def _open(self, state: SupervisedCase, clock: str, scope: str, unit: str, at: datetime, due: datetime, days: int,
              carried: Deadline | None, trigger: str = "OVERDUE") -> None:
        if carried and carried.clock == clock and carried.due_at < due:
            due = carried.due_at  # a shorter deadline travels with the event (assigned from above)
        old = state.clocks.get(f"{clock}/{scope}")
        if old is not None and old.opened_at is not None and at <= old.opened_at:
            return  # this opening, or an earlier one, is known already
        closed_at = old.closed_at if old is not None and old.closed_at is not None and old.closed_at >= at else None
        state.clocks[f"{clock}/{scope}"] = RunningClock(clock, scope, unit, at, due, due, days, "CALENDAR",
                                                        closed_at=closed_at, trigger=trigger)

    @staticmethod
    def _close(state: SupervisedCase, clock: str, scope: str, unit: str, at: datetime) -> None:
        c = state.clocks.get(f"{clock}/{scope}")
        if c is None:
            state.clocks[f"{clock}/{scope}"] = RunningClock(clock, scope, unit, closed_at=at)  # read before its start
        elif c.opened_at is not None and at < c.opened_at:
            return  # stops an earlier opening
        elif c.closed_at is None or at > c.closed_at:
            c.closed_at = at

    # -- the escalation ladder -----------------------------------------------------------------
    def schedule(self, c: RunningClock) -> dict[str, datetime]:
        """When each stage of the ladder is due for a running clock."""
        assert c.due_at is not None
        ladder, cal = self.clocks.ladder, self.clocks.calendar
        return {"REMINDER": ladder.reminder_at(c.due_at, cal), "NOTICE": ladder.notice_at(c.due_at, cal),
                "LISTING": ladder.listing_at(c.due_at, cal)}

    def next_due(self, state: SupervisedCase) -> datetime | None:
        """The earliest moment a letter or listing of ``state`` falls due (None: none will), so a tick
        visits only the cases due: ``due(state, t)`` finds nothing for any t before it."""
        if state.case is None:
            return None
        times = []
        for c in state.running():
            when = self.schedule(c)
            for stage in STAGES:
                if stage != "LISTING" and c.unit not in self.letter_units:
                    continue
                if stage_event_id(state.case_number, c, stage) in state.issued:
                    continue
                if stage == "REMINDER" and stage_event_id(state.case_number, c, "NOTICE") in state.issued:
                    continue  # passed over for the notice
                times.append(when[stage])
        return min(times, default=None)

    def due(self, state: SupervisedCase, now: datetime) -> list[Action]:
        """The letters and listings due at ``now`` and not issued yet; marks them issued."""
        out: list[Action] = []
        if state.case is None:
            return out
        for c in sorted(state.running(), key=lambda c: c.key):
            when = self.schedule(c)
            for stage in STAGES:
                if now < when[stage]:
                    break
                if stage == "REMINDER" and now >= when["NOTICE"]:
                    continue  # too late for a reminder: the notice goes instead
                if stage != "LISTING" and c.unit not in self.letter_units:
                    continue  # no inbox to write to: only the public listing
                eid = stage_event_id(state.case_number, c, stage)
                if eid in state.issued:
                    continue
                state.issued.append(eid)
                out.append(STAGE_EVENT[stage].from_record(self._letter(state, c, stage, eid, now)))
        return out

    def _letter(self, state: SupervisedCase, c: RunningClock, stage: str, eid: str, now: datetime) -> dict[str, Any]:
        assert c.due_at is not None and state.case is not None
        name = CLOCK_NAMES.get(c.clock, c.clock)
        day = c.due_at.astimezone(self.clocks.calendar.tz).date().isoformat()
        text = {"REMINDER": f"{name}将于{day}到期，请按期办理。",
                "NOTICE": f"{name}已于{day}到期，请立即办理并书面报告办理情况。",
                "LISTING": f"{name}（{day}到期）逾期未办，予以挂牌督办。"}[stage]
        return {"event_id": eid, "occurred_at": now, "case": state.case, "deadline": c.deadline(), "unit": c.unit,
                "stage": c.clock, "trigger": c.trigger, "text": text,
                "letter_no": f"{_LETTER[stage]}〔{bureau_year(c.due_at)}〕{state.case_number}/{c.key}"}

    # -- triggers beyond time ------------------------------------------------------------------
    def repeat(self, earlier: SupervisedCase | None, event_id: str, p: PetitionRepeatDetected) -> list[Action]:
        """A repeat petition (``petition.repeat.detected``) on the matter of ``earlier``: a notice to
        the unit that had it, naming why supervision acts."""
        if earlier is None or earlier.case is None or earlier.lead_unit is None:
            return []  # diverted, never routed, or unknown here: nobody to supervise
        if p.not_accepted_reason:
            return []  # the matter is closed by its re-check (Art. 36): nothing left for the unit to do
        status = earlier.unit_status.get(earlier.lead_unit)
        if status == "RESOLVED":
            supported = earlier.outcomes.get(earlier.lead_unit) == "SUPPORTED"
            trigger = "OPINION_NOT_IMPLEMENTED" if supported else "REPEAT_AFTER_CLOSURE"
            clock = "HANDLING"
        elif status == "ACCEPTED":
            trigger, clock = "SHOULD_HANDLE_NOT_HANDLED", "HANDLING"
        else:
            trigger, clock = "SHOULD_ACCEPT_NOT_ACCEPTED", "ACCEPTANCE_NOTICE"
        new_case = p.case.case_number
        text = {
            "OPINION_NOT_IMPLEMENTED": f"信访人就同一事项再次信访（{new_case}），反映处理意见未落实，请核查落实并书面报告。",
            "REPEAT_AFTER_CLOSURE": f"案件办结后信访人就同一事项再次信访（{new_case}），请核查办理质量并书面报告。",
            "SHOULD_HANDLE_NOT_HANDLED": f"案件已受理未办结，信访人再次信访（{new_case}），请依法及时办理。",
            "SHOULD_ACCEPT_NOT_ACCEPTED": f"案件应受理未受理，信访人再次信访（{new_case}），请依法受理并告知。",
        }[trigger]
        return self.notice(earlier, earlier.lead_unit, trigger, text, p.occurred_at, f"{event_id}/trigger",
                           clock=clock)

    def notice(self, state: SupervisedCase, unit: str, trigger: str, text: str, now: datetime, basis_id: str,
               clock: str = "HANDLING") -> list[Action]:
        """A supervision notice for a trigger other than time; once per ``basis_id``."""
        if state.case is None:
            return []
        eid = str(uuid.uuid5(_IDS, f"{state.case_number}/{basis_id}"))
        if eid in state.issued:
            return []
        state.issued.append(eid)
        running = state.clocks.get(f"{clock}/{unit}")
        return [SupervisionNoticeIssued.from_record({
            "event_id": eid, "occurred_at": now, "case": state.case,
            "deadline": running.deadline() if running is not None and running.running else None,
            "unit": unit, "stage": clock, "trigger": trigger, "text": text,
            "letter_no": f"督办函〔{bureau_year(now)}〕{state.case_number}/{trigger}",
        })]


def stage_event_id(case_number: str, c: RunningClock, stage: str) -> str:
    """The id of a ladder stage's event: the same for the same case, clock opening and stage."""
    assert c.opened_at is not None
    return str(uuid.uuid5(_IDS, f"{case_number}/{c.key}/{int(c.opened_at.timestamp() * 1000)}/{stage}"))


def recommendation(case: dict[str, Any], unit: str, kind: str, text: str, now: datetime, clocks: ClockConfig,
                   recommendation_id: uuid.UUID | None = None) -> dict[str, Any]:
    """A ``supervision.recommendation`` record (三项建议) with its answer deadline."""
    if kind not in RECOMMENDATION_KINDS:
        raise ValueError(f"kind: one of {', '.join(RECOMMENDATION_KINDS)}, got {kind!r}")
    if not text.strip():
        raise ValueError("text: must not be empty")
    rid = recommendation_id or uuid.uuid4()
    return {"event_id": uuid.uuid5(_IDS, f"recommendation/{rid}"), "occurred_at": now, "case": case,
            "deadline": {"clock": "RECOMMENDATION_FEEDBACK", "due_at": clocks.recommendation_due(now),
                         "days": clocks.recommendation_answer_days, "day_basis": "CALENDAR"},
            "recommendation_id": rid, "unit": unit, "kind": kind, "text": text.strip()}


def notice(case: dict[str, Any], unit: str, trigger: str, text: str, stage: str, now: datetime,
           letter_year: int) -> dict[str, Any]:
    """A ``supervision.notice`` record (督办函) for a trigger other than time."""
    if trigger not in TRIGGERS:
        raise ValueError(f"trigger: one of {', '.join(TRIGGERS)}, got {trigger!r}")
    if not text.strip():
        raise ValueError("text: must not be empty")
    number = case["case_number"]
    return {"event_id": uuid.uuid4(), "occurred_at": now, "case": case, "deadline": None, "unit": unit,
            "stage": stage, "trigger": trigger, "text": text.strip(),
            "letter_no": f"督办函〔{letter_year}〕{number}/{trigger}"}


_RANK = {"REQUESTED": 0, "OBJECTED": 1, "ACCEPTED": 1, "NOT_ACCEPTED": 1, "RESOLVED": 2}


#: (supervisor, the case's record, the event's payload, when, the unit it names, the deadline it carries)
Observer = Callable[[Supervisor, SupervisedCase, Any, datetime, str | None, Deadline | None], None]


def _acceptance_decided(status: str) -> Observer:
    """A unit's decision on acceptance (accepted, not accepted, objected): its notice clock stops;
    an acceptance starts the handling clock."""
    def observe(sup: Supervisor, state: SupervisedCase, p: EventRecord, at: datetime, unit: str | None,
                carried: Deadline | None) -> None:
        if not unit:
            return
        sup._close(state, "ACCEPTANCE_NOTICE", unit, unit, at)
        _status(state, unit, status, at)
        if status == "ACCEPTED":
            sup._open(state, "HANDLING", unit, unit, at, sup.clocks.handling_due(at), sup.clocks.handling_days, carried)

    return observe


#: The events supervision reads, each to what it does to the case's clocks (in one place).
_OBSERVERS: dict[type[EventRecord], Observer] = {
    PetitionRegistered: Supervisor._registered,
    PetitionTriaged: Supervisor._forwarded, PetitionDiverted: Supervisor._forwarded,
    PetitionRepeatDetected: Supervisor._forwarded,
    CaseHandoffRequested: Supervisor._handed,
    CaseAccepted: _acceptance_decided("ACCEPTED"), CaseNotAccepted: _acceptance_decided("NOT_ACCEPTED"),
    CaseHandoffRejected: _acceptance_decided("OBJECTED"),
    CaseExtensionApproved: Supervisor._extended,
    CaseResolved: Supervisor._resolved,
    SupervisionRecommendationIssued: Supervisor._recommended,
    SupervisionFeedbackGiven: Supervisor._answered,
    ReviewRequested: Supervisor._review_requested, ReviewDecided: Supervisor._review_decided,
}


def _times(fields: dict[str, Any]) -> dict[str, Any]:
    """A stored clock's fields with its times (``*_at``) read back."""
    return {f: parse_time(v) if f.endswith("_at") and v is not None else v for f, v in fields.items()}


def _status(state: SupervisedCase, unit: str, status: str, at: datetime) -> None:
    """A unit's status, whatever order its inbox and replies were read in: the later event wins
    (at the same moment, the later step)."""
    ms = int(at.timestamp() * 1000)
    known = state.unit_since.get(unit)
    current = state.unit_status.get(unit)
    if known is None or current is None or (ms, _RANK[status]) >= (known, _RANK[current]):
        state.unit_status[unit], state.unit_since[unit] = status, ms


