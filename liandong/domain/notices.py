"""Written notices to the petitioner (告知书): which event calls for which notice, to whom and how.

A notice conveys one decision: the lead unit's acceptance (受理告知书, Art. 23), its refusal (不予受理告知书,
with the reason; the bureau's own for a matter closed by its re-check, Art. 36), the bureau's
diversion to another legal channel (Art. 22, 28, 31), the lead unit's extension (Art. 32, with the
reason) and its handling opinion (处理意见书, with the right to apply for review within 30 days, and to
whom). A co-unit's answers call for none: the petitioner hears from the lead. The words come from
the bureau's templates (data, rendered by the ``Render`` the service is built with); this module
decides only what they say.

State per case (on a bureau-only table: the recipient is personal data): the petitioner and the
channel the petition came by, the current lead unit, the number of notices issued, and causes
read before the registration or the handoff they need (topics are not ordered with each other).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from liandong_sdk.events import (
    EVENT_CLASSES,
    CaseAccepted,
    CaseExtensionApproved,
    CaseHandoffRequested,
    CaseNotAccepted,
    CaseResolved,
    Channel,
    DeliveryChannel,
    EventRecord,
    HandoffRole,
    NoticeIssued,
    NoticeKind,
    PetitionDiverted,
    Petitioner,
    PetitionRegistered,
    PetitionRepeatDetected,
)
from liandong_sdk.rules import BUREAU_TZ, ClockConfig

from .incoming import Incoming

_IDS = uuid.UUID("b0d7c6e2-5a41-4a8e-9f0e-7c1f6a3d2b90")

#: Which notice each decision calls for.
KINDS: dict[type[EventRecord], NoticeKind] = {
    CaseAccepted: NoticeKind.ACCEPTANCE,
    CaseNotAccepted: NoticeKind.NOT_ACCEPTED,
    PetitionDiverted: NoticeKind.DIVERSION,
    CaseExtensionApproved: NoticeKind.EXTENSION,
    CaseResolved: NoticeKind.OPINION,
    # the bureau's own: a petition on a matter closed by its re-check is not accepted (Art. 36)
    PetitionRepeatDetected: NoticeKind.NOT_ACCEPTED,
}
#: The notice number's code per kind (文书编号: <case>-<code>-<n>).
CODES: dict[NoticeKind, str] = {NoticeKind.ACCEPTANCE: "SL", NoticeKind.NOT_ACCEPTED: "BSL", NoticeKind.DIVERSION: "FL",
                                NoticeKind.EXTENSION: "YQ", NoticeKind.OPINION: "YJ", NoticeKind.OTHER: "QT"}
#: How a notice reaches the petitioner, by the channel the petition came by.
DELIVERY: dict[Channel, DeliveryChannel] = {
    Channel.ONLINE: DeliveryChannel.ONLINE, Channel.VISIT: DeliveryChannel.IN_PERSON, Channel.LETTER: DeliveryChannel.POST,
    Channel.HOTLINE_12345: DeliveryChannel.SMS, Channel.UNKNOWN: DeliveryChannel.POST,
}

#: Renders a notice's text: (kind, the template's variables) -> the text.
Render = Callable[[NoticeKind, Mapping[str, Any]], str]


@dataclass(frozen=True)
class Notices:
    """The notice service's decision: per case, the notice each decision calls for."""

    render: Render
    clocks: ClockConfig

    def registered(self, state: dict[str, Any] | None, event: Incoming[PetitionRegistered]) -> tuple[dict[str, Any], list[Any]]:
        p = event.payload
        state = dict(state or _new())
        state["recipient"], state["channel"] = p.petitioner.to_record(), p.channel.value
        state["received_at"] = p.received_at.isoformat()
        return self._replay(state)

    def handed(self, state: dict[str, Any] | None, event: Incoming[CaseHandoffRequested]) -> tuple[dict[str, Any] | None, list[Any]]:
        p = event.payload
        if p.role != HandoffRole.LEAD:
            return None, []
        state = dict(state or _new())
        state["lead"] = p.unit.value
        return self._replay(state)

    def decided(self, state: dict[str, Any] | None, event: Incoming[EventRecord]) -> tuple[dict[str, Any] | None, list[Any]]:
        """A decision the petitioner is told of: its notice, or kept until the case's recipient
        and lead unit are known."""
        if isinstance(event.payload, PetitionRepeatDetected) and not event.payload.not_accepted_reason:
            return None, []  # an ordinary repeat: linked to its earlier case, nothing decided to tell
        state = dict(state or _new())
        if not self._ready(state, event.payload):
            if any(w["event_id"] == event.id for w in state["waiting"]):
                return None, []
            state["waiting"] = [*state["waiting"],
                                {"event_type": event.payload.TYPE, "event_id": event.id,
                                 "at": _occurred(event.payload).timestamp(), "data": event.payload.to_record()}]
            return state, []
        if _unit_of(event.payload) not in (None, state["lead"]):
            return None, []  # a co-unit's answer: the petitioner hears from the lead
        return self._issue(state, event.payload, event.id)

    # -- the notices ---------------------------------------------------------------------------
    def _ready(self, state: dict[str, Any], p: EventRecord) -> bool:
        return state["recipient"] is not None and (_unit_of(p) is None or state["lead"] is not None)

    def _replay(self, state: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
        waiting, state["waiting"], outputs = state["waiting"], [], []
        for w in sorted(waiting, key=lambda w: w["at"]):
            record = EVENT_CLASSES[w["event_type"]].from_record(w["data"])
            if not self._ready(state, record):
                state["waiting"].append(w)
            elif _unit_of(record) in (None, state["lead"]):
                state, issued = self._issue(state, record, w["event_id"])
                outputs += issued
        return state, outputs

    def _issue(self, state: dict[str, Any], p: Any, cause_id: str) -> tuple[dict[str, Any], list[Any]]:
        kind = KINDS[type(p)]
        state["issued"] += 1
        number = f"{p.case.case_number}-{CODES[kind]}-{state['issued']}"
        recipient = Petitioner.from_record(state["recipient"])
        text = self.render(kind, {"notice_no": number, "case_number": p.case.case_number, "recipient": recipient,
                                  "received_on": _local_day(datetime.fromisoformat(state["received_at"])),
                                  "issued_on": _local_day(p.occurred_at), **_facts(p, self.clocks)})
        notice = NoticeIssued(event_id=uuid.uuid5(_IDS, f"{cause_id}/notice"), occurred_at=p.occurred_at, case=p.case,
                              deadline=None, notice_no=number, kind=kind, unit=getattr(p, "unit", None),
                              recipient=recipient, delivery_channel=DELIVERY.get(Channel(state["channel"]), DeliveryChannel.POST),
                              text=text, cause_event_id=uuid.UUID(cause_id))
        return state, [notice]


def _new() -> dict[str, Any]:
    return {"recipient": None, "channel": Channel.UNKNOWN.value, "received_at": None, "lead": None, "issued": 0,
            "waiting": []}


def _occurred(p: EventRecord) -> datetime:
    at: datetime = p.occurred_at  # type: ignore[attr-defined]  # every event of the catalogue has it
    return at


def _unit_of(p: EventRecord) -> str | None:
    unit = getattr(p, "unit", None)
    return unit.value if unit is not None else None


def _local_day(at: datetime) -> str:
    local = at.astimezone(BUREAU_TZ)
    return f"{local.year}年{local.month}月{local.day}日"


def _facts(p: Any, clocks: ClockConfig) -> dict[str, Any]:
    """What a notice of this decision says beyond its kind."""
    if isinstance(p, PetitionDiverted):
        return {"diversion_channel": p.diversion_channel.value, "explanation": p.explanation}
    if isinstance(p, PetitionRepeatDetected):
        return {"reason": p.not_accepted_reason}  # the bureau's own decision: no unit signs it
    facts: dict[str, Any] = {"unit": p.unit.value}
    if isinstance(p, CaseNotAccepted):
        facts["reason"] = p.reason
    elif isinstance(p, CaseExtensionApproved):
        facts |= {"reason": p.reason, "extra_days": p.extra_days}
    elif isinstance(p, CaseResolved):
        facts |= {"outcome": p.outcome.value, "opinion": p.opinion,
                  "review_days": clocks.review_apply_days, "review_due_on": _local_day(clocks.review_apply_due(p.occurred_at))}
    return facts
