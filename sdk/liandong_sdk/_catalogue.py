"""The topic catalogue: every event type, its schema and its topic, in one place.

Topic names say who may read them:
``liandong.bureau.*`` the bureau only (petitioner personal data lives here),
``liandong.unit.<unit>.inbox`` what a unit (or a reviewing body) receives (its own cases' contact details included),
``liandong.unit.<unit>.replies`` what a unit answers, ``liandong.deadletter`` operators only.

A unit's answers are claims until the bus has checked them: triage, the referee, reads every
replies topic, and what it accepts it publishes again, with the deadline that now applies, on
``liandong.bureau.answers`` (an event type's ``checked_on``), which every other service reads; what
it refuses it tells the unit on its inbox (``answer.refused``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ._errors import UnknownEventType

#: Units that receive handoffs and answer on the bus, with their topic slug.
HANDLING_UNITS: dict[str, str] = {
    "JUSTICE": "justice",  # 司法
    "HRSS": "hrss",  # 人社
    "HOUSING": "housing",  # 住建
    "POLICE": "police",  # 公安
    "STREET_OFFICE": "street",  # 街道/乡镇
}
#: Reviewing bodies (复查/复核机关, Art. 35, 36): they receive review and re-check applications on
#: their own inbox and decide on their own replies topic, like a unit, but are handed no cases.
REVIEWING_BODIES: dict[str, str] = {
    "DISTRICT_GOVERNMENT": "district-gov",  # 区人民政府
    "CITY_GOVERNMENT": "city-gov",  # 市人民政府
    "CITY_HRSS": "city-hrss",  # 市人力资源和社会保障局
    "CITY_POLICE": "city-police",  # 市公安局
}
#: Every unit with topics on the bus: the handling units and the reviewing bodies.
BUS_UNITS: dict[str, str] = {**HANDLING_UNITS, **REVIEWING_BODIES}

DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class TopicSpec:
    name: str
    doc: str
    pii: bool = False
    compacted: bool = False
    retention_ms: int = 400 * DAY_MS  # a year of petitions plus the review windows
    partitions: int | None = None  # None: the configured default

    def config(self) -> dict[str, str]:
        cfg = {"retention.ms": str(self.retention_ms), "cleanup.policy": "compact" if self.compacted else "delete"}
        return cfg


@dataclass(frozen=True)
class EventType:
    name: str  # e.g. "case.handoff.requested"
    schema: str  # Avro fullname
    topic: str  # template; "{unit}" is filled from the record's `unit` field
    key_field: str = "case.case_number"
    #: Where the bus publishes the event again once it has checked it (a unit's answer), if anywhere.
    checked_on: str | None = None

    @property
    def ce_type(self) -> str:
        return f"liandong.{self.name}"

    @property
    def per_unit(self) -> bool:
        return "{unit}" in self.topic

    def topic_for(self, record: dict[str, Any]) -> str:
        if not self.per_unit:
            return self.topic
        unit = record.get("unit")
        if unit not in BUS_UNITS:
            raise UnknownEventType(f"{self.name}: unit {unit!r} has no topics on the bus")
        return self.topic.format(unit=BUS_UNITS[unit])

    def key_of(self, record: dict[str, Any]) -> str:
        node: Any = record
        for part in self.key_field.split("."):
            node = node[part]
        return str(node)


BUREAU_PETITIONS = "liandong.bureau.petitions"
BUREAU_TRIAGE = "liandong.bureau.triage"
BUREAU_COORDINATION = "liandong.bureau.coordination"
BUREAU_SUPERVISION = "liandong.bureau.supervision"
UNIT_INBOX = "liandong.unit.{unit}.inbox"
UNIT_REPLIES = "liandong.unit.{unit}.replies"
BUREAU_ANSWERS = "liandong.bureau.answers"
BUREAU_NOTICES = "liandong.bureau.notices"
BUREAU_DELIVERIES = "liandong.bureau.deliveries"
BUREAU_CALLBACKS = "liandong.bureau.callbacks"
DEAD_LETTER = "liandong.deadletter"

_E = "liandong.events."
EVENT_TYPES: dict[str, EventType] = {
    e.name: e
    for e in [
        EventType("petition.registered", _E + "PetitionRegistered", BUREAU_PETITIONS),
        EventType("petition.repeat.detected", _E + "PetitionRepeatDetected", BUREAU_PETITIONS),
        EventType("petition.triaged", _E + "PetitionTriaged", BUREAU_TRIAGE),
        EventType("petition.diverted", _E + "PetitionDiverted", BUREAU_TRIAGE),
        EventType("case.jurisdiction.escalated", _E + "CaseJurisdictionEscalated", BUREAU_TRIAGE),
        EventType("case.jurisdiction.decided", _E + "CaseJurisdictionDecided", BUREAU_TRIAGE),
        EventType("case.handoff.requested", _E + "CaseHandoffRequested", UNIT_INBOX),
        EventType("case.handoff.accepted", _E + "CaseHandoffAccepted", UNIT_REPLIES),
        EventType("case.handoff.rejected", _E + "CaseHandoffRejected", UNIT_REPLIES),
        EventType("case.accepted", _E + "CaseAccepted", UNIT_REPLIES),
        EventType("case.not_accepted", _E + "CaseNotAccepted", UNIT_REPLIES),
        EventType("case.progress", _E + "CaseProgressReported", UNIT_REPLIES),
        EventType("case.extension.approved", _E + "CaseExtensionApproved", UNIT_REPLIES),
        EventType("case.resolved", _E + "CaseResolved", UNIT_REPLIES),
        EventType("mediation.requested", _E + "MediationRequested", UNIT_INBOX),
        EventType("mediation.joined", _E + "MediationJoined", UNIT_REPLIES),
        EventType("mediation.declined", _E + "MediationDeclined", UNIT_REPLIES),
        EventType("mediation.session_held", _E + "MediationSessionHeld", UNIT_REPLIES),
        EventType("mediation.concluded", _E + "MediationConcluded", UNIT_REPLIES),
        EventType("package.assigned", _E + "PackageAssigned", UNIT_INBOX),
        EventType("package.progress", _E + "PackageProgressReported", UNIT_REPLIES),
        EventType("package.closed", _E + "PackageClosed", BUREAU_COORDINATION),
        EventType("team.task.assigned", _E + "TeamTaskAssigned", UNIT_INBOX, key_field="task_number"),
        # Joint mediation, responsibility packages and task teams (services/coordination).
        EventType("mediation.proposed", _E + "MediationProposed", BUREAU_COORDINATION),
        EventType("mediation.request.submitted", _E + "MediationRequestSubmitted", UNIT_REPLIES),
        EventType("mediation.reminder", _E + "MediationReminderIssued", UNIT_INBOX),
        EventType("mediation.escalated", _E + "MediationEscalated", BUREAU_COORDINATION),
        EventType("case.referred", _E + "CaseReferred", BUREAU_COORDINATION),
        EventType("package.ordered", _E + "PackageOrdered", BUREAU_COORDINATION),
        EventType("package.reminder", _E + "PackageReminderIssued", UNIT_INBOX),
        EventType("package.extension.requested", _E + "PackageExtensionRequested", BUREAU_COORDINATION),
        EventType("package.extended", _E + "PackageExtended", BUREAU_COORDINATION),
        EventType("team.task.published", _E + "TeamTaskPublished", BUREAU_COORDINATION, key_field="task_number"),
        EventType("team.task.acknowledged", _E + "TeamTaskAcknowledged", UNIT_REPLIES, key_field="task_number"),
        EventType("team.task.completed", _E + "TeamTaskCompleted", UNIT_REPLIES, key_field="task_number"),
        EventType("team.task.reminder", _E + "TeamTaskReminderIssued", UNIT_INBOX, key_field="task_number"),
        EventType("supervision.reminder", _E + "SupervisionReminderIssued", UNIT_INBOX),
        EventType("supervision.notice", _E + "SupervisionNoticeIssued", UNIT_INBOX),
        EventType("supervision.listed", _E + "SupervisionListed", BUREAU_SUPERVISION),
        EventType("supervision.recommendation", _E + "SupervisionRecommendationIssued", UNIT_INBOX),
        EventType("supervision.feedback", _E + "SupervisionFeedbackGiven", UNIT_REPLIES),
        # Written notices to the petitioner (services/notices) and the delivery systems' confirmations.
        EventType("notice.issued", _E + "NoticeIssued", BUREAU_NOTICES),
        EventType("notice.delivered", _E + "NoticeDelivered", BUREAU_DELIVERIES),
        # The bureau's callbacks to the petitioner after the opinion (回访), with their evaluation.
        EventType("satisfaction.evaluated", _E + "SatisfactionEvaluated", BUREAU_CALLBACKS),
        # Review and re-check (复查/复核): the bureau forwards the application, the reviewing body decides.
        EventType("review.requested", _E + "ReviewRequested", UNIT_INBOX),
        EventType("review.decided", _E + "ReviewDecided", UNIT_REPLIES),
        EventType("answer.refused", _E + "AnswerRefused", UNIT_INBOX, key_field="key"),
        EventType("case.deadline.set", _E + "CaseDeadlineSet", UNIT_INBOX),
        EventType("deadletter", _E + "DeadLetter", DEAD_LETTER, key_field="source_topic"),
    ]
}
# Every unit answer is checked by the referee and published again on the bureau's answers topic.
EVENT_TYPES = {name: EventType(e.name, e.schema, e.topic, e.key_field, BUREAU_ANSWERS) if e.topic == UNIT_REPLIES else e
               for name, e in EVENT_TYPES.items()}
_BY_CE_TYPE = {e.ce_type: e for e in EVENT_TYPES.values()}


def event_type(name: str) -> EventType:
    try:
        return EVENT_TYPES[name]
    except KeyError:
        raise UnknownEventType(f"no event type {name!r} in the catalogue") from None


def event_type_for_ce(ce_type: str) -> EventType:
    try:
        return _BY_CE_TYPE[ce_type]
    except KeyError:
        raise UnknownEventType(f"no event type with ce_type {ce_type!r}") from None


def concrete_topics(*templates: str) -> list[str]:
    """The topics a template names: ``liandong.unit.{unit}.replies`` is every unit's on the bus
    (the handling units' and the reviewing bodies')."""
    return [t.format(unit=slug) for t in templates for slug in (BUS_UNITS.values() if "{unit}" in t else ("",))]


def replies_unit(topic: str) -> str | None:
    """The unit whose replies topic this is (``liandong.unit.housing.replies``: HOUSING), else None."""
    for unit, slug in BUS_UNITS.items():
        if topic == UNIT_REPLIES.format(unit=slug):
            return unit
    return None


def topic_matches(template: str, topic: str) -> bool:
    pattern = re.escape(template).replace(re.escape("{unit}"), "(" + "|".join(BUS_UNITS.values()) + ")")
    return re.fullmatch(pattern, topic) is not None


def all_topics() -> list[TopicSpec]:
    """Every topic the bus uses, with who may read it."""
    topics = [
        TopicSpec(BUREAU_PETITIONS, "Registered petitions with the petitioner's personal data; bureau only.", pii=True),
        TopicSpec(BUREAU_TRIAGE, "Triage decisions: routing, diversion, jurisdiction rulings. No personal data."),
        TopicSpec(BUREAU_COORDINATION, "Bureau decisions on packages and teams. No personal data."),
        TopicSpec(BUREAU_SUPERVISION, "Public supervision listings. No personal data."),
        TopicSpec(BUREAU_ANSWERS, "Units' answers as the bus accepted them (checked by the referee, with the deadline "
                                  "that applies); what every service but the referee reads. No personal data."),
        TopicSpec(BUREAU_NOTICES, "Written notices (告知书) to petitioners, rendered, with the recipient's name and contact; "
                                  "the bureau and its delivery systems only.", pii=True),
        TopicSpec(BUREAU_DELIVERIES, "Delivery systems' confirmations that a notice reached the petitioner. No personal data."),
        TopicSpec(BUREAU_CALLBACKS, "The petitioners' evaluations of the handling opinions at the bureau's callbacks (回访). "
                                    "No personal data."),
        TopicSpec(DEAD_LETTER, "Messages that could not be processed, kept whole with the reason; operators only.",
                  pii=True, partitions=3),
    ]
    for unit, slug in HANDLING_UNITS.items():
        topics.append(TopicSpec(UNIT_INBOX.format(unit=slug), f"What {unit} receives; contact details of its own cases only.", pii=True))
        topics.append(TopicSpec(UNIT_REPLIES.format(unit=slug), f"What {unit} answers. No personal data."))
    for body, slug in REVIEWING_BODIES.items():
        topics.append(TopicSpec(UNIT_INBOX.format(unit=slug), f"What the reviewing body {body} receives: review and re-check "
                                                              "requests, letters. No personal data."))
        topics.append(TopicSpec(UNIT_REPLIES.format(unit=slug), f"What the reviewing body {body} decides. No personal data."))
    return topics
