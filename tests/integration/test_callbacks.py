"""Callbacks (回访) on the real broker: the unit resolves through the SDK; the bureau records the
petitioner's evaluation over intake's HTTP API and its command line; a second evaluation, one
before any opinion and one after the callback period are refused with the reason; the ledger shows
the evaluation and the satisfaction rate by unit; an unsatisfied petitioner gets the unit a
supervision notice on its inbox."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

from liandong_sdk import DepartmentClient
from typer.testing import CliRunner

from liandong import Bus, Event
from liandong.cli import app as cli
from liandong.clock import now
from liandong.metrics import REGISTRY
from services.intake.app import build as build_intake
from services.ledger.app import build as build_ledger
from services.supervision.app import build as build_supervision
from services.triage.app import build as build_triage
from tests.conftest import ServiceHost, api, wait_for
from tests.integration.test_case_lifecycle import handed, submission


def _post(port: int, body: dict[str, Any]) -> tuple[int, Any]:
    return api(port, "/callbacks", json.dumps(body, ensure_ascii=False).encode(), content_type="application/json")


def test_callbacks_are_recorded_refused_counted_and_supervised(bus: Bus) -> None:
    host = ServiceHost()
    tag = uuid.uuid4().hex[:6]
    try:
        host.start(build_triage(bus.as_principal("svc-triage"), app_id=f"triage-{tag}"))
        host.start(build_supervision(bus.as_principal("svc-supervision"), app_id=f"supervision-{tag}", tick_seconds=0.2))
        ledger = host.start(build_ledger(bus.as_principal("svc-ledger"), port=0, app_id=f"ledger-{tag}")).bound["http"]
        intake = host.start(build_intake(bus.as_principal("svc-intake"), port=0)).bound["http"]
        with DepartmentClient("HRSS", bus, group_id=f"unit-hrss-{tag}") as hrss:
            numbers = handed(intake, hrss, [submission() for _ in range(3)])
            happy, unhappy, open_case = numbers
            for number in numbers:
                hrss.sign_for(number, "李科长")
                hrss.accept(number)
            for number in (happy, unhappy):
                hrss.resolve(number, "SUPPORTED", "SOLVED", "工资已足额支付")

            # intake learns of the opinions from the bus: until then a callback is refused, saying why
            def recorded(body: dict[str, Any]) -> Any:
                status, answer = _post(intake, body)
                return answer if status == 200 else None

            answer = wait_for(lambda: recorded({"case_number": happy, "evaluation": "SATISFIED"}), timeout=60,
                              message="the first callback recorded")
            assert answer["unit"] == "HRSS"
            status, refused = _post(intake, {"case_number": happy, "evaluation": "UNSATISFIED"})
            assert status == 409 and "evaluated before" in refused["error"]
            status, refused = _post(intake, {"case_number": open_case, "evaluation": "SATISFIED"})
            assert status == 409 and "no handling opinion" in refused["error"]
            late = (now() + timedelta(days=45)).isoformat()
            # the other case's opinion may reach intake later (another partition): until then it says so
            status, refused = wait_for(lambda: (r := _post(intake, {"case_number": unhappy, "evaluation": "SATISFIED",
                                                                    "called_at": late}))
                                       and "no handling opinion" not in str(r[1]) and r, timeout=60,
                                       message="intake to know the second case's opinion")
            assert status == 409 and "callback period (30 days" in refused["error"]

            result = CliRunner().invoke(cli, ["intake", "callback", unhappy, "--evaluation", "UNSATISFIED",
                                              "--remark", "工资只付了一半", "--url", f"http://127.0.0.1:{intake}/callbacks"])
            assert result.exit_code == 0, result.output
            assert "UNSATISFIED" in result.output
            again = CliRunner().invoke(cli, ["intake", "callback", unhappy, "--evaluation", "SATISFIED",
                                             "--url", f"http://127.0.0.1:{intake}/callbacks"])
            assert again.exit_code == 1 and "evaluated before" in again.output

        # other tests on this broker evaluate HRSS cases too: wait for this test's two, then read the figures
        def evaluated(number: str, evaluation: str) -> Any:
            status, case = api(ledger, f"/cases/{number}")
            ok = status == 200 and (case.get("satisfaction") or {}).get("evaluation") == evaluation
            return case if ok else None

        wait_for(lambda: evaluated(happy, "SATISFIED"), timeout=90, message="the satisfied evaluation in the ledger")
        case = wait_for(lambda: evaluated(unhappy, "UNSATISFIED"), timeout=90,
                        message="the unsatisfied evaluation in the ledger")
        status, stats = api(ledger, f"/stats?year={now().year}")  # the year the submissions were received in
        assert status == 200
        hrss_figures = stats["satisfaction"]["by_unit"]["HRSS"]
        assert hrss_figures["satisfied"] >= 1 and hrss_figures["unsatisfied"] >= 1
        # and counted for the dashboards (this process's registry: the ledger runs in it)
        assert (REGISTRY.get_sample_value("liandong_callbacks_total", {"unit": "HRSS", "evaluation": "UNSATISFIED"}) or 0) >= 1
        assert any(t["event"] == "satisfaction.evaluated" and "工资只付了一半" in t["detail"] for t in case["timeline"])

        # supervision's notice to HRSS about the unsatisfied petitioner, on HRSS's inbox
        sub = bus.subscriber(["liandong.unit.hrss.inbox"], group_id=f"test-inbox-{tag}", service="test",
                             auto_offset_reset="earliest")
        try:
            seen_events: list[Event] = []

            def notice() -> Event | None:
                seen_events.extend(e for e in sub.poll(500) if e.key == unhappy and e.type == "supervision.notice")
                return next((e for e in seen_events if e.data["trigger"] == "PETITIONER_UNSATISFIED"), None)

            letter = wait_for(notice, timeout=90, message="the supervision notice on the unsatisfied petitioner")
            assert letter.data["unit"] == "HRSS" and "工资只付了一半" in letter.data["text"]
        finally:
            sub.close()
    finally:
        host.close()
