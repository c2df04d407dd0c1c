"""The case lifecycle through the real broker: intake -> triage -> department -> ledger."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from liandong_sdk import DepartmentClient

from liandong import BUS_UNITS, Bus
from services.intake import IntakeService
from services.ledger.app import build as build_ledger
from services.registry import INBOXES
from services.triage.app import build as build_triage
from services.triage.app import load_routing
from tests.conftest import ServiceHost, api, wait_for


def _get(port: int, path: str) -> Any:
    status, answer = api(port, path)
    return answer if status == 200 else {"status_code": status, **answer}


SUBMITTED: list[dict[str, Any]] = []  # every submission of this module, for the personal-data sweep


def submission(**over: Any) -> dict[str, Any]:
    base = {
        "idempotency_key": f"web-{uuid.uuid4()}",
        "channel": "ONLINE",
        "received_at": "2026-03-02T09:30:00+08:00",
        "petitioner": {"name": f"张{uuid.uuid4().hex[:6]}", "id_number": f"14021419800101{uuid.uuid4().int % 10000:04d}",
                       "phone": f"139{uuid.uuid4().int % 10**8:08d}", "address": f"云冈区新平旺街道{uuid.uuid4().hex[:8]}号"},
        "summary": "某建筑工地拖欠农民工工资三个月",
        "category": "WAGE_ARREARS",
    }
    base.update(over)
    SUBMITTED.append(base)
    return base


def handed(intake_port: int, unit: DepartmentClient, petitions: list[dict[str, Any]]) -> list[str]:
    """Registers ``petitions`` over intake's API; their case numbers, once every one is in ``unit``'s inbox."""
    numbers = []
    for petition in petitions:
        status, body = api(intake_port, "/petitions", json.dumps(petition, ensure_ascii=False).encode())
        assert status == 200, body
        numbers.append(body["results"][0]["case_number"])
    seen: set[str] = set()
    wait_for(lambda: seen.update(h.case_number for h in unit.inbox(0.5)) or set(numbers) <= seen,
             message=f"the {len(numbers)} handoffs at {unit.unit}")
    return numbers


@pytest.fixture(scope="module")
def stack(bus: Bus) -> Iterator[dict[str, Any]]:
    """Triage and ledger as faust apps, intake in-process, on the session's broker."""
    host = ServiceHost()
    tag = uuid.uuid4().hex[:6]
    # each service as its own principal, so the ACL matrix is exercised by the real flow
    host.start(build_triage(bus.as_principal("svc-triage"), app_id=f"triage-{tag}"))
    port = host.start(build_ledger(bus.as_principal("svc-ledger"), port=0, app_id=f"ledger-{tag}")).bound["http"]
    intake = IntakeService(bus.as_principal("svc-intake"), load_routing())
    intake.start()
    try:
        yield {"intake": intake, "ledger_port": port, "host": host}
    finally:
        intake.stop()
        host.close()


def _case(stack: dict[str, Any], number: str, status: str | None = None) -> dict[str, Any]:
    def ready() -> dict[str, Any] | None:
        c = _get(stack["ledger_port"], f"/cases/{number}")
        if "status_code" in c:
            return None
        return c if status is None or c["status"] == status else None

    return wait_for(ready, message=f"{number} in the ledger" + (f" with status {status}" if status else ""))


def _handoff(dept: DepartmentClient, number: str) -> Any:
    found: dict[str, Any] = {}

    def poll() -> Any:
        for h in dept.inbox(0.5):
            found[h.case_number] = h
        return found.get(number)

    return wait_for(poll, message=f"{number} in {dept.unit}'s inbox")


def test_register_triage_handoff_sign_progress_resolve(stack: dict[str, Any], bus: Bus) -> None:
    result = stack["intake"].submit(submission())
    assert result.status == "registered"
    number = result.case_number
    with DepartmentClient("HRSS", bus, group_id=f"unit-hrss-{uuid.uuid4().hex[:6]}") as hrss:
        h = _handoff(hrss, number)
        assert h.role == "LEAD" and h.mode == "ASSIGN"
        assert h.petitioner["phone"] == SUBMITTED[-1]["petitioner"]["phone"]  # the handling unit gets the contact details
        hrss.sign_for(number, "李科长")
        hrss.accept(number)
        hrss.report_progress(number, 60, "已责令施工单位限期支付")
        hrss.resolve(number, "SUPPORTED", "SOLVED", "工资已足额支付")
    want = {"petition.registered", "petition.triaged", "case.handoff.requested", "case.handoff.accepted",
            "case.accepted", "case.progress", "case.resolved"}

    def complete() -> dict[str, Any] | None:
        # The ledger reads the bureau's and the units' topics independently: the status can be
        # RESOLVED a moment before petition.triaged (another topic) is on the timeline.
        c = _case(stack, number, "RESOLVED")
        return c if want <= {t["event"] for t in c["timeline"]} else None

    case = wait_for(complete, message=f"{number}'s whole lifecycle on its timeline")
    assert all(datetime.fromisoformat(t["at"]) for t in case["timeline"])
    assert case["lead_unit"] == "HRSS" and "HOUSING" in case["co_units"]
    assert case["outcome"] == "SUPPORTED" and case["tag"] == "SOLVED"
    assert case["handoffs"]["HRSS"]["handling_due_at"] is not None
    assert "petitioner" not in json.dumps(case) and SUBMITTED[-1]["petitioner"]["phone"] not in json.dumps(case)


def test_objections_reroute_then_escalate_to_the_bureau(stack: dict[str, Any], bus: Bus) -> None:
    number = stack["intake"].submit(submission(category="HEATING", summary="小区冬季供暖温度不达标")).case_number
    with DepartmentClient("HOUSING", bus, group_id=f"unit-housing-{uuid.uuid4().hex[:6]}") as housing, \
         DepartmentClient("STREET_OFFICE", bus, group_id=f"unit-street-{uuid.uuid4().hex[:6]}") as street:
        assert _handoff(housing, number).role == "LEAD"
        housing.object(number, "供热企业由街道属地管理", suggested_unit="STREET_OFFICE")
        rerouted = wait_for(lambda: next((h for h in street.inbox(0.5) if h.case_number == number and h.role == "LEAD"), None),
                            message="the re-routed handoff at the street office")
        assert rerouted.petitioner is not None
        street.object(number, "供热属住建部门行业监管")
    # the escalation (triage's topic) and the second objection (the answers) reach the ledger apart
    case = wait_for(lambda: (c := _case(stack, number, "ESCALATED"))["objections"] == 2 and c,
                    message=f"{number} escalated with both objections")
    assert [t["event"] for t in case["timeline"]].count("case.handoff.rejected") == 2


def test_litigation_is_diverted_and_never_reaches_an_inbox(stack: dict[str, Any], bus: Bus) -> None:
    number = stack["intake"].submit(submission(category="OTHER", summary="不服法院一审判决，要求改判")).case_number
    case = _case(stack, number, "DIVERTED")
    assert case["diverted_to"] == "LITIGATION"
    assert case["handoffs"] == {}


def test_the_same_submission_twice_is_one_case_and_a_repeat_is_linked(stack: dict[str, Any]) -> None:
    sub = submission()
    first = stack["intake"].submit(sub)
    again = stack["intake"].submit(sub)
    assert again.status == "duplicate" and again.case_number == first.case_number
    repeat = stack["intake"].submit({**sub, "idempotency_key": f"visit-{uuid.uuid4()}", "channel": "VISIT"})
    assert repeat.status == "registered" and repeat.case_number != first.case_number
    assert repeat.repeat_of == first.case_number
    case = _case(stack, repeat.case_number, "REPEAT")
    assert case["repeat_of"] == first.case_number
    dup_events = [t for t in _case(stack, first.case_number)["timeline"] if t["event"] == "petition.registered"]
    assert len(dup_events) == 1


def test_a_bad_intake_file_accepts_good_lines_and_reports_bad_ones(stack: dict[str, Any]) -> None:
    good1, good2 = submission(), submission()
    bad_channel = submission(channel="FAX")
    bad_id = submission()
    bad_id["petitioner"]["id_number"] = "12345"
    lines = [json.dumps(good1, ensure_ascii=False), "{not json", json.dumps(bad_channel, ensure_ascii=False),
             json.dumps(bad_id, ensure_ascii=False), json.dumps(good2, ensure_ascii=False)]
    results = stack["intake"].submit_lines("\n".join(lines))
    assert [r.status for r in results] == ["registered", "rejected", "rejected", "rejected", "registered"]
    assert [r.line for r in results] == [1, 2, 3, 4, 5]
    assert "not JSON" in results[1].errors[0]
    assert results[2].errors[0].startswith("channel: must be one of")
    assert results[3].errors[0].startswith("petitioner.id_number:")
    assert stack["intake"].registry.by_key.get(bad_channel["idempotency_key"]) is None
    for r in (results[0], results[4]):
        _case(stack, r.case_number)
    stats = _get(stack["ledger_port"], "/stats?year=2026")
    assert stats["total"] >= 2 and stats["by_channel"]["ONLINE"] >= 2


def test_ledger_lists_cases_by_unit_and_status(stack: dict[str, Any]) -> None:
    number = stack["intake"].submit(submission(category="PUBLIC_ORDER", summary="夜间噪音扰民")).case_number
    _case(stack, number, "ROUTED")
    listed = _get(stack["ledger_port"], "/cases?unit=POLICE&status=ROUTED&limit=100000")
    assert number in [c["case_number"] for c in listed["cases"]]
    assert all(c["status"] == "ROUTED" for c in listed["cases"])
    # handed to the police, as lead or co-unit (other tests' cases are listed too: a few of them checked)
    for c in listed["cases"][:5]:
        assert "POLICE" in _get(stack["ledger_port"], f"/cases/{c['case_number']}")["handoffs"]




def test_no_department_readable_topic_carries_personal_data_of_cases_it_does_not_handle(
        stack: dict[str, Any], bus: Bus) -> None:
    """Runs last in this module. Every unit reads every topic it can (as its own principal) and
    finds no petitioner data of a case it does not handle; and the topics other than the bureau's
    and the inboxes carry no petitioner data at all."""
    from liandong import HANDLING_UNITS, all_topics

    ledger = {c["case_number"]: c for c in _get(stack["ledger_port"], "/cases?limit=100000")["cases"]}
    numbers = dict(stack["intake"].registry.by_key)
    pii: dict[str, list[bytes]] = {}
    for sub in SUBMITTED:
        number = numbers.get(sub["idempotency_key"])
        if number is not None:  # a rejected line was never published
            p = sub["petitioner"]
            pii[number] = [v.encode() for v in (p["name"], p.get("id_number"), p.get("phone"), p.get("address")) if v]
    assert len(pii) >= 6
    handled_by = {n: set(_get(stack["ledger_port"], f"/cases/{n}")["handoffs"]) for n in pii if n in ledger}

    def messages(reader: Bus, topic: str) -> list[Any]:
        consumer = reader.consumer(group_id=None, enable_auto_commit=False, consumer_timeout_ms=3000)
        try:
            parts = consumer.partitions_for_topic(topic)
            if not parts:
                return []  # the unit may not even see the topic
            from kafka import TopicPartition

            consumer.assign([TopicPartition(topic, p) for p in parts])
            consumer.seek_to_beginning()
            return list(consumer)
        except Exception as exc:  # a refused fetch: nothing read
            assert "Authorization" in type(exc).__name__, exc
            return []
        finally:
            consumer.close()

    def leaks(blob: bytes, allowed: set[str]) -> list[str]:
        return [f"{v.decode()} of {n}" for n, values in pii.items() if n not in allowed for v in values if v in blob]

    read_as_units = 0
    for unit, slug in BUS_UNITS.items():  # the reviewing bodies too: they handle no case, see no one's data
        reader = bus.as_principal(f"unit-{slug}")
        own = {n for n, units in handled_by.items() if unit in units}
        for spec in all_topics():
            for m in messages(reader, spec.name):
                read_as_units += 1
                blob = bytes(m.value or b"") + b"".join(bytes(v) for _, v in m.headers)
                assert not leaks(blob, own), f"{unit} read {leaks(blob, own)} on {spec.name}"
    assert read_as_units > 0
    # defence in depth: as the admin, no topic but those the catalogue marks as carrying personal data
    # (the bureau's petitions and notices, the dead letters, the handling units' inboxes) carries anyone's data
    assert {s.name for s in all_topics() if s.pii} == {"liandong.bureau.petitions", "liandong.bureau.notices",
                                                      "liandong.deadletter", *INBOXES}
    for spec in all_topics():
        if spec.pii:
            continue
        for m in messages(bus, spec.name):
            assert not leaks(bytes(m.value or b""), set()), spec.name
    # and the lead unit did get the contact details of its own case
    first = next(n for n in pii if n in ledger and ledger[n]["lead_unit"])
    slug = HANDLING_UNITS[ledger[first]["lead_unit"]]
    own_msgs = [m for m in messages(bus.as_principal(f"unit-{slug}"), f"liandong.unit.{slug}.inbox") if m.key == first.encode()]
    assert any(pii[first][0] in bytes(m.value) for m in own_msgs)
