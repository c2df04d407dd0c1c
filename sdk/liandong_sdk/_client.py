"""The department SDK: what a department's own system uses to receive cases and answer.

    from liandong_sdk import DepartmentClient

    with DepartmentClient("HOUSING") as dept:          # the bus from LIANDONG_* variables (see Connection)
        for handoff in dept.inbox():                   # new cases forwarded/assigned to 住建
            dept.sign_for(handoff.case_number, signed_by="王科长")
            dept.accept(handoff.case_number)           # written acceptance notice (15-day clock)
            dept.report_progress(handoff.case_number, 50, "已约谈物业公司")
            dept.resolve(handoff.case_number, "SUPPORTED", "SOLVED", "物业公司已恢复供暖")
        dept.commit()                                  # answers confirmed, inbox read up to here

Every answer is checked before it is published: a wrong field or an answer the case's
state does not allow raises at once and publishes nothing. The bus checks every answer again
where it arrives (whatever client sent it); one it refuses comes back on the inbox as an
``answer.refused`` event, which ``inbox()`` collects in ``refusals`` (and logs). A valid answer is sent at once;
``commit()`` (or ``confirm()``) waits until the broker has acknowledged every answer given so
far, sending again any it refused, and only then marks the inbox read: a crash before that
repeats the answers (same ids, so readers drop the copies), it never loses one.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ._calendar import BUREAU_TZ
from ._catalogue import HANDLING_UNITS, UNIT_INBOX
from ._clocks import ClockConfig
from ._connection import Connection
from ._coordination import CoordinationMixin, _text
from ._errors import (
    AuthorizationDenied,
    DeliveryPending,
    DepartmentError,
    InvalidAnswer,
    ObjectionWindowClosed,
    UnknownCase,
)
from ._handoff import HandoffStatus, check_unit_transition
from ._wire import Event
from .events import (
    AnswerRefused,
    CaseAccepted,
    CaseDeadlineSet,
    CaseExtensionApproved,
    CaseHandoffAccepted,
    CaseHandoffRejected,
    CaseHandoffRequested,
    CaseNotAccepted,
    CaseProgressReported,
    CaseResolved,
    ResolutionOutcome,
    ResolutionTag,
    SupervisionFeedbackGiven,
    SupervisionRecommendationIssued,
    known,
)
from .statefile import StateFile

log = logging.getLogger("liandong_sdk")
OUTCOMES = known(ResolutionOutcome)
_ANSWER_IDS = uuid.UUID("3c1e2b7a-9d8f-4e65-b1a0-5f2c7d9e8a14")
TAGS = known(ResolutionTag)

@dataclass
class Handoff:
    """A case handed to this unit, with the petitioner's contact details for this case."""

    case_number: str
    role: str
    mode: str
    category: str
    summary: str
    petitioner: dict[str, Any] | None
    requested_at: datetime
    acceptance_due_at: datetime
    case: dict[str, Any]
    handoff_id: str = ""
    #: The end of the objection window, as the bus carried it on the handoff (None: before it did).
    objection_due_at: datetime | None = None
    #: The handling deadline once the case is accepted (moved by an extension), as the bus set it.
    handling_due_at: datetime | None = None
    status: HandoffStatus = HandoffStatus.REQUESTED
    extension_days: int = 0
    #: Answers given so far, by event type: derives the next answer's id (see ``_answer``).
    answered: dict[str, int] = field(default_factory=dict)


class DepartmentClient(CoordinationMixin):
    def __init__(self, unit: str, bus: Connection | None = None, *, group_id: str | None = None,
                 clocks: ClockConfig | None = None, clock: Callable[[], datetime] | None = None,
                 state_file: Path | None = None) -> None:
        if unit not in HANDLING_UNITS:
            raise DepartmentError(f"unknown unit {unit!r}; units on the bus: {', '.join(HANDLING_UNITS)}")
        self.unit = unit
        # Each unit is its own principal: it reads only its inbox and writes only its replies.
        self.bus = (bus or Connection.from_env()).as_principal(f"unit-{HANDLING_UNITS[unit]}")
        self.bus.require_signer()  # every answer is signed (docs/security.md)
        self.clocks = clocks or ClockConfig()
        self.now = clock or _wall_clock  # or the simulation's compressed one
        self.state_file = state_file
        self.cases: dict[str, Handoff] = {}
        self._init_changes()
        self.other: list[Event] = []  # inbox events other than handoffs, from the last poll
        #: The answers the bus refused (``answer.refused`` events: ``refused_type``, ``reason``), oldest first.
        self.refusals: list[Event] = []
        self._init_coordination()  # mediations, packages and team tasks (see coordination.py)
        self.inbox_topic = UNIT_INBOX.format(unit=HANDLING_UNITS[unit])
        slug = HANDLING_UNITS[unit]
        self._publisher = self.bus.publisher(f"unit/{slug}")
        # Answers sent but not yet acknowledged: (event type, record, delivery); see confirm().
        self._unconfirmed: list[Sent] = []
        self._subscriber = self.bus.subscriber([self.inbox_topic], group_id=group_id or f"unit-{slug}",
                                               service=f"unit-{slug}")
        self._load()

    # -- receiving ------------------------------------------------------------------------
    def inbox(self, timeout: float = 1.0) -> list[Handoff]:
        """New handoffs since the last poll (other inbox events are in ``other``)."""
        new: list[Handoff] = []
        self.other = []
        for ev in self._subscriber.poll(int(timeout * 1000)):
            if ev.type != CaseHandoffRequested.TYPE:
                self.other.append(ev)
                _ABOUT_ANSWERS.get(ev.type, DepartmentClient._track)(self, ev)  # the rest: mediations, packages, tasks
                self._coordination_changed = True
                continue
            d = ev.data
            known = self.cases.get(ev.key)
            if known is not None and known.handoff_id == ev.id:
                continue  # redelivered
            # A new handoff of a known case (re-routed to us as lead, or after a jurisdiction decision) starts over.
            h = Handoff(ev.key, d["role"], d["mode"], d["category"], d["summary"], d["petitioner"], d["occurred_at"],
                        d["deadline"]["due_at"] if d["deadline"] else self.clocks.acceptance_due(d["occurred_at"]),
                        {**d["case"], "petition_id": str(d["case"]["petition_id"])}, handoff_id=ev.id,
                        objection_due_at=d.get("objection_due_at"))
            self.cases[ev.key] = h
            self._changed.add(ev.key)
            new.append(h)
        return new

    def _refused(self, ev: Event) -> None:
        self.refusals.append(ev)
        log.warning("answer_refused unit=%s case=%s type=%s reason=%s", self.unit, ev.key,
                    ev.data["refused_type"], ev.data["reason"])

    def _deadline_set(self, ev: Event) -> None:
        if ev.key in self.cases and ev.data["unit"] == self.unit:
            self.cases[ev.key].handling_due_at = ev.data["deadline"]["due_at"]
            self._changed.add(ev.key)

    def confirm(self, timeout: float = 30.0) -> None:
        """Waits until the broker has acknowledged every answer given so far. An answer it
        refused is sent again (same id) and kept; then DeliveryPending is raised, and the next
        ``confirm()`` or ``commit()`` tries again."""
        if not self._unconfirmed:
            return
        self._unconfirmed, failure = resend_unacknowledged(self._publisher, self._unconfirmed, timeout)
        if self._unconfirmed:
            raise DeliveryPending(f"{len(self._unconfirmed)} answer(s) of {self.unit} not yet acknowledged ({failure!r}); "
                                  "sent again, confirm() or commit() later")

    def commit(self) -> bool:
        """Confirms every answer (see ``confirm``), then marks the inbox read up to the last poll;
        False if a rebalance deferred that (harmless: the same handoffs come again and are recognised)."""
        self.confirm()
        self._write_state()  # before the offsets: what the committed handoffs led to is on disk
        return self._subscriber.commit()

    # -- answering ------------------------------------------------------------------------
    def sign_for(self, case_number: str, signed_by: str = "收件人") -> None:
        self._answer(CaseHandoffAccepted.TYPE, case_number, signed_by=_text("signed_by", signed_by))

    def object(self, case_number: str, reason: str, suggested_unit: str | None = None) -> None:
        h = self._case(case_number)
        window = h.objection_due_at or self.clocks.objection_due(h.requested_at)
        if self.now() > window:
            closed = window.astimezone(BUREAU_TZ).isoformat(timespec="minutes")  # 24:00 of its last day
            raise ObjectionWindowClosed(f"{case_number}: the objection window closed at {closed}")
        if suggested_unit is not None and suggested_unit not in HANDLING_UNITS:
            raise InvalidAnswer(f"suggested_unit: unknown unit {suggested_unit!r}")
        self._answer(CaseHandoffRejected.TYPE, case_number, reason=_text("reason", reason),
                     suggested_unit=suggested_unit or "UNKNOWN")

    def accept(self, case_number: str, notice_no: str | None = None) -> None:
        self._answer(CaseAccepted.TYPE, case_number, notice_no=notice_no or f"{case_number}-受理")

    def not_accept(self, case_number: str, reason: str) -> None:
        self._answer(CaseNotAccepted.TYPE, case_number, reason=_text("reason", reason))

    def report_progress(self, case_number: str, percent: int, note: str) -> None:
        if not isinstance(percent, int) or not 0 <= percent <= 100:
            raise InvalidAnswer(f"percent: must be a whole number from 0 to 100, got {percent!r}")
        self._answer(CaseProgressReported.TYPE, case_number, percent=percent, note=_text("note", note))

    def request_extension(self, case_number: str, days: int, reason: str) -> None:
        """Records the extension the unit's head approved (Art. 32: at most 30 days in all, with reasons)."""
        h = self._case(case_number)
        if not isinstance(days, int) or days < 1 or h.extension_days + days > self.clocks.extension_max_days:
            raise InvalidAnswer(f"days: extensions total at most {self.clocks.extension_max_days} days "
                                f"({h.extension_days} used), got {days!r}")
        self._answer(CaseExtensionApproved.TYPE, case_number, extra_days=days, reason=_text("reason", reason))
        h.extension_days += days

    def resolve(self, case_number: str, outcome: str, tag: str, opinion: str) -> None:
        if outcome not in OUTCOMES:
            raise InvalidAnswer(f"outcome: must be one of {', '.join(OUTCOMES)}, got {outcome!r}")
        if tag not in TAGS:
            raise InvalidAnswer(f"tag: must be one of {', '.join(TAGS)}, got {tag!r}")
        self._answer(CaseResolved.TYPE, case_number, outcome=outcome, tag=tag, opinion=_text("opinion", opinion))

    # -- plumbing -------------------------------------------------------------------------
    def _case(self, case_number: str) -> Handoff:
        try:
            return self.cases[case_number]
        except KeyError:
            raise UnknownCase(f"{case_number} was not handed to {self.unit}") from None

    def _answer(self, event_type: str, case_number: str, **fields: Any) -> None:
        h = self._case(case_number)
        after = check_unit_transition(event_type, h.status)  # raises IllegalTransition, publishing nothing
        at = self.now()
        deadline = None  # the bus sets the deadline that applies after the answer, as it checks it
        # The id derives from the handoff and how many such answers came before: an answer repeated
        # after a crash (published, state not yet saved) has the same id, and readers drop it.
        n = h.answered.get(event_type, 0)
        event_id = uuid.uuid5(_ANSWER_IDS, f"{h.handoff_id or h.case_number}/{event_type}/{n}")
        record = {"event_id": event_id, "occurred_at": at, "case": h.case, "deadline": deadline,
                  "unit": self.unit, **fields}
        self._send(event_type, record)
        if after is not None:
            h.status = after
        h.answered[event_type] = n + 1
        self._changed.add(case_number)  # on disk at the next commit()

    def _send(self, event_type: str, record: dict[str, Any]) -> None:
        self._unconfirmed.append((event_type, record, self._publisher.publish(event_type, record)))

    def _publish(self, event_type: str, record: dict[str, Any]) -> None:
        """A mediation's, package's or task's answer (``CoordinationMixin``)."""
        self._send(event_type, record)
        self._coordination_changed = True

    # -- what is kept on disk (``StateFile``) ---------------------------------------------------
    def _init_changes(self) -> None:
        # What changed since the state was last written: written once per commit(), not per answer.
        # A crash in between repeats answers with the same derived ids: readers drop them.
        self._changed: set[str] = set()  # case numbers
        self._coordination_changed = False  # mediations, packages and tasks: written whole
        self._store = StateFile(self.state_file) if self.state_file is not None else None

    def _write_state(self) -> None:
        if self._store is None:
            return
        changed: dict[str, dict[str, Any]] = {}
        if self._changed:
            changed["cases"] = {k: _case_record(self.cases[k]) for k in self._changed if k in self.cases}
        if self._coordination_changed:
            changed.update(self._coordination_state())
        self._store.write(changed, lambda: {"cases": {k: _case_record(h) for k, h in self.cases.items()},
                                            **self._coordination_state()})
        self._changed.clear()
        self._coordination_changed = False

    def _load(self) -> None:
        if self._store is None:
            return
        # The first format: handoffs only, by case number.
        data = self._store.load(lambda d: d if "cases" in d else {"cases": d})
        if not data:
            return
        data.setdefault("cases", {})
        self._load_coordination(data)
        for k, v in data["cases"].items():
            v["status"] = HandoffStatus(v["status"])
            v["requested_at"] = datetime.fromisoformat(v["requested_at"])
            v["acceptance_due_at"] = datetime.fromisoformat(v["acceptance_due_at"])
            for name in ("objection_due_at", "handling_due_at"):
                if v.get(name):
                    v[name] = datetime.fromisoformat(v[name])
            self.cases[k] = Handoff(**v)

    def close(self) -> None:
        try:
            self.confirm()
        except DeliveryPending:
            log.error("answers_unconfirmed_at_close unit=%s count=%d", self.unit, len(self._unconfirmed))
            raise
        finally:
            self._publisher.flush(30)
        self._write_state()
        self._subscriber.close()
        self._publisher.close()

    def __enter__(self) -> DepartmentClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- supervision (三项建议) -------------------------------------------------------------
    def recommendations(self) -> list[Event]:
        """Recommendations (supervision.recommendation) from the last poll of the inbox."""
        return [ev for ev in self.other if ev.type == SupervisionRecommendationIssued.TYPE]

    def answer_recommendation(self, recommendation: Event, adopted: bool, reason: str | None = None) -> None:
        """The written answer to a recommendation: adopted, or not adopted with the reason."""
        d = recommendation.data
        if recommendation.type != SupervisionRecommendationIssued.TYPE or d.get("unit") != self.unit:
            raise InvalidAnswer(f"not a recommendation to {self.unit}: {recommendation.type}")
        if not adopted:
            reason = _text("reason", reason)  # not adopted: the reason is required
        rid = str(d["recommendation_id"])
        record = {"event_id": uuid.uuid5(_ANSWER_IDS, f"{rid}/supervision.feedback"), "occurred_at": self.now(),
                  "case": {**d["case"], "petition_id": str(d["case"]["petition_id"])}, "deadline": None,
                  "recommendation_id": rid, "unit": self.unit, "adopted": bool(adopted),
                  "reason": reason.strip() if reason else None}
        self._publish(SupervisionFeedbackGiven.TYPE, record)


Sent = tuple[str, dict[str, Any], Any]  # (event type, record, the broker's pending acknowledgement)


def resend_unacknowledged(publisher: Any, sent: list[Sent], timeout: float) -> tuple[list[Sent], Exception | None]:
    """Waits for the broker's acknowledgement of each message ``sent``; one not acknowledged (the broker
    was away, or too slow) is sent again, same id. Returns those sent again and the first failure;
    ``AuthorizationDenied`` is raised: sending again helps only once an admin grants the ACL."""
    publisher.flush(timeout)
    pending: list[Sent] = []
    failure: Exception | None = None
    for event_type, record, delivery in sent:
        try:
            delivery.get(timeout=timeout)
        except AuthorizationDenied:
            raise
        except Exception as exc:
            failure = failure or exc
            pending.append((event_type, record, publisher.publish(event_type, record)))
    return pending, failure


#: What the bus says on the inbox about the unit's own answers: a refusal, or the deadline an answer set.
_ABOUT_ANSWERS: dict[str, Callable[[DepartmentClient, Event], None]] = {
    AnswerRefused.TYPE: DepartmentClient._refused, CaseDeadlineSet.TYPE: DepartmentClient._deadline_set}


def _wall_clock() -> datetime:
    return datetime.now(UTC)


def _case_record(h: Handoff) -> dict[str, Any]:
    """A handoff as the state file keeps it (JSON-ready)."""
    return {**h.__dict__, "status": h.status.value, "requested_at": h.requested_at.isoformat(),
            "acceptance_due_at": h.acceptance_due_at.isoformat(),
            "objection_due_at": h.objection_due_at.isoformat() if h.objection_due_at else None,
            "handling_due_at": h.handling_due_at.isoformat() if h.handling_due_at else None}
