"""Joint mediation, responsibility packages and task teams through the real broker: the
coordination service and the ledger as faust apps (each its own principal), the bureau's
requests as ``svc-bureau``, departments on the SDK as their units. Time is a fake clock the
test moves; nothing sleeps for timing."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from liandong_sdk import (
    DepartmentClient,
    IllegalTransition,
    InvalidAnswer,
)

from liandong import HANDLING_UNITS, Bus
from liandong.examples import example_record
from services.coordination import requests as rq
from services.coordination.app import build as build_coordination
from services.departments import Behaviour, CoordinationBehaviour, ReferenceDepartment
from services.ledger.app import build as build_ledger
from services.triage.app import build as build_triage
from tests.conftest import ServiceHost, api, read_topic, wait_for

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
MEMBERS = [
    {"role": "leading_official", "person": "张副区长", "unit": "BUREAU"},
    {"role": "responsible_unit_head", "person": "李局长", "unit": "HRSS"},
    {"role": "street_cadre", "person": "王主任", "unit": "STREET_OFFICE"},
    {"role": "police_officer", "person": "赵警官", "unit": "POLICE"},
    {"role": "legal_adviser", "person": "孙律师", "unit": "JUSTICE"},
]


class FakeClock:
    def __init__(self, t: datetime) -> None:
        self.t = t

    def __call__(self) -> datetime:
        return self.t

    def advance(self, **delta: float) -> datetime:
        self.t += timedelta(**delta)
        return self.t


@pytest.fixture(scope="module")
def stack(bus: Bus) -> Iterator[dict[str, Any]]:
    host = ServiceHost()
    tag = uuid.uuid4().hex[:6]
    clock = FakeClock(T0)
    # the referee in front: the units' answers reach coordination once checked for who speaks
    host.start(build_triage(bus.as_principal("svc-triage"), app_id=f"triage-{tag}"))
    coordination = host.start(build_coordination(bus.as_principal("svc-coordination"), clock=clock, tick_seconds=0.2,
                                                 app_id=f"coordination-{tag}"))
    port = host.start(build_ledger(bus.as_principal("svc-ledger"), port=0, clock=clock, app_id=f"ledger-{tag}")).bound["http"]
    try:
        yield {"clock": clock, "port": port, "tables": coordination.faust_apps[0].tables, "tag": tag}
    finally:
        host.close()


def _get(stack: dict[str, Any], path: str) -> Any:
    status, answer = api(stack["port"], path)
    assert status == 200, answer
    return answer


def _state(stack: dict[str, Any], kind: str, key: str) -> Any:
    """The coordination service's entry (read from its table: what it has processed so far)."""
    raw = stack["tables"][f"coordination-{kind}"].get(key.encode())
    return json.loads(raw)["state"] if raw is not None else None


def _bureau(bus: Bus, *requests: rq.Request) -> None:
    with bus.as_principal("svc-bureau").publisher("bureau") as pub:
        for name, record in requests:
            pub.publish(name, record).get(timeout=30)


def _client(bus: Bus, unit: str, clock: FakeClock) -> DepartmentClient:
    return DepartmentClient(unit, bus, group_id=f"unit-{HANDLING_UNITS[unit]}-{uuid.uuid4().hex[:8]}", clock=clock)


def _until(clients: list[DepartmentClient], pred: Any, message: str) -> None:
    def poll() -> bool:
        for c in clients:
            c.inbox(0.3)
        return bool(pred())

    wait_for(poll, timeout=90, message=message)


def _count(bus: Bus, topic: str, event_type: str, key: str) -> int:
    return sum(1 for k, _, headers in read_topic(bus, topic)
               if k == key.encode() and headers["ce_type"] == f"liandong.{event_type}".encode())


def _number() -> str:
    return f"140214-2026-{uuid.uuid4().int % 10**6:06d}"


def test_mediation_with_a_decline_a_missing_answer_reminder_escalation_and_a_referral(stack: dict[str, Any],
                                                                                      bus: Bus) -> None:
    clock: FakeClock = stack["clock"]
    number = _number()
    # the case is with 司法 (handed off as triage would), which asks for a joint mediation on its replies topic
    handoff = example_record(bus.schemas, "case.handoff.requested", case_number=number, unit="JUSTICE", now=clock())
    handoff.update(role="LEAD", mode="ASSIGN", deadline=None)
    with bus.publisher("test") as pub:
        pub.publish("case.handoff.requested", handoff).get(timeout=30)
    justice, hrss, housing, police = (_client(bus, u, clock) for u in ("JUSTICE", "HRSS", "HOUSING", "POLICE"))
    everyone = [justice, hrss, housing, police]
    try:
        _until([justice], lambda: number in justice.cases, "the handoff at JUSTICE")
        requested_at = clock()  # the module's clock: other tests of the module may have moved it on from T0
        mid = justice.request_mediation(number, ["HRSS", "HOUSING", "POLICE"], "施工方欠薪与物业纠纷联合调处",
                                        legal_advisers=["孙律师"], answer_days=3)
        _until(everyone, lambda: all(mid in c.mediations for c in everyone), "the invitation at every participant")
        assert police.mediations[mid].answer_due_at == requested_at + timedelta(days=3)
        assert justice.mediations[mid].answer == "JOINED"  # the convener takes part
        hrss.join_mediation(mid)
        housing.decline_mediation(mid, "小区物业不属于本案争议")
        with pytest.raises(IllegalTransition):
            hrss.decline_mediation(mid, "改主意")  # answered already: nothing published
        with pytest.raises(IllegalTransition):
            housing.record_session(mid, clock(), ["x"], "y")  # only the convener records sessions
        wait_for(lambda: (s := _state(stack, "mediations", number)) and
                 [s[mid]["answers"][u]["answer"] for u in ("HRSS", "HOUSING", "POLICE")] == ["JOINED", "DECLINED", "PENDING"],
                 message="both answers at the coordination service")

        clock.advance(days=3)  # POLICE has not answered: one reminder, to POLICE only
        _until(everyone, lambda: police.mediations[mid].reminders == 1, "the reminder at POLICE")
        # The ledger reads the reminder (coordination's, on the inbox) and the decline (the referee's copy)
        # from different topics: wait for both, in whichever order they come.
        [m] = wait_for(lambda: [m for m in _get(stack, f"/mediations?open=1&case={number}")["mediations"]
                                if m["reminded"] == ["POLICE"] and m["answers"]["HOUSING"]["answer"] == "DECLINED"],
                       message="the reminder and the decline in the ledger")
        assert m["answers"]["HOUSING"] == {**m["answers"]["HOUSING"], "answer": "DECLINED", "reason": "小区物业不属于本案争议"}
        clock.advance(days=2)  # still nothing: the bureau is told
        wait_for(lambda: _get(stack, f"/mediations?case={number}")["mediations"][0]["escalated"] == ["POLICE"],
                 message="the escalation in the ledger")
        assert hrss.mediations[mid].reminders == 0 and housing.mediations[mid].reminders == 0
        clock.advance(hours=6)
        _until(everyone, lambda: True, "a few more ticks")
        assert _count(bus, "liandong.unit.police.inbox", "mediation.reminder", number) == 1  # once per stage
        assert _count(bus, "liandong.bureau.coordination", "mediation.escalated", number) == 1

        # the convener holds a session; no agreement: the case goes to arbitration
        justice.record_session(mid, clock(), ["司法局张科长", "人社局李科长", "孙律师"], "双方对欠薪数额分歧较大")
        with pytest.raises(InvalidAnswer):
            justice.conclude_mediation(mid, "NO_AGREEMENT", "未达成协议")  # says where the case goes
        justice.conclude_mediation(mid, "NO_AGREEMENT", "双方未达成调解协议", referral="ARBITRATION")
        case = wait_for(lambda: c if (c := _get(stack, f"/cases/{number}")).get("status") == "REFERRED" else None,
                        message="the referral on the case")
        assert case["referred_to"] == "ARBITRATION"
        steps = [t["event"] for t in case["timeline"]]
        for step in ("mediation.requested", "mediation.joined", "mediation.declined", "mediation.reminder",
                     "mediation.escalated", "mediation.session_held", "mediation.concluded", "case.referred"):
            assert step in steps, step
        assert _get(stack, f"/mediations?open=1&case={number}")["count"] == 0
        [done] = _get(stack, f"/mediations?case={number}")["mediations"]
        assert done["result"] == "NO_AGREEMENT" and done["referral"] == "ARBITRATION" and len(done["sessions"]) == 1
    finally:
        for c in everyone:
            c.close()


def test_bureau_mediation_with_agreement(stack: dict[str, Any], bus: Bus) -> None:
    clock: FakeClock = stack["clock"]
    number = _number()
    name, record = rq.mediation_proposal(number, convener="HOUSING", participants=["STREET_OFFICE"], subject="供暖费纠纷",
                                         legal_advisers=["周律师"], at=clock())
    _bureau(bus, (name, record))
    mid = record["mediation_id"]
    housing, street = _client(bus, "HOUSING", clock), _client(bus, "STREET_OFFICE", clock)
    try:
        _until([housing, street], lambda: mid in housing.mediations and mid in street.mediations, "the invitations")
        street.join_mediation(mid)
        housing.record_session(mid, clock(), ["住建局王科长", "周律师"], "确认退还多收供暖费")
        housing.conclude_mediation(mid, "AGREEMENT", "签订调解协议，退还供暖费")
        [m] = wait_for(lambda: [m for m in _get(stack, f"/mediations?case={number}")["mediations"]
                                if m["status"] == "CONCLUDED"], message="the concluded mediation")
        assert m["result"] == "AGREEMENT" and m["referral"] is None and m["requested_by"] == "BUREAU"
        assert _get(stack, f"/cases/{number}")["status"] != "REFERRED"
    finally:
        housing.close()
        street.close()


def test_package_with_a_missed_progress_report_an_extension_and_a_result(stack: dict[str, Any], bus: Bus) -> None:
    clock: FakeClock = stack["clock"]
    number, linked = _number(), _number()
    start = clock()
    order = rq.package_order(number, members=MEMBERS, plan="分期兑付欠薪，街道跟踪回访", expected_on=date(2026, 6, 30),
                             cadence_days=7, linked_cases=[linked], leader_package=True, at=start)
    pid = order[1]["package_id"]
    _bureau(bus, order)
    units = [_client(bus, u, clock) for u in ("HRSS", "STREET_OFFICE", "POLICE", "JUSTICE")]
    hrss = units[0]
    try:
        _until(units, lambda: all(pid in c.packages for c in units), "the assignment at every member unit")
        assert hrss.packages[pid].case_numbers == [number, linked] and hrss.packages[pid].leader_package
        clock.advance(days=2)
        hrss.report_package_progress(pid, 30, ["约谈施工方负责人", "核实欠薪名单"])
        wait_for(lambda: (s := _state(stack, "packages", number)) and s[pid]["reports"] == 1,
                 message="the report at the coordination service")
        with pytest.raises(InvalidAnswer):
            hrss.report_package_progress(pid, 130, ["x"])

        clock.advance(days=7, hours=1)  # a full cadence since the report: every member unit is reminded
        _until(units, lambda: all(c.packages[pid].reminders == 1 for c in units), "the reminders")
        [p] = wait_for(lambda: [p for p in _get(stack, "/packages?open=1&stale=1")["packages"] if p["package_id"] == pid
                                and p["reminders"]], message="a stale package in the dynamic ledger")
        assert p["percent"] == 30 and p["days_since_report"] > 7 and p["leader_package"]

        hrss.report_package_progress(pid, 80, ["已兑付首期工资"])
        wait_for(lambda: [p for p in _get(stack, "/packages")["packages"] if p["package_id"] == pid
                          and p["percent"] == 80 and not p["stale"]], message="fresh progress")
        at = clock()
        _bureau(bus, rq.package_extension(number, pid, days=10, reason="等待仲裁裁决", at=at),
                rq.package_extension(number, pid, days=25, reason="再延", at=at + timedelta(seconds=1)),  # over the bound
                rq.package_closing(number, pid, result="RESOLVED", summary="欠薪全部兑付", resolved_on=date(2026, 7, 5),
                                   at=at + timedelta(seconds=2)))
        # The bureau's closing is on the topic before coordination's package.extended (written once it
        # had decided the request): the ledger may show the one before the other.
        [p] = wait_for(lambda: [p for p in _get(stack, "/packages")["packages"] if p["package_id"] == pid
                                and p["status"] == "CLOSED" and p["extension_days"]], message="the closed package")
        # same key, same partition: the refused extension was decided before the closing arrived
        assert wait_for(lambda: _state(stack, "packages", number)[pid]["status"] == "CLOSED")
        assert p["result"] == "RESOLVED" and p["resolved_on"] == "2026-07-05"
        assert p["expected_on"] == "2026-07-10" and p["extension_days"] == 10
        case = _get(stack, f"/cases/{number}")
        steps = [t["event"] for t in case["timeline"]]
        for step in ("package.assigned", "package.progress", "package.reminder", "package.extended", "package.closed"):
            assert step in steps, step
    finally:
        for c in units:
            c.close()


def test_task_team_campaign_with_one_slow_group(stack: dict[str, Any], bus: Bus) -> None:
    clock: FakeClock = stack["clock"]
    campaign = f"winter-heating-{stack['tag']}"
    tasks = rq.task_publications("heating", campaign=campaign, description="排查供暖温度不达标小区", due_days=5,
                                 number=f"HEAT-{stack['tag']}", at=clock())
    _bureau(bus, *tasks)
    numbers = {r["group"]: r["task_number"] for _, r in tasks}
    clients = {u: _client(bus, u, clock) for u in ("HOUSING", "STREET_OFFICE", "JUSTICE", "POLICE", "HRSS")}
    group_unit = {"supply": "HOUSING", "complaints": "STREET_OFFICE", "disputes": "JUSTICE", "order": "POLICE",
                  "funds": "HRSS"}
    try:
        _until(list(clients.values()), lambda: all(numbers[g] in clients[u].tasks for g, u in group_unit.items()),
               "each group's task at its unit")
        for g, u in group_unit.items():
            if g != "complaints":  # the street office is slow
                clients[u].acknowledge_task(numbers[g], f"{u}-值班员")
        with pytest.raises(IllegalTransition):
            clients["HOUSING"].acknowledge_task(numbers["supply"], "again")
        wait_for(lambda: all((_state(stack, "tasks", numbers[g]) or {}).get("status") == "ACKNOWLEDGED"
                             for g in group_unit if g != "complaints"), message="four acknowledgements")

        clock.advance(days=1)  # the acknowledgement deadline: one reminder, to the slow group
        street = clients["STREET_OFFICE"]
        _until([street], lambda: street.tasks[numbers["complaints"]].reminders == 1, "the reminder at the street office")
        street.acknowledge_task(numbers["complaints"], "街道-值班员")
        for g, u in group_unit.items():
            if g != "complaints":
                clients[u].complete_task(numbers[g], "已完成排查并整改")
        clock.advance(days=5)  # past the due date: the slow group's task is overdue
        team = wait_for(lambda: (t := _get(stack, f"/teams?team=heating&campaign={campaign}")["teams"].get("heating"))
                        and t["campaigns"].get(campaign, {}).get("completed") == 4
                        and t["campaigns"][campaign]["acknowledged"] == 5 and t, message="the campaign's tallies")
        c = team["campaigns"][campaign]
        assert (c["assigned"], c["acknowledged"], c["completed"], c["overdue"], c["reminded"]) == (5, 5, 4, 1, 1)
        assert c["groups"]["complaints"]["overdue"] == 1 and c["groups"]["complaints"]["unit"] == "STREET_OFFICE"
        for g in group_unit:
            if g != "complaints":
                assert _count(bus, f"liandong.unit.{HANDLING_UNITS[group_unit[g]]}.inbox", "team.task.reminder",
                              numbers[g]) == 0
    finally:
        for cl in clients.values():
            cl.close()


def test_reference_departments_answer_with_their_configured_behaviour(stack: dict[str, Any], bus: Bus) -> None:
    """The demo's departments: 人社 declines, 公安 stays silent, 司法 convenes and fails; 住建's group is quick."""
    clock: FakeClock = stack["clock"]
    number = _number()
    name, record = rq.mediation_proposal(number, convener="JUSTICE", participants=["HRSS", "POLICE"], subject="劳资纠纷",
                                         at=clock())
    mid = record["mediation_id"]
    behaviours = {
        "JUSTICE": CoordinationBehaviour(mediation_session_after_days=6, mediation_agreement_rate=0.0),
        "HRSS": CoordinationBehaviour(mediation_answer_after_days=1, mediation_decline_rate=1.0, mediation_silent_rate=0.0),
        "POLICE": CoordinationBehaviour(mediation_silent_rate=1.0),
    }
    depts = {u: ReferenceDepartment(_client(bus, u, clock), Behaviour(), b) for u, b in behaviours.items()}

    def stepped(predicate: Any) -> Any:
        for d in depts.values():
            d.step(clock(), poll_timeout=0.3)
        return predicate()

    try:
        _bureau(bus, (name, record))
        wait_for(lambda: stepped(lambda: all(mid in d.client.mediations for d in depts.values())), timeout=90,
                 message="the invitations at the reference departments")
        clock.advance(days=1, hours=1)
        wait_for(lambda: stepped(lambda: (_state(stack, "mediations", number) or {}).get(mid, {}).get("answers", {})
                                 .get("HRSS", {}).get("answer") == "DECLINED"), message="HRSS declines")
        clock.advance(days=2)  # answers due: POLICE is reminded
        wait_for(lambda: stepped(lambda: _get(stack, f"/mediations?case={number}")["mediations"][0]["reminded"]),
                 message="the silent unit reminded")
        clock.advance(days=2)  # and then escalated
        wait_for(lambda: stepped(lambda: _get(stack, f"/mediations?case={number}")["mediations"][0]["escalated"]),
                 message="the silent unit escalated")
        clock.advance(days=2)  # the convener's session and (failed) conclusion are due
        [m] = wait_for(lambda: stepped(lambda: [m for m in _get(stack, f"/mediations?case={number}")["mediations"]
                                                if m["status"] == "CONCLUDED"]), message="the conclusion")
        assert m["answers"]["HRSS"]["answer"] == "DECLINED" and m["answers"]["POLICE"]["answer"] == "PENDING"
        assert m["reminded"] == ["POLICE"] and m["result"] == "NO_AGREEMENT" and m["referral"] == "ARBITRATION"
        assert len(m["sessions"]) == 1
    finally:
        for d in depts.values():
            d.client.close()


def test_the_bureau_s_commands(stack: dict[str, Any], service_env: dict[str, str]) -> None:
    """`liandong mediation request` and `liandong team task` publish as svc-bureau; the service fans them out."""
    number = _number()

    def cli(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "liandong.cli", *args], env={**service_env, "COLUMNS": "200"},
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    assert "requested" in cli("mediation", "request", number, "--convener", "JUSTICE", "--participant", "POLICE",
                              "--adviser", "孙律师", "--subject", "扰序纠纷调处")
    [m] = wait_for(lambda: _get(stack, f"/mediations?case={number}")["mediations"] or None, message="the CLI's mediation")
    assert m["participants"] == ["JUSTICE", "POLICE"] and m["legal_advisers"] == ["孙律师"]
    prefix = f"WAGE-{uuid.uuid4().hex[:6]}"
    out = cli("team", "task", "wages", "--campaign", f"wages-{prefix}", "--description", "排查在建项目欠薪",
              "--group", "projects", "--number", prefix)
    assert f"{prefix}-projects" in out
    # other tests task "wages" too: wait for this campaign, not for the team
    team = wait_for(lambda: _get(stack, f"/teams?team=wages&campaign=wages-{prefix}")["teams"].get("wages"),
                    message="the CLI's task")
    assert _get(stack, "/teams?team=wages&campaign=no-such-campaign")["teams"] == {}  # a team without it: left out
    assert team["campaigns"][f"wages-{prefix}"]["groups"]["projects"]["unit"] == "HOUSING"
    bad = subprocess.run([sys.executable, "-m", "liandong.cli", "team", "task", "wages", "--campaign", "c",
                          "--description", "d", "--group", "nope"], env=service_env, capture_output=True, text=True,
                         timeout=120, check=False)
    assert bad.returncode == 2 and "no group" in bad.stdout


def test_a_restart_restores_the_stages_and_reminds_nothing_twice(bus: Bus) -> None:
    """The tables come back from their changelogs: a reminder already issued is not issued again."""
    from liandong.domain.coordination import CoordinationConfig, Group, Team

    tag = uuid.uuid4().hex[:6]
    team = f"restart-{tag}"  # a team only this test's service knows (the module's service refuses its tasks)
    config = CoordinationConfig(teams={team: Team("重启测试专班", Group("办公室", "POLICE"), {"patrol": Group("巡查组", "POLICE")})})
    clock = FakeClock(T0)
    app_id = f"coordination-restart-{tag}"

    def start(host: ServiceHost) -> Any:
        return host.start(build_coordination(bus.as_principal("svc-coordination"), clock=clock, config=config,
                                             tick_seconds=0.2, app_id=app_id))

    def task(number: str) -> Any:
        raw = runtime.faust_apps[0].tables["coordination-tasks"].get(number.encode())
        return json.loads(raw)["state"] if raw is not None else None

    first, second = f"R1-{tag}-patrol", f"R2-{tag}-patrol"
    host = ServiceHost()
    try:
        runtime = start(host)
        _bureau(bus, *rq.task_publications(team, campaign="c", description="夜间巡查", due_days=3, groups=["patrol"],
                                           number=f"R1-{tag}", at=clock(), config=config))
        wait_for(lambda: task(first), message="the first task")
        clock.advance(days=1)
        wait_for(lambda: (t := task(first)) and t["reminded"], message="the first reminder")
        host.stop(runtime)
        runtime = start(host)  # same app id: the same group and changelogs
        wait_for(lambda: (t := task(first)) and t["reminded"], message="the restored table")
        clock.advance(hours=1)
        _bureau(bus, *rq.task_publications(team, campaign="c", description="白天巡查", due_days=3, groups=["patrol"],
                                           number=f"R2-{tag}", at=clock(), config=config))
        wait_for(lambda: task(second), message="the second task")
        clock.advance(days=1)  # the restarted service's timer runs: the second task is reminded, the first not again
        wait_for(lambda: (t := task(second)) and t["reminded"], message="the second reminder")
        assert _count(bus, "liandong.unit.police.inbox", "team.task.reminder", first) == 1
        assert _count(bus, "liandong.unit.police.inbox", "team.task.reminder", second) == 1
    finally:
        host.close()
