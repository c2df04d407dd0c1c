"""The wire format.

Value: Avro single-object encoding, ``C3 01`` + 8-byte little-endian CRC-64-AVRO fingerprint
of the writer schema + the Avro binary body. Key: the case number, UTF-8. Headers: the
CloudEvents Kafka binding in binary mode (``ce_specversion``, ``ce_id``, ``ce_source``,
``ce_type``, ``ce_time``, ``ce_subject``, ``content-type``), and the publisher's signature (``ld_signer``,
``ld_signature``: ``_signing``).
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import fastavro

from ._catalogue import EventType, event_type, event_type_for_ce, replies_unit, topic_matches
from ._errors import EncodeError, InvalidEvent, SignatureError, UndecodableMessage, UnknownEventType, UnknownSchema
from ._schemas import SchemaCatalogue, WriterSchema
from ._signing import Headers, Signer, Verifier
from ._typed import EventRecord
from .events import EVENT_CLASSES

MAGIC = b"\xc3\x01"
HEADER_LEN = 10
CONTENT_TYPE = "application/avro"
CE_SPECVERSION = "1.0"



@dataclass(frozen=True, slots=True)
class Event:
    """A decoded event with its CloudEvents attributes and where it was read."""

    type: str
    data: dict[str, Any]
    key: str
    id: str
    source: str
    time: datetime
    topic: str = ""
    partition: int = -1
    offset: int = -1
    headers: dict[str, bytes] = field(default_factory=dict)
    raw_value: bytes | None = field(default=None, repr=False)  # the bytes as read, for dead-lettering
    #: The principal whose signature verified (None: not checked, or ``signature_error`` says why not).
    signer: str | None = None
    #: Why an answer's signature does not hold (only on a unit's replies topic: the referee refuses it).
    signature_error: str | None = None
    _typed: EventRecord | None = field(default=None, repr=False, compare=False)

    @property
    def payload(self) -> EventRecord:
        """The record as its typed class (``liandong_sdk.events``), e.g. ``CaseHandoffRejected``;
        built on first use, then kept."""
        typed = self._typed
        if typed is None:
            typed = EVENT_CLASSES[self.type].from_record(self.data)
            object.__setattr__(self, "_typed", typed)  # frozen: a cache, not a change
        return typed


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    topic: str
    key: bytes
    value: bytes
    headers: Headers


class Codec:
    """Encodes records of the catalogue into messages and decodes messages back into events;
    with a ``signer`` it signs what it encodes, with a ``verifier`` it checks what it decodes."""

    def __init__(self, schemas: SchemaCatalogue, *, signer: Signer | None = None,
                 verifier: Verifier | None = None) -> None:
        self.schemas = schemas
        self.signer = signer
        self.verifier = verifier
        # Reader-per-writer cache: resolution of an old writer schema is computed once.
        self._readers: dict[bytes, tuple[WriterSchema, Any]] = {}

    # -- encoding -------------------------------------------------------------------------
    def encode_value(self, fullname: str, record: dict[str, Any]) -> bytes:
        ws = self.schemas.current(fullname)
        buf = io.BytesIO()
        buf.write(MAGIC)
        buf.write(ws.fingerprint)
        try:
            fastavro.schemaless_writer(buf, ws.parsed, record, strict_allow_default=True)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise EncodeError(f"{fullname}: record does not fit the schema: {exc}") from exc
        return buf.getvalue()

    def encode(self, name: str, record: dict[str, Any], *, source: str, now: datetime | None = None) -> OutgoingMessage:
        et = event_type(name)
        key = et.key_of(record)
        value = self.encode_value(et.schema, record)
        ce_id = str(record.get("event_id") or uuid.uuid4())
        ce_time = (now or record.get("occurred_at") or datetime.now(UTC))
        headers: Headers = [
            ("ce_specversion", CE_SPECVERSION.encode()),
            ("ce_id", ce_id.encode()),
            ("ce_source", source.encode()),
            ("ce_type", et.ce_type.encode()),
            ("ce_time", _rfc3339(ce_time).encode()),
            ("ce_subject", key.encode()),
            ("content-type", CONTENT_TYPE.encode()),
        ]
        if self.signer is not None:
            headers += self.signer.headers(headers, key.encode(), value)
        return OutgoingMessage(et.topic_for(record), key.encode(), value, headers)

    def encode_event(self, event: EventRecord, *, source: str, now: datetime | None = None) -> OutgoingMessage:
        """``encode`` for a typed event: its type comes from its class."""
        return self.encode(event.TYPE, event.to_record(), source=source, now=now)

    # -- decoding -------------------------------------------------------------------------
    def decode_value(self, value: bytes | None) -> tuple[str, dict[str, Any]]:
        """Returns (schema fullname, record resolved to the current reader schema)."""
        if not value or len(value) < HEADER_LEN or value[:2] != MAGIC:
            raise UndecodableMessage("value is not Avro single-object encoded (no C3 01 marker)")
        fp = bytes(value[2:HEADER_LEN])
        resolved = self._readers.get(fp)
        if resolved is None:
            writer = self.schemas.writer(fp)
            if writer is None:
                raise UnknownSchema(f"no known schema has fingerprint {fp.hex()}")
            reader = self.schemas.current(writer.fullname).parsed
            resolved = self._readers[fp] = (writer, reader)
        writer, reader = resolved
        body = io.BytesIO(value[HEADER_LEN:])
        try:
            record = fastavro.schemaless_reader(body, writer.parsed, reader)
        except Exception as exc:  # truncated or garbage bodies fail in many ways
            raise UndecodableMessage(f"{writer.fullname}: body does not decode: {type(exc).__name__}: {exc}") from exc
        if body.tell() != len(value) - HEADER_LEN:
            raise UndecodableMessage(f"{writer.fullname}: {len(value) - HEADER_LEN - body.tell()} trailing bytes after the body")
        return writer.fullname, record  # type: ignore[return-value]

    def decode(self, topic: str, key: bytes | None, value: bytes | None, headers: Headers | None,
               partition: int = -1, offset: int = -1) -> Event:
        hdrs = {k: v for k, v in (headers or [])}
        fullname, record = self.decode_value(value)
        ce_type = _header(hdrs, "ce_type")
        try:
            et: EventType = event_type_for_ce(ce_type)
        except UnknownEventType as exc:
            raise InvalidEvent(str(exc)) from None
        if fullname != et.schema:
            raise InvalidEvent(f"wrong schema: ce_type {ce_type} needs {et.schema}, the payload is {fullname}")
        if not topic_matches(et.topic, topic) and topic != et.checked_on:
            raise InvalidEvent(f"{et.name} does not belong on topic {topic}")
        expected_key = et.key_of(record)
        if key is None or key.decode("utf-8", "replace") != expected_key:
            raise InvalidEvent(f"key {key!r} is not the event's {et.key_field} {expected_key!r}")
        try:
            ce_time = datetime.fromisoformat(_header(hdrs, "ce_time").replace("Z", "+00:00"))
        except ValueError:
            raise InvalidEvent("ce_time is not an RFC 3339 time") from None
        signer, problem = self._signer(topic, key, value, hdrs)
        return Event(et.name, record, expected_key, _header(hdrs, "ce_id"), _header(hdrs, "ce_source"), ce_time,
                     topic, partition, offset, hdrs, value, signer=signer, signature_error=problem)

    def _signer(self, topic: str, key: bytes | None, value: bytes | None,
                headers: dict[str, bytes]) -> tuple[str | None, str | None]:
        """(signer, None), or raises ``SignatureError``; on a unit's replies topic (None, why): the
        referee refuses the answer on the unit's inbox, where the unit reads it."""
        if self.verifier is None:
            return None, None
        try:
            return self.verifier.signer(topic, key, value, headers), None
        except SignatureError as exc:
            if replies_unit(topic) is None:
                raise
            return None, str(exc)


def _header(headers: dict[str, bytes], name: str) -> str:
    raw = headers.get(name)
    if raw is None:
        raise InvalidEvent(f"missing header {name}")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidEvent(f"header {name} is not UTF-8") from None


def _rfc3339(t: datetime) -> str:
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
