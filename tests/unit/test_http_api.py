"""The HTTP APIs' contract in memory: tokens (issued, hashed, revoked), who may call what (401, 403,
counted), a unit's principal seeing only its own cases, and every bad parameter a 400 naming it.
The same applications run on the real broker in tests/integration/test_http_fuzz.py."""

from __future__ import annotations

import asyncio
import json
import stat
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from liandong_sdk import CredentialsError, StartupError, topic_matches
from liandong_sdk.events import CaseRef, Channel, MatterCategory, Petitioner, PetitionRegistered

from liandong import Codec, SchemaCatalogue, get_settings
from liandong.api import Api, Call, json_response
from liandong.domain import ClockConfig
from liandong.domain.triage import Triage
from liandong.metrics import REGISTRY
from liandong.service import InMemory, Peers, View, peers_unavailable
from liandong.tokens import Role, TokenStore, local_token, role_of
from services.intake.http import make_api as intake_api
from services.intake.service import LineResult
from services.ledger import app as ledger_app
from services.ledger.api import CASES, TALLIES_PATH, make_api
from services.ledger.app import LEDGER, Recorder
from services.triage.app import TRIAGE, load_routing

CODEC = Codec(SchemaCatalogue(get_settings().schemas_dir))
T0 = datetime(2026, 11, 20, 1, 30, tzinfo=UTC)


@pytest.fixture
def tokens(tmp_path: Path) -> TokenStore:
    return TokenStore(tmp_path / "tokens.json")


# -- tokens -------------------------------------------------------------------------------------
def test_a_token_stands_for_its_principal_and_only_its_hash_is_kept(tokens: TokenStore) -> None:
    token = tokens.issue("unit-hrss", note="HRSS case system")
    caller = tokens.caller(token)
    assert caller is not None and (caller.principal, caller.role, caller.unit) == ("unit-hrss", Role.UNIT, "HRSS")
    text = tokens.path.read_text()
    secret = token.removeprefix("ld_").partition("_")[2]  # ld_<id>_<secret>; the secret may hold "_" itself
    assert len(secret) >= 40
    assert secret not in text and "$argon2id$" in text
    assert stat.S_IMODE(tokens.path.stat().st_mode) == 0o600
    assert [(t.principal, t.note, t.revoked_at) for t in tokens.list()] == [("unit-hrss", "HRSS case system", None)]


def test_a_wrong_malformed_or_revoked_token_stands_for_no_one(tokens: TokenStore) -> None:
    token = tokens.issue("operator")
    token_id = token.split("_")[1]
    assert tokens.caller(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert tokens.caller("ld_nope") is None and tokens.caller("") is None and tokens.caller("Basic abc") is None
    assert tokens.caller(token) is not None  # verified once, then cached...
    tokens.revoke(token_id)
    assert tokens.caller(token) is None  # ...and the revocation is seen at once
    assert tokens.list()[0].revoked_at is not None
    with pytest.raises(CredentialsError, match="no token"):
        tokens.revoke("000000000000")


def test_a_revocation_by_another_process_is_seen_by_a_running_worker(tokens: TokenStore) -> None:
    token = tokens.issue("svc-bureau")
    assert tokens.caller(token) is not None
    TokenStore(tokens.path).revoke(token.split("_")[1])  # the CLI, elsewhere
    assert tokens.caller(token) is None


def test_principals_name_their_role() -> None:
    assert role_of("svc-bureau").role is Role.BUREAU
    assert role_of("operator-li").role is Role.OPERATOR
    assert role_of("channel-12345").role is Role.CHANNEL
    assert role_of("unit-police").unit == "POLICE"
    for nobody in ("unit-nope", "root", "svc-triage"):
        with pytest.raises(CredentialsError):
            role_of(nobody)


def test_the_local_tools_token_is_kept_and_issued_again_once_revoked(tokens: TokenStore) -> None:
    first = local_token(tokens.path)
    assert local_token(tokens.path) == first
    tokens.revoke(first.split("_")[1])
    again = local_token(tokens.path)
    assert again != first and tokens.caller(again) is not None


# -- the ledger's API over a ledger fed in memory -------------------------------------------------
def _ledger_with_cases() -> tuple[InMemory, dict[str, str]]:
    """Two cases, the wage one handed to HRSS and the housing one to HOUSING; returns unit -> case."""
    triage = InMemory(TRIAGE, Triage(load_routing(), ClockConfig()), CODEC)
    ledger = InMemory(LEDGER, Recorder.unsealed(ClockConfig()), CODEC)
    cases = {}
    for n, (summary, category) in enumerate([("公司拖欠工资三个月", MatterCategory.WAGE_ARREARS),
                                             ("房屋漏水墙皮脱落", MatterCategory.HOUSING_QUALITY)], start=1):
        case = CaseRef(case_number=f"140214-2026-00000{n}", petition_id=uuid.uuid4(), district_code="140214")
        petition = PetitionRegistered(
            event_id=uuid.uuid4(), occurred_at=T0, case=case, deadline=None, channel=Channel.VISIT,
            petitioner=Petitioner(name="赵建国", phone="13500001111"), summary=summary, category_hint=category,
            idempotency_key=f"visit-{n}", received_at=T0 - timedelta(minutes=5))
        ledger.send(petition)
        for event in triage.send(petition):
            if any(topic_matches(t, event.topic) for t in LEDGER.topics_in):
                ledger.send(event)
        state = ledger.state(case.case_number, CASES)
        assert state is not None and state.lead_unit is not None
        cases[state.lead_unit] = case.case_number
    assert set(cases) == {"HRSS", "HOUSING"}
    return ledger, cases


Ask = Callable[..., Awaitable[tuple[int, Any]]]


def _serve(app: web.Application, check: Callable[[Ask], Awaitable[None]]) -> None:
    async def run() -> None:
        async with TestClient(TestServer(app)) as client:
            async def ask(path: str, token: str | None = None, method: str = "GET", **kw: Any) -> tuple[int, Any]:
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                async with client.request(method, path, headers=headers, **kw) as response:
                    assert response.content_type == "application/json", (path, response.content_type)
                    return response.status, await response.json()

            await check(ask)

    asyncio.run(run())


def _refused(code: str) -> float:
    return REGISTRY.get_sample_value("liandong_http_refused_requests_total", {"service": "ledger", "code": code}) or 0.0


def test_the_ledger_answers_a_unit_only_about_the_cases_handed_to_it(tokens: TokenStore) -> None:
    ledger, cases = _ledger_with_cases()
    app = make_api(ledger.view, lambda: T0 + timedelta(days=1)).application(tokens)
    hrss, operator, channel = tokens.issue("unit-hrss"), tokens.issue("operator"), tokens.issue("channel-web")

    async def check(ask: Ask) -> None:
        status, body = await ask("/cases", operator)
        assert status == 200 and body["count"] == 2
        status, body = await ask("/cases", hrss)
        assert (status, [c["case_number"] for c in body["cases"]]) == (200, [cases["HRSS"]])
        assert (await ask(f"/cases/{cases['HRSS']}", hrss))[0] == 200
        status, body = await ask(f"/cases/{cases['HOUSING']}", hrss)
        assert status == 404 and "HRSS" in body["error"]  # not even told that it exists
        status, body = await ask("/cases?unit=HOUSING", hrss)
        assert status == 403 and "HRSS" in body["error"]
        status, body = await ask("/stats?year=2026", hrss)
        assert status == 200 and body["total"] == 1, body
        status, body = await ask("/cases", channel)  # a channel registers petitions, reads nothing
        assert status == 403 and "CHANNEL" in body["error"] and "UNIT" in body["error"]

    before = _refused("403")
    _serve(app, check)
    assert _refused("403") - before == 2  # the channel (its role), and HRSS asking of HOUSING


class Half(Peers):
    """One of two workers: it owns the case numbers whose last digit is odd (``odd``) or even, and
    the other one is at ``url``."""

    def __init__(self, odd: bool, url: str = "") -> None:
        self.odd, self.url = odd, url

    def others(self) -> list[str]:
        return [self.url] if self.url else []

    def mine(self) -> Callable[[bytes], bool]:
        return lambda key: (key[-1] % 2 == 1) == self.odd


def test_two_workers_answer_the_statistics_as_one_does_each_sending_its_sums(tokens: TokenStore) -> None:
    """Each worker holds every case (its own and standby copies) and counts only those it owns, from
    the sums it keeps; the one asked adds the other's (``/_workers/tallies``, for workers only)."""
    ledger, _ = _ledger_with_cases()
    at = T0 + timedelta(days=30)
    hrss, operator = tokens.issue("unit-hrss"), tokens.issue("operator")

    def worker(peers: Peers) -> web.Application:
        view = View({t.name: (t, ledger.stores[t.name]) for t in LEDGER.tables}, peers, peer_key=lambda: tokens.peer_key)
        recorder = Recorder.unsealed(ClockConfig())
        return ledger_app.api(recorder, view, lambda: at).application(tokens, middlewares=[peers_unavailable])

    async def run() -> list[Any]:
        answers = []
        async with TestServer(worker(Half(odd=False))) as other:
            url = str(other.make_url("")).rstrip("/")
            async with TestClient(TestServer(worker(Half(odd=True, url=url)))) as client:
                for token in (operator, hrss):
                    async with client.get("/stats?year=2026", headers={"Authorization": f"Bearer {token}"}) as r:
                        answers.append((r.status, await r.json()))
                async with client.get("/stats", headers={"Authorization": f"Bearer {operator}"}) as r:
                    answers.append(r.status)  # no year: the latest the two have together
                async with TestClient(other) as direct, direct.get(TALLIES_PATH) as r:
                    answers.append(r.status)  # not a worker's key: refused
        return answers

    (everyone_status, everyone), (unit_status, unit), default_status, outsider = asyncio.run(run())
    single = make_api(ledger.view, lambda: at)
    assert (everyone_status, unit_status, default_status, outsider) == (200, 200, 200, 403)
    assert everyone["total"] == 2 and unit["total"] == 1
    assert json.loads(json.dumps(everyone)) == json.loads(json.dumps(_stats(single, tokens, operator)))
    assert json.loads(json.dumps(unit)) == json.loads(json.dumps(_stats(single, tokens, hrss)))


def _stats(api: Api, tokens: TokenStore, token: str) -> Any:
    found: list[Any] = []

    async def check(ask: Ask) -> None:
        found.append(await ask("/stats?year=2026", token))

    _serve(api.application(tokens), check)
    assert found[0][0] == 200
    return found[0][1]


def test_no_or_a_wrong_token_is_401_and_counted(tokens: TokenStore) -> None:
    ledger, _ = _ledger_with_cases()
    app = make_api(ledger.view, lambda: T0).application(tokens)
    revoked = tokens.issue("operator")
    tokens.revoke(revoked.split("_")[1])

    async def check(ask: Ask) -> None:
        for token in (None, "ld_000000000000_guess", revoked):
            status, body = await ask("/cases", token)
            assert status == 401 and "Bearer" in body["error"], (token, body)
        assert (await ask("/healthz"))[0] == 200  # open, as is the document
        status, document = await ask("/openapi.json")
        assert status == 200 and document["openapi"] == "3.1.0"

    before = _refused("401")
    _serve(app, check)
    assert _refused("401") - before == 3


@pytest.mark.parametrize(("path", "parameter", "allowed"), [
    ("/stats?year=abc", "year", "integer"),
    ("/stats?year=1900", "year", "2000"),
    ("/cases?unit=NOPE", "unit", "HRSS"),
    ("/cases?status=DONE", "status", "RESOLVED"),
    ("/cases?overdue=maybe", "overdue", "true"),
    ("/cases?limit=-1", "limit", "1"),
    ("/cases?colour=red", "colour", None),
    ("/cases?unit=HRSS&unit=POLICE", "unit", "one value"),
    ("/cases/12345", "case_number", "140214-2026-000123"),
    ("/packages?stale=often", "stale", "true"),
    ("/mediations?case=x", "case", None),
])
def test_a_bad_parameter_is_400_naming_it_and_what_is_allowed(tokens: TokenStore, path: str, parameter: str,
                                                               allowed: str | None) -> None:
    ledger, _ = _ledger_with_cases()
    app = make_api(ledger.view, lambda: T0).application(tokens)
    operator = tokens.issue("operator")

    async def check(ask: Ask) -> None:
        status, body = await ask(path, operator)
        assert status == 400, (path, body)
        (problem,) = [p for p in body["problems"] if p["parameter"] == parameter]
        assert problem["message"]
        if allowed is not None:
            assert allowed in (problem["allowed"] or ""), problem

    _serve(app, check)


def test_an_unexpected_error_is_a_json_500_never_an_html_page(tokens: TokenStore) -> None:
    api = Api("things", "Things", "A test API.")

    @api.get("/boom", "Fails.", response=None, allow=None)
    async def boom(_: Call) -> web.Response:
        raise RuntimeError("a bug")

    @api.get("/fine", "Answers.", response=None, allow=None)
    async def fine(_: Call) -> web.Response:
        return json_response({"ok": True})

    async def check(ask: Ask) -> None:
        status, body = await ask("/boom")
        assert status == 500 and "logged" in body["error"] and "a bug" not in json.dumps(body)
        assert (await ask("/nowhere"))[0] == 404
        assert (await ask("/fine", method="POST"))[0] == 405

    _serve(api.application(tokens), check)


# -- intake's API over a stand-in for the registry --------------------------------------------------
def test_only_the_bureau_and_the_channels_may_register_petitions(tokens: TokenStore) -> None:
    seen: list[str] = []

    def submit(text: str) -> list[LineResult]:
        seen.append(text)
        return [LineResult(n, "registered", case_number=f"140214-2026-00000{n}") for n, _ in enumerate(text.splitlines(), 1)]

    app = intake_api(submit).application(tokens)
    channel, bureau, unit = tokens.issue("channel-12345"), tokens.issue("svc-bureau"), tokens.issue("unit-hrss")

    async def check(ask: Ask) -> None:
        status, body = await ask("/petitions", channel, "POST", data=b'[{"a": 1}, {"b": 2}]')
        assert (status, body["registered"]) == (200, 2)
        assert (await ask("/petitions", bureau, "POST", data=b'{"a": 1}'))[0] == 200
        status, body = await ask("/petitions", unit, "POST", data=b'{"a": 1}')
        assert status == 403 and "unit-hrss" in body["error"] and "CHANNEL" in body["error"]
        assert (await ask("/petitions", None, "POST", data=b'{"a": 1}'))[0] == 401
        for bad in (b"", b"[]", b"[{", b"\xff\xfe"):
            status, body = await ask("/petitions", channel, "POST", data=bad)
            assert status == 400 and body["error"], bad

    _serve(app, check)
    assert len(seen) == 2  # the refused and the malformed never reached the registry


def test_a_tokens_file_that_cannot_be_used_stops_the_start_naming_it(tmp_path: Path) -> None:
    broken = tmp_path / "tokens.json"
    broken.write_text("{not json")
    app = Api("things", "Things", "A test API.").application(TokenStore(broken))

    async def start() -> None:
        runner = web.AppRunner(app)
        try:
            await runner.setup()
        finally:
            await runner.cleanup()

    with pytest.raises(StartupError, match=f"things: cannot use the HTTP tokens file {broken}"):
        asyncio.run(start())


def test_issuing_keeps_the_files_mode_as_the_operator_left_it(tokens: TokenStore) -> None:
    tokens.issue("operator")
    tokens.path.chmod(0o644)  # docker-compose: read by the containers' own user
    tokens.issue("channel-web")
    assert stat.S_IMODE(tokens.path.stat().st_mode) == 0o644
