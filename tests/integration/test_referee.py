"""The bus is the referee, on the real broker: a department written with plain kafka-python,
producing raw Avro and signing it by the wire contract of docs/departments.md and docs/security.md
(no SDK), answers for another unit, objects late, extends past the cap, answers a case it was never
given, resolves before accepting, and sends answers unsigned, signed with another unit's key or
with a signature that does not verify. Every one is refused with its reason on the unit's inbox;
the ledger, triage and the services that read only the checked answers (supervision, coordination,
intake) see none of them; a valid answer after them is applied."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import fastavro
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from kafka import KafkaProducer

from liandong import BUREAU_ANSWERS, BUREAU_TZ, Bus, get_settings, load_clocks
from liandong.metrics import REFUSED
from services.ledger.app import build as build_ledger
from services.triage.app import build as build_triage
from tests.conftest import ServiceHost, api_get, read_topic, wait_for

SCHEMAS: Path = get_settings().schemas_dir
NOW = datetime.now(UTC).replace(microsecond=0)
HANDED = NOW - timedelta(days=60)  # the case was registered and handed on 60 days ago
PII = {"name": f"赵{uuid.uuid4().hex[:4]}", "phone": f"135{uuid.uuid4().int % 10**8:08d}"}


# -- a department without the SDK: raw Avro single-object encoding and CloudEvents headers -------------
def _schema(fullname: str) -> Any:
    return fastavro.schema.load_schema(SCHEMAS / f"{fullname}.avsc")  # named types from the same folder


def raw_message(event_type: str, fullname: str, record: dict[str, Any], source: str) -> tuple[bytes, bytes, list]:
    """(key, value, headers) as docs/departments.md says a client in any language writes them."""
    parsed = _schema(fullname)
    canonical = fastavro.schema.to_parsing_canonical_form(parsed)
    fp = bytes.fromhex(fastavro.schema.fingerprint(canonical, "CRC-64-AVRO"))
    body = io.BytesIO()
    fastavro.schemaless_writer(body, parsed, record)
    key = record["case"]["case_number"].encode()
    headers = [("ce_specversion", b"1.0"), ("ce_id", str(record["event_id"]).encode()), ("ce_source", source.encode()),
               ("ce_type", f"liandong.{event_type}".encode()),
               ("ce_time", record["occurred_at"].strftime("%Y-%m-%dT%H:%M:%S.000Z").encode()),
               ("ce_subject", key), ("content-type", b"application/avro")]
    return key, b"\xc3\x01" + fp + body.getvalue(), headers


def signature_headers(principal: str, seed: str, key: bytes, value: bytes, headers: list) -> list:
    """``ld_signer`` and ``ld_signature`` as docs/security.md says any client computes them."""
    h = dict(headers)
    signing_input = b"\n".join([b"liandong-signature-v1", h["ce_id"], h["ce_type"], h["ce_time"], key,
                                hashlib.sha256(value).hexdigest().encode()])
    signature = Ed25519PrivateKey.from_private_bytes(base64.b64decode(seed)).sign(signing_input)
    return [("ld_signer", principal.encode()), ("ld_signature", base64.b64encode(signature))]


class RawDepartment:
    def __init__(self, bus: Bus, slug: str) -> None:
        self.slug = slug
        self.producer = KafkaProducer(bootstrap_servers=bus.bootstrap_servers,
                                      **bus.as_principal(f"unit-{slug}").client_config())
        self.seeds = json.loads(bus.settings.signing_keys_path.read_text())  # as the operator hands them out
        self.sent: list[str] = []

    def answer(self, event_type: str, fullname: str, case: dict[str, Any], at: datetime, *, signed: str = "own",
               **fields: Any) -> str:
        """``signed``: own (its key), none, another unit's slug (that unit's key and name), or "forged"
        (its own name, another's key)."""
        record = {"event_id": str(uuid.uuid4()), "occurred_at": at, "case": case, "deadline": None, **fields}
        key, value, headers = raw_message(event_type, fullname, record, f"/liandong/unit/{self.slug}")
        if signed != "none":
            slug = {"own": self.slug, "forged": "police"}.get(signed, signed)
            name = f"unit-{self.slug}" if signed == "forged" else f"unit-{slug}"
            headers += signature_headers(name, self.seeds[f"unit-{slug}"], key, value, headers)
        self.producer.send(f"liandong.unit.{self.slug}.replies", key=key, value=value, headers=headers).get(30)
        self.sent.append(record["event_id"])
        return str(record["event_id"])

    def close(self) -> None:
        self.producer.close()


_get = api_get


def register(bus: Bus, digit: int, summary: str, hint: str, at: datetime = NOW,
             petitioner: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    """A petition registered as intake publishes it (a case number of its own): (number, case ref)."""
    number = f"140214-{NOW.year}-{digit}{uuid.uuid4().int % 10**5:05d}"
    case = {"case_number": number, "petition_id": str(uuid.uuid4()), "district_code": "140214"}
    with bus.as_principal("svc-intake").publisher("intake", linger_ms=0) as intake:
        intake.publish("petition.registered", {
            "event_id": uuid.uuid4(), "occurred_at": at, "case": case, "deadline": None, "channel": "VISIT",
            "petitioner": {"name": "钱", "id_number": None, "phone": None, "address": None, "group_size": 1,
                           **(petitioner or {})},
            "summary": summary, "category_hint": hint, "idempotency_key": f"k-{uuid.uuid4()}", "received_at": at,
            "repeat_of": None}).get(30)
    return number, case


@pytest.fixture(scope="module")
def stack(bus: Bus) -> Iterator[dict[str, Any]]:
    host = ServiceHost()
    tag = uuid.uuid4().hex[:6]
    try:
        host.start(build_triage(bus.as_principal("svc-triage"), app_id=f"triage-{tag}"))
        port = host.start(build_ledger(bus.as_principal("svc-ledger"), port=0, app_id=f"ledger-{tag}")).bound["http"]
        yield {"ledger_port": port}
    finally:
        host.close()


def test_a_department_without_the_sdk_is_refused_what_the_regulation_forbids(stack: dict[str, Any], bus: Bus) -> None:
    number, case = register(bus, 9, "施工工地老板恶意欠薪三个月", "WAGE_ARREARS", HANDED, PII)
    routed = wait_for(lambda: (c := _get(stack["ledger_port"], f"/cases/{number}")) and len(c["handoffs"]) == 3 and c,
                      message=f"{number} handed to its three units")
    assert routed["lead_unit"] == "HRSS" and set(routed["handoffs"]) == {"HRSS", "HOUSING", "POLICE"}
    refused_before = sum(REFUSED.labels("triage", t)._value.get() for t in (
        "case.handoff.rejected", "case.extension.approved", "case.handoff.accepted", "case.resolved"))

    units = {slug: RawDepartment(bus, slug) for slug in ("housing", "hrss", "justice", "police")}
    try:
        E = "liandong.events."
        housing, hrss, justice, police = units["housing"], units["hrss"], units["justice"], units["police"]
        bad = {
            # housing speaks for the lead (HRSS) to take the case over
            housing.answer("case.handoff.rejected", E + "CaseHandoffRejected", case, HANDED + timedelta(hours=1),
                           unit="HRSS", reason="不属于本单位职责", suggested_unit="HOUSING"): "answers only for itself",
            # the lead objects 40 days after the handoff (the window is 5 working days)
            hrss.answer("case.handoff.rejected", E + "CaseHandoffRejected", case, HANDED + timedelta(days=40),
                        unit="HRSS", reason="不属于本单位职责", suggested_unit="JUSTICE"): "objection window",
            # an objection in time, but not HRSS's word: unsigned, signed by the police, or not verifying
            **{hrss.answer("case.handoff.rejected", E + "CaseHandoffRejected", case, HANDED + timedelta(hours=2),
                           signed=signed, unit="HRSS", reason="不属于本单位职责", suggested_unit="JUSTICE"): words
               for signed, words in (("none", "unsigned"), ("police", "'unit-police', which does not write"),
                                     ("forged", "'unit-hrss' does not verify"))},
        }
        hrss.answer("case.handoff.accepted", E + "CaseHandoffAccepted", case, HANDED + timedelta(days=1), unit="HRSS",
                    signed_by="李科长")
        good = [hrss.sent[-1]]
        hrss.answer("case.accepted", E + "CaseAccepted", case, HANDED + timedelta(days=2), unit="HRSS", notice_no="n1")
        good.append(hrss.sent[-1])
        bad |= {
            hrss.answer("case.extension.approved", E + "CaseExtensionApproved", case, HANDED + timedelta(days=50),
                        unit="HRSS", extra_days=45, reason="情况复杂"): "at most 30 days",
            justice.answer("case.handoff.accepted", E + "CaseHandoffAccepted", case, HANDED + timedelta(days=3),
                           unit="JUSTICE", signed_by="王"): "never handed to JUSTICE",
            police.answer("case.resolved", E + "CaseResolved", case, HANDED + timedelta(days=4), unit="POLICE",
                          outcome="SUPPORTED", tag="SOLVED", opinion="已处理"): "not allowed in state REQUESTED",
        }
        resolved = hrss.answer("case.resolved", E + "CaseResolved", case, NOW - timedelta(days=1), unit="HRSS",
                               outcome="SUPPORTED", tag="SOLVED", opinion="工资已足额支付")
        good.append(resolved)
    finally:
        for u in units.values():
            u.close()

    # the valid answer after them is applied
    final = wait_for(lambda: (c := _get(stack["ledger_port"], f"/cases/{number}")) and c["status"] == "RESOLVED" and c,
                     message=f"{number} resolved by its lead")
    # every refusal is told to the unit whose topic carried it, on its inbox, with its reason
    told: dict[str, str] = {}

    def all_told() -> bool:
        for slug in ("housing", "hrss", "justice", "police"):
            for key, value, headers in read_topic(bus, f"liandong.unit.{slug}.inbox", f"unit-{slug}"):
                if key == number.encode() and headers.get("ce_type") == b"liandong.answer.refused":
                    event = bus.codec.decode(f"liandong.unit.{slug}.inbox", key, value, list(headers.items()))
                    told[event.data["refused_event_id"]] = f"{slug}: {event.data['reason']}"
        return set(bad) <= set(told)

    wait_for(all_told, message="every refusal on its unit's inbox")
    for event_id, words in bad.items():
        assert words in told[event_id], told[event_id]
    assert told[next(iter(bad))].startswith("housing:")  # the writer is told, not the unit it named
    # nothing refused changed the ledger or triage: the lead stays, no objection, no extension, no justice handoff
    assert final["lead_unit"] == "HRSS" and final["objections"] == 0 and final["extensions"] == 0
    assert set(final["handoffs"]) == {"HRSS", "HOUSING", "POLICE"}
    assert final["handoffs"]["POLICE"]["status"] == "REQUESTED"
    assert final["handoffs"]["HRSS"]["handling_due_at"] is not None

    def refused_on_the_case() -> list[dict[str, Any]]:  # the ledger reads the inboxes in its own time
        c = _get(stack["ledger_port"], f"/cases/{number}")
        return [t for t in c["timeline"] if t["event"] == "answer.refused"] if c else []

    refusals = wait_for(lambda: len(r := refused_on_the_case()) >= len(bad) and r, message="every refusal in the ledger")
    assert len(refusals) == len(bad)  # each on the case's timeline, the one to justice too
    # the checked answers (what supervision, coordination and intake read) hold the valid ones, none refused
    checked = {h["ce_id"].decode() for _, _, h in read_topic(bus, BUREAU_ANSWERS, "svc-supervision")}
    assert set(good) <= checked and not (set(bad) & checked)
    # no personal data moved: the refusals carry none, and housing got no handoff as lead
    housing_inbox = read_topic(bus, "liandong.unit.housing.inbox", "unit-housing")
    leads = [bus.codec.decode("liandong.unit.housing.inbox", k, v, list(h.items())) for k, v, h in housing_inbox
             if k == number.encode() and h.get("ce_type") == b"liandong.case.handoff.requested"]
    assert [e.data["role"] for e in leads] == ["CO"]
    assert not any(PII["phone"].encode() in v for _, v, h in housing_inbox if h.get("ce_type") == b"liandong.answer.refused")
    refused_after = sum(REFUSED.labels("triage", t)._value.get() for t in (
        "case.handoff.rejected", "case.extension.approved", "case.handoff.accepted", "case.resolved"))
    # counted for the dashboards (at least these: the module's triage may still be refusing answers
    # of other tests' cases that it reads again from the shared log)
    assert refused_after - refused_before >= len(bad)


def test_the_sdk_reports_what_the_bus_refused_to_its_caller(stack: dict[str, Any], bus: Bus) -> None:
    from liandong_sdk import DepartmentClient

    number, _ = register(bus, 8, "小区冬季供暖温度不达标", "HEATING")
    # a department whose clock runs a day ahead: the SDK accepts its sign-for, the bus does not
    ahead = NOW + timedelta(days=1)
    with DepartmentClient("HOUSING", bus, group_id=f"unit-housing-{uuid.uuid4().hex[:6]}", clock=lambda: ahead) as dept:
        wait_for(lambda: dept.inbox(0.5) is not None and number in dept.cases, message=f"{number} in housing's inbox")
        handoff = dept.cases[number]
        assert handoff.objection_due_at is not None and handoff.objection_due_at > NOW  # carried by the handoff
        dept.sign_for(number, "王科长")
        dept.commit()
        wait_for(lambda: dept.inbox(0.5) is not None and any(r.key == number for r in dept.refusals),
                 message="the refusal reported by the SDK")
    refusal = next(r for r in dept.refusals if r.key == number)
    assert refusal.data["refused_type"] == "case.handoff.accepted" and "in the future" in refusal.data["reason"]


def test_an_item_assigned_from_above_runs_on_its_own_due_date(stack: dict[str, Any], bus: Bus) -> None:
    from services.intake import IntakeService
    from services.triage.app import load_routing

    intake = IntakeService(bus.as_principal("svc-intake"), load_routing())
    intake.start()
    try:
        received = NOW.astimezone(BUREAU_TZ)
        result = intake.submit({
            "idempotency_key": f"above-{uuid.uuid4()}", "channel": "LETTER", "received_at": received.isoformat(),
            # a petitioner of this test only: intake links the same person's same matter to the earlier
            # case (a repeat, which triage does not hand on), and the shared broker holds other tests' cases
            "petitioner": {"name": f"孙{uuid.uuid4().hex[:6]}"}, "summary": "施工工地老板恶意欠薪三个月",
            "category": "WAGE_ARREARS", "assigned": {"by": "市信访局", "limit_days": 5}})
        assert result.status == "registered" and result.repeat_of is None, result
    finally:
        intake.stop()
    due = load_clocks().calendar.period_end(received, 5)
    # The lead's handoff, not just any (the co-unit's inbox may be read first).
    case = wait_for(lambda: (c := _get(stack["ledger_port"], f"/cases/{result.case_number}")) and "HRSS" in c["handoffs"] and c,
                    message=f"the assigned item {result.case_number} in the ledger, handed to HRSS")
    assert case["assigned_by"] == "市信访局" and datetime.fromisoformat(case["assigned_due_at"]) == due
    # the acceptance clock of 15 days ends by the due date from above
    assert datetime.fromisoformat(case["handoffs"]["HRSS"]["acceptance_due_at"]) == due


def test_the_sdk_learns_its_handling_deadline_from_the_bus(stack: dict[str, Any], bus: Bus) -> None:
    from liandong_sdk import DepartmentClient

    number, _ = register(bus, 7, "小区冬季供暖温度不达标", "HEATING")
    accepted_at = NOW + timedelta(minutes=1)
    with DepartmentClient("HOUSING", bus, group_id=f"unit-housing-{uuid.uuid4().hex[:6]}",
                          clock=lambda: accepted_at) as dept:
        wait_for(lambda: dept.inbox(0.5) is not None and number in dept.cases, message=f"{number} in housing's inbox")
        dept.sign_for(number, "王科长")
        dept.accept(number)
        dept.commit()
        wait_for(lambda: dept.inbox(0.5) is not None and dept.cases[number].handling_due_at is not None,
                 message="the handling deadline on housing's inbox")
        assert dept.cases[number].handling_due_at == load_clocks().handling_due(accepted_at)
        assert not [r for r in dept.refusals if r.key == number]


def test_the_bureau_routes_a_diverted_mixed_petition_from_the_command_line(stack: dict[str, Any], bus: Bus,
                                                                           service_env: dict[str, str]) -> None:
    import subprocess
    import sys

    number, _ = register(bus, 6, "反映社区干部吃拿卡要", "OTHER")
    diverted = wait_for(lambda: (c := _get(stack["ledger_port"], f"/cases/{number}")) and c["status"] == "DIVERTED" and c,
                        message=f"{number} diverted")
    assert any(t["event"] == "petition.diverted" and "matched 吃拿卡要" in t["detail"] for t in diverted["timeline"])
    done = subprocess.run([sys.executable, "-m", "liandong.cli", "case", "route", number, "--unit", "STREET_OFFICE",
                           "--reason", "经审查属服务态度问题"], env=service_env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    routed = wait_for(lambda: (c := _get(stack["ledger_port"], f"/cases/{number}")) and c["status"] == "ROUTED" and c,
                      message=f"{number} routed after all")
    assert routed["lead_unit"] == "STREET_OFFICE" and routed["diverted_to"] is None
    assert any("was diverted to DISCIPLINE" in t["detail"] for t in routed["timeline"])
