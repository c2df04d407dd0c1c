"""The Liandong (联动) bus contract and department SDK.

What a department's system needs to receive cases and answer, and nothing else (kafka-python,
fastavro, crc32c): the event catalogue and its Avro schemas (package data), the wire codec,
plain Kafka clients that speak it, the regulation's clocks and the answers a handoff allows,
and ``DepartmentClient``. ``liandong_sdk.events`` has a typed class per event type (generated
from the schemas), ``liandong_sdk.rules`` the regulation's clocks and a handoff's transitions::

    from liandong_sdk import DepartmentClient

    with DepartmentClient("HOUSING") as dept:       # the bus from LIANDONG_* variables (Connection)
        for handoff in dept.inbox():
            dept.sign_for(handoff.case_number, signed_by="王科长")
        dept.commit()

The bus's own services build on the same modules (``liandong`` re-exports them), so there is
one definition of the wire format and one exception tree (``LiandongError``, drawn in
``liandong_sdk._errors``).
"""

from . import events, records, rules
from ._calendar import BUREAU_TZ, BusinessCalendar
from ._catalogue import (
    BUREAU_ANSWERS,
    BUREAU_CALLBACKS,
    BUREAU_COORDINATION,
    BUREAU_DELIVERIES,
    BUREAU_NOTICES,
    BUREAU_PETITIONS,
    BUREAU_SUPERVISION,
    BUREAU_TRIAGE,
    BUS_UNITS,
    DEAD_LETTER,
    EVENT_TYPES,
    HANDLING_UNITS,
    REVIEWING_BODIES,
    UNIT_INBOX,
    UNIT_REPLIES,
    EventType,
    TopicSpec,
    all_topics,
    concrete_topics,
    event_type,
    event_type_for_ce,
    topic_matches,
)
from ._client import DepartmentClient, Handoff
from ._clients import FETCH_MAX_WAIT_MS, UNOBSERVED, Observer, Publisher, Subscriber, denied
from ._clocks import ClockConfig, EscalationLadder
from ._connection import MECHANISM, Connection, load_secrets, password_for
from ._coordination import MEDIATION_RESULTS, REFERRAL_CHANNELS, Mediation, Package, Task
from ._deadletter import ERROR_HEADER, REASON_HEADER, SOURCE_HEADER, dead_letter
from ._errors import (
    AuthorizationDenied,
    BrokerError,
    CredentialsError,
    DeliveryPending,
    DepartmentError,
    EncodeError,
    IllegalTransition,
    IncompatibleSchemaError,
    InvalidAnswer,
    InvalidEvent,
    LiandongError,
    ObjectionWindowClosed,
    PeerUnavailable,
    Refused,
    SchemaError,
    StartupError,
    UndecodableMessage,
    UnknownCase,
    UnknownEventType,
    UnknownSchema,
    WireError,
)
from ._handoff import UNIT_TRANSITIONS, HandoffStatus, check_unit_transition
from ._review import ReviewingBodyClient, ReviewRequest
from ._schemas import SchemaCatalogue, WriterSchema, fingerprint, packaged_schemas
from ._typed import EventRecord, Record
from ._wire import CE_SPECVERSION, CONTENT_TYPE, HEADER_LEN, MAGIC, Codec, Event, Headers, OutgoingMessage

__all__ = [
    "BUREAU_ANSWERS",
    "BUREAU_CALLBACKS",
    "BUREAU_COORDINATION",
    "BUREAU_DELIVERIES",
    "BUREAU_NOTICES",
    "BUREAU_PETITIONS",
    "BUREAU_SUPERVISION",
    "BUREAU_TRIAGE",
    "BUREAU_TZ",
    "BUS_UNITS",
    "CE_SPECVERSION",
    "CONTENT_TYPE",
    "DEAD_LETTER",
    "ERROR_HEADER",
    "EVENT_TYPES",
    "FETCH_MAX_WAIT_MS",
    "HANDLING_UNITS",
    "HEADER_LEN",
    "MAGIC",
    "MECHANISM",
    "MEDIATION_RESULTS",
    "REASON_HEADER",
    "REFERRAL_CHANNELS",
    "REVIEWING_BODIES",
    "SOURCE_HEADER",
    "UNIT_INBOX",
    "UNIT_REPLIES",
    "UNIT_TRANSITIONS",
    "UNOBSERVED",
    "AuthorizationDenied",
    "BrokerError",
    "BusinessCalendar",
    "ClockConfig",
    "Codec",
    "Connection",
    "CredentialsError",
    "DeliveryPending",
    "DepartmentClient",
    "DepartmentError",
    "EncodeError",
    "EscalationLadder",
    "Event",
    "EventRecord",
    "EventType",
    "Handoff",
    "HandoffStatus",
    "Headers",
    "IllegalTransition",
    "IncompatibleSchemaError",
    "InvalidAnswer",
    "InvalidEvent",
    "LiandongError",
    "Mediation",
    "ObjectionWindowClosed",
    "Observer",
    "OutgoingMessage",
    "Package",
    "PeerUnavailable",
    "Publisher",
    "Record",
    "Refused",
    "ReviewRequest",
    "ReviewingBodyClient",
    "SchemaCatalogue",
    "SchemaError",
    "StartupError",
    "Subscriber",
    "Task",
    "TopicSpec",
    "UndecodableMessage",
    "UnknownCase",
    "UnknownEventType",
    "UnknownSchema",
    "WireError",
    "WriterSchema",
    "all_topics",
    "check_unit_transition",
    "concrete_topics",
    "dead_letter",
    "denied",
    "event_type",
    "event_type_for_ce",
    "events",
    "fingerprint",
    "load_secrets",
    "packaged_schemas",
    "password_for",
    "records",
    "rules",
    "topic_matches",
]
