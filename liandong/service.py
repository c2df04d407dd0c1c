"""One service skeleton: a service declares what it is, the core runs it.

A declaration names the service, the topics it reads and writes, the event types it emits, its
keyed table and its handler map. A handler is a plain function of the service's decisions object,
the state kept under the message key (``None`` before the first event) and the event; it returns
the state to keep (``None``: keep nothing new) and the events to publish::

    TRIAGE = Service(
        "triage",
        topics_in=(BUREAU_PETITIONS, BUREAU_TRIAGE, *REPLIES),
        topics_out=(BUREAU_TRIAGE, *INBOXES),
        emits=(PetitionTriaged, PetitionDiverted, CaseJurisdictionEscalated, CaseHandoffRequested),
        table="triage-cases",
        handlers={PetitionRegistered: Triage.registered, CaseHandoffRejected: Triage.rejected, ...},
    )

What every service needs lives here once: the derived-id rule's other half (an event id already
handled for a key is skipped, so a redelivery changes nothing), encoding what a handler returns,
and the two ways to run a declaration: ``faust_runtime`` on the broker (batched, every output
acknowledged before the state that says it was sent, then the offsets: ``liandong.streams.Batch``)
and ``InMemory`` for unit tests, through the real codec but without a broker.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from liandong_sdk import Codec, Event, EventRecord, OutgoingMessage, concrete_topics, topic_matches

from ._bus import Bus
from .runtime import Runtime
from .streams import Batch, consume_batches, create_app, raw_topic, table

State = dict[str, Any]
#: What a handler may return to publish: a typed event, or an event type's name and plain record.
Output = EventRecord | tuple[str, dict[str, Any]]
Handler = Callable[[Any, State | None, Event], tuple[State | None, Sequence[Output]]]

__all__ = ["Handler", "InMemory", "Output", "Service", "State", "faust_runtime"]


@dataclass(frozen=True)
class Service:
    name: str
    topics_in: tuple[str, ...]
    topics_out: tuple[str, ...]
    #: What the handlers may publish (checked by ``InMemory``, listed by ``liandong events``).
    emits: tuple[type[EventRecord], ...]
    handlers: Mapping[type[EventRecord], Handler]
    #: The keyed state's faust table (one entry per message key, i.e. per case); None: stateless.
    table: str | None = None
    #: Event ids remembered per key, so that a redelivered event is not applied twice.
    keep_handled: int = 50
    encode_state: Callable[[State], bytes] = field(
        default=lambda s: json.dumps(s, ensure_ascii=False).encode(), repr=False)
    decode_state: Callable[[bytes], State] = field(default=json.loads, repr=False)

    def handler(self, event_type: str) -> Handler | None:
        return self._by_type.get(event_type)

    @cached_property
    def _by_type(self) -> dict[str, Handler]:
        # Built once: handler() is asked for every event the service reads.
        return {cls.TYPE: h for cls, h in self.handlers.items()}

    def apply(self, decisions: Any, state: State | None, event: Event) -> tuple[State | None, list[Output]]:
        """One event: the state to store (None: nothing to store) and the outputs. An event this
        key has already handled, or a type without a handler, gives nothing."""
        handler = self.handler(event.type)
        if handler is None or (state is not None and event.id in state.get("handled", ())):
            return None, []
        new_state, out = handler(decisions, state, event)
        if new_state is None:
            return None, list(out)
        handled = [*(new_state.get("handled") or ())[-self.keep_handled:], event.id]
        return {**new_state, "handled": handled}, list(out)

    def encode(self, codec: Codec, output: Output) -> OutgoingMessage:
        source = f"/liandong/{self.name}"
        if isinstance(output, EventRecord):
            return codec.encode_event(output, source=source)
        name, record = output
        return codec.encode(name, record, source=source)


def faust_runtime(service: Service, bus: Bus, decisions: Any, *, app_id: str | None = None) -> Runtime:
    """The declaration as a faust app: one agent over ``topics_in``, the table for its state."""
    app_id = app_id or service.name
    app = create_app(app_id, bus)
    state_table = table(app, service.table, bus.settings.topic_partitions) if service.table else None

    async def handle(event: Event, batch: Batch) -> None:
        if service.handler(event.type) is None:
            return  # most of what a service reads needs nothing of it: skip the table
        key = event.key.encode()
        state = batch.get(state_table, key, service.decode_state) if state_table is not None else None
        new_state, out = service.apply(decisions, state, event)
        for output in out:
            batch.send(service.encode(bus.codec, output))
        if new_state is not None and state_table is not None:  # stored once the outputs are acknowledged
            batch.put(state_table, key, new_state, service.encode_state)

    @app.agent(raw_topic(app, *concrete_topics(*service.topics_in)), name=f"{app_id}.route")
    async def agent(stream: Any) -> None:
        await consume_batches(stream, bus.codec, handle, app=app, service=service.name)

    return Runtime(service.name, bus, faust_apps=[app])


class InMemory:
    """A declaration run without a broker, for unit tests (as faststream's TestKafkaBroker):
    events in, events out, the table's state visible. Every event goes through the real codec
    both ways, so topics, keys and schemas are checked as on the bus."""

    def __init__(self, service: Service, decisions: Any, codec: Codec) -> None:
        self.service, self.decisions, self.codec = service, decisions, codec
        self.state: dict[str, State] = {}
        self.published: list[Event] = []

    def send(self, event: EventRecord | Event) -> list[Event]:
        """Delivers one event as the service would consume it; returns what it published."""
        if isinstance(event, EventRecord):
            msg = self.codec.encode_event(event, source="/liandong/test")
            event = self.codec.decode(msg.topic, msg.key, msg.value, msg.headers)
        if not any(topic_matches(t, event.topic) for t in self.service.topics_in):
            raise ValueError(f"{self.service.name} does not read {event.topic} (it reads {', '.join(self.service.topics_in)})")
        new_state, out = self.service.apply(self.decisions, self.state.get(event.key), event)
        if new_state is not None:
            # As the table would: the stored bytes, read back.
            self.state[event.key] = self.service.decode_state(self.service.encode_state(new_state))
        emitted = [cls.TYPE for cls in self.service.emits]
        published = []
        for output in out:
            msg = self.service.encode(self.codec, output)
            decoded = self.codec.decode(msg.topic, msg.key, msg.value, msg.headers)
            if decoded.type not in emitted:
                raise AssertionError(f"{self.service.name} published {decoded.type}, which its declaration does not emit")
            if not any(topic_matches(t, msg.topic) for t in self.service.topics_out):
                raise AssertionError(f"{self.service.name} published on {msg.topic}, not one of its topics out")
            published.append(decoded)
        self.published += published
        return published

