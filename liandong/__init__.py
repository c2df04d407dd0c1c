"""Liandong (联动): a coordination bus for petition bureaus and the departments they work with.

The shared bus core: schemas, wire format, topic catalogue, Kafka and faust helpers,
dead letters, settings and logs. Services live under ``services/``.
"""

from ._bus import Bus
from ._catalogue import (
    DEAD_LETTER,
    EVENT_TYPES,
    HANDLING_UNITS,
    EventType,
    TopicSpec,
    all_topics,
    event_type,
)
from ._deadletter import dead_letter
from ._errors import (
    BrokerError,
    EncodeError,
    IncompatibleSchemaError,
    InvalidEvent,
    LiandongError,
    SchemaError,
    UndecodableMessage,
    UnknownEventType,
    UnknownSchema,
    WireError,
)
from ._kafka import ProvisionReport, Publisher, Subscriber, provision_topics
from ._logging import configure_logging, get_logger
from ._schemas import SchemaCatalogue, fingerprint
from ._settings import Settings, get_settings
from ._wire import Codec, Event, OutgoingMessage

__all__ = [
    "DEAD_LETTER",
    "EVENT_TYPES",
    "HANDLING_UNITS",
    "BrokerError",
    "Bus",
    "Codec",
    "EncodeError",
    "Event",
    "EventType",
    "IncompatibleSchemaError",
    "InvalidEvent",
    "LiandongError",
    "OutgoingMessage",
    "ProvisionReport",
    "Publisher",
    "SchemaCatalogue",
    "SchemaError",
    "Settings",
    "Subscriber",
    "TopicSpec",
    "UndecodableMessage",
    "UnknownEventType",
    "UnknownSchema",
    "WireError",
    "all_topics",
    "configure_logging",
    "dead_letter",
    "event_type",
    "fingerprint",
    "get_logger",
    "get_settings",
    "provision_topics",
]
