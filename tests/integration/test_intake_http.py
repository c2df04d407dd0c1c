"""Intake's HTTP endpoint: bad input gets a clear error and leaves no trace; good input goes through."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kafka import TopicPartition

from liandong import Bus
from services.intake.app import build as build_intake
from tests.conftest import ServiceHost, api
from tests.integration.test_case_lifecycle import submission


@pytest.fixture(scope="module")
def intake(bus: Bus) -> Iterator[int]:
    host = ServiceHost()
    port = host.start(build_intake(bus.as_principal("svc-intake"), port=0)).bound["http"]
    try:
        yield port
    finally:
        host.close()


def _post(port: int, body: bytes) -> tuple[int, Any]:
    return api(port, "/petitions", body)


def _published(bus: Bus) -> int:
    c = bus.consumer()
    try:
        parts = [TopicPartition("liandong.bureau.petitions", p) for p in c.partitions_for_topic("liandong.bureau.petitions")]
        return sum(c.end_offsets(parts).values())
    finally:
        c.close()


def test_a_body_that_is_not_json_is_refused_and_nothing_is_published(intake: int, bus: Bus) -> None:
    before = _published(bus)
    status, body = _post(intake, b"[{not json")
    assert status == 400 and "not JSON" in body["error"]
    status, body = _post(intake, json.dumps(submission(channel="FAX", petitioner={"name": ""})).encode())
    assert status == 422
    assert body["rejected"] == 1
    assert sorted(body["results"][0]["errors"]) == ["channel: must be one of 'ONLINE', 'VISIT', 'LETTER' or 'HOTLINE_12345'",
                                                     "petitioner.name: String should have at least 1 character"]
    assert _published(bus) == before


def test_a_json_array_registers_the_good_ones_and_reports_the_bad(intake: int, bus: Bus) -> None:
    good = submission(idempotency_key=f"http-{uuid.uuid4()}")
    bad = submission(received_at="2026-03-02T09:30:00")  # no time zone
    before = _published(bus)
    status, body = _post(intake, json.dumps([good, bad], ensure_ascii=False).encode())
    assert status == 200 and body["registered"] == 1 and body["rejected"] == 1
    assert body["results"][1]["errors"] == [
        "received_at: Value error, must include a time zone offset, e.g. 2026-03-01T09:30:00+08:00"]
    assert _published(bus) == before + 1
    status, again = _post(intake, json.dumps(good, ensure_ascii=False).encode())
    assert again["duplicates"] == 1 and again["results"][0]["case_number"] == body["results"][0]["case_number"]
    assert _published(bus) == before + 1
