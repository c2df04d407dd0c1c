"""The supervision service on the real broker, on an injected clock the test moves (no sleeping):
the ladder's letters come out once each, also across restarts of the service; resolution stops a
clock; a repeat petition names its trigger; a recommendation without an answer escalates while
an answered one (through the department SDK) does not."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import pytest
from liandong_sdk import DepartmentClient, InvalidAnswer

from liandong import Bus, Event, load_clocks
from liandong.domain.supervision import RunningClock, SupervisedCase, recommendation, stage_event_id
from liandong.examples import example_record
from services.registry import SPECS
from services.supervision.app import build
from services.triage.app import build as build_triage
from tests.conftest import ServiceHost, publish_checked, wait_for

CST = timezone(timedelta(hours=8))
CLOCKS = load_clocks()


def at(month: int, day: int, hour: int = 10, minute: int = 30) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=CST)


class FakeClock:
    """The service's "now", moved by the test."""

    def __init__(self, start: datetime) -> None:
        self._t = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._t

    def set(self, t: datetime) -> None:
        with self._lock:
            self._t = t


def _number() -> str:
    return f"140214-2026-{uuid.uuid4().int % 10**6:06d}"


def _publish(bus: Bus, name: str, number: str, when: datetime, unit: str = "HRSS", **fields: Any) -> dict[str, Any]:
    rec = example_record(bus.schemas, name, case_number=number, unit=unit)
    rec.update(occurred_at=when, deadline=None, **fields)
    publish_checked(bus, name, rec)  # an answer as the referee passes it on (supervision reads the checked ones)
    return rec


def _handoff(bus: Bus, number: str, when: datetime) -> dict[str, Any]:
    return _publish(bus, "case.handoff.requested", number, when, role="LEAD", attempt=1)


class Letters:
    """Every supervision event on the HRSS inbox and the bureau's supervision topic, by case."""

    def __init__(self, bus: Bus) -> None:
        self.sub = bus.subscriber(["liandong.unit.hrss.inbox", "liandong.bureau.supervision"],
                                  group_id=f"test-letters-{uuid.uuid4().hex[:8]}", service="test")
        self.seen: list[Event] = []

    def of(self, number: str) -> list[Event]:
        self.seen += [e for e in self.sub.poll(300) if e.type.startswith("supervision.")]
        return [e for e in self.seen if e.key == number]

    def wait(self, number: str, event_type: str, message: str) -> Event:
        found: Event = wait_for(lambda: next((e for e in self.of(number) if e.type == event_type), None), timeout=90,
                                message=message)
        return found

    def barrier(self, bus: Bus, clock: FakeClock) -> None:
        """Returns once the service has run a whole tick after this call: a fresh case whose
        acceptance is long overdue gets its notice (and a second one, issued by a later tick)."""
        for _ in range(2):
            probe = _number()
            _handoff(bus, probe, clock() - timedelta(days=40))
            self.wait(probe, "supervision.notice", "the probe case's notice")


def _read(runtime: Any, number: str, ready: Callable[[SupervisedCase], bool]) -> SupervisedCase:
    """Waits until the service has read a case's events up to ``ready`` (topics are read in parallel,
    so a case's replies may come before or after its inbox: the test waits rather than races)."""
    table = runtime.faust_apps[0].tables["supervision-clocks"]

    def state() -> SupervisedCase | None:
        raw = table.get(number.encode())
        s = SupervisedCase.from_json(raw) if raw is not None else None
        return s if s is not None and ready(s) else None

    try:
        found: SupervisedCase = wait_for(state, timeout=90, message=f"the service to have read {number}")
    except AssertionError as exc:
        raw = table.get(number.encode())
        raise AssertionError(f"{exc}; its record: {raw!r}") from None
    return found


def _start(host: ServiceHost, bus: Bus, clock: FakeClock, app_id: str) -> Any:
    return host.start(build(bus.as_principal(SPECS["supervision"].principal), clock=clock, app_id=app_id,
                            tick_seconds=0.2))


def test_the_ladder_fires_each_letter_once_across_restarts_and_resolution_stops_a_clock(bus: Bus) -> None:
    late, resolved = _number(), _number()
    clock = FakeClock(at(9, 14))
    handoff = _handoff(bus, late, at(9, 14))  # acceptance due Tue 29 Sep; nobody answers
    _handoff(bus, resolved, at(9, 14))
    _publish(bus, "case.accepted", resolved, at(9, 15))
    _publish(bus, "case.resolved", resolved, at(10, 9), outcome="SUPPORTED", tag="SOLVED")
    letters = Letters(bus)
    app_id = f"supervision-{uuid.uuid4().hex[:6]}"
    host = ServiceHost()
    try:
        runtime = _start(host, bus, clock, app_id)
        _read(runtime, late, lambda s: "ACCEPTANCE_NOTICE/HRSS" in s.clocks)
        _read(runtime, resolved, lambda s: s.unit_status.get("HRSS") == "RESOLVED" and not s.running())
        clock.set(at(9, 23))  # 3 working days before the due date (Mid-Autumn Festival 25-27 Sep skipped)
        reminder = letters.wait(late, "supervision.reminder", "the reminder letter")
        assert reminder.data["occurred_at"] >= at(9, 23) and reminder.data["stage"] == "ACCEPTANCE_NOTICE"
        assert reminder.data["deadline"]["due_at"] == datetime.combine(date(2026, 9, 29), time(23, 59, 59, 999000), CST)

        # restart with the clock where it was: the reminder must not come again
        host.stop(runtime)
        runtime = _start(host, bus, clock, app_id)
        letters.barrier(bus, clock)
        clock.set(at(9, 30, 11))  # the period ended at 24:00 on the 29th
        notice = letters.wait(late, "supervision.notice", "the supervision notice")
        assert notice.data["trigger"] == "OVERDUE"

        # down while the listing falls due (once Mon 19 Oct is over: 10 working days, National Day skipped): not lost
        host.stop(runtime)
        clock.set(at(10, 20, 11))
        runtime = _start(host, bus, clock, app_id)
        listed = letters.wait(late, "supervision.listed", "the public listing")
        assert listed.topic == "liandong.bureau.supervision" and listed.data["unit"] == "HRSS"
        letters.barrier(bus, clock)

        got = letters.of(late)
        assert Counter(e.type for e in got) == {"supervision.reminder": 1, "supervision.notice": 1, "supervision.listed": 1}
        opened = RunningClock("ACCEPTANCE_NOTICE", "HRSS", "HRSS", opened_at=handoff["occurred_at"])
        assert {e.id for e in got} == {stage_event_id(late, opened, s) for s in ("REMINDER", "NOTICE", "LISTING")}
        assert letters.of(resolved) == []  # accepted, then resolved before its handling reminder (7 Nov)
        clock.set(at(11, 30))
        letters.barrier(bus, clock)
        assert letters.of(resolved) == []
    finally:
        letters.sub.close()
        host.close()


def test_triggers_and_recommendations(bus: Bus) -> None:
    earlier, repeat, answered = _number(), _number(), _number()
    clock = FakeClock(at(6, 1))
    _handoff(bus, earlier, at(3, 2))
    _publish(bus, "case.accepted", earlier, at(3, 3))
    _publish(bus, "case.resolved", earlier, at(4, 1), outcome="SUPPORTED", tag="SOLVED")
    as_bureau = bus.as_principal(SPECS["supervision"].principal)  # what `liandong supervise recommend` publishes as
    refs = {}
    for number in (earlier, answered):
        ref = example_record(bus.schemas, "case.accepted", case_number=number)["case"]
        refs[number] = ref
        rec = recommendation(ref, "HRSS", "IMPROVE_WORK", "建立欠薪案件台账，按月研判", at(6, 1), CLOCKS)
        with as_bureau.publisher("bureau/supervision") as pub:
            pub.publish("supervision.recommendation", rec).get(timeout=30)
    letters = Letters(bus)
    host = ServiceHost()
    try:
        # the referee passes the unit's answer to the recommendation on (checked for who speaks)
        host.start(build_triage(bus.as_principal("svc-triage"), app_id=f"triage-{uuid.uuid4().hex[:6]}"))
        runtime = _start(host, bus, clock, f"supervision-{uuid.uuid4().hex[:6]}")
        _read(runtime, earlier, lambda s: s.unit_status.get("HRSS") == "RESOLVED"
              and any(c.clock == "RECOMMENDATION_FEEDBACK" for c in s.running()))
        # the same petitioner again on the same matter: the opinion in their favour was not implemented
        _publish(bus, "petition.repeat.detected", repeat, at(6, 2), earlier_case_number=earlier, earlier_closed=True,
                 not_accepted_reason=None)  # an ordinary repeat (one not accepted after a re-check triggers nothing)
        trig = letters.wait(earlier, "supervision.notice", "the notice on the repeat petition")
        assert trig.data["trigger"] == "OPINION_NOT_IMPLEMENTED" and repeat in trig.data["text"]

        with DepartmentClient("HRSS", bus, group_id=f"unit-hrss-{uuid.uuid4().hex[:6]}", clock=clock) as hrss:
            def recs() -> list[Event]:
                hrss.inbox(0.5)
                return [r for r in hrss.recommendations() if r.key == answered]
            rec_event = wait_for(recs, message="the recommendation in HRSS's inbox")[0]
            with pytest.raises(InvalidAnswer, match="reason"):
                hrss.answer_recommendation(rec_event, adopted=False)  # not adopted: the reason is required
            hrss.answer_recommendation(rec_event, adopted=False, reason="已有相关制度，正在修订")
        # the answer travels through the referee before supervision reads it: jumping the clock
        # before then would make its deadline pass unanswered (CI, stop 32)
        _read(runtime, answered, lambda s: any(c.clock == "RECOMMENDATION_FEEDBACK" and c.closed_at is not None
                                               for c in s.clocks.values()))
        clock.set(at(7, 2, 11))  # answers were due Wed 1 Jul, 24:00
        escalated = wait_for(lambda: next((e for e in letters.of(earlier) if e.type == "supervision.notice"
                                           and e.data["trigger"] == "MISSING_ANSWER"), None),
                             timeout=90, message="the notice on the missing answer")
        assert escalated.data["stage"] == "RECOMMENDATION_FEEDBACK"
        letters.barrier(bus, clock)
        assert [e.type for e in letters.of(answered)] == ["supervision.recommendation"]  # answered: no letter
        reminders = [e for e in letters.of(earlier) if e.type == "supervision.reminder"]
        assert [e.data["stage"] for e in reminders] == []  # the clock jumped past the reminder: the notice went
    finally:
        letters.sub.close()
        host.close()
