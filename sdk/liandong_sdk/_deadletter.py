"""Dead letters: a message that cannot be processed is kept whole, with the reason, and the stream goes on."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from ._catalogue import DEAD_LETTER
from ._errors import WireError
from ._signing import Headers
from ._wire import Codec, OutgoingMessage

REASON_HEADER = "liandong_dlq_reason"
ERROR_HEADER = "liandong_dlq_error"
SOURCE_HEADER = "liandong_dlq_source"


def dead_letter(codec: Codec, error: Exception, *, service: str, topic: str, partition: int, offset: int,
                key: bytes | None, value: bytes | None, headers: Headers | None,
                now: datetime | None = None) -> OutgoingMessage:
    """Wraps an unprocessable message in a DeadLetter record bound for the dead-letter topic."""
    reason = error.reason if isinstance(error, WireError) else "HANDLER_ERROR"  # an authorization refusal too
    text = f"{type(error).__name__}: {error}"
    record = {
        "event_id": uuid.uuid4(),
        "occurred_at": now or datetime.now(UTC),
        "reason": reason,
        "error": text,
        "service": service,
        "source_topic": topic,
        "source_partition": partition,
        "source_offset": offset,
        "key": key,
        "value": value,
        "headers": {k: v for k, v in (headers or [])},
    }
    msg = codec.encode("deadletter", record, source=f"/liandong/{service}")
    extra: Headers = [
        (REASON_HEADER, reason.encode()),
        (ERROR_HEADER, text.encode("utf-8", "replace")[:4096]),
        (SOURCE_HEADER, f"{topic}/{partition}/{offset}".encode()),
    ]
    assert msg.topic == DEAD_LETTER
    return OutgoingMessage(msg.topic, msg.key, msg.value, msg.headers + extra)
