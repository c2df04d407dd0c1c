"""The department SDK against the real broker: answers are checked before anything is published,
and the reference department answers on an injected clock."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from kafka import TopicPartition
from liandong_sdk import (
    DepartmentClient,
    IllegalTransition,
    InvalidAnswer,
    ObjectionWindowClosed,
    UnknownCase,
)

from liandong import Bus, load_clocks
from liandong.examples import example_record
from services.departments import Behaviour, ReferenceDepartment
from tests.conftest import read_topic, wait_for

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # a Monday


def _hand_off(bus: Bus, unit: str, at: datetime = T0) -> str:
    number = f"140214-2026-{uuid.uuid4().int % 10**6:06d}"
    rec = example_record(bus.schemas, "case.handoff.requested", case_number=number, unit=unit, now=at)
    clocks = load_clocks()  # the deadlines triage would carry
    rec.update(role="LEAD", mode="ASSIGN", deadline={"clock": "ACCEPTANCE_NOTICE", "due_at": clocks.acceptance_due(at),
                                                       "days": 15, "day_basis": "CALENDAR"},
               objection_due_at=clocks.objection_due(at))
    with bus.publisher("test") as pub:
        pub.publish("case.handoff.requested", rec).get(timeout=30)
    return number


def _end_offsets(bus: Bus, topic: str) -> dict[Any, int]:
    c = bus.consumer()
    try:
        return dict(c.end_offsets([TopicPartition(topic, p) for p in c.partitions_for_topic(topic)]))
    finally:
        c.close()


def _replies(bus: Bus, topic: str, key: str) -> list[str]:
    return [headers["ce_type"].decode().removeprefix("liandong.") for k, _, headers in read_topic(bus, topic)
            if k == key.encode()]


def _client(bus: Bus, unit: str, now: datetime) -> DepartmentClient:
    from liandong import HANDLING_UNITS

    return DepartmentClient(unit, bus, group_id=f"unit-{HANDLING_UNITS[unit]}-{uuid.uuid4().hex[:8]}", clock=lambda: now)


def _receive(dept: DepartmentClient, number: str) -> None:
    wait_for(lambda: number in dept.cases or (dept.inbox(0.5) and number in dept.cases), message=f"{number} in the inbox")


def test_wrong_states_and_fields_raise_and_publish_nothing(bus: Bus) -> None:
    number = _hand_off(bus, "JUSTICE")
    with _client(bus, "JUSTICE", T0 + timedelta(hours=2)) as dept:
        _receive(dept, number)
        before = _end_offsets(bus, "liandong.unit.justice.replies")
        with pytest.raises(IllegalTransition, match=r"case\.resolved is not allowed in state REQUESTED"):
            dept.resolve(number, "SUPPORTED", "SOLVED", "意见")
        with pytest.raises(IllegalTransition):
            dept.accept(number)  # must sign for it first
        with pytest.raises(UnknownCase):
            dept.sign_for("140214-2026-999999")
        dept.sign_for(number, "张三")
        dept.accept(number)
        with pytest.raises(InvalidAnswer, match="percent"):
            dept.report_progress(number, 150, "进展")
        with pytest.raises(InvalidAnswer, match="note"):
            dept.report_progress(number, 50, "  ")
        with pytest.raises(InvalidAnswer, match="outcome"):
            dept.resolve(number, "MAYBE", "SOLVED", "意见")
        with pytest.raises(InvalidAnswer, match="at most 30 days"):
            dept.request_extension(number, 31, "复杂")
        dept.request_extension(number, 20, "需要会商")
        with pytest.raises(InvalidAnswer, match="20 used"):
            dept.request_extension(number, 11, "还要更久")
        dept.confirm()  # the answers are sent asynchronously: acknowledged before the offsets are read
        after = _end_offsets(bus, "liandong.unit.justice.replies")
    assert sum(after.values()) - sum(before.values()) == 3  # signed, accepted, extended: nothing else
    assert _replies(bus, "liandong.unit.justice.replies", number) == [
        "case.handoff.accepted", "case.accepted", "case.extension.approved"]


def test_objection_window_is_five_working_days(bus: Bus) -> None:
    number = _hand_off(bus, "POLICE")  # handed off on a Monday: the window ends the next Monday, 24:00
    with _client(bus, "POLICE", T0 + timedelta(days=8)) as late:  # Tuesday morning
        _receive(late, number)
        with pytest.raises(ObjectionWindowClosed, match=r"window closed at 2026-03-09T23:59\+08:00"):
            late.object(number, "不属于本单位")
    with _client(bus, "POLICE", T0 + timedelta(days=7, hours=14)) as last_evening:  # Monday 23:00 Beijing
        _receive(last_evening, number)
        assert last_evening.cases[number].objection_due_at == load_clocks().objection_due(T0)
    with _client(bus, "POLICE", T0 + timedelta(days=6)) as in_time:  # Sunday: still inside the window
        _receive(in_time, number)
        in_time.object(number, "不属于本单位", suggested_unit="STREET_OFFICE")
    assert _replies(bus, "liandong.unit.police.replies", number) == ["case.handoff.rejected"]


def test_reference_department_answers_on_an_injected_clock(bus: Bus) -> None:
    number = _hand_off(bus, "HOUSING")
    now = T0
    with _client(bus, "HOUSING", now) as client:
        dept = ReferenceDepartment(client, Behaviour(objection_rate=0.0, extension_rate=1.0, seed=1))
        wait_for(lambda: dept.step(T0) >= 0 and number in client.cases, message="the handoff")
        # (the inbox also holds earlier tests' handoffs: only this case is followed here)
        assert dept.planned(number) == ["sign", "accept", "progress", "extend", "resolve"]
        for day, left in ((1, 4), (3, 3), (20, 2), (21, 1), (40, 0)):
            now = T0 + timedelta(days=day)
            client.now = lambda now=now: now
            assert dept.step(now) >= 1
            assert len(dept.planned(number)) == left
    assert _replies(bus, "liandong.unit.housing.replies", number) == [
        "case.handoff.accepted", "case.accepted", "case.progress", "case.extension.approved", "case.resolved"]
