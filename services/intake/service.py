"""Intake (登记): validates submissions, numbers cases, flags repeats, publishes registrations.

Topics in:  liandong.bureau.petitions (its own log, to rebuild on start),
            liandong.bureau.triage and liandong.bureau.answers (closures, for repeat detection; opinions,
            for callbacks), liandong.bureau.callbacks (its own callbacks: one evaluation per case)
            the reviewing bodies' inboxes (its own review and re-check requests)
Topics out: liandong.bureau.petitions (petition.registered, petition.repeat.detected),
            liandong.bureau.callbacks (satisfaction.evaluated: the petitioner's evaluation at the callback, 回访),
            the reviewing bodies' inboxes (review.requested: the petitioner's application for review or
            re-check, 复查/复核, forwarded to the body that decides)
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from liandong_sdk.events import (
    EVENT_CLASSES,
    CaseHandoffRejected,
    CaseJurisdictionDecided,
    CaseNotAccepted,
    CaseResolved,
    EventRecord,
    PetitionDiverted,
    PetitionRegistered,
    PetitionRepeatDetected,
    PetitionTriaged,
    ReviewDecided,
    ReviewRequested,
    ReviewStage,
    Satisfaction,
    SatisfactionEvaluated,
)
from liandong_sdk.rules import BUREAU_TZ, Refused
from pydantic import ValidationError

from liandong import (
    BUREAU_ANSWERS,
    BUREAU_CALLBACKS,
    BUREAU_PETITIONS,
    BUREAU_TRIAGE,
    REVIEWING_BODIES,
    UNIT_INBOX,
    Bus,
    Event,
    get_logger,
)
from liandong.clock import now as bus_now
from liandong.domain import ClockConfig
from liandong.domain.routing import RoutingMatrix

from .registry import IntakeRegistry
from .reviewing import Reviewing, load_reviewing
from .submission import Submission, field_errors

log = get_logger("intake")
SERVICE = "intake"
#: Intake's producer settings: each registration waits for its ack, so no lingering (the bench's
#: driver publishes with the same).
PUBLISHER = {"linger_ms": 0}
REVIEW_INBOXES = [UNIT_INBOX.format(unit=slug) for slug in REVIEWING_BODIES.values()]
TOPICS_IN = [BUREAU_PETITIONS, BUREAU_TRIAGE, BUREAU_ANSWERS, BUREAU_CALLBACKS, *REVIEW_INBOXES]
TOPICS_OUT = [BUREAU_PETITIONS, BUREAU_CALLBACKS, *REVIEW_INBOXES]
#: Namespace of the deterministic event ids: the same submission always yields the same ids.
_IDS = uuid.UUID("6f1c1f9e-6f7b-4b8e-9a39-2b8f0b1d2c11")


@dataclass
class LineResult:
    line: int
    status: str  # registered | duplicate | rejected | not_accepted (registered, not accepted: why in errors)
    case_number: str | None = None
    repeat_of: str | None = None
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, [])}


class CallbackRefused(Refused):
    """A callback the bus does not record, and why (no opinion yet, the period over, evaluated before)."""


class ReviewRefused(Refused):
    """An application for review or re-check the bus does not forward, and why (nothing to examine yet,
    the application period over, applied before)."""


@dataclass(frozen=True)
class Opinion:
    """A case's handling opinion, or a review decision, as far as a callback or a review needs it."""

    unit: str
    at: datetime
    case: dict[str, Any]
    text: str = ""


class IntakeService:
    def __init__(self, bus: Bus, routing: RoutingMatrix, clocks: ClockConfig | None = None,
                 reviewing: Reviewing | None = None) -> None:
        self.bus = bus
        self.routing = routing
        self.clocks = clocks or ClockConfig()
        self.reviewing = reviewing or load_reviewing()
        # A repeat within the review window after closure (clocks: repeat_window_days), else a new case.
        self.registry = IntakeRegistry(bus.settings.district_code, window_end=self.clocks.repeat_window_end,
                                       instance=bus.settings.intake_instance, instances=bus.settings.intake_instances)
        self._lock = threading.Lock()
        self._publisher = bus.publisher(SERVICE, **PUBLISHER)
        self._follower = bus.subscriber([], group_id=None, service=SERVICE)
        self._lead: dict[str, str | None] = {}
        self._opinions: dict[str, Opinion] = {}
        #: Case number -> when its callback was recorded (one evaluation per case).
        self._evaluated: dict[str, datetime] = {}
        #: Case number -> stage -> when the petitioner applied (one application per stage).
        self._applied: dict[str, dict[str, datetime]] = {}
        #: Case number -> stage -> the body's decision (the review decision is what a re-check examines).
        self._reviewed: dict[str, dict[str, Opinion]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------
    def start(self, timeout: float = 60.0) -> None:
        """Rebuilds the registry from the log, then follows it in the background."""
        self._follower.assign_all(TOPICS_IN)
        deadline = datetime.now(UTC).timestamp() + timeout
        while not self._follower.caught_up():
            self._absorb(self._follower.poll(200))
            if datetime.now(UTC).timestamp() > deadline:
                raise TimeoutError("intake could not read its log to the end")
        self._thread = threading.Thread(target=self._follow, name="intake-follower", daemon=True)
        self._thread.start()
        log.info("intake_ready", cases=len(self.registry.by_key), closed=len(self.registry.closed))

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
        self._follower.close()
        self._publisher.close()

    def _follow(self) -> None:
        while not self._stop.is_set():
            self._absorb(self._follower.poll(200))

    def _absorb(self, events: list[Event]) -> None:
        with self._lock:
            for ev in events:
                follow = FOLLOWS.get(EVENT_CLASSES.get(ev.type))  # typed only if followed
                if follow is not None:
                    follow(self, ev.key, ev.payload)

    # What intake remembers of the log, per event class: its registrations (idempotency, repeats),
    # each case's lead unit, and the cases closed (a later petition on the matter is a new case).
    def _registered(self, case: str, p: PetitionRegistered) -> None:
        who = p.petitioner
        matter = IntakeRegistry.matter_key(who.name, who.id_number, who.phone, p.category_hint)
        self.registry.remember(p.idempotency_key, matter, case, p.repeat_of)

    def _triaged(self, case: str, p: PetitionTriaged) -> None:
        self._lead[case] = p.lead_unit

    def _decided(self, case: str, p: CaseJurisdictionDecided) -> None:
        self._lead[case] = p.unit
        self.registry.closed.pop(case, None)  # a diverted case the bureau routes is open again

    def _rejected(self, case: str, p: CaseHandoffRejected) -> None:
        if self._lead.get(case) == p.unit:
            self._lead[case] = None  # re-routed: the next lead is not known here

    def _diverted(self, case: str, p: PetitionDiverted) -> None:
        self.registry.close(case, p.occurred_at)

    def _closed(self, case: str, p: CaseResolved | CaseNotAccepted) -> None:
        if self._lead.get(case) in (None, p.unit):  # a co-unit's answer does not close the case
            self.registry.close(case, p.occurred_at)
            if isinstance(p, CaseResolved):
                self._opinions[case] = Opinion(p.unit, p.occurred_at, p.case.to_record(), p.opinion)

    def _review_requested(self, case: str, p: ReviewRequested) -> None:
        self._applied.setdefault(case, {}).setdefault(p.stage.value, p.applied_at)

    def _review_decided(self, case: str, p: ReviewDecided) -> None:
        self._reviewed.setdefault(case, {}).setdefault(p.stage.value, Opinion(p.unit, p.occurred_at, p.case.to_record(), p.text))

    def _called_back(self, case: str, p: SatisfactionEvaluated) -> None:
        self._evaluated.setdefault(case, p.called_at)

    # -- callbacks (回访) -------------------------------------------------------------------
    def callback(self, case_number: str, evaluation: str, remark: str = "", called_at: datetime | None = None) -> dict[str, Any]:
        """Records the petitioner's evaluation of the case's handling opinion (satisfaction.evaluated);
        ``CallbackRefused`` if the case has no opinion, the callback period is over, or the case was
        evaluated before. Returns the published record."""
        if evaluation not in Satisfaction.__members__ or evaluation == Satisfaction.UNKNOWN:
            raise CallbackRefused(f"evaluation {evaluation!r}: one of SATISFIED (满意), BASICALLY_SATISFIED (基本满意), "
                                  "UNSATISFIED (不满意)")
        at = called_at or bus_now()
        with self._lock:
            opinion = self._opinions.get(case_number)
            if opinion is None:
                raise CallbackRefused(f"{case_number}: no handling opinion on this case yet; a callback follows the opinion")
            _in_period(CallbackRefused, case_number, "callback", at, "opinion", opinion.at,
                       self.clocks.callback_due(opinion.at), self.clocks.callback_days)
            if case_number in self._evaluated:
                raise CallbackRefused(f"{case_number}: evaluated before, at the callback of "
                                      f"{self._evaluated[case_number].isoformat()}")
            record = {"event_id": uuid.uuid5(_IDS, f"{case_number}/callback"), "occurred_at": bus_now(),
                      "case": opinion.case, "deadline": None, "unit": opinion.unit, "evaluation": evaluation,
                      "called_at": at, "remark": remark.strip()}
            self._publisher.publish(SatisfactionEvaluated.TYPE, record).get(timeout=30)
            self._evaluated[case_number] = at
        return record

    # -- review and re-check (复查/复核) ---------------------------------------------------------
    def apply_review(self, case_number: str, stage: str, grounds: str, applied_at: datetime | None = None) -> dict[str, Any]:
        """Forwards the petitioner's application for review (of the unit's opinion, Art. 35) or re-check
        (of the review decision, Art. 36) to the body that decides, as ``review.requested`` on its inbox
        with the decision's deadline; ``ReviewRefused`` if there is nothing to examine yet, the application
        period is over, or the petitioner applied before at this stage. Returns the published record."""
        if stage not in (ReviewStage.REVIEW, ReviewStage.RECHECK):
            raise ReviewRefused(f"stage {stage!r}: REVIEW (复查) or RECHECK (复核)")
        if not grounds.strip():
            raise ReviewRefused("grounds: the petitioner's grounds must not be empty")
        at = applied_at or bus_now()
        with self._lock:
            if stage == ReviewStage.REVIEW:
                examined = self._opinions.get(case_number)
                if examined is None:
                    raise ReviewRefused(f"{case_number}: no handling opinion on this case yet; a review examines the opinion")
                body, apply_due = self.reviewing.review.get(examined.unit), self.clocks.review_apply_due(examined.at)
                days, decide_due, what = self.clocks.review_apply_days, self.clocks.review_decide_due(at), "opinion"
            else:
                examined = self._reviewed.get(case_number, {}).get(ReviewStage.REVIEW)
                if examined is None:
                    raise ReviewRefused(f"{case_number}: no review decision on this case yet; a re-check examines the "
                                        "review decision (Art. 36)")
                body, apply_due = self.reviewing.recheck.get(examined.unit), self.clocks.recheck_apply_due(examined.at)
                days, decide_due, what = self.clocks.recheck_apply_days, self.clocks.recheck_decide_due(at), "review decision"
            if body is None:
                raise ReviewRefused(f"{case_number}: no body is configured to examine {examined.unit}'s {what} "
                                    "(reviewing.yaml)")
            _in_period(ReviewRefused, case_number, "application", at, what, examined.at, apply_due, days)
            if stage in self._applied.get(case_number, {}):
                raise ReviewRefused(f"{case_number}: applied for {stage.lower().replace('recheck', 're-check')} before, "
                                    f"at {self._applied[case_number][stage].isoformat()}")
            decide_days = self.clocks.review_decide_days if stage == ReviewStage.REVIEW else self.clocks.recheck_decide_days
            record = {"event_id": uuid.uuid5(_IDS, f"{case_number}/{stage}"), "occurred_at": bus_now(),
                      "case": examined.case, "unit": body, "stage": stage, "reviewed_unit": examined.unit,
                      "deadline": {"clock": stage, "due_at": decide_due, "days": decide_days, "day_basis": "CALENDAR"},
                      "applied_at": at, "grounds": grounds.strip(), "decision_under_review": examined.text}
            self._publisher.publish(ReviewRequested.TYPE, record).get(timeout=30)
            self._applied.setdefault(case_number, {})[stage] = at
        return record

    def rechecked(self, matter: str) -> tuple[str, Opinion] | None:
        """The matter's case and its re-check decision, if it was re-checked (then not accepted again)."""
        case = self.registry.by_matter.get(matter)
        decision = self._reviewed.get(case, {}).get(ReviewStage.RECHECK) if case else None
        return (case, decision) if case and decision else None

    # -- submissions ----------------------------------------------------------------------
    def submit_lines(self, text: str) -> list[LineResult]:
        """Each non-blank line is one JSON submission; bad lines publish nothing."""
        results = []
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as exc:
                results.append(LineResult(n, "rejected", errors=[f"not JSON: {exc.msg} at column {exc.colno}"]))
                continue
            results.append(self.submit(raw, line=n))
        self._publisher.flush()
        return results

    def submit(self, raw: Any, *, line: int = 1) -> LineResult:
        if not isinstance(raw, dict):
            return LineResult(line, "rejected", errors=["(record): must be a JSON object"])
        try:
            sub = Submission.model_validate(raw)
        except ValidationError as exc:
            return LineResult(line, "rejected", errors=field_errors(exc))
        category = self.routing.classify(sub.category, sub.summary)
        p = sub.petitioner
        matter = IntakeRegistry.matter_key(p.name, p.id_number, p.phone, category)
        with self._lock:
            reg = self.registry.plan(sub.idempotency_key, matter, sub.bureau_year, sub.received_at)
            if not reg.new:
                return LineResult(line, "duplicate", reg.case_number)
            final = self.rechecked(matter)
            if final is not None:  # Art. 36: after the re-check, the same matter is registered but not accepted again
                earlier, decision = final
                day = decision.at.astimezone(BUREAU_TZ).date()
                # What the petitioner's notice says (Chinese), and what the clerk's answer says.
                notice = (f"该信访事项已于{day.year}年{day.month}月{day.day}日经复核（编号{earlier}），"
                          "依据《信访工作条例》第三十六条，信访人仍以同一事实和理由提出信访请求的，不再受理。")
                self._publish(sub, category, reg.case_number, earlier, True, not_accepted=notice)
                self.registry.remember(sub.idempotency_key, matter, reg.case_number, earlier)
                return LineResult(line, "not_accepted", reg.case_number, earlier, errors=[
                    f"not accepted: the same matter was re-checked (复核) in case {earlier} by {decision.unit} on "
                    f"{day.isoformat()}; a petition on it is not accepted again (Art. 36); the petitioner is sent a "
                    "not-accepted notice"])
            # Remembered only once published: a failed publish leaves no trace, and a retry is a fresh try.
            self._publish(sub, category, reg.case_number, reg.repeat_of, reg.earlier_closed)
            self.registry.remember(sub.idempotency_key, matter, reg.case_number, reg.repeat_of)
        return LineResult(line, "registered", reg.case_number, reg.repeat_of)

    def _publish(self, sub: Submission, category: str, case_number: str, repeat_of: str | None, closed: bool,
                 not_accepted: str | None = None) -> None:
        now = bus_now()  # the wall clock, or the simulation's compressed one
        case = {"case_number": case_number, "district_code": self.bus.settings.district_code,
                "petition_id": uuid.uuid5(_IDS, sub.idempotency_key)}
        # Art. 22: forwarded or assigned within the configured period of its registration; an item
        # from above by its own due date, if that comes first.
        forward_due, from_above = self.clocks.forward_due(sub.received_at), sub.due_from_above(self.clocks)
        registered = {
            "event_id": uuid.uuid5(_IDS, f"{sub.idempotency_key}/registered"), "occurred_at": now, "case": case,
            "deadline": {"clock": "FORWARD", "due_at": min(forward_due, from_above) if from_above else forward_due,
                         "days": self.clocks.forward_days, "day_basis": "CALENDAR"},
            "assigned_by": sub.assigned.by if sub.assigned else None, "assigned_due_at": from_above,
            "channel": sub.channel, "petitioner": sub.petitioner.model_dump(), "summary": sub.summary,
            "category_hint": category, "idempotency_key": sub.idempotency_key, "received_at": sub.received_at,
            "repeat_of": repeat_of,
        }
        futures = [self._publisher.publish(PetitionRegistered.TYPE, registered)]
        if repeat_of:
            futures.append(self._publisher.publish(PetitionRepeatDetected.TYPE, {
                "event_id": uuid.uuid5(_IDS, f"{sub.idempotency_key}/repeat"), "occurred_at": now, "case": case,
                "deadline": None, "earlier_case_number": repeat_of, "earlier_closed": closed,
                "reason": "same petitioner, same matter, its case re-checked" if not_accepted else
                          "same petitioner, same matter, its case open or closed within the review window",
                "not_accepted_reason": not_accepted,
            }))
        for f in futures:
            f.get(timeout=30)


def _in_period(refused: type[Refused], case_number: str, act: str, at: datetime, what: str, decided_at: datetime,
               due: datetime, days: int) -> None:
    """``refused`` unless ``at`` is in the period of ``days`` after the decision (``what``) ending at ``due``."""
    if at < decided_at:
        raise refused(f"{case_number}: the {act} ({at.isoformat()}) is before the {what} ({decided_at.isoformat()})")
    if at > due:
        raise refused(f"{case_number}: late: the {act} period ({days} days after the {what} of {decided_at.isoformat()}) "
                      f"ended at {due.isoformat()}")


#: What intake remembers of each event type it reads (its log follower), in one place.
FOLLOWS: dict[type[EventRecord] | None, Callable[[IntakeService, str, Any], None]] = {
    PetitionRegistered: IntakeService._registered, PetitionTriaged: IntakeService._triaged,
    CaseJurisdictionDecided: IntakeService._decided, CaseHandoffRejected: IntakeService._rejected,
    PetitionDiverted: IntakeService._diverted, CaseResolved: IntakeService._closed, CaseNotAccepted: IntakeService._closed,
    SatisfactionEvaluated: IntakeService._called_back,
    ReviewRequested: IntakeService._review_requested, ReviewDecided: IntakeService._review_decided,
}
