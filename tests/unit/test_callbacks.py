"""Callbacks and satisfaction (回访): the ledger's record and figures, supervision's notice on an
unsatisfied petitioner, and intake's HTTP endpoint (its refusals with their reasons)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from liandong import load_clocks
from liandong.domain import ClockConfig
from liandong.domain.case import CaseState, Ledger
from liandong.domain.supervision import Supervisor
from liandong.tokens import TokenStore
from services.intake import CallbackRefused
from services.intake.http import make_api
from services.ledger.stats import statistics
from tests.stand_ins import In, plain

T0 = datetime(2026, 5, 4, 2, 0, tzinfo=UTC)
LEDGER = Ledger(ClockConfig())


def _ref(n: int) -> dict[str, Any]:
    return {"case_number": f"140214-2026-{n:06d}", "petition_id": f"p{n}", "district_code": "140214"}


def _case(n: int, unit: str, evaluation: str | None, remark: str = "") -> CaseState:
    """A case registered, handed to ``unit``, resolved and (if ``evaluation``) evaluated at the callback."""
    ref, state = _ref(n), None
    events = [
        ("petition.registered", {"channel": "VISIT", "category_hint": "WAGE_ARREARS", "received_at": T0}),
        ("case.handoff.requested", {"unit": unit, "role": "LEAD", "attempt": 1}),
        ("case.accepted", {"unit": unit, "notice_no": "n"}),
        ("case.resolved", {"unit": unit, "outcome": "SUPPORTED", "tag": "SOLVED", "opinion": "已解决"}),
    ]
    if evaluation:
        events.append(("satisfaction.evaluated", {"unit": unit, "evaluation": evaluation, "called_at": T0 + timedelta(days=5),
                                                  "remark": remark}))
    for i, (name, data) in enumerate(events):
        state, _ = LEDGER.record(state, In(name, f"{n}/{i}", {"occurred_at": T0 + timedelta(days=i), "case": ref, **data}))
    assert state is not None
    return state


def test_an_evaluation_is_on_the_timeline_and_in_the_satisfaction_rate_by_unit() -> None:
    cases = [_case(1, "HRSS", "SATISFIED"), _case(2, "HRSS", "BASICALLY_SATISFIED"),
             _case(3, "HRSS", "UNSATISFIED", "工资只付了一半"), _case(4, "HOUSING", "SATISFIED"),
             _case(5, "HOUSING", None)]  # resolved, not called back yet: not in the rate
    unhappy = cases[2]
    assert unhappy.satisfaction == {"evaluation": "UNSATISFIED", "unit": "HRSS", "called_at": T0 + timedelta(days=5)}
    assert unhappy.timeline[-1].event == "satisfaction.evaluated" and "工资只付了一半" in unhappy.timeline[-1].detail
    s = statistics(cases, T0 + timedelta(days=30), 2026)["satisfaction"]
    # 满意率 = (satisfied + basically satisfied) / evaluated: 3 of 4; HRSS 2 of 3; HOUSING 1 of 1
    assert (s["evaluated"], s["satisfied"], s["basically_satisfied"], s["unsatisfied"], s["rate"]) == (4, 2, 1, 1, 0.75)
    assert s["by_unit"]["HRSS"]["rate"] == 0.6667 and s["by_unit"]["HOUSING"] == {
        "evaluated": 1, "satisfied": 1, "basically_satisfied": 0, "unsatisfied": 0, "rate": 1.0}
    assert statistics([cases[4]], T0, 2026)["satisfaction"]["rate"] is None  # nobody evaluated: no rate


def test_an_evaluation_read_again_changes_nothing() -> None:
    state = _case(6, "HRSS", "UNSATISFIED")
    again = In("satisfaction.evaluated", "6/4", {"occurred_at": T0 + timedelta(days=4), "case": _ref(6), "unit": "HRSS",
                                                  "evaluation": "SATISFIED", "called_at": T0})
    assert LEDGER.record(state, again) == (None, [])
    assert state.satisfaction is not None and state.satisfaction["evaluation"] == "UNSATISFIED"


def test_an_unsatisfied_petitioner_gets_the_unit_a_supervision_notice_once() -> None:
    sup = Supervisor(load_clocks())

    def evaluated(evaluation: str, event_id: str) -> In:
        return In("satisfaction.evaluated", event_id, {"occurred_at": T0, "case": _ref(7), "unit": "HRSS",
                                                         "evaluation": evaluation, "called_at": T0, "remark": "没有解决"})

    assert sup.evaluated(None, evaluated("SATISFIED", "s1")) == (None, [])
    assert sup.evaluated(None, evaluated("BASICALLY_SATISFIED", "s2")) == (None, [])
    state, out = sup.evaluated(None, evaluated("UNSATISFIED", "s3"))
    ((name, notice),) = plain(out)
    assert name == "supervision.notice" and notice["trigger"] == "PETITIONER_UNSATISFIED" and notice["unit"] == "HRSS"
    assert "没有解决" in notice["text"] and "复查" in notice["text"]
    assert sup.evaluated(state, evaluated("UNSATISFIED", "s3")) == (None, [])  # the same evaluation again


Ask = Callable[..., Awaitable[tuple[int, Any]]]


def test_the_callback_endpoint_records_or_refuses_with_the_reason(tmp_path: Path) -> None:
    tokens = TokenStore(tmp_path / "tokens.json")
    recorded: list[tuple[Any, ...]] = []

    def callback(case_number: str, evaluation: str, remark: str, called_at: datetime | None) -> dict[str, Any]:
        if case_number == "140214-2026-000404":
            raise CallbackRefused(f"{case_number}: no handling opinion on this case yet")
        recorded.append((case_number, evaluation, remark, called_at))
        return {"unit": "HRSS", "evaluation": evaluation, "event_id": uuid.uuid4()}

    app = make_api(lambda text: [], callback).application(tokens)
    bureau, unit = tokens.issue("svc-bureau"), tokens.issue("unit-hrss")

    async def check(ask: Ask) -> None:
        body = {"case_number": "140214-2026-000001", "evaluation": "UNSATISFIED", "remark": "只付了一半",
                "called_at": "2026-05-10T10:00:00+08:00"}
        status, answer = await ask("/callbacks", bureau, "POST", data=json.dumps(body))
        assert status == 200 and answer["unit"] == "HRSS" and answer["evaluation"] == "UNSATISFIED"
        assert recorded[-1][:3] == ("140214-2026-000001", "UNSATISFIED", "只付了一半")
        assert recorded[-1][3] == datetime(2026, 5, 10, 2, 0, tzinfo=UTC)
        status, answer = await ask("/callbacks", bureau, "POST", data=json.dumps({**body, "case_number": "140214-2026-000404"}))
        assert status == 409 and "no handling opinion" in answer["error"]
        status, answer = await ask("/callbacks", bureau, "POST", data=json.dumps({**body, "evaluation": "HAPPY"}))
        assert status == 400 and [p["parameter"] for p in answer["problems"]] == ["evaluation"]
        status, answer = await ask("/callbacks", bureau, "POST", data=json.dumps({**body, "called_at": "2026-05-10T10:00:00"}))
        assert status == 400 and answer["problems"][0]["parameter"] == "called_at"  # a time without its zone
        status, answer = await ask("/callbacks", unit, "POST", data=json.dumps(body))
        assert status == 403  # a unit does not record what the petitioner thinks of its own opinion
        assert len(recorded) == 1

    async def run() -> None:
        async with TestClient(TestServer(app)) as client:
            async def ask(path: str, token: str | None = None, method: str = "GET", **kw: Any) -> tuple[int, Any]:
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                async with client.request(method, path, headers=headers, **kw) as response:
                    return response.status, await response.json()

            await check(ask)

    asyncio.run(run())


@pytest.mark.parametrize("evaluation", ["UNKNOWN", "满意"])
def test_intake_refuses_an_evaluation_that_is_not_one(evaluation: str) -> None:
    from services.intake.service import IntakeService

    with pytest.raises(CallbackRefused, match="SATISFIED"):
        IntakeService.callback(object.__new__(IntakeService), "140214-2026-000001", evaluation)
