"""Liandong's exceptions, one hierarchy for the bus, its services and the department SDK::

    LiandongError
    ├── SchemaError                 a schema file is missing, malformed or misnamed
    │   └── IncompatibleSchemaError a schema change would break readers of released data
    ├── WireError                   a message cannot be turned into an event
    │   ├── UndecodableMessage      not Avro single-object encoding, or a truncated body
    │   ├── UnknownSchema           the fingerprint names no schema we know
    │   └── InvalidEvent            decodes, but breaks the event contract (headers, key)
    │       └── SignatureError      unsigned, signed by one who may not write the topic, or not verifying
    ├── EncodeError                 a record does not fit its schema (caller's bug)
    ├── UnknownEventType            an event type not in the catalogue
    ├── AuthorizationDenied         the broker refused: this principal has no ACL for that
    ├── CredentialsError            no password is known for a principal
    ├── BrokerError                 the local broker cannot be fetched, started or reached
    ├── StartupError                a service cannot start (its port is taken, …): it exits at once
    ├── PeerUnavailable             another worker of a service could not be asked (HTTP 503: ask again)
    ├── Refused                     an event the state or the regulation does not allow: a service
    │   │                           changes nothing for it (also a ValueError)
    │   ├── IllegalTransition       an answer the case's current state does not allow
    │   ├── CallbackRefused         (intake) a callback with no opinion, late, or a second one (HTTP 409)
    │   └── ReviewRefused           (intake) an application for review with nothing to examine, late,
    │                               or a second one (HTTP 409)
    └── DepartmentError             the department SDK refused an answer before publishing it
        ├── UnknownCase             the case was never handed to this unit
        ├── InvalidAnswer           a field of the answer is missing or out of range (also a ValueError)
        ├── ObjectionWindowClosed   the objection window (5 working days) has closed
        └── DeliveryPending         answers not yet acknowledged by the broker (sent again)
"""

from __future__ import annotations


class LiandongError(Exception):
    """Base class of every error Liandong raises on purpose."""


class SchemaError(LiandongError):
    """A schema file is missing, malformed or misnamed."""


class IncompatibleSchemaError(SchemaError):
    """A schema is not backward compatible with a released version."""

    def __init__(self, message: str, paths: list[str]) -> None:
        super().__init__(message)
        self.paths = paths


class WireError(LiandongError):
    """A consumed message cannot be turned into an event; it goes to the dead-letter topic."""

    reason = "UNKNOWN"


class UndecodableMessage(WireError):
    reason = "UNDECODABLE"


class UnknownSchema(WireError):
    reason = "UNKNOWN_SCHEMA"


class InvalidEvent(WireError):
    reason = "INVALID"


class SignatureError(InvalidEvent):
    """A message that is unsigned, signed by a principal that may not write its topic, or whose
    signature does not verify (``_signing``)."""


class EncodeError(LiandongError):
    """A record given to a producer does not match its schema."""


class UnknownEventType(LiandongError):
    """The event type is not in the catalogue."""


class AuthorizationDenied(LiandongError):
    """The broker refused a read or write: the principal's ACLs do not allow it."""

    def __init__(self, principal: str, operation: str, resource: str) -> None:
        super().__init__(f"principal {principal!r} is not allowed to {operation} {resource} (no ACL grants it)")
        self.principal, self.operation, self.resource = principal, operation, resource


class BrokerError(LiandongError):
    """The local Kafka broker could not be fetched, started, reached or stopped."""


class CredentialsError(LiandongError):
    """No password is known for a principal (neither given nor in the secrets file)."""


class StartupError(LiandongError):
    """A service cannot start (for example, a port it must serve on is taken)."""


class PeerUnavailable(LiandongError):
    """Another worker could not be asked (it is restarting, or the group is rebalancing)."""


class Refused(LiandongError, ValueError):
    """An event the state or the regulation does not allow: the service that reads it changes nothing."""


class IllegalTransition(Refused):
    """An answer that the case's current state does not allow (e.g. resolving before signing)."""


class DepartmentError(LiandongError):
    """Base of the department SDK's refusals."""


class UnknownCase(DepartmentError):
    """The case was never handed to this unit."""


class InvalidAnswer(DepartmentError, ValueError):
    """A field of the answer is missing or out of range."""


class DeliveryPending(DepartmentError):
    """Some answers are not yet acknowledged by the broker (sent again; confirm later)."""


class ObjectionWindowClosed(DepartmentError):
    """Objections are allowed within 5 working days of the handoff (Art. 23)."""
