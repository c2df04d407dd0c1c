"""Review and re-check (复查/复核) on the real broker: the unit resolves through the SDK; the bureau
forwards the petitioner's applications over intake's HTTP API and its command line; the reviewing
bodies decide through the SDK (ReviewingBodyClient) as their own principals; a review upheld, one
changed and then re-checked, a late application and a second one refused with the reason; a body
deciding what was not asked of it refused by the referee on its inbox; after the re-check the same
matter is refused at intake; the ledger shows every step on the case."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

from liandong_sdk import DepartmentClient, ReviewingBodyClient, ReviewRequest
from typer.testing import CliRunner

from liandong import Bus
from liandong.cli import app as cli
from liandong.clock import now
from services.intake.app import build as build_intake
from services.ledger.app import build as build_ledger
from services.notices.app import build as build_notices
from services.triage.app import build as build_triage
from tests.conftest import ServiceHost, api, wait_for
from tests.integration.test_case_lifecycle import handed, submission


def _post(port: int, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    return api(port, path, json.dumps(body, ensure_ascii=False).encode(), content_type="application/json")


def _requests(body: ReviewingBodyClient, want: set[str], got: dict[str, ReviewRequest]) -> dict[str, ReviewRequest] | None:
    got.update({r.case_number: r for r in body.requests(0.5)})
    return got if want <= set(got) else None


def test_review_and_recheck_are_forwarded_decided_refused_and_final(bus: Bus) -> None:
    host = ServiceHost()
    tag = uuid.uuid4().hex[:6]
    try:
        host.start(build_triage(bus.as_principal("svc-triage"), app_id=f"triage-{tag}"))
        host.start(build_notices(bus.as_principal("svc-notices"), app_id=f"notices-{tag}"))
        ledger = host.start(build_ledger(bus.as_principal("svc-ledger"), port=0, app_id=f"ledger-{tag}")).bound["http"]
        intake = host.start(build_intake(bus.as_principal("svc-intake"), port=0)).bound["http"]
        petitions = [submission() for _ in range(3)]
        with DepartmentClient("HRSS", bus, group_id=f"unit-hrss-{tag}") as hrss:
            numbers = handed(intake, hrss, petitions)
            upheld, changed, late = numbers
            for number in numbers:
                hrss.sign_for(number, "李科长")
                hrss.accept(number)
                hrss.resolve(number, "NOT_SUPPORTED", "EXPLAINED", "经核查，工资已按合同结清")
            hrss.commit()

        # Intake learns of the opinions from the bus: until then an application is refused, saying why.
        def forwarded(body: dict[str, Any]) -> Any:
            status, answer = _post(intake, "/reviews", body)
            return answer if status == 200 else None

        first = wait_for(lambda: forwarded({"case_number": upheld, "stage": "REVIEW", "grounds": "工资未结清"}),
                         timeout=60, message="the first application forwarded")
        assert first["body"] == "CITY_HRSS" and first["reviewed_unit"] == "HRSS"  # reviewing.yaml: HRSS -> 市人社局
        status, refused = _post(intake, "/reviews", {"case_number": upheld, "stage": "REVIEW", "grounds": "again"})
        assert status == 409 and "applied for review before" in refused["error"]
        too_late = (now() + timedelta(days=45)).isoformat()

        def known(number: str) -> tuple[int, Any] | None:
            """A late application (refused, nothing forwarded), once intake knows the case's opinion: the
            other cases' opinions may reach it after the first's (other partitions)."""
            r = _post(intake, "/reviews", {"case_number": number, "stage": "REVIEW", "grounds": "工资未结清",
                                           "applied_at": too_late})
            return r if "no handling opinion" not in str(r[1]) else None

        status, refused = wait_for(lambda: known(late), timeout=60, message="intake to know the late case's opinion")
        assert status == 409 and "late" in refused["error"] and "30 days" in refused["error"]
        assert wait_for(lambda: known(changed), timeout=60, message="intake to know the changed case's opinion")[0] == 409
        status, refused = _post(intake, "/reviews", {"case_number": late, "stage": "RECHECK", "grounds": "不服"})
        assert status == 409 and "no review decision" in refused["error"]
        status, refused = _post(intake, "/reviews", {"case_number": upheld, "stage": "APPEAL", "grounds": "不服"})
        assert status == 400 and refused["problems"][0]["parameter"] == "stage"
        result = CliRunner().invoke(cli, ["intake", "review", changed, "--grounds", "加班费未计入",
                                          "--url", f"http://127.0.0.1:{intake}/reviews"])
        assert result.exit_code == 0, result.output
        assert "CITY_HRSS" in result.output

        with ReviewingBodyClient("CITY_HRSS", bus, group_id=f"unit-city-hrss-{tag}") as city_hrss, \
                ReviewingBodyClient("CITY_GOVERNMENT", bus, group_id=f"unit-city-gov-{tag}") as city_gov:
            asked_so_far: dict[str, ReviewRequest] = {}  # each poll returns only what is new
            asked = wait_for(lambda: _requests(city_hrss, {upheld, changed}, asked_so_far), timeout=60,
                             message="both review requests on 市人社局's inbox")
            assert asked[upheld].stage == "REVIEW" and asked[upheld].grounds == "工资未结清"
            assert asked[upheld].decision_under_review == "经核查，工资已按合同结清"
            # 市政府 was not asked to review: its decision on the review is refused by the bus, on its inbox.
            city_gov.decide(asked[upheld], "REVOKED", "撤销", decided_by="市政府")
            city_gov.confirm()
            city_hrss.decide(asked[upheld], "UPHELD", "经复查，原处理意见事实清楚，予以维持", decided_by="市人社局复查办")
            city_hrss.decide(asked[changed], "CHANGED", "经复查，加班费应计入，变更原处理意见", decided_by="市人社局复查办")
            city_hrss.commit()

            recheck = wait_for(lambda: forwarded({"case_number": changed, "stage": "RECHECK", "grounds": "仍有差额"}),
                               timeout=60, message="the re-check forwarded once the review decision is known")
            assert recheck["body"] == "CITY_GOVERNMENT" and recheck["reviewed_unit"] == "CITY_HRSS"
            got: dict[str, ReviewRequest] = {}
            wait_for(lambda: _requests(city_gov, {changed}, got), timeout=60, message="the re-check on 市政府's inbox")
            assert got[changed].stage == "RECHECK" and "变更原处理意见" in got[changed].decision_under_review
            city_gov.decide(got[changed], "UPHELD", "经复核，维持复查意见", decided_by="市政府复核办")
            city_gov.commit()

            def refusal_read() -> Any:
                city_gov.requests(0.5)  # answer.refused arrives on the inbox, collected in ``refusals``
                # Other runs on this broker (the demo's simulated year) leave refusals on the same inbox.
                return next((r for r in city_gov.refusals if r.key == upheld), None)

            refusal = wait_for(refusal_read, timeout=60, message="the refusal of 市政府's decision on a review not asked of it")
            assert refusal.data["refused_type"] == "review.decided"
            assert "requested of CITY_HRSS, not of CITY_GOVERNMENT" in refusal.data["reason"]

        # After the re-check the same matter is registered but not accepted again (Art. 36); intake says why, and
        # the petitioner gets the bureau's not-accepted notice. (Until intake has read the re-check decision, a
        # petition on the matter is an ordinary repeat: tried once a second.)
        def refused_again() -> Any:
            again = {**petitions[1], "idempotency_key": f"web-{uuid.uuid4()}", "summary": "工资差额仍未支付"}
            status, body = api(intake, "/petitions", json.dumps(again, ensure_ascii=False).encode())
            assert status == 200, body
            return body if body["results"][0]["status"] == "not_accepted" else None

        body = wait_for(refused_again, timeout=60, interval=1.0, message="the same matter not accepted after the re-check")
        line = body["results"][0]
        assert body["not_accepted"] == 1 and line["repeat_of"] == changed
        assert "re-checked (复核) in case " + changed in line["errors"][0] and "Art. 36" in line["errors"][0]
        refused_case = line["case_number"]
        notices = bus.subscriber(["liandong.bureau.notices"], group_id=f"test-notices-{tag}", service="test",
                                 auto_offset_reset="earliest")
        try:
            found: list[Any] = []

            def notice() -> Any:
                found.extend(e for e in notices.poll(500) if e.key == refused_case)
                return next((e for e in found if e.data["kind"] == "NOT_ACCEPTED"), None)

            letter = wait_for(notice, timeout=90, message="the not-accepted notice of the petition after the re-check")
            assert letter.data["unit"] is None  # the bureau's own decision
            assert "不予受理告知书" in letter.data["text"] and "第三十六条" in letter.data["text"] and changed in letter.data["text"]
            assert letter.data["recipient"]["name"] == petitions[1]["petitioner"]["name"]
        finally:
            notices.close()
        def in_ledger() -> Any:
            status, case = api(ledger, f"/cases/{refused_case}")
            return case if status == 200 and case["status"] == "REPEAT" else None

        case = wait_for(in_ledger, timeout=60, message="the petition not accepted, in the ledger")
        assert case["repeat_of"] == changed
        assert any(t["event"] == "petition.repeat.detected" and t["detail"].startswith("not accepted") for t in case["timeline"])

        def reviewed(number: str, stages: set[str]) -> Any:
            status, case = api(ledger, f"/cases/{number}")
            decided = {s for s, r in (case.get("reviews") or {}).items() if r["decision"]} if status == 200 else set()
            return case if decided >= stages else None

        case = wait_for(lambda: reviewed(upheld, {"REVIEW"}), timeout=90, message="the review in the ledger")
        assert case["reviews"]["REVIEW"]["decision"] == "UPHELD" and case["reviews"]["REVIEW"]["body"] == "CITY_HRSS"
        assert "RECHECK" not in case["reviews"]
        case = wait_for(lambda: reviewed(changed, {"REVIEW", "RECHECK"}), timeout=90, message="both stages in the ledger")
        assert case["reviews"]["REVIEW"]["decision"] == "CHANGED"
        assert case["reviews"]["RECHECK"] | {"decided_at": None} == {
            **case["reviews"]["RECHECK"], "body": "CITY_GOVERNMENT", "reviewed_unit": "CITY_HRSS", "decision": "UPHELD",
            "decided_at": None}
        events = [t["event"] for t in case["timeline"]]
        assert events.count("review.requested") == 2 and events.count("review.decided") == 2
        # the refused decision changed nothing: the upheld case shows one decision, 市人社局's
        status, case = api(ledger, f"/cases/{upheld}")
        assert [t["unit"] for t in case["timeline"] if t["event"] == "review.decided"] == ["CITY_HRSS"]
        # a reviewing body reads the cases it was asked to examine, and no other
        assert api(ledger, f"/cases/{upheld}", principal="unit-city-hrss")[0] == 200
        assert api(ledger, f"/cases/{late}", principal="unit-city-hrss")[0] == 404
        assert api(ledger, f"/cases/{upheld}", principal="unit-city-gov")[0] == 404  # refused: never asked of it
        status, listed = api(ledger, "/cases?limit=100", principal="unit-city-gov")
        listed_numbers = {c["case_number"] for c in listed["cases"]}
        assert status == 200 and changed in listed_numbers and not listed_numbers & {upheld, late}
        # and every case it lists was asked of it (the shared broker holds other tests' and the demo's reviews)
        for n in listed_numbers:
            full = api(ledger, f"/cases/{n}")[1]
            assert any(r["body"] == "CITY_GOVERNMENT" for r in full["reviews"].values()), (n, full["reviews"])
    finally:
        host.close()
