"""Written notices on the real broker: intake registers, triage routes, the unit accepts and resolves
through the SDK; the notices service writes the acceptance notice and the handling opinion on the
bureau's notices topic, a delivery system (its own principal) reads them and confirms delivery, and
the ledger has both on the case's timeline without the petitioner's data; a unit cannot read them."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from liandong_sdk import AuthorizationDenied, DepartmentClient

from liandong import BUREAU_NOTICES, Bus, Event
from liandong.clock import now
from services.intake import IntakeService
from services.ledger.app import build as build_ledger
from services.notices.app import build as build_notices
from services.notices.cli import delivery
from services.triage.app import build as build_triage
from services.triage.app import load_routing
from tests.conftest import ServiceHost, api, wait_for


def test_notices_are_written_delivered_and_on_the_timeline(bus: Bus) -> None:
    host = ServiceHost()
    tag = uuid.uuid4().hex[:6]
    intake = IntakeService(bus.as_principal("svc-intake"), load_routing())
    name, phone = f"王{tag}", f"138{uuid.uuid4().int % 10**8:08d}"
    delivery_bus = bus.as_principal("svc-delivery")
    inbox = delivery_bus.subscriber([BUREAU_NOTICES], group_id=f"delivery-{tag}", service="delivery",
                                    auto_offset_reset="earliest")
    try:
        host.start(build_triage(bus.as_principal("svc-triage"), app_id=f"triage-{tag}"))
        host.start(build_notices(bus.as_principal("svc-notices"), app_id=f"notices-{tag}"))
        port = host.start(build_ledger(bus.as_principal("svc-ledger"), port=0, app_id=f"ledger-{tag}")).bound["http"]
        intake.start()
        result = intake.submit({"idempotency_key": f"hotline-{tag}", "channel": "HOTLINE_12345",
                                "received_at": "2026-03-02T09:30:00+08:00",
                                "petitioner": {"name": name, "phone": phone}, "summary": "某建筑工地拖欠农民工工资三个月",
                                "category": "WAGE_ARREARS"})
        number = result.case_number
        with DepartmentClient("HRSS", bus, group_id=f"unit-hrss-{tag}") as hrss:
            wait_for(lambda: any(h.case_number == number for h in hrss.inbox(0.5)), message="the handoff at HRSS")
            hrss.sign_for(number, "李科长")
            hrss.accept(number)
            hrss.resolve(number, "SUPPORTED", "SOLVED", "工资已足额支付")
        seen: list[Event] = []

        def notices() -> list[Event] | None:
            seen.extend(e for e in inbox.poll(500) if e.key == number)
            return seen if len(seen) >= 2 else None

        acceptance, opinion = wait_for(notices, timeout=90, message="the acceptance notice and the opinion")
        assert [acceptance.type, acceptance.data["kind"], opinion.data["kind"]] == ["notice.issued", "ACCEPTANCE", "OPINION"]
        assert acceptance.data["delivery_channel"] == "SMS" and acceptance.data["recipient"]["phone"] == phone
        assert f"{name}：" in acceptance.data["text"] and number in acceptance.data["text"]
        assert "区人力资源和社会保障局" in opinion.data["text"] and "请求复查" in opinion.data["text"]

        with delivery_bus.publisher("bureau/delivery") as pub:
            pub.publish("notice.delivered", delivery(acceptance.data["notice_no"], "SMS", "sms-0001", now())).get(timeout=30)

        def delivered() -> dict[str, Any] | None:
            status, case = api(port, f"/cases/{number}")
            if status != 200:
                return None
            n = case["notices"]
            ok = len(n) == 2 and n[acceptance.data["notice_no"]]["delivered_at"] is not None
            return case if ok else None

        case = wait_for(delivered, timeout=90, message="both notices and the delivery in the ledger")
        assert {t["event"] for t in case["timeline"]} >= {"notice.issued", "notice.delivered"}
        assert name not in json.dumps(case, ensure_ascii=False) and phone not in json.dumps(case)
    finally:
        inbox.close()
        intake.stop()
        host.close()

    # A unit may not read the notices (the petitioner's name and contact).
    unit = bus.as_principal("unit-hrss").subscriber([BUREAU_NOTICES], group_id=f"unit-hrss-{tag}-n", service="test",
                                                    auto_offset_reset="earliest")
    try:
        with pytest.raises(AuthorizationDenied, match=r"liandong\.bureau\.notices"):
            for _ in range(20):
                unit.poll(500)
    finally:
        unit.close()
