"""What the console does on the bus, for whom: the bureau's desk (intake and the ledger over HTTP,
decisions published as ``svc-bureau``) and each unit's desk (the unit's inbox and answers through
the SDK's ``DepartmentClient``, as the unit's principal: the same rules as any department's system).

Both tell ``Live`` what arrived, so that the pages in the browsers follow without a reload.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from liandong_sdk import (
    BUREAU_ANSWERS,
    BUREAU_TRIAGE,
    HANDLING_UNITS,
    DepartmentClient,
    Event,
    Handoff,
    LiandongError,
)
from liandong_sdk.events import CaseJurisdictionDecided
from liandong_sdk.records import case_ref_of

from liandong import Bus, get_logger
from liandong.api import call_api

log = get_logger(__name__)

#: The audience of a live update: "bureau", or a unit's symbol.
Audience = str


class Live:
    """Server-sent events: each open page has a queue; an update for its audience is put on it."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self._queues: dict[asyncio.Queue[str], Audience] = {}

    def subscribe(self, audience: Audience) -> asyncio.Queue[str]:
        queue: asyncio.Queue[str] = asyncio.Queue(maxsize=100)
        self._queues[queue] = audience
        return queue

    def unsubscribe(self, queue: asyncio.Queue[str]) -> None:
        self._queues.pop(queue, None)

    def tell(self, audience: Audience, what: str) -> None:
        """From any thread: ``what`` arrived for ``audience`` (the bureau also hears every unit's)."""
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self._put, audience, what)

    def _put(self, audience: Audience, what: str) -> None:
        for queue, who in list(self._queues.items()):
            if who in (audience, "bureau") and not queue.full():
                queue.put_nowait(what)


class UnitDesk:
    """One unit's inbox and answers, as its principal, polled on a thread of its own."""

    def __init__(self, unit: str, bus: Bus, live: Live, clock: Callable[[], datetime] | None = None) -> None:
        self.unit, self.live = unit, live
        slug = HANDLING_UNITS[unit]
        # A group of its own each start: the inbox is read from its beginning, the cases rebuilt.
        self.client = DepartmentClient(unit, bus, group_id=f"unit-{slug}-console-{uuid.uuid4().hex[:8]}", clock=clock)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"console-{slug}", daemon=True)
        #: The recommendations (三项建议) received, by id, and the ids answered from here.
        self._recommendations: dict[str, Event] = {}
        self._answered: set[str] = set()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.client.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with self._lock:
                    before = (len(self.client.refusals), len(self.client.other))
                    new = self.client.inbox(0.3)
                    changed = bool(new) or before != (len(self.client.refusals), len(self.client.other))
                    for ev in self.client.recommendations():  # kept: the client keeps only the last poll's
                        self._recommendations[str(ev.data["recommendation_id"])] = ev
            except LiandongError as exc:  # the broker away: tried again
                log.warning("console_inbox_failed", unit=self.unit, error=str(exc))
                self._stop.wait(1.0)
                continue
            if changed:
                self.live.tell(self.unit, "inbox")

    def handoffs(self) -> list[Handoff]:
        with self._lock:
            return sorted(self.client.cases.values(), key=lambda h: h.requested_at, reverse=True)

    def handoff(self, case_number: str) -> Handoff | None:
        with self._lock:
            return self.client.cases.get(case_number)

    def refusals(self, case_number: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            found = [r.data for r in self.client.refusals if case_number in (None, r.key)]
        return list(reversed(found))

    def work(self) -> dict[str, list[Any]]:
        """What waits for the unit besides its handoffs: mediations, packages, team tasks, recommendations."""
        with self._lock:
            c = self.client
            return {"mediations": sorted(c.mediations.values(), key=lambda m: m.mediation_id),
                    "packages": sorted(c.packages.values(), key=lambda p: p.package_id),
                    "tasks": sorted(c.tasks.values(), key=lambda t: t.task_number),
                    "recommendations": [(rid, ev.data, rid in self._answered)
                                        for rid, ev in sorted(self._recommendations.items())]}

    def act(self, action: str, *args: Any, **fields: Any) -> None:
        """A coordination answer (``join_mediation``, ``complete_task``…), acknowledged by the broker."""
        with self._lock:
            if action == "answer_recommendation":
                rid = str(args[0])
                getattr(self.client, action)(self._recommendations[rid], **fields)
                self._answered.add(rid)
            else:
                getattr(self.client, action)(*args, **fields)
            self.client.confirm()
        self.live.tell(self.unit, "answered")

    def answer(self, action: str, case_number: str, **fields: Any) -> None:
        """One of the client's answers (``sign_for``, ``object``…), acknowledged by the broker; raises
        the SDK's refusal (``DepartmentError``) before publishing what the rules forbid."""
        with self._lock:
            getattr(self.client, action)(case_number, **fields)
            self.client.confirm()
        self.live.tell(self.unit, "answered")


@dataclass
class BureauDesk:
    """The bureau's side: registration through intake, the ledger's views, and its decisions."""

    bus: Bus
    intake_url: str
    ledger_url: str
    token: str
    live: Live
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def register(self, petition: dict[str, Any]) -> tuple[int, Any]:
        body = json.dumps(petition, ensure_ascii=False).encode()
        return call_api(f"{self.intake_url}/petitions", self.token, body, timeout=30)

    def ledger(self, path: str) -> tuple[int, Any]:
        return call_api(f"{self.ledger_url}{path}", self.token, timeout=30)

    def publish(self, principal: str, requests: list[tuple[str, dict[str, Any]]]) -> None:
        """Records made by the bureau's own request builders, published as ``principal``."""
        with self.bus.as_principal(principal).publisher("console") as pub:
            for name, record in requests:
                pub.publish(name, record).get(timeout=30)

    def callback(self, case_number: str, evaluation: str, remark: str) -> tuple[int, Any]:
        body = json.dumps({"case_number": case_number, "evaluation": evaluation, "remark": remark},
                          ensure_ascii=False).encode()
        return call_api(f"{self.intake_url}/callbacks", self.token, body, timeout=30)

    def decide(self, case_number: str, unit: str, reason: str, decided_by: str) -> None:
        """A jurisdiction decision (or a re-route), published as the bureau: triage hands the case to ``unit``."""
        record = {"event_id": uuid.uuid4(), "occurred_at": datetime.now(UTC), "case": case_ref_of(case_number),
                  "deadline": None, "unit": unit, "decided_by": decided_by, "reason": reason}
        with self.bus.as_principal("svc-bureau").publisher("console") as pub:
            pub.publish(CaseJurisdictionDecided.TYPE, record).get(timeout=30)

    # -- what arrives: the checked answers and triage's decisions, told to the bureau's pages -----
    def start(self) -> None:
        self._thread = threading.Thread(target=self._follow, name="console-bureau", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _follow(self) -> None:
        # A group of its own (nothing to resume: what arrives from now on is what the pages follow).
        sub = self.bus.subscriber([BUREAU_ANSWERS, BUREAU_TRIAGE], group_id=f"console-{uuid.uuid4().hex[:8]}",
                                  service="console", auto_offset_reset="latest")
        try:
            while not self._stop.is_set():
                for event in sub.poll(300):
                    self.live.tell("bureau", f"{event.key} {event.type}")
        finally:
            sub.close()
