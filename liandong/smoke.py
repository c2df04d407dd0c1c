"""The smoke scenario: one event of every type through the real broker and back, decoded."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from liandong_sdk import EVENT_TYPES, Event, all_topics

from ._bus import Bus
from .examples import example_record


@dataclass(frozen=True)
class SmokeRow:
    event_type: str
    topic: str
    key: str
    schema: str
    round_trip: bool


def run_smoke(bus: Bus, timeout: float = 60.0) -> list[SmokeRow]:
    """Publishes one example of every catalogue event and reads each back; one row per type."""
    bus.provision_topics()
    sent: dict[str, tuple[str, str, dict[str, object]]] = {}
    with bus.publisher("smoke") as pub:
        for i, name in enumerate(EVENT_TYPES):
            record = example_record(bus.schemas, name, case_number=f"{bus.settings.district_code}-smoke-{i:06d}")
            msg = bus.codec.encode(name, record, source="/liandong/smoke")
            pub.send(msg).get(timeout=30)
            sent[dict(msg.headers)["ce_id"].decode()] = (name, msg.topic, record)
    received: dict[str, Event] = {}
    with bus.subscriber([t.name for t in all_topics()], group_id=f"smoke-{uuid.uuid4().hex[:8]}",
                        service="smoke") as sub:
        deadline = time.monotonic() + timeout
        while len(received) < len(sent) and time.monotonic() < deadline:
            received.update((ev.id, ev) for ev in sub.poll(500) if ev.id in sent)
    rows = []
    for ce_id, (name, topic, record) in sent.items():
        ev = received.get(ce_id)
        ok = ev is not None and ev.type == name and ev.data == record and ev.topic == topic
        rows.append(SmokeRow(name, topic, ev.key if ev else "", EVENT_TYPES[name].schema, ok))
    return rows
