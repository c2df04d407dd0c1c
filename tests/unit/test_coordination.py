"""Joint mediation, responsibility packages and task teams: the coordination service's rules
(pure handlers, time injected), the bureau's request records, and the ledger's views."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from liandong import Bus
from liandong.domain.coordination import Coordination, CoordinationConfig, Refused, teams_from_data
from liandong.domain.views import fold, mediations, packages, teams
from services.coordination.app import COORDINATION
from services.coordination.config import load_config
from services.coordination.requests import mediation_proposal, package_closing, package_extension, package_order, task_publications
from tests.stand_ins import In, Plain, plain, typed

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
CASE = "140214-2026-000101"
CONFIG = load_config()
C = Plain(Coordination(CONFIG))  # its events out as (type, plain record)



def handle(event_type: str, event_id: str, data: dict[str, Any], state: Any,
           decisions: Coordination = C.decisions) -> Any:
    """The event through the service's own handler map (the table that handles its type)."""
    (handler,) = [h for t in COORDINATION.tables if (h := t.handler(event_type)) is not None]
    state, out = handler(decisions, state, In(event_type, event_id, data))
    return state, plain(out)
MEMBERS = [
    {"role": "leading_official", "person": "张副区长", "unit": "BUREAU"},
    {"role": "responsible_unit_head", "person": "李局长", "unit": "HRSS"},
    {"role": "street_cadre", "person": "王主任", "unit": "STREET_OFFICE"},
    {"role": "police_officer", "person": "赵警官", "unit": "POLICE"},
    {"role": "legal_adviser", "person": "孙律师", "unit": "JUSTICE"},
]


def _types(out: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [name for name, _ in out]


def _propose(**over: Any) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]], str]:
    kw: dict[str, Any] = {"convener": "JUSTICE", "participants": ["HRSS", "HOUSING"], "subject": "欠薪纠纷联合调处",
                          "legal_advisers": ["孙律师"], "at": T0}
    kw.update(over)
    name, record = mediation_proposal(CASE, **kw)
    book, out = handle(name, record["event_id"], record, None)
    assert book is not None
    return book, out, record["mediation_id"]


def _answer(book: dict[str, Any], kind: str, mid: str, unit: str, at: datetime, eid: str, **extra: Any) -> Any:
    data = {"event_id": eid, "occurred_at": at, "case": mediation_proposal(CASE, convener="JUSTICE", participants=["HRSS"],
                                                                           subject="x", at=at)[1]["case"],
            "deadline": None, "mediation_id": mid, "unit": unit, **extra}
    return handle(kind, eid, data, book)


# -- joint mediation -------------------------------------------------------------------------
def test_a_request_invites_every_participant_on_its_inbox_with_the_answer_deadline() -> None:
    book, out, mid = _propose()
    assert _types(out) == ["mediation.requested"] * 3
    assert [r["unit"] for _, r in out] == ["JUSTICE", "HRSS", "HOUSING"]
    for _, r in out:
        assert r["deadline"]["clock"] == "MEDIATION_ANSWER" and r["deadline"]["due_at"] == T0 + timedelta(days=3)
        assert r["convener"] == "JUSTICE" and r["legal_advisers"] == ["孙律师"] and r["requested_by"] == "BUREAU"
    assert len({r["event_id"] for _, r in out}) == 3
    # the same request again (redelivered, or the command given twice): the same ids, nothing new
    assert _propose()[1] == out
    name, record = mediation_proposal(CASE, convener="JUSTICE", participants=["HRSS", "HOUSING"], subject="欠薪纠纷联合调处",
                                      legal_advisers=["孙律师"], at=T0)
    assert handle(name, record["event_id"], record, book) == (book, [])
    assert book[mid]["answers"]["JUSTICE"]["answer"] == "JOINED"  # the convener takes part
    assert book[mid]["answers"]["HRSS"]["answer"] == "PENDING"


def test_a_unit_can_request_mediation_on_its_replies_topic() -> None:
    _, record = mediation_proposal(CASE, convener="HOUSING", participants=["STREET_OFFICE"], subject="供暖纠纷", at=T0)
    data = {k: v for k, v in record.items() if k != "requested_by"} | {"unit": "HOUSING"}
    book, out = handle("mediation.request.submitted", "e-1", data, None)
    assert book is not None and _types(out) == ["mediation.requested"] * 2
    assert {r["requested_by"] for _, r in out} == {"HOUSING"}


@pytest.mark.parametrize("over, message", [
    ({"convener": "COURT"}, "not a unit"),
    ({"participants": ["JUSTICE"]}, "at least two"),
])
def test_impossible_requests_are_refused(over: dict[str, Any], message: str) -> None:
    name, record = mediation_proposal(CASE, convener="JUSTICE", participants=["HRSS"], subject="x", at=T0)
    record.update(over)
    with pytest.raises(Refused, match=message):
        handle(name, record["event_id"], record, None)


def test_join_decline_and_what_the_state_does_not_allow() -> None:
    book, _, mid = _propose()
    book, out = _answer(book, "mediation.joined", mid, "HRSS", T0 + timedelta(hours=5), "a1")
    assert out == [] and book[mid]["answers"]["HRSS"]["answer"] == "JOINED"
    book2, _ = _answer(book, "mediation.joined", mid, "HRSS", T0 + timedelta(hours=6), "a2")
    assert book2 == book  # the same answer twice changes nothing
    with pytest.raises(Refused, match="already answered JOINED"):
        _answer(book, "mediation.declined", mid, "HRSS", T0, "a3", reason="改主意")
    with pytest.raises(Refused, match="not invited"):
        _answer(book, "mediation.joined", mid, "POLICE", T0, "a4")
    book, _ = _answer(book, "mediation.declined", mid, "HOUSING", T0, "a5", reason="不属于住建职责")
    assert book[mid]["answers"]["HOUSING"] == {**book[mid]["answers"]["HOUSING"], "answer": "DECLINED",
                                               "reason": "不属于住建职责"}


def test_a_missing_answer_is_reminded_then_escalated_each_once() -> None:
    book, _, mid = _propose()
    book, _ = _answer(book, "mediation.joined", mid, "HRSS", T0 + timedelta(days=1), "a1")
    assert C.mediation_tick(book, T0 + timedelta(days=2, hours=23)) == (book, [])  # not due yet
    due = T0 + timedelta(days=3)
    book, out = C.mediation_tick(book, due)
    assert _types(out) == ["mediation.reminder"] and out[0][1]["unit"] == "HOUSING"  # not the ones who answered
    assert out[0][1]["deadline"]["due_at"] == due + timedelta(days=CONFIG.mediation_reminder_days)
    reminder_id = out[0][1]["event_id"]
    assert C.mediation_tick(book, due + timedelta(hours=1))[1] == []  # once per stage
    book, out = C.mediation_tick(book, due + timedelta(days=CONFIG.mediation_reminder_days))
    assert _types(out) == ["mediation.escalated"] and out[0][1]["unit"] == "HOUSING"
    assert out[0][1]["event_id"] != reminder_id
    assert C.mediation_tick(book, due + timedelta(days=30))[1] == []
    # the ids are derived: deciding again from the same state gives the same events
    again, _, _ = _propose()
    again, _ = _answer(again, "mediation.joined", mid, "HRSS", T0 + timedelta(days=1), "a1")
    assert C.mediation_tick(again, due)[1][0][1]["event_id"] == reminder_id


def test_an_answer_after_the_reminder_stops_the_escalation() -> None:
    book, _, mid = _propose(participants=["HRSS"])
    book, out = C.mediation_tick(book, T0 + timedelta(days=3))
    assert _types(out) == ["mediation.reminder"]
    book, _ = _answer(book, "mediation.declined", mid, "HRSS", T0 + timedelta(days=4), "a1", reason="人员不足")
    assert C.mediation_tick(book, T0 + timedelta(days=10))[1] == []


def test_only_the_convener_records_sessions_and_concludes_and_no_agreement_refers_the_case() -> None:
    book, _, mid = _propose()
    with pytest.raises(Refused, match="only the convener"):
        _answer(book, "mediation.session_held", mid, "HRSS", T0, "s0", held_at=T0, attendees=["x"], summary="y")
    book, _ = _answer(book, "mediation.session_held", mid, "JUSTICE", T0 + timedelta(days=4), "s1",
                      held_at=T0 + timedelta(days=4), attendees=["司法局张科长", "孙律师"], summary="首次调解")
    assert len(book[mid]["sessions"]) == 1
    book, out = _answer(book, "mediation.concluded", mid, "JUSTICE", T0 + timedelta(days=5), "c1",
                        result="NO_AGREEMENT", summary="双方分歧较大", referral="ARBITRATION")
    assert _types(out) == ["case.referred"]
    assert out[0][1]["channel"] == "ARBITRATION" and out[0][1]["mediation_id"] == mid
    assert book[mid]["status"] == "CONCLUDED" and book[mid]["referral"] == "ARBITRATION"
    assert C.mediation_tick(book, T0 + timedelta(days=30))[1] == []  # concluded: no reminders for HOUSING
    with pytest.raises(Refused, match="already concluded"):
        _answer(book, "mediation.joined", mid, "HOUSING", T0, "late")


def test_an_agreement_refers_nothing() -> None:
    book, _, mid = _propose()
    book, out = _answer(book, "mediation.concluded", mid, "JUSTICE", T0, "c1", result="AGREEMENT", summary="签订调解协议",
                        referral=None)
    assert out == [] and book[mid]["result"] == "AGREEMENT"


# -- responsibility packages ------------------------------------------------------------------------
def _package(members: list[dict[str, str]] | None = None, config: CoordinationConfig = CONFIG,
             **over: Any) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]], str]:
    name, record = package_order(CASE, members=members or MEMBERS, plan="分期支付欠薪，街道跟踪回访", expected_on=date(2026, 4, 30),
                                 cadence_days=7, linked_cases=["140214-2026-000102"], at=T0, config=config, **over)
    pkgs, out = handle(name, record["event_id"], record, None, Coordination(config))
    assert pkgs is not None
    return pkgs, out, record["package_id"]


def _progress(pkgs: dict[str, Any], pid: str, unit: str, at: datetime, percent: int, eid: str) -> Any:
    data = {"event_id": eid, "occurred_at": at, "case": {"case_number": CASE, "petition_id": "p", "district_code": "140214"},
            "deadline": None, "package_id": pid, "unit": unit, "percent": percent, "actions": ["约谈施工方"]}
    return handle("package.progress", eid, data, pkgs)


def test_a_package_reaches_every_member_unit_with_the_progress_clock() -> None:
    pkgs, out, pid = _package(leader_package=True)
    assert _types(out) == ["package.assigned"] * 4  # the bureau's leading official has no inbox
    assert sorted(r["unit"] for _, r in out) == ["HRSS", "JUSTICE", "POLICE", "STREET_OFFICE"]
    r = out[0][1]
    assert r["case_numbers"] == [CASE, "140214-2026-000102"] and r["leader_package"] is True
    assert r["deadline"]["clock"] == "PACKAGE_PROGRESS" and r["deadline"]["due_at"] == T0 + timedelta(days=7)
    assert pkgs[pid]["units"] == ["HRSS", "JUSTICE", "POLICE", "STREET_OFFICE"]


@pytest.mark.parametrize("members, message", [
    (MEMBERS[:4], "missing: legal_adviser"),
    ([*MEMBERS, {"role": "legal_adviser", "person": "周律师", "unit": "JUSTICE"}], "twice: legal_adviser"),
    ([*MEMBERS[:4], {"role": "grid_worker", "person": "周", "unit": "STREET_OFFICE"}], "unknown role"),
])
def test_every_role_slot_is_filled_once(members: list[dict[str, str]], message: str) -> None:
    _, record = package_order(CASE, members=MEMBERS, plan="p", expected_on=date(2026, 4, 30), at=T0)
    record["members"] = members
    with pytest.raises(Refused, match=message):
        handle("package.ordered", "e", record, None)
    with pytest.raises(ValueError):
        package_order(CASE, members=members, plan="p", expected_on=date(2026, 4, 30), at=T0)


def test_role_slots_are_configuration() -> None:
    three = CoordinationConfig(package_roles=("lead", "unit_head", "grid_worker"))
    members = [{"role": "lead", "person": "甲", "unit": "BUREAU"}, {"role": "unit_head", "person": "乙", "unit": "HOUSING"},
               {"role": "grid_worker", "person": "丙", "unit": "STREET_OFFICE"}]
    _, out, _ = _package(members, config=three)
    assert sorted(r["unit"] for _, r in out) == ["HOUSING", "STREET_OFFICE"]


def test_a_missed_progress_report_is_reminded_once_per_period() -> None:
    pkgs, _, pid = _package()
    assert C.package_tick(pkgs, T0 + timedelta(days=6, hours=23))[1] == []
    pkgs, out = C.package_tick(pkgs, T0 + timedelta(days=7))
    assert _types(out) == ["package.reminder"] * 4 and {r["period"] for _, r in out} == {1}
    assert C.package_tick(pkgs, T0 + timedelta(days=8))[1] == []
    pkgs, out = C.package_tick(pkgs, T0 + timedelta(days=14, hours=1))
    assert {r["period"] for _, r in out} == {2}
    # a report restarts the period: nothing until a full cadence after it
    pkgs, _ = _progress(pkgs, pid, "HRSS", T0 + timedelta(days=15), 40, "p1")
    assert pkgs[pid]["percent"] == 40 and pkgs[pid]["reports"] == 1
    assert C.package_tick(pkgs, T0 + timedelta(days=21))[1] == []
    pkgs, out = C.package_tick(pkgs, T0 + timedelta(days=22))
    assert {r["period"] for _, r in out} == {1} and out[0][1]["last_report_at"] == T0 + timedelta(days=15)


def test_progress_only_from_members_and_within_range() -> None:
    pkgs, _, pid = _package()
    with pytest.raises(Refused, match="no member"):
        _progress(pkgs, pid, "HOUSING", T0, 10, "p1")
    with pytest.raises(Refused, match="0 to 100"):
        _progress(pkgs, pid, "HRSS", T0, 120, "p2")


def test_the_extension_is_bounded_and_closing_stops_the_clock() -> None:
    pkgs, _, pid = _package()
    name, record = package_extension(CASE, pid, days=20, reason="需等待仲裁裁决", at=T0 + timedelta(days=10))
    pkgs, out = handle(name, record["event_id"], record, pkgs)
    assert _types(out) == ["package.extended"]
    assert out[0][1]["expected_resolution_on"] == date(2026, 5, 20) and out[0][1]["total_days"] == 20
    name, record = package_extension(CASE, pid, days=11, reason="再延", at=T0 + timedelta(days=11))
    with pytest.raises(Refused, match="at most 30 days"):
        handle(name, record["event_id"], record, pkgs)
    name, record = package_closing(CASE, pid, result="RESOLVED", summary="欠薪全部兑付", resolved_on=date(2026, 5, 1),
                                   at=T0 + timedelta(days=60))
    pkgs, out = handle(name, record["event_id"], record, pkgs)
    assert out == [] and pkgs[pid]["status"] == "CLOSED" and pkgs[pid]["result"] == "RESOLVED"
    assert C.package_tick(pkgs, T0 + timedelta(days=90))[1] == []
    with pytest.raises(Refused, match="closed"):
        _progress(pkgs, pid, "HRSS", T0 + timedelta(days=61), 100, "late")


# -- joint task teams --------------------------------------------------------------------------
def _tasks(groups: list[str] | None = None) -> list[tuple[str, dict[str, Any]]]:
    return task_publications("heating", campaign="winter-heating-2026", description="排查供暖不达标小区", due_days=5,
                             groups=groups, number="HEAT-001", at=T0)


def test_a_campaign_task_goes_to_each_group_s_unit() -> None:
    published = _tasks()
    assert [r["group"] for _, r in published] == ["supply", "complaints", "disputes", "order", "funds"]
    units = []
    for name, record in published:
        task, out = handle(name, record["event_id"], record, None)
        assert task is not None and _types(out) == ["team.task.assigned"]
        assigned = out[0][1]
        assert assigned["task_number"] == record["task_number"] and assigned["deadline"]["clock"] == "TASK_DUE"
        assert assigned["deadline"]["due_at"] == T0 + timedelta(days=5)
        units.append(assigned["unit"])
    assert units == ["HOUSING", "STREET_OFFICE", "JUSTICE", "POLICE", "HRSS"]
    with pytest.raises(ValueError, match="no group"):
        task_publications("heating", campaign="c", description="d", due_days=1, groups=["nope"], at=T0)
    record = {**published[0][1], "team": "nope"}
    with pytest.raises(Refused, match="no team"):
        handle("team.task.published", "e", record, None)


def test_an_unacknowledged_task_is_reminded_once_and_an_acknowledged_one_never() -> None:
    (name, r1), (_, r2) = _tasks(["supply", "complaints"])
    t1, _ = handle(name, r1["event_id"], r1, None)
    t2, _ = handle(name, r2["event_id"], r2, None)
    assert t1 is not None and t2 is not None
    ack = {"event_id": "k1", "occurred_at": T0 + timedelta(hours=3), "task_number": r1["task_number"], "team": "heating",
           "group": "supply", "unit": "HOUSING", "acknowledged_by": "王科长"}
    with pytest.raises(Refused, match="belongs to HOUSING"):
        handle("team.task.acknowledged", "k0", {**ack, "unit": "POLICE"}, t1)
    t1, _ = handle("team.task.acknowledged", "k1", ack, t1)
    assert t1 is not None and t1["status"] == "ACKNOWLEDGED"
    due = T0 + timedelta(days=CONFIG.task_ack_days)
    assert C.task_tick(t1, due)[1] == [] and C.task_tick(t2, due - timedelta(minutes=1))[1] == []
    t2, out = C.task_tick(t2, due)
    assert _types(out) == ["team.task.reminder"] and out[0][1]["unit"] == "STREET_OFFICE"
    assert C.task_tick(t2, due + timedelta(days=3))[1] == []
    done = {**ack, "event_id": "d1", "report": "已排查 12 个小区"}
    del done["acknowledged_by"]
    t1, _ = handle("team.task.completed", "d1", done, t1)
    assert t1 is not None and t1["status"] == "COMPLETED"


def test_teams_are_configuration_and_units_are_checked() -> None:
    assert set(CONFIG.teams) == {"heating", "wages"} and all(len(t.groups) == 5 for t in CONFIG.teams.values())
    with pytest.raises(ValueError, match="not a unit on the bus"):
        teams_from_data({"teams": {"x": {"name": "x", "office": {"name": "o", "unit": "HRSS"},
                                         "groups": {"g": {"name": "g", "unit": "MARS"}}}}})


# -- the ledger's views -------------------------------------------------------------------------------
def _fold(view: dict[str, Any], name: str, record: dict[str, Any], event_id: str) -> bool:
    return fold(view, typed(name, record), event_id)


def test_ledger_views_fold_out_of_order_and_once() -> None:
    _, out, mid = _propose()
    view: dict[str, Any] = {}
    joined = {"event_id": "j", "occurred_at": T0 + timedelta(hours=1), "case": out[0][1]["case"], "deadline": None,
              "mediation_id": mid, "unit": "HRSS"}
    assert _fold(view, "mediation.joined", joined, "j")  # the answer before the request (topics are not ordered)
    for name, record in out:
        assert _fold(view, name, record, record["event_id"])
    assert not _fold(view, "mediation.joined", joined, "j")
    [m] = mediations([view], open_only=True)
    assert m["answers"]["HRSS"]["answer"] == "JOINED" and m["answers"]["HOUSING"]["answer"] == "PENDING"
    assert m["convener"] == "JUSTICE" and m["subject"] == "欠薪纠纷联合调处"
    concluded = {**joined, "event_id": "c", "unit": "JUSTICE", "result": "AGREEMENT", "summary": "协议", "referral": None}
    _fold(view, "mediation.concluded", concluded, "c")
    assert mediations([view], open_only=True) == [] and mediations([view])[0]["result"] == "AGREEMENT"


def test_ledger_package_staleness_and_team_aggregates() -> None:
    pkgs, out, pid = _package()
    view: dict[str, Any] = {}
    for name, record in out:
        _fold(view, name, record, record["event_id"])
    [p] = packages([view], T0 + timedelta(days=8))
    assert p["stale"] and p["days_since_report"] == 8.0 and p["percent"] == 0 and not p["overdue"]
    _, _ = _progress(pkgs, pid, "HRSS", T0 + timedelta(days=8), 60, "p1")
    _fold(view, "package.progress", {"event_id": "p1", "occurred_at": T0 + timedelta(days=8), "case": out[0][1]["case"],
                                     "package_id": pid, "unit": "HRSS", "percent": 60, "actions": ["约谈"]}, "p1")
    [p] = packages([view], T0 + timedelta(days=9))
    assert not p["stale"] and p["percent"] == 60
    assert packages([view], datetime(2026, 5, 1, tzinfo=UTC))[0]["overdue"]
    # teams: two groups, one slow
    task_views = []
    for name, record in _tasks(["supply", "complaints"]):
        _, assigned = handle(name, record["event_id"], record, None)
        v: dict[str, Any] = {}
        _fold(v, "team.task.assigned", assigned[0][1], assigned[0][1]["event_id"])
        task_views.append(v)
    _fold(task_views[0], "team.task.completed", {"event_id": "d", "occurred_at": T0 + timedelta(days=1),
                                                "task_number": "HEAT-001-supply", "team": "heating", "group": "supply",
                                                "unit": "HOUSING", "report": "完成"}, "d")
    agg = teams(task_views, T0 + timedelta(days=6))["heating"]
    assert (agg["assigned"], agg["acknowledged"], agg["completed"], agg["overdue"]) == (2, 1, 1, 1)
    groups = agg["campaigns"]["winter-heating-2026"]["groups"]
    assert groups["complaints"]["overdue"] == 1 and groups["supply"]["completed"] == 1


def test_every_emitted_record_fits_its_schema(schemas_bus: Bus) -> None:
    """The handlers' records encode: names, fields and types match the catalogue's schemas."""
    records = []
    book, out, mid = _propose()
    records += out
    book, _ = _answer(book, "mediation.joined", mid, "HRSS", T0, "a1")
    book, out = C.mediation_tick(book, T0 + timedelta(days=3))
    records += out
    records += C.mediation_tick(book, T0 + timedelta(days=6))[1]
    records += _answer(book, "mediation.concluded", mid, "JUSTICE", T0, "c", result="NO_AGREEMENT", summary="s",
                       referral="LITIGATION")[1]
    pkgs, out, pid = _package()
    records += out + C.package_tick(pkgs, T0 + timedelta(days=7))[1]
    name, record = package_extension(CASE, pid, days=5, reason="r", at=T0)
    records += [(name, record)] + handle(name, record["event_id"], record, pkgs)[1]
    for name, record in _tasks(["supply"]):
        task, out = handle(name, record["event_id"], record, None)
        assert task is not None
        records += [(name, record)] + out + C.task_tick(task, T0 + timedelta(days=2))[1]
    kinds = set()
    for name, record in records:
        msg = schemas_bus.codec.encode(name, record, source="/test")
        event = schemas_bus.codec.decode(msg.topic, msg.key, msg.value, msg.headers)
        assert event.type == name
        kinds.add(name)
    assert kinds >= {"mediation.requested", "mediation.reminder", "mediation.escalated", "case.referred",
                     "package.assigned", "package.reminder", "package.extension.requested", "package.extended",
                     "team.task.published", "team.task.assigned", "team.task.reminder"}
