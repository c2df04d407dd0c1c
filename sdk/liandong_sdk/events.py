"""Typed events: one class per event type of the catalogue and one per named type it uses,
generated from the Avro schemas (``schemas/*.avsc``) by ``liandong schemas codegen``. Do not edit:
change the schema and generate again (``tests/unit/test_events.py`` checks this file is current).

``Event.payload`` decodes a consumed event to its class; ``Publisher.publish(event)`` encodes one.
Enums are ``StrEnum``: a member equals its symbol, so ``Unit.POLICE == "POLICE"``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import ClassVar

from ._typed import EventRecord, Record, known


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseRef(Record):
    """Reference to a petition case; carries no personal data."""

    SCHEMA: ClassVar[str] = "liandong.types.CaseRef"

    case_number: str
    """Readable unique case number: district code, year and sequence, e.g. 140214-2026-000123."""

    petition_id: uuid.UUID
    """Identifier of the petition as registered."""

    district_code: str
    """Administrative division code of the registering bureau."""


class Clock(StrEnum):
    """Which regulation clock a deadline belongs to (Regulation on Petition Work 2022)."""

    FORWARD = "FORWARD"
    ACCEPTANCE_NOTICE = "ACCEPTANCE_NOTICE"
    OBJECTION = "OBJECTION"
    HANDLING = "HANDLING"
    REVIEW = "REVIEW"
    RECHECK = "RECHECK"
    PACKAGE_PROGRESS = "PACKAGE_PROGRESS"
    MEDIATION_ANSWER = "MEDIATION_ANSWER"
    TASK_ACK = "TASK_ACK"
    RECOMMENDATION_FEEDBACK = "RECOMMENDATION_FEEDBACK"
    TASK_DUE = "TASK_DUE"
    UNKNOWN = "UNKNOWN"


class DayBasis(StrEnum):
    """Whether a deadline counts calendar days or working days."""

    CALENDAR = "CALENDAR"
    WORKING = "WORKING"
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True, slots=True, kw_only=True)
class Deadline(Record):
    """The deadline that applies to the event's step."""

    SCHEMA: ClassVar[str] = "liandong.types.Deadline"

    clock: Clock
    """Which regulation clock this deadline belongs to."""

    due_at: datetime
    """When the step is due (UTC)."""

    days: int
    """Length of the period in days."""

    day_basis: DayBasis
    """Whether days are calendar or working days."""


class Channel(StrEnum):
    """How the petition reached the bureau."""

    ONLINE = "ONLINE"
    VISIT = "VISIT"
    LETTER = "LETTER"
    HOTLINE_12345 = "HOTLINE_12345"
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True, slots=True, kw_only=True)
class Petitioner(Record):
    """Personal data of a petitioner: only on topics the bureau and the handling units of the case read."""

    SCHEMA: ClassVar[str] = "liandong.types.Petitioner"

    name: str
    """Full name of the petitioner or the group's representative."""

    id_number: str | None = None
    """Resident identity card number, if given."""

    phone: str | None = None
    """Contact phone, if given."""

    address: str | None = None
    """Contact address, if given."""

    group_size: int = 1
    """Number of people the petition is made for (1 for an individual)."""


class MatterCategory(StrEnum):
    """What a petition is about; drives routing and diversion."""

    WAGE_ARREARS = "WAGE_ARREARS"
    HEATING = "HEATING"
    PROPERTY_MANAGEMENT = "PROPERTY_MANAGEMENT"
    HOUSING_QUALITY = "HOUSING_QUALITY"
    LAND = "LAND"
    SOCIAL_SECURITY = "SOCIAL_SECURITY"
    LITIGATION = "LITIGATION"
    ARBITRATION = "ARBITRATION"
    ADMINISTRATIVE_REVIEW = "ADMINISTRATIVE_REVIEW"
    CIVIL_DISPUTE = "CIVIL_DISPUTE"
    ADMINISTRATIVE_ACT = "ADMINISTRATIVE_ACT"
    PUBLIC_ORDER = "PUBLIC_ORDER"
    OFFICIAL_MISCONDUCT = "OFFICIAL_MISCONDUCT"
    OTHER = "OTHER"


@dataclass(frozen=True, slots=True, kw_only=True)
class PetitionRegistered(EventRecord):
    """A petition was registered (登记). Carries personal data: bureau-only topic."""

    TYPE: ClassVar[str] = "petition.registered"
    SCHEMA: ClassVar[str] = "liandong.events.PetitionRegistered"

    event_id: uuid.UUID
    """Unique id of this event; equals the ce_id header."""

    occurred_at: datetime
    """When the event happened (UTC)."""

    case: CaseRef
    """The case this event belongs to; its case number is the message key."""

    deadline: Deadline | None = None
    """The deadline that applies after this event, if any."""

    channel: Channel
    """Channel the petition came through."""

    petitioner: Petitioner
    """The petitioner's personal data."""

    summary: str
    """What the petitioner asks for, in their words."""

    category_hint: MatterCategory = MatterCategory.OTHER
    """Category proposed at registration, confirmed by triage."""

    idempotency_key: str
    """Key of the submission; the same key always yields the same case."""

    received_at: datetime
    """When the bureau received the petition."""

    repeat_of: str | None = None
    """Case number of an earlier case on the same matter, if this is a repeat."""

    assigned_by: str | None = None
    """Who assigned or supervises the item from above (上级交办/督办), e.g. 市信访局; null for an ordinary petition."""

    assigned_due_at: datetime | None = None
    """The due date set from above (UTC; 24:00 Beijing time of its last day): every clock of the case ends by it at the
    latest.
    """


@dataclass(frozen=True, slots=True, kw_only=True)
class PetitionRepeatDetected(EventRecord):
    """A petition was found to repeat an open or closed case (重复信访)."""

    TYPE: ClassVar[str] = "petition.repeat.detected"
    SCHEMA: ClassVar[str] = "liandong.events.PetitionRepeatDetected"

    event_id: uuid.UUID
    """Unique id of this event; equals the ce_id header."""

    occurred_at: datetime
    """When the event happened (UTC)."""

    case: CaseRef
    """The case this event belongs to; its case number is the message key."""

    deadline: Deadline | None = None
    """The deadline that applies after this event, if any."""

    earlier_case_number: str
    """Case number of the earlier case on the same matter."""

    earlier_closed: bool
    """Whether the earlier case was already closed."""

    reason: str
    """How the repeat was recognised."""

    not_accepted_reason: str | None = None
    """Set when the bureau does not accept the petition at all (Art. 36: the same matter after its re-check, 复核): why,
    as the petitioner's not-accepted notice says it; null for an ordinary repeat.
    """


class Unit(StrEnum):
    """A unit on the bus: the petition bureau, a handling department, a diversion channel's owner, or a reviewing body
    (复查/复核机关: DISTRICT_GOVERNMENT 区人民政府, CITY_GOVERNMENT 市人民政府, CITY_HRSS 市人社局, CITY_POLICE 市公安局).
    """

    BUREAU = "BUREAU"
    JUSTICE = "JUSTICE"
    HRSS = "HRSS"
    HOUSING = "HOUSING"
    POLICE = "POLICE"
    POLITICS_LAW = "POLITICS_LAW"
    COURT = "COURT"
    DISCIPLINE = "DISCIPLINE"
    STREET_OFFICE = "STREET_OFFICE"
    DISTRICT_GOVERNMENT = "DISTRICT_GOVERNMENT"
    CITY_GOVERNMENT = "CITY_GOVERNMENT"
    CITY_HRSS = "CITY_HRSS"
    CITY_POLICE = "CITY_POLICE"
    UNKNOWN = "UNKNOWN"


class HandoffMode(StrEnum):
    """Forward (转送) hands a case to the competent unit; assign (交办) adds a deadline and a required final report."""

    FORWARD = "FORWARD"
    ASSIGN = "ASSIGN"
    UNKNOWN = "UNKNOWN"


class DiversionChannel(StrEnum):
    """The legal channel a non-petition matter belongs to (诉访分离)."""

    LITIGATION = "LITIGATION"
    ARBITRATION = "ARBITRATION"
    ADMINISTRATIVE_REVIEW = "ADMINISTRATIVE_REVIEW"
    DISCIPLINE = "DISCIPLINE"
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True, slots=True, kw_only=True)
class PetitionTriaged(EventRecord):
    """Triage classified the matter and chose the receiving units (分类)."""

    TYPE: ClassVar[str] = "petition.triaged"
    SCHEMA: ClassVar[str] = "liandong.events.PetitionTriaged"

    event_id: uuid.UUID
    """Unique id of this event; equals the ce_id header."""

    occurred_at: datetime
    """When the event happened (UTC)."""

    case: CaseRef
    """The case this event belongs to; its case number is the message key."""

    deadline: Deadline | None = None
    """The deadline that applies after this event, if any."""

    category: MatterCategory
    """Confirmed matter category."""

    lead_unit: Unit
    """Unit that leads the handling."""

    co_units: list[Unit]
    """Units that handle the case together with the lead."""

    mode: HandoffMode
    """Forward or assign."""

    rationale: str
    """Which routing rule applied."""

    matched: list[str] = field(default_factory=list)
    """What the classification matched on: the keywords found in the summary (empty: the category intake gave)."""

    diverted_part_channel: DiversionChannel | None = None
    """A part of the petition for another channel (e.g. a discipline complaint beside a service problem), named while
    the service part is routed; null if none.
    """

    diverted_part_explanation: str | None = None
    """What the petitioner is told about that part: where to take it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PetitionDiverted(EventRecord):
    """The matter belongs to another legal channel and is not handled as a petition (分流)."""

    TYPE: ClassVar[str] = "petition.diverted"
    SCHEMA: ClassVar[str] = "liandong.events.PetitionDiverted"

    event_id: uuid.UUID
    """Unique id of this event; equals the ce_id header."""

    occurred_at: datetime
    """When the event happened (UTC)."""

    case: CaseRef
    """The case this event belongs to; its case number is the message key."""

    deadline: Deadline | None = None
    """The deadline that applies after this event, if any."""

    category: MatterCategory
    """Confirmed matter category."""

    diversion_channel: DiversionChannel
    """The channel the petitioner is told to use."""

    explanation: str
    """What the petitioner is told."""

    matched: list[str] = field(default_factory=list)
    """What the classification matched on: the keywords found in the summary (empty: the category intake gave)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseJurisdictionEscalated(EventRecord):
    """Objections were exhausted: the bureau (or the joint conference) must decide which unit handles the case (Art.
    24).
    """

    TYPE: ClassVar[str] = "case.jurisdiction.escalated"
    SCHEMA: ClassVar[str] = "liandong.events.CaseJurisdictionEscalated"

    event_id: uuid.UUID
    """Unique id of this event; equals the ce_id header."""

    occurred_at: datetime
    """When the event happened (UTC)."""

    case: CaseRef
    """The case this event belongs to; its case number is the message key."""

    deadline: Deadline | None = None
    """The deadline that applies after this event, if any."""

    units_tried: list[Unit]
    """Units that objected, in order."""

    reason: str
    """The last objection's reason."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseJurisdictionDecided(EventRecord):
    """The bureau or joint conference decided a disputed jurisdiction (受理争议裁定)."""

    TYPE: ClassVar[str] = "case.jurisdiction.decided"
    SCHEMA: ClassVar[str] = "liandong.events.CaseJurisdictionDecided"

    event_id: uuid.UUID
    """Unique id of this event; equals the ce_id header."""

    occurred_at: datetime
    """When the event happened (UTC)."""

    case: CaseRef
    """The case this event belongs to; its case number is the message key."""

    deadline: Deadline | None = None
    """The deadline that applies after this event, if any."""

    unit: Unit
    """The unit that must handle the case."""

    decided_by: str
    """Who decided (bureau, common superior, joint conference)."""

    reason: str
    """Grounds of the decision."""


class HandoffRole(StrEnum):
    """The part a receiving unit plays in a case."""

    LEAD = "LEAD"
    CO = "CO"
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseHandoffRequested(EventRecord):
    """A case is forwarded or assigned to a unit (转送/交办); sent on that unit's inbox."""

    TYPE: ClassVar[str] = "case.handoff.requested"
    SCHEMA: ClassVar[str] = "liandong.events.CaseHandoffRequested"

    event_id: uuid.UUID
    """Unique id of this event; equals the ce_id header."""

    occurred_at: datetime
    """When the event happened (UTC)."""

    case: CaseRef
    """The case this event belongs to; its case number is the message key."""

    deadline: Deadline | None = None
    """The deadline that applies after this event, if any."""

    unit: Unit
    """The receiving unit."""

    role: HandoffRole
    """Lead or co-unit."""

    mode: HandoffMode
    """Forward or assign."""

    category: MatterCategory
    """Matter category."""

    summary: str
    """What the petitioner asks for."""

    petitioner: Petitioner | None = None
    """Contact details for the handling unit of this case only."""

    attempt: int = 1
    """1 for the first routing, +1 for each re-routing after an objection."""

    objection_due_at: datetime | None = None
    """End of the unit's objection window (Art. 23: 5 working days, by the Civil Code's rule for periods; UTC); an
    objection after it is refused. Null on handoffs written before the bus carried it.
    """


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseHandoffAccepted(EventRecord):
    """The unit signed for the case (签收)."""

    TYPE: ClassVar[str] = "case.handoff.accepted"
    SCHEMA: ClassVar[str] = "liandong.events.CaseHandoffAccepted"

    event_id: uuid.UUID
    """Unique id of this event; equals the ce_id header."""

    occurred_at: datetime
    """When the event happened (UTC)."""

    case: CaseRef
    """The case this event belongs to; its case number is the message key."""

    deadline: Deadline | None = None
    """The deadline that applies after this event, if any."""

    unit: Unit
    """The unit that signed."""

    signed_by: str
    """Name or role of the official who signed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseHandoffRejected(EventRecord):
    """The unit objects that the matter is not theirs (异议退回), within 5 working days."""

    TYPE: ClassVar[str] = "case.handoff.rejected"
    SCHEMA: ClassVar[str] = "liandong.events.CaseHandoffRejected"

    event_id: uuid.UUID
    """Unique id of this event; equals the ce_id header."""

    occurred_at: datetime
    """When the event happened (UTC)."""

    case: CaseRef
    """The case this event belongs to; its case number is the message key."""

    deadline: Deadline | None = None
    """The deadline that applies after this event, if any."""

    unit: Unit
    """The objecting unit."""

    reason: str
    """Why the matter is not theirs."""

    suggested_unit: Unit = Unit.UNKNOWN
    """Unit the objector thinks is competent."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseAccepted(EventRecord):
    """The unit accepted the case and notified the petitioner in writing (受理告知)."""

    TYPE: ClassVar[str] = "case.accepted"
    SCHEMA: ClassVar[str] = "liandong.events.CaseAccepted"

    event_id: uuid.UUID
    """Unique id of this event; equals the ce_id header."""

    occurred_at: datetime
    """When the event happened (UTC)."""

    case: CaseRef
    """The case this event belongs to; its case number is the message key."""

    deadline: Deadline | None = None
    """The deadline that applies after this event, if any."""

    unit: Unit
    """The accepting unit."""

    notice_no: str
    """Number of the written acceptance notice."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseNotAccepted(EventRecord):
    """The unit decided not to accept the case and told the petitioner why (不予受理告知)."""

    TYPE: ClassVar[str] = "case.not_accepted"
    SCHEMA: ClassVar[str] = "liandong.events.CaseNotAccepted"

    event_id: uuid.UUID
    """Unique id of this event; equals the ce_id header."""

    occurred_at: datetime
    """When the event happened (UTC)."""

    case: CaseRef
    """The case this event belongs to; its case number is the message key."""

    deadline: Deadline | None = None
    """The deadline that applies after this event, if any."""

    unit: Unit
    """The deciding unit."""

    reason: str
    """Legal grounds for not accepting."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseProgressReported(EventRecord):
    """The handling unit reported progress (办理进展)."""

    TYPE: ClassVar[str] = "case.progress"
    SCHEMA: ClassVar[str] = "liandong.events.CaseProgressReported"

    event_id: uuid.UUID
    """Unique id of this event; equals the ce_id header."""

    occurred_at: datetime
    """When the event happened (UTC)."""

    case: CaseRef
    """The case this event belongs to; its case number is the message key."""

    deadline: Deadline | None = None
    """The deadline that applies after this event, if any."""

    unit: Unit
    """The reporting unit."""

    percent: int
    """Estimated completion, 0 to 100."""

    note: str
    """What was done."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseExtensionApproved(EventRecord):
    """The unit's head approved an extension of the handling period (延期, at most 30 days)."""

    TYPE: ClassVar[str] = "case.extension.approved"
    SCHEMA: ClassVar[str] = "liandong.events.CaseExtensionApproved"

    event_id: uuid.UUID
    """Unique id of this event; equals the ce_id header."""

    occurred_at: datetime
    """When the event happened (UTC)."""

    case: CaseRef
    """The case this event belongs to; its case number is the message key."""

    deadline: Deadline | None = None
    """The deadline that applies after this event, if any."""

    unit: Unit
    """The handling unit."""

    extra_days: int
    """Days added to the handling period (1 to 30)."""

    reason: str
    """Why more time is needed."""


class ResolutionOutcome(StrEnum):
    """The written handling opinion (处理意见): support, explain, or not support."""

    SUPPORTED = "SUPPORTED"
    EXPLAINED = "EXPLAINED"
    NOT_SUPPORTED = "NOT_SUPPORTED"
    UNKNOWN = "UNKNOWN"


class ResolutionTag(StrEnum):
    """The 三到位一处理 principle applied: demand solved, explained, hardship assisted, unlawful behaviour handled by law."""

    SOLVED = "SOLVED"
    EXPLAINED = "EXPLAINED"
    ASSISTED = "ASSISTED"
    HANDLED_BY_LAW = "HANDLED_BY_LAW"
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseResolved(EventRecord):
    """The handling unit issued its written opinion (办结, 处理意见书)."""

    TYPE: ClassVar[str] = "case.resolved"
    SCHEMA: ClassVar[str] = "liandong.events.CaseResolved"

    event_id: uuid.UUID
    """Unique id of this event; equals the ce_id header."""

    occurred_at: datetime
    """When the event happened (UTC)."""

    case: CaseRef
    """The case this event belongs to; its case number is the message key."""

    deadline: Deadline | None = None
    """The deadline that applies after this event, if any."""

    unit: Unit
    """The handling unit."""

    outcome: ResolutionOutcome
    """Support, explain or not support."""

    tag: ResolutionTag
    """Which part of 三到位一处理 applied."""

    opinion: str
    """Summary of the written opinion."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MediationRequested(EventRecord):
    """A joint mediation (联合调处) was requested; sent to each participant's inbox."""

    TYPE: ClassVar[str] = "mediation.requested"
    SCHEMA: ClassVar[str] = "liandong.events.MediationRequested"

    event_id: uuid.UUID
    """Unique id of this event; equals the ce_id header."""

    occurred_at: datetime
    """When the event happened (UTC)."""

    case: CaseRef
    """The case this event belongs to; its case number is the message key."""

    deadline: Deadline | None = None
    """The deadline that applies after this event, if any."""

    mediation_id: uuid.UUID
    """Identifier of the mediation."""

    unit: Unit
    """The participant this copy is addressed to."""

    convener: Unit
    """Unit convening the mediation."""

    participants: list[Unit]
    """All participating units."""

    legal_advisers: list[str]
    """Names of the legal advisers taking part."""

    requested_by: Unit
    """Unit or bureau that asked for the mediation."""

    subject: str
    """What is to be mediated."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MediationJoined(EventRecord):
    """A participant agreed to take part in a joint mediation."""

    TYPE: ClassVar[str] = "mediation.joined"
    SCHEMA: ClassVar[str] = "liandong.events.MediationJoined"

    event_id: uuid.UUID
    """Unique id of this event; equals the ce_id header."""

    occurred_at: datetime
    """When the event happened (UTC)."""

    case: CaseRef
    """The case this event belongs to; its case number is the message key."""

    deadline: Deadline | None = None
    """The deadline that applies after this event, if any."""

    mediation_id: uuid.UUID
    """Identifier of the mediation."""

    unit: Unit
    """The joining unit."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MediationDeclined(EventRecord):
    """A participant declined a joint mediation."""

    TYPE: ClassVar[str] = "mediation.declined"
    SCHEMA: ClassVar[str] = "liandong.events.MediationDeclined"

    event_id: uuid.UUID
    """Unique id of this event; equals the ce_id header."""

    occurred_at: datetime
    """When the event happened (UTC)."""

    case: CaseRef
    """The case this event belongs to; its case number is the message key."""

    deadline: Deadline | None = None
    """The deadline that applies after this event, if any."""

    mediation_id: uuid.UUID
    """Identifier of the mediation."""

    unit: Unit
    """The declining unit."""

    reason: str
    """Why it declines."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MediationSessionHeld(EventRecord):
    """The convener recorded a mediation session."""

    TYPE: ClassVar[str] = "mediation.session_held"
    SCHEMA: ClassVar[str] = "liandong.events.MediationSessionHeld"

    event_id: uuid.UUID
    """Unique id of this event; equals the ce_id header."""

    occurred_at: datetime
    """When the event happened (UTC)."""

    case: CaseRef
    """The case this event belongs to; its case number is the message key."""

    deadline: Deadline | None = None
    """The deadline that applies after this event, if any."""

    mediation_id: uuid.UUID
    """Identifier of the mediation."""

    unit: Unit
    """The convener recording the session."""

    held_at: datetime
    """When the session took place."""

    attendees: list[str]
    """Who attended (officials and advisers, by role or name)."""

    summary: str
    """What was discussed and agreed."""


class MediationResult(StrEnum):
    """How a joint mediation ended."""

    AGREEMENT = "AGREEMENT"
    PARTIAL_AGREEMENT = "PARTIAL_AGREEMENT"
    NO_AGREEMENT = "NO_AGREEMENT"
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True, slots=True, kw_only=True)
class MediationConcluded(EventRecord):
    """A joint mediation ended."""

    TYPE: ClassVar[str] = "mediation.concluded"
    SCHEMA: ClassVar[str] = "liandong.events.MediationConcluded"

    event_id: uuid.UUID
    """Unique id of this event; equals the ce_id header."""

    occurred_at: datetime
    """When the event happened (UTC)."""

    case: CaseRef
    """The case this event belongs to; its case number is the message key."""

    deadline: Deadline | None = None
    """The deadline that applies after this event, if any."""

    mediation_id: uuid.UUID
    """Identifier of the mediation."""

    unit: Unit
    """The convener."""

    result: MediationResult
    """Agreement, partial agreement or none."""

    summary: str
    """The agreement reached, or why none was."""

    referral: DiversionChannel | None = None
    """Where the case goes when there is no agreement."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PackageMember(Record):
    """One filled role slot of a responsibility package (包案)."""

    SCHEMA: ClassVar[str] = "liandong.types.PackageMember"

    role: str
    """Role slot name, e.g. leading official, responsible-unit head, street cadre, police officer, legal adviser."""

    person: str
    """Name of the responsible official (not a petitioner)."""

    unit: Unit
    """Unit the official belongs to."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PackageAssigned(EventRecord):
    """A key case or petitioner group was assigned to a responsibility package (包案); sent to each member's unit."""

    TYPE: ClassVar[str] = "package.assigned"
    SCHEMA: ClassVar[str] = "liandong.events.PackageAssigned"

    event_id: uuid.UUID
    """Unique id of this event; equals the ce_id header."""

    occurred_at: datetime
    """When the event happened (UTC)."""

    case: CaseRef
    """The case this event belongs to; its case number is the message key."""

    deadline: Deadline | None = None
    """The deadline that applies after this event, if any."""

    package_id: uuid.UUID
    """Identifier of the package."""

    unit: Unit
    """The member unit this copy is addressed to."""

    case_numbers: list[str]
    """All cases in the package (the key case first)."""

    members: list[PackageMember]
    """The filled role slots."""

    leader_package: bool = False
    """True for a leader's package (领导包案)."""

    plan: str
    """The resolution plan."""

    progress_cadence_days: int
    """Days between required progress reports."""

    expected_resolution_on: date
    """Expected resolution date."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PackageProgressReported(EventRecord):
    """A package member reported progress."""

    TYPE: ClassVar[str] = "package.progress"
    SCHEMA: ClassVar[str] = "liandong.events.PackageProgressReported"

    event_id: uuid.UUID
    """Unique id of this event; equals the ce_id header."""

    occurred_at: datetime
    """When the event happened (UTC)."""

    case: CaseRef
    """The case this event belongs to; its case number is the message key."""

    deadline: Deadline | None = None
    """The deadline that applies after this event, if any."""

    package_id: uuid.UUID
    """Identifier of the package."""

    unit: Unit
    """The reporting member's unit."""

    percent: int
    """Estimated completion, 0 to 100."""

    actions: list[str]
    """Actions taken since the last report."""


class PackageResult(StrEnum):
    """The closing result of a responsibility package (化解/部分化解/未化解/转入司法)."""

    RESOLVED = "RESOLVED"
    PARTIALLY_RESOLVED = "PARTIALLY_RESOLVED"
    UNRESOLVED = "UNRESOLVED"
    TRANSFERRED_TO_JUDICIAL = "TRANSFERRED_TO_JUDICIAL"
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True, slots=True, kw_only=True)
class PackageClosed(EventRecord):
    """A responsibility package was closed with a result."""

    TYPE: ClassVar[str] = "package.closed"
    SCHEMA: ClassVar[str] = "liandong.events.PackageClosed"

    event_id: uuid.UUID
    """Unique id of this event; equals the ce_id header."""

    occurred_at: datetime
    """When the event happened (UTC)."""

    case: CaseRef
    """The case this event belongs to; its case number is the message key."""

    deadline: Deadline | None = None
    """The deadline that applies after this event, if any."""

    package_id: uuid.UUID
    """Identifier of the package."""

    result: PackageResult
    """Closing result."""

    resolved_on: date
    """Actual resolution date."""

    summary: str
    """How the matter ended."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TeamTaskAssigned(EventRecord):
    """A campaign task was assigned to a working group of a joint task team (一办五组); keyed by task number."""

    TYPE: ClassVar[str] = "team.task.assigned"
    SCHEMA: ClassVar[str] = "liandong.events.TeamTaskAssigned"

    event_id: uuid.UUID
    """Unique id of this event; equals the ce_id header."""

    occurred_at: datetime
    """When the event happened (UTC)."""

    task_number: str
    """Readable task number; the message key."""

    team: str
    """Team identifier from configuration."""

    group: str
    """Working group identifier within the team."""

    unit: Unit
    """Unit of the group members this copy is addressed to."""

    campaign: str
    """Campaign the task belongs to, e.g. winter-heating-2026."""

    description: str
    """What is to be done."""

    deadline: Deadline | None = None
    """When the task is due, if it has a due date."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MediationProposed(EventRecord):
    """The bureau asks for a joint mediation (联合调处) of a case; the coordination service invites the participants."""

    TYPE: ClassVar[str] = "mediation.proposed"
    SCHEMA: ClassVar[str] = "liandong.events.MediationProposed"

    event_id: uuid.UUID
    """Unique id of this event; equals the ce_id header."""

    occurred_at: datetime
    """When the event happened (UTC)."""

    case: CaseRef
    """The case this event belongs to; its case number is the message key."""

    deadline: Deadline | None = None
    """The deadline that applies after this event, if any."""

    requested_by: Unit
    """Who asked for the mediation (BUREAU, or a unit the bureau acts for)."""

    mediation_id: uuid.UUID
    """Identifier of the mediation (chosen by the requester)."""

    convener: Unit
    """Unit convening the mediation."""

    participants: list[Unit]
    """All participating units (the convener included)."""

    legal_advisers: list[str]
    """Names of the legal advisers taking part."""

    subject: str
    """What is to be mediated."""

    answer_days: int = 3
    """Days each participant has to join or decline."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MediationRequestSubmitted(EventRecord):
    """A unit asks for a joint mediation (联合调处) of a case it handles; the coordination service invites the
    participants.
    """

    TYPE: ClassVar[str] = "mediation.request.submitted"
    SCHEMA: ClassVar[str] = "liandong.events.MediationRequestSubmitted"

    event_id: uuid.UUID
    """Unique id of this event; equals the ce_id header."""

    occurred_at: datetime
    """When the event happened (UTC)."""

    case: CaseRef
    """The case this event belongs to; its case number is the message key."""

    deadline: Deadline | None = None
    """The deadline that applies after this event, if any."""

    unit: Unit
    """The requesting unit (its replies topic carries the request)."""

    mediation_id: uuid.UUID
    """Identifier of the mediation (chosen by the requester)."""

    convener: Unit
    """Unit convening the mediation."""

    participants: list[Unit]
    """All participating units (the convener included)."""

    legal_advisers: list[str]
    """Names of the legal advisers taking part."""

    subject: str
    """What is to be mediated."""

    answer_days: int = 3
    """Days each participant has to join or decline."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MediationReminderIssued(EventRecord):
    """A participant has not answered a mediation request by its deadline: a reminder on its inbox (the new deadline
    travels with it).
    """

    TYPE: ClassVar[str] = "mediation.reminder"
    SCHEMA: ClassVar[str] = "liandong.events.MediationReminderIssued"

    event_id: uuid.UUID
    """Unique id of this event; equals the ce_id header."""

    occurred_at: datetime
    """When the event happened (UTC)."""

    case: CaseRef
    """The case this event belongs to; its case number is the message key."""

    deadline: Deadline | None = None
    """The deadline that applies after this event, if any."""

    mediation_id: uuid.UUID
    """Identifier of the mediation."""

    unit: Unit
    """The participant that has not answered."""

    convener: Unit
    """Unit convening the mediation."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MediationEscalated(EventRecord):
    """A participant answered neither the mediation request nor its reminder: the bureau is told."""

    TYPE: ClassVar[str] = "mediation.escalated"
    SCHEMA: ClassVar[str] = "liandong.events.MediationEscalated"

    event_id: uuid.UUID
    """Unique id of this event; equals the ce_id header."""

    occurred_at: datetime
    """When the event happened (UTC)."""

    case: CaseRef
    """The case this event belongs to; its case number is the message key."""

    deadline: Deadline | None = None
    """The deadline that applies after this event, if any."""

    mediation_id: uuid.UUID
    """Identifier of the mediation."""

    unit: Unit
    """The participant that has not answered."""

    reason: str
    """Why the matter goes to the bureau."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseReferred(EventRecord):
    """A case goes on to arbitration or litigation (信访与仲裁、诉讼衔接), e.g. after a joint mediation without agreement."""

    TYPE: ClassVar[str] = "case.referred"
    SCHEMA: ClassVar[str] = "liandong.events.CaseReferred"

    event_id: uuid.UUID
    """Unique id of this event; equals the ce_id header."""

    occurred_at: datetime
    """When the event happened (UTC)."""

    case: CaseRef
    """The case this event belongs to; its case number is the message key."""

    deadline: Deadline | None = None
    """The deadline that applies after this event, if any."""

    channel: DiversionChannel
    """Where the case goes."""

    mediation_id: uuid.UUID | None = None
    """The failed mediation that led to the referral, if any."""

    reason: str
    """Why the case is referred."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PackageOrdered(EventRecord):
    """The bureau orders a responsibility package (包案, 五包一) for a key case or a group of linked cases; the coordination
    service assigns it to the members.
    """

    TYPE: ClassVar[str] = "package.ordered"
    SCHEMA: ClassVar[str] = "liandong.events.PackageOrdered"

    event_id: uuid.UUID
    """Unique id of this event; equals the ce_id header."""

    occurred_at: datetime
    """When the event happened (UTC)."""

    case: CaseRef
    """The case this event belongs to; its case number is the message key."""

    deadline: Deadline | None = None
    """The deadline that applies after this event, if any."""

    package_id: uuid.UUID
    """Identifier of the package."""

    case_numbers: list[str]
    """All cases in the package (the key case first)."""

    members: list[PackageMember]
    """The filled role slots."""

    leader_package: bool = False
    """True for a leader's package (领导包案): a leading official holds the lead slot."""

    plan: str
    """The resolution plan."""

    progress_cadence_days: int
    """Days between required progress reports."""

    expected_resolution_on: date
    """Expected resolution date."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PackageReminderIssued(EventRecord):
    """A package's progress report is overdue: a reminder on each member unit's inbox."""

    TYPE: ClassVar[str] = "package.reminder"
    SCHEMA: ClassVar[str] = "liandong.events.PackageReminderIssued"

    event_id: uuid.UUID
    """Unique id of this event; equals the ce_id header."""

    occurred_at: datetime
    """When the event happened (UTC)."""

    case: CaseRef
    """The case this event belongs to; its case number is the message key."""

    deadline: Deadline | None = None
    """The deadline that applies after this event, if any."""

    package_id: uuid.UUID
    """Identifier of the package."""

    unit: Unit
    """The member unit this copy is addressed to."""

    period: int
    """Which reporting period is missing (1 = the first report after assignment)."""

    last_report_at: datetime | None = None
    """When progress was last reported, if ever."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PackageExtensionRequested(EventRecord):
    """The bureau asks to move a package's expected resolution date; the coordination service grants it within the
    bound.
    """

    TYPE: ClassVar[str] = "package.extension.requested"
    SCHEMA: ClassVar[str] = "liandong.events.PackageExtensionRequested"

    event_id: uuid.UUID
    """Unique id of this event; equals the ce_id header."""

    occurred_at: datetime
    """When the event happened (UTC)."""

    case: CaseRef
    """The case this event belongs to; its case number is the message key."""

    deadline: Deadline | None = None
    """The deadline that applies after this event, if any."""

    package_id: uuid.UUID
    """Identifier of the package."""

    days: int
    """Days to add to the expected resolution date."""

    reason: str
    """Why more time is needed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PackageExtended(EventRecord):
    """A package's expected resolution date was moved (bounded extension)."""

    TYPE: ClassVar[str] = "package.extended"
    SCHEMA: ClassVar[str] = "liandong.events.PackageExtended"

    event_id: uuid.UUID
    """Unique id of this event; equals the ce_id header."""

    occurred_at: datetime
    """When the event happened (UTC)."""

    case: CaseRef
    """The case this event belongs to; its case number is the message key."""

    deadline: Deadline | None = None
    """The deadline that applies after this event, if any."""

    package_id: uuid.UUID
    """Identifier of the package."""

    days: int
    """Days added by this extension."""

    total_days: int
    """Days added by all extensions so far."""

    expected_resolution_on: date
    """The new expected resolution date."""

    reason: str
    """Why more time was given."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TeamTaskPublished(EventRecord):
    """The bureau publishes a campaign task to a working group of a joint task team (一办五组); keyed by task number."""

    TYPE: ClassVar[str] = "team.task.published"
    SCHEMA: ClassVar[str] = "liandong.events.TeamTaskPublished"

    event_id: uuid.UUID
    """Unique id of this event; equals the ce_id header."""

    occurred_at: datetime
    """When the event happened (UTC)."""

    task_number: str
    """Readable task number; the message key."""

    team: str
    """Team identifier from configuration."""

    group: str
    """Working group identifier within the team."""

    campaign: str
    """Campaign the task belongs to, e.g. winter-heating-2026."""

    description: str
    """What is to be done."""

    due_days: int
    """Days until the task is due."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TeamTaskAcknowledged(EventRecord):
    """A working group acknowledged a campaign task; keyed by task number."""

    TYPE: ClassVar[str] = "team.task.acknowledged"
    SCHEMA: ClassVar[str] = "liandong.events.TeamTaskAcknowledged"

    event_id: uuid.UUID
    """Unique id of this event; equals the ce_id header."""

    occurred_at: datetime
    """When the event happened (UTC)."""

    task_number: str
    """Readable task number; the message key."""

    team: str
    """Team identifier from configuration."""

    group: str
    """Working group identifier within the team."""

    unit: Unit
    """The group's unit (its replies topic carries the answer)."""

    acknowledged_by: str
    """Who acknowledged (an official, not a petitioner)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TeamTaskCompleted(EventRecord):
    """A working group reported a campaign task done; keyed by task number."""

    TYPE: ClassVar[str] = "team.task.completed"
    SCHEMA: ClassVar[str] = "liandong.events.TeamTaskCompleted"

    event_id: uuid.UUID
    """Unique id of this event; equals the ce_id header."""

    occurred_at: datetime
    """When the event happened (UTC)."""

    task_number: str
    """Readable task number; the message key."""

    team: str
    """Team identifier from configuration."""

    group: str
    """Working group identifier within the team."""

    unit: Unit
    """The group's unit (its replies topic carries the answer)."""

    report: str
    """What was done."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TeamTaskReminderIssued(EventRecord):
    """A campaign task has not been acknowledged in time: a reminder on the group's unit inbox; keyed by task number."""

    TYPE: ClassVar[str] = "team.task.reminder"
    SCHEMA: ClassVar[str] = "liandong.events.TeamTaskReminderIssued"

    event_id: uuid.UUID
    """Unique id of this event; equals the ce_id header."""

    occurred_at: datetime
    """When the event happened (UTC)."""

    task_number: str
    """Readable task number; the message key."""

    team: str
    """Team identifier from configuration."""

    group: str
    """Working group identifier within the team."""

    unit: Unit
    """The group's unit this reminder is addressed to."""

    campaign: str
    """Campaign the task belongs to."""

    deadline: Deadline | None = None
    """The new acknowledgement deadline."""


class SupervisionTrigger(StrEnum):
    """Why supervision acted."""

    OVERDUE = "OVERDUE"
    SHOULD_ACCEPT_NOT_ACCEPTED = "SHOULD_ACCEPT_NOT_ACCEPTED"
    SHOULD_HANDLE_NOT_HANDLED = "SHOULD_HANDLE_NOT_HANDLED"
    OPINION_NOT_IMPLEMENTED = "OPINION_NOT_IMPLEMENTED"
    REPEAT_AFTER_CLOSURE = "REPEAT_AFTER_CLOSURE"
    IRREGULAR_HANDLING = "IRREGULAR_HANDLING"
    MISSING_ANSWER = "MISSING_ANSWER"
    PETITIONER_UNSATISFIED = "PETITIONER_UNSATISFIED"
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True, slots=True, kw_only=True)
class SupervisionReminderIssued(EventRecord):
    """A reminder letter (提醒函) was sent before a due date."""

    TYPE: ClassVar[str] = "supervision.reminder"
    SCHEMA: ClassVar[str] = "liandong.events.SupervisionReminderIssued"

    event_id: uuid.UUID
    """Unique id of this event; equals the ce_id header."""

    occurred_at: datetime
    """When the event happened (UTC)."""

    case: CaseRef
    """The case this event belongs to; its case number is the message key."""

    deadline: Deadline | None = None
    """The deadline that applies after this event, if any."""

    unit: Unit
    """The supervised unit."""

    stage: Clock
    """The clock that is running late or about to."""

    trigger: SupervisionTrigger
    """Why supervision acted."""

    letter_no: str
    """Number of the letter or listing."""

    text: str
    """What the unit is asked to do."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SupervisionNoticeIssued(EventRecord):
    """A supervision notice (督办函) was sent at or after a due date."""

    TYPE: ClassVar[str] = "supervision.notice"
    SCHEMA: ClassVar[str] = "liandong.events.SupervisionNoticeIssued"

    event_id: uuid.UUID
    """Unique id of this event; equals the ce_id header."""

    occurred_at: datetime
    """When the event happened (UTC)."""

    case: CaseRef
    """The case this event belongs to; its case number is the message key."""

    deadline: Deadline | None = None
    """The deadline that applies after this event, if any."""

    unit: Unit
    """The supervised unit."""

    stage: Clock
    """The clock that is running late or about to."""

    trigger: SupervisionTrigger
    """Why supervision acted."""

    letter_no: str
    """Number of the letter or listing."""

    text: str
    """What the unit is asked to do."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SupervisionListed(EventRecord):
    """A case was publicly listed for supervision (挂牌督办)."""

    TYPE: ClassVar[str] = "supervision.listed"
    SCHEMA: ClassVar[str] = "liandong.events.SupervisionListed"

    event_id: uuid.UUID
    """Unique id of this event; equals the ce_id header."""

    occurred_at: datetime
    """When the event happened (UTC)."""

    case: CaseRef
    """The case this event belongs to; its case number is the message key."""

    deadline: Deadline | None = None
    """The deadline that applies after this event, if any."""

    unit: Unit
    """The supervised unit."""

    stage: Clock
    """The clock that is running late or about to."""

    trigger: SupervisionTrigger
    """Why supervision acted."""

    letter_no: str
    """Number of the letter or listing."""

    text: str
    """What the unit is asked to do."""


class RecommendationKind(StrEnum):
    """The three recommendations (三项建议)."""

    IMPROVE_WORK = "IMPROVE_WORK"
    IMPROVE_POLICY = "IMPROVE_POLICY"
    PURSUE_ACCOUNTABILITY = "PURSUE_ACCOUNTABILITY"
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True, slots=True, kw_only=True)
class SupervisionRecommendationIssued(EventRecord):
    """The bureau issued one of the three recommendations (三项建议) to a unit."""

    TYPE: ClassVar[str] = "supervision.recommendation"
    SCHEMA: ClassVar[str] = "liandong.events.SupervisionRecommendationIssued"

    event_id: uuid.UUID
    """Unique id of this event; equals the ce_id header."""

    occurred_at: datetime
    """When the event happened (UTC)."""

    case: CaseRef
    """The case this event belongs to; its case number is the message key."""

    deadline: Deadline | None = None
    """The deadline that applies after this event, if any."""

    recommendation_id: uuid.UUID
    """Identifier of the recommendation."""

    unit: Unit
    """The unit that must answer."""

    kind: RecommendationKind
    """Improve work, improve policy or pursue accountability."""

    text: str
    """The recommendation."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SupervisionFeedbackGiven(EventRecord):
    """A unit answered a recommendation in writing."""

    TYPE: ClassVar[str] = "supervision.feedback"
    SCHEMA: ClassVar[str] = "liandong.events.SupervisionFeedbackGiven"

    event_id: uuid.UUID
    """Unique id of this event; equals the ce_id header."""

    occurred_at: datetime
    """When the event happened (UTC)."""

    case: CaseRef
    """The case this event belongs to; its case number is the message key."""

    deadline: Deadline | None = None
    """The deadline that applies after this event, if any."""

    recommendation_id: uuid.UUID
    """Identifier of the recommendation."""

    unit: Unit
    """The answering unit."""

    adopted: bool
    """Whether the unit adopted the recommendation."""

    reason: str | None = None
    """Why not, when not adopted."""


class NoticeKind(StrEnum):
    """Which written notice (告知书) to the petitioner: ACCEPTANCE 受理告知书 (Art. 23), NOT_ACCEPTED 不予受理告知书 (with the
    reason), DIVERSION 分流告知 (the channel to use, Art. 22, 28, 31), EXTENSION 延期告知书 (Art. 32), OPINION 处理意见书 (with
    the right to apply for review within 30 days, and to whom); OTHER for a kind this reader does not know.
    """

    ACCEPTANCE = "ACCEPTANCE"
    NOT_ACCEPTED = "NOT_ACCEPTED"
    DIVERSION = "DIVERSION"
    EXTENSION = "EXTENSION"
    OPINION = "OPINION"
    OTHER = "OTHER"


class DeliveryChannel(StrEnum):
    """How a notice reaches the petitioner: SMS 短信, POST 邮寄, ONLINE the online petition platform's message box,
    IN_PERSON handed over at the counter; UNKNOWN for a channel this reader does not know.
    """

    SMS = "SMS"
    POST = "POST"
    ONLINE = "ONLINE"
    IN_PERSON = "IN_PERSON"
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True, slots=True, kw_only=True)
class NoticeIssued(EventRecord):
    """The bus wrote a notice (告知书) to the petitioner, for a delivery system (SMS, post, the online platform) to
    deliver. On a bureau-only topic: it carries the petitioner's name and contact.
    """

    TYPE: ClassVar[str] = "notice.issued"
    SCHEMA: ClassVar[str] = "liandong.events.NoticeIssued"

    event_id: uuid.UUID
    """Unique id of this event; equals the ce_id header."""

    occurred_at: datetime
    """When the event happened (UTC)."""

    case: CaseRef
    """The case this event belongs to; its case number is the message key."""

    deadline: Deadline | None = None
    """The deadline that applies after this event, if any."""

    notice_no: str
    """The notice's number (文书编号): <case number>-<kind code>-<sequence>; the delivery confirmation names it."""

    kind: NoticeKind
    """Which notice this is."""

    unit: Unit | None = None
    """The unit whose decision the notice conveys (null: the bureau's own, a diversion)."""

    recipient: Petitioner
    """The petitioner (or the group's representative) the notice is addressed to."""

    delivery_channel: DeliveryChannel
    """How the notice is to be delivered (from the channel the petition came by)."""

    text: str
    """The notice as rendered from the bureau's template, in Chinese, with the bureau's name and seal line: what the
    petitioner receives.
    """

    cause_event_id: uuid.UUID
    """The event the notice conveys (the unit's acceptance, opinion, ...); one notice per cause."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NoticeDelivered(EventRecord):
    """A delivery system confirms a notice reached the petitioner (送达回证). No personal data."""

    TYPE: ClassVar[str] = "notice.delivered"
    SCHEMA: ClassVar[str] = "liandong.events.NoticeDelivered"

    event_id: uuid.UUID
    """Unique id of this event; equals the ce_id header."""

    occurred_at: datetime
    """When the event happened (UTC)."""

    case: CaseRef
    """The case this event belongs to; its case number is the message key."""

    deadline: Deadline | None = None
    """The deadline that applies after this event, if any."""

    notice_no: str
    """The delivered notice's number, as in its notice.issued event."""

    kind: NoticeKind
    """Which notice was delivered."""

    delivery_channel: DeliveryChannel
    """How it was delivered."""

    receipt: str
    """The delivery system's proof: an SMS gateway's message id, a registered-mail number, the platform's read receipt.
    """


class Satisfaction(StrEnum):
    """The petitioner's evaluation of a handling opinion at the callback (回访): SATISFIED 满意, BASICALLY_SATISFIED 基本满意,
    UNSATISFIED 不满意; UNKNOWN for one this reader does not know.
    """

    SATISFIED = "SATISFIED"
    BASICALLY_SATISFIED = "BASICALLY_SATISFIED"
    UNSATISFIED = "UNSATISFIED"
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True, slots=True, kw_only=True)
class SatisfactionEvaluated(EventRecord):
    """The bureau called the petitioner back after the handling opinion (回访) and recorded their evaluation. No personal
    data.
    """

    TYPE: ClassVar[str] = "satisfaction.evaluated"
    SCHEMA: ClassVar[str] = "liandong.events.SatisfactionEvaluated"

    event_id: uuid.UUID
    """Unique id of this event; equals the ce_id header."""

    occurred_at: datetime
    """When the event happened (UTC)."""

    case: CaseRef
    """The case this event belongs to; its case number is the message key."""

    deadline: Deadline | None = None
    """The deadline that applies after this event, if any."""

    unit: Unit
    """The unit whose handling opinion was evaluated (the case's lead unit)."""

    evaluation: Satisfaction
    """The petitioner's evaluation."""

    called_at: datetime
    """When the callback took place (UTC); within the callback period after the opinion."""

    remark: str
    """What the petitioner said, in the bureau's words, without personal data (empty if nothing)."""


class ReviewStage(StrEnum):
    """Which further examination of a handling opinion: REVIEW 复查 (Art. 35: of the unit's opinion, by its reviewing
    body), RECHECK 复核 (Art. 36: of the review decision, by the reviewing body's superior); UNKNOWN for a stage this
    reader does not know.
    """

    REVIEW = "REVIEW"
    RECHECK = "RECHECK"
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReviewRequested(EventRecord):
    """The bureau forwards the petitioner's application for review (复查, Art. 35) or re-check (复核, Art. 36) to the
    reviewing body's inbox; the deadline is the body's decision period. No personal data.
    """

    TYPE: ClassVar[str] = "review.requested"
    SCHEMA: ClassVar[str] = "liandong.events.ReviewRequested"

    event_id: uuid.UUID
    """Unique id of this event; equals the ce_id header."""

    occurred_at: datetime
    """When the event happened (UTC)."""

    case: CaseRef
    """The case this event belongs to; its case number is the message key."""

    deadline: Deadline | None = None
    """The deadline that applies after this event, if any."""

    unit: Unit
    """The reviewing body that decides (its inbox carries this event)."""

    stage: ReviewStage
    """Review (of the unit's opinion) or re-check (of the review decision)."""

    reviewed_unit: Unit
    """Whose decision is examined: the unit that gave the opinion (review) or the body that reviewed it (re-check)."""

    applied_at: datetime
    """When the petitioner applied (UTC); within the application period after the decision under review."""

    grounds: str
    """The petitioner's grounds, in the bureau's words, without personal data."""

    decision_under_review: str
    """The text of the decision examined: the unit's handling opinion, or the review decision."""


class ReviewDecision(StrEnum):
    """What the reviewing body decided: UPHELD 维持, CHANGED 变更, REVOKED 撤销 (the decision under review); UNKNOWN for a
    decision this reader does not know.
    """

    UPHELD = "UPHELD"
    CHANGED = "CHANGED"
    REVOKED = "REVOKED"
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReviewDecided(EventRecord):
    """The reviewing body decided the review (复查意见) or re-check (复核意见); checked by the referee, published again on
    liandong.bureau.answers. No personal data.
    """

    TYPE: ClassVar[str] = "review.decided"
    SCHEMA: ClassVar[str] = "liandong.events.ReviewDecided"

    event_id: uuid.UUID
    """Unique id of this event; equals the ce_id header."""

    occurred_at: datetime
    """When the event happened (UTC)."""

    case: CaseRef
    """The case this event belongs to; its case number is the message key."""

    deadline: Deadline | None = None
    """The deadline that applies after this event, if any."""

    unit: Unit
    """The reviewing body (it answers only for itself, on its own replies topic)."""

    stage: ReviewStage
    """Which examination this decides: the one requested of this body."""

    decision: ReviewDecision
    """Upheld, changed or revoked."""

    text: str
    """The written review or re-check opinion (复查意见书 / 复核意见书), not empty."""

    decided_by: str
    """Who signed the decision for the body (a post or name of staff, not of the petitioner)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AnswerRefused(EventRecord):
    """The bus refused a unit's answer (the referee): it changed nothing anywhere. Sent on the inbox of the unit whose
    replies topic the answer came on.
    """

    TYPE: ClassVar[str] = "answer.refused"
    SCHEMA: ClassVar[str] = "liandong.events.AnswerRefused"

    event_id: uuid.UUID
    """Unique id of this event; equals the ce_id header."""

    occurred_at: datetime
    """When the event happened (UTC)."""

    case: CaseRef | None = None
    """The case the refused answer named, if it named one."""

    deadline: Deadline | None = None
    """The deadline that applies after this event, if any."""

    unit: Unit
    """The unit whose replies topic carried the refused answer (the one told)."""

    key: str
    """The refused message's key (a case or task number); the message key of this event."""

    refused_event_id: str
    """The ce_id of the refused answer."""

    refused_type: str
    """The refused answer's event type, e.g. case.handoff.rejected."""

    reason: str
    """Why the bus refused it, in words a person can act on."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseDeadlineSet(EventRecord):
    """The bus set or moved a deadline of the unit's handoff (the handling clock once it accepted the case, the moved
    due date after an extension): sent on the unit's inbox, so that a department needs no calendar of its own.
    """

    TYPE: ClassVar[str] = "case.deadline.set"
    SCHEMA: ClassVar[str] = "liandong.events.CaseDeadlineSet"

    event_id: uuid.UUID
    """Unique id of this event; equals the ce_id header."""

    occurred_at: datetime
    """When the event happened (UTC)."""

    case: CaseRef
    """The case this event belongs to; its case number is the message key."""

    deadline: Deadline
    """The deadline that now applies (due_at: 24:00 Beijing time of its last day, in UTC)."""

    unit: Unit
    """The unit whose deadline it is."""

    cause_event_id: str
    """The ce_id of the unit's answer that set it (e.g. its case.accepted)."""

    cause_type: str
    """That answer's event type."""


class DeadLetterReason(StrEnum):
    """Why a message could not be processed."""

    UNDECODABLE = "UNDECODABLE"
    UNKNOWN_SCHEMA = "UNKNOWN_SCHEMA"
    INVALID = "INVALID"
    HANDLER_ERROR = "HANDLER_ERROR"
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True, slots=True, kw_only=True)
class DeadLetter(EventRecord):
    """A message that could not be processed, kept whole with the reason."""

    TYPE: ClassVar[str] = "deadletter"
    SCHEMA: ClassVar[str] = "liandong.events.DeadLetter"

    event_id: uuid.UUID
    """Unique id of this dead-letter record."""

    occurred_at: datetime
    """When the message was dead-lettered (UTC)."""

    reason: DeadLetterReason
    """Class of failure."""

    error: str
    """Human-readable description of what was wrong."""

    service: str
    """Service that gave up on the message."""

    source_topic: str
    """Topic the message was read from."""

    source_partition: int
    """Partition it was read from."""

    source_offset: int
    """Offset it was read at."""

    key: bytes | None = None
    """Original key bytes."""

    value: bytes | None = None
    """Original value bytes, unchanged."""

    headers: dict[str, bytes]
    """Original headers (the last value wins for a repeated name)."""


#: The class of each event type, by its name in the catalogue.
EVENT_CLASSES: dict[str, type[EventRecord]] = {
    "petition.registered": PetitionRegistered,
    "petition.repeat.detected": PetitionRepeatDetected,
    "petition.triaged": PetitionTriaged,
    "petition.diverted": PetitionDiverted,
    "case.jurisdiction.escalated": CaseJurisdictionEscalated,
    "case.jurisdiction.decided": CaseJurisdictionDecided,
    "case.handoff.requested": CaseHandoffRequested,
    "case.handoff.accepted": CaseHandoffAccepted,
    "case.handoff.rejected": CaseHandoffRejected,
    "case.accepted": CaseAccepted,
    "case.not_accepted": CaseNotAccepted,
    "case.progress": CaseProgressReported,
    "case.extension.approved": CaseExtensionApproved,
    "case.resolved": CaseResolved,
    "mediation.requested": MediationRequested,
    "mediation.joined": MediationJoined,
    "mediation.declined": MediationDeclined,
    "mediation.session_held": MediationSessionHeld,
    "mediation.concluded": MediationConcluded,
    "package.assigned": PackageAssigned,
    "package.progress": PackageProgressReported,
    "package.closed": PackageClosed,
    "team.task.assigned": TeamTaskAssigned,
    "mediation.proposed": MediationProposed,
    "mediation.request.submitted": MediationRequestSubmitted,
    "mediation.reminder": MediationReminderIssued,
    "mediation.escalated": MediationEscalated,
    "case.referred": CaseReferred,
    "package.ordered": PackageOrdered,
    "package.reminder": PackageReminderIssued,
    "package.extension.requested": PackageExtensionRequested,
    "package.extended": PackageExtended,
    "team.task.published": TeamTaskPublished,
    "team.task.acknowledged": TeamTaskAcknowledged,
    "team.task.completed": TeamTaskCompleted,
    "team.task.reminder": TeamTaskReminderIssued,
    "supervision.reminder": SupervisionReminderIssued,
    "supervision.notice": SupervisionNoticeIssued,
    "supervision.listed": SupervisionListed,
    "supervision.recommendation": SupervisionRecommendationIssued,
    "supervision.feedback": SupervisionFeedbackGiven,
    "notice.issued": NoticeIssued,
    "notice.delivered": NoticeDelivered,
    "satisfaction.evaluated": SatisfactionEvaluated,
    "review.requested": ReviewRequested,
    "review.decided": ReviewDecided,
    "answer.refused": AnswerRefused,
    "case.deadline.set": CaseDeadlineSet,
    "deadletter": DeadLetter,
}

__all__ = [
    "EVENT_CLASSES",
    "AnswerRefused",
    "CaseAccepted",
    "CaseDeadlineSet",
    "CaseExtensionApproved",
    "CaseHandoffAccepted",
    "CaseHandoffRejected",
    "CaseHandoffRequested",
    "CaseJurisdictionDecided",
    "CaseJurisdictionEscalated",
    "CaseNotAccepted",
    "CaseProgressReported",
    "CaseRef",
    "CaseReferred",
    "CaseResolved",
    "Channel",
    "Clock",
    "DayBasis",
    "DeadLetter",
    "DeadLetterReason",
    "Deadline",
    "DeliveryChannel",
    "DiversionChannel",
    "EventRecord",
    "HandoffMode",
    "HandoffRole",
    "MatterCategory",
    "MediationConcluded",
    "MediationDeclined",
    "MediationEscalated",
    "MediationJoined",
    "MediationProposed",
    "MediationReminderIssued",
    "MediationRequestSubmitted",
    "MediationRequested",
    "MediationResult",
    "MediationSessionHeld",
    "NoticeDelivered",
    "NoticeIssued",
    "NoticeKind",
    "PackageAssigned",
    "PackageClosed",
    "PackageExtended",
    "PackageExtensionRequested",
    "PackageMember",
    "PackageOrdered",
    "PackageProgressReported",
    "PackageReminderIssued",
    "PackageResult",
    "PetitionDiverted",
    "PetitionRegistered",
    "PetitionRepeatDetected",
    "PetitionTriaged",
    "Petitioner",
    "RecommendationKind",
    "Record",
    "ResolutionOutcome",
    "ResolutionTag",
    "ReviewDecided",
    "ReviewDecision",
    "ReviewRequested",
    "ReviewStage",
    "Satisfaction",
    "SatisfactionEvaluated",
    "SupervisionFeedbackGiven",
    "SupervisionListed",
    "SupervisionNoticeIssued",
    "SupervisionRecommendationIssued",
    "SupervisionReminderIssued",
    "SupervisionTrigger",
    "TeamTaskAcknowledged",
    "TeamTaskAssigned",
    "TeamTaskCompleted",
    "TeamTaskPublished",
    "TeamTaskReminderIssued",
    "Unit",
    "known",
]
