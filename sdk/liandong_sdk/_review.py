"""A reviewing body's side of review and re-check (复查 / 复核, Art. 35, 36).

    from liandong_sdk import ReviewingBodyClient

    with ReviewingBodyClient("DISTRICT_GOVERNMENT") as body:     # principal unit-district-gov
        for request in body.requests():                          # review.requested on its inbox
            body.decide(request, "UPHELD", "经复查，原处理意见认定事实清楚……", decided_by="区政府复查办")
        body.commit()                                            # decisions acknowledged, then the inbox read

A body decides only what was requested of it, once, with a decision (UPHELD 维持, CHANGED 变更,
REVOKED 撤销) and its text; the bus checks that again where the decision arrives and answers a
refused one with ``answer.refused`` on the inbox (collected in ``refusals``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ._catalogue import REVIEWING_BODIES, UNIT_INBOX
from ._client import Sent, resend_unacknowledged
from ._connection import Connection
from ._coordination import _text
from ._errors import DeliveryPending, DepartmentError, InvalidAnswer
from ._wire import Event
from .events import AnswerRefused, ReviewDecided, ReviewDecision, ReviewRequested, known

DECISIONS = known(ReviewDecision)
_DECISION_IDS = uuid.UUID("8d0f4c3a-61b2-4f7e-9a55-0e3b6c1d2f90")


@dataclass(frozen=True)
class ReviewRequest:
    """One application for review or re-check, as the body received it."""

    case_number: str
    stage: str  # REVIEW or RECHECK
    reviewed_unit: str
    applied_at: datetime
    due_at: datetime | None
    grounds: str
    decision_under_review: str
    case: dict[str, Any]
    event_id: str


class ReviewingBodyClient:
    def __init__(self, body: str, bus: Connection | None = None, *, group_id: str | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        if body not in REVIEWING_BODIES:
            raise DepartmentError(f"unknown reviewing body {body!r}; on the bus: {', '.join(REVIEWING_BODIES)}")
        self.body, slug = body, REVIEWING_BODIES[body]
        # A body is its own principal, like a unit: it reads only its inbox and writes only its replies.
        self.bus = (bus or Connection.from_env()).as_principal(f"unit-{slug}")
        self.bus.require_signer()  # every answer is signed (docs/security.md)
        self.now = clock or (lambda: datetime.now(UTC))
        self.refusals: list[Event] = []
        self._publisher = self.bus.publisher(f"unit/{slug}")
        self._unconfirmed: list[Sent] = []
        self._subscriber = self.bus.subscriber([UNIT_INBOX.format(unit=slug)], group_id=group_id or f"unit-{slug}",
                                               service=f"unit-{slug}")

    def requests(self, timeout: float = 1.0) -> list[ReviewRequest]:
        """New review and re-check requests since the last poll (refusals go to ``refusals``)."""
        new = []
        for ev in self._subscriber.poll(int(timeout * 1000)):
            if ev.type == AnswerRefused.TYPE:
                self.refusals.append(ev)
            elif isinstance(p := ev.payload, ReviewRequested):
                new.append(ReviewRequest(p.case.case_number, p.stage.value, p.reviewed_unit.value, p.applied_at,
                                         p.deadline.due_at if p.deadline else None, p.grounds, p.decision_under_review,
                                         p.case.to_record(), ev.id))
        return new

    def decide(self, request: ReviewRequest, decision: str, text: str, decided_by: str) -> None:
        """Publishes the body's decision (``review.decided``) on its replies topic."""
        if decision not in DECISIONS:
            raise InvalidAnswer(f"decision: must be one of {', '.join(DECISIONS)}, got {decision!r}")
        # Derived from the request: a decision repeated after a crash has the same id, and readers drop it.
        record = {"event_id": uuid.uuid5(_DECISION_IDS, f"{request.event_id}/{self.body}/decided"), "occurred_at": self.now(),
                  "case": request.case, "deadline": None, "unit": self.body, "stage": request.stage,
                  "decision": decision, "text": _text("text", text), "decided_by": _text("decided_by", decided_by)}
        self._unconfirmed.append((ReviewDecided.TYPE, record, self._publisher.publish(ReviewDecided.TYPE, record)))

    def confirm(self, timeout: float = 30.0) -> None:
        """Waits until the broker has acknowledged every decision; one it did not is sent again and
        ``DeliveryPending`` raised (``confirm()`` or ``commit()`` again later)."""
        self._unconfirmed, failure = resend_unacknowledged(self._publisher, self._unconfirmed, timeout)
        if self._unconfirmed:
            raise DeliveryPending(f"{len(self._unconfirmed)} decision(s) of {self.body} not yet acknowledged "
                                  f"({failure!r}); sent again, confirm() or commit() later")

    def commit(self) -> bool:
        """Confirms every decision, then marks the inbox read up to the last poll."""
        self.confirm()
        return self._subscriber.commit()

    def close(self) -> None:
        try:
            self.confirm()
        finally:
            self._subscriber.close()
            self._publisher.close()

    def __enter__(self) -> ReviewingBodyClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
