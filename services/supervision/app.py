"""Supervision (督查督办) as a faust app: watches every open clock of every case and escalates.

Topics in:  liandong.bureau.petitions (registered, repeat.detected), liandong.bureau.triage (triaged, diverted),
            liandong.unit.*.inbox (handoffs, recommendations, our own letters read back),
            liandong.unit.*.replies (acceptance, extension, resolution, feedback), liandong.bureau.supervision
Topics out: liandong.unit.<unit>.inbox (supervision.reminder 提醒函, supervision.notice 督办函),
            liandong.bureau.supervision (supervision.listed 挂牌督办)
State:      table supervision-clocks (case number -> running clocks and the letters already issued; no personal data)
Timer:      every ``tick_seconds``: tick(clock()) issues what is due, each letter once (derived event ids,
            remembered in the table before the next tick and recognised when read back from the bus)

The clocks, the escalation ladder and the holidays come from ``services/supervision/clocks.yaml``
(``LIANDONG_CLOCKS_FILE`` names another). Recommendations (三项建议) are issued by the bureau:
``liandong supervise recommend``; a unit answers with ``DepartmentClient.answer_recommendation``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

from liandong import (
    BUREAU_PETITIONS,
    BUREAU_SUPERVISION,
    BUREAU_TRIAGE,
    HANDLING_UNITS,
    UNIT_INBOX,
    UNIT_REPLIES,
    Bus,
    Event,
    get_logger,
    load_clocks,
)
from liandong.clock import now as bus_now
from liandong.domain import ClockConfig
from liandong.domain.supervision import Action, SupervisedCase, Supervisor
from liandong.runtime import Runtime
from liandong.streams import consume, create_app, raw_topic, send

from .handlers import WATCHED, on_event, tick

SERVICE = "supervision"
log = get_logger(SERVICE)
INBOXES = [UNIT_INBOX.format(unit=s) for s in HANDLING_UNITS.values()]
TOPICS_IN = [BUREAU_PETITIONS, BUREAU_TRIAGE, BUREAU_SUPERVISION, *INBOXES,
             *(UNIT_REPLIES.format(unit=s) for s in HANDLING_UNITS.values())]
TOPICS_OUT = [BUREAU_SUPERVISION, *INBOXES]
Clock = Callable[[], datetime]


class _Tracked:
    """A faust stream whose messages are recorded as handled, dead-lettered ones included, once the
    reader asks for the next one (``caught_up`` compares them with the partitions' ends)."""

    def __init__(self, stream: Any, processed: dict[tuple[str, int], int]) -> None:
        self.stream, self.processed = stream, processed

    async def events(self) -> AsyncIterator[Any]:
        async for ev in self.stream.events():
            yield ev
            self.processed[(ev.message.topic, ev.message.partition)] = ev.message.offset


def build(bus: Bus, *, clocks: ClockConfig | None = None, clock: Clock | None = None, app_id: str = SERVICE,
          tick_seconds: float = 5.0) -> Runtime:
    sup = Supervisor(clocks or load_clocks(), letter_units=tuple(HANDLING_UNITS))
    now: Clock = clock or bus_now
    app = create_app(app_id, bus)
    # The timer writes outside any stream event, so the changelog partition comes from the producer's
    # partitioner (murmur2 of the case number, as for every keyed topic the cases arrive on).
    table = app.Table("supervision-clocks", partitions=bus.settings.topic_partitions, key_type=bytes,
                      value_type=bytes, use_partitioner=True)
    lock = asyncio.Lock()  # the agent and the timer never interleave on a case's record
    processed: dict[tuple[str, int], int] = {}  # (topic, partition) -> last offset handled
    source = f"/liandong/{SERVICE}"

    def load(key: bytes) -> SupervisedCase | None:
        raw = table.get(key)
        return SupervisedCase.from_json(raw) if raw is not None else None

    async def publish(out: list[Action]) -> None:
        for name, record in out:
            await send(app, bus.codec.encode(name, record, source=source), wait=True)

    def caught_up() -> bool:
        """Whether every input partition has been handled up to its end: a letter is decided on
        what the service knows, so it waits for what the bus already holds (after a restart, a
        case's inbox may be read before its replies: a clock already stopped must not be escalated)."""
        consumer = app.consumer
        committed = getattr(consumer, "_committed_offset", {})  # faust's: where the group resumed
        for tp in consumer.assignment():
            if tp.topic not in TOPICS_IN:
                continue
            end = consumer.highwater(tp)  # the next offset to be written
            if end is None:
                return False  # not fetched yet
            done = max(processed.get((tp.topic, tp.partition), -1) + 1, committed.get(tp) or 0)
            if done < end:
                return False
        return True

    async def watch(event: Event) -> None:
        if event.type not in WATCHED:
            return
        key = event.key.encode()
        async with lock:
            state = load(key) or SupervisedCase(event.key)
            earlier_key = str(event.data.get("earlier_case_number") or "").encode()
            earlier = load(earlier_key) if event.type == "petition.repeat.detected" else None
            changed, out = on_event(sup, event.type, event.id, event.data, state, earlier)
            await publish(out)  # before remembering: a crash in between re-sends the same ids
            if out and earlier is not None:
                table[earlier_key] = earlier.to_json()
            if changed:
                table[key] = state.to_json()

    async def run_tick(at: datetime) -> int:
        issued = 0
        for key in list(table.keys()):
            try:
                async with lock:
                    state = load(key)
                    if state is None or not state.running():
                        continue
                    out = tick(sup, state, at)
                    if out:
                        await publish(out)
                        table[key] = state.to_json()
                        issued += len(out)
            except Exception:  # one case's trouble must not stop the others, nor the timer
                log.exception("supervision_case_tick_failed", case=key.decode(errors="replace"))
        return issued

    @app.timer(interval=tick_seconds)  # type: ignore[untyped-decorator]
    async def ticker() -> None:
        # A timer's exception would stop the worker's timers: never let one escape.
        try:
            if getattr(app, "rebalancing", False) or getattr(app, "in_recovery", False) \
                    or not app.tables.recovery.completed.is_set():  # type: ignore[attr-defined]
                return  # the table is not whole yet: issuing now could repeat a letter
            if not caught_up():
                return  # events the bus already holds may stop a clock: read them first
            at = now()
            issued = await run_tick(at)
            if issued:
                log.info("supervision_issued", count=issued, at=at.isoformat())
        except Exception:
            log.exception("supervision_tick_failed")

    @app.agent(raw_topic(app, *TOPICS_IN), name=f"{app_id}.watch")
    async def agent(stream: Any) -> None:
        await consume(_Tracked(stream, processed), bus.codec, watch, app=app, service=SERVICE)

    return Runtime(SERVICE, bus, faust_apps=[app])
