"""The routing matrix as shipped (services/triage/routing.yaml) and triage's decisions.

Every record triage produces is encoded with the real codec, so it is one the bus accepts.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from liandong import HANDLING_UNITS, Codec, SchemaCatalogue, get_settings
from liandong.domain import BUREAU_TZ, ClockConfig
from liandong.domain.routing import RoutingMatrix
from liandong.domain.triage import Triage
from services.triage.app import load_routing
from tests.stand_ins import plain, typed

SCHEMAS = get_settings().schemas_dir
CODEC = Codec(SchemaCatalogue(SCHEMAS))
ROUTING = load_routing()


@dataclass(frozen=True)
class In:
    """An incoming event as triage's decisions read it (``id`` and ``payload``, like the bus's Event),
    from a plain record; its type is the one the decision called reads (``Typed``)."""

    id: str
    data: dict[str, Any]
    type: str = ""
    topic: str = ""
    signature_error: str | None = None

    @property
    def payload(self) -> Any:
        return typed(self.type, self.data)


def ev(event_id: str, data: dict[str, Any]) -> In:
    return In(event_id, data)


_READS = {"registered": "petition.registered", "rejected": "case.handoff.rejected", "decided": "case.jurisdiction.decided"}


class Typed:
    """Triage's decisions over plain records: each event typed as the decision called reads it, each
    output as (event type, plain record with ids as text), the way these tests compare them."""

    def __init__(self, triage: Triage) -> None:
        self.triage = triage

    def __getattr__(self, name: str) -> Any:
        decide = getattr(self.triage, name)

        def call(state: Any, event: In) -> tuple[Any, list[tuple[str, dict[str, Any]]]]:
            new, out = decide(state, replace(event, type=_READS[name]))
            return new, plain(out)

        return call


TRIAGE = Typed(Triage(ROUTING, ClockConfig()))


def end(month: int, day: int) -> datetime:
    """24:00 Beijing time of a day in 2026 (its last millisecond), in UTC as the codec decodes it."""
    return datetime.combine(date(2026, month, day), time(23, 59, 59, 999000), BUREAU_TZ).astimezone(UTC)


def _symbols(fullname: str) -> list[str]:
    return json.loads((SCHEMAS / f"{fullname}.avsc").read_text(encoding="utf-8"))["symbols"]


CATEGORIES = _symbols("liandong.types.MatterCategory")
UNITS = _symbols("liandong.types.Unit")
DIVERSION_CHANNELS = _symbols("liandong.types.DiversionChannel")

T0 = datetime(2026, 11, 20, 1, 30, tzinfo=UTC)  # as the codec decodes timestamp-millis
CASE_NUMBER = "140214-2026-000123"
PETITION_ID = uuid.UUID("7d7c0a52-4b0e-4d8a-9a3e-1e6f0c5b2a11")
PETITIONER = {"name": "赵建国", "id_number": "140214197003150011", "phone": "13500001111", "address": None,
              "group_size": 12}


def registered(summary: str, hint: str = "OTHER", *, event_id: str = "a1f0e7c2-0000-4000-8000-000000000001",
               repeat_of: str | None = None) -> tuple[str, dict[str, Any]]:
    """A decoded petition.registered: (event id, data) as triage's agent receives them."""
    data = {
        "event_id": uuid.UUID(event_id), "occurred_at": T0,
        "case": {"case_number": CASE_NUMBER, "petition_id": PETITION_ID, "district_code": "140214"},
        "deadline": {"clock": "FORWARD", "due_at": T0 + timedelta(days=15), "days": 15, "day_basis": "CALENDAR"},
        "channel": "VISIT", "petitioner": dict(PETITIONER), "summary": summary, "category_hint": hint,
        "idempotency_key": "visit-0001", "received_at": T0 - timedelta(minutes=5), "repeat_of": repeat_of,
    }
    CODEC.encode("petition.registered", data, source="/test")  # the input itself fits its schema
    return event_id, data


def reply(event_type: str, unit: str, at: datetime, name: str, **fields: Any) -> tuple[str, dict[str, Any]]:
    event_id = str(uuid.uuid5(PETITION_ID, name))
    data = {"event_id": uuid.UUID(event_id), "occurred_at": at, "deadline": None, "unit": unit,
            "case": {"case_number": CASE_NUMBER, "petition_id": PETITION_ID, "district_code": "140214"}, **fields}
    CODEC.encode(event_type, data, source="/test")
    return event_id, data


def rejection(unit: str, suggested: str = "UNKNOWN", at: datetime = T0 + timedelta(days=2),
              name: str = "") -> tuple[str, dict[str, Any]]:
    return reply("case.handoff.rejected", unit, at, name or f"reject/{unit}/{at.isoformat()}",
                 reason="不属于本单位职责", suggested_unit=suggested)


def encode_all(out: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Encodes every produced record with the real codec; returns their topics."""
    topics = []
    for name, record in out:
        msg = CODEC.encode(name, record, source="/test")
        assert msg.key == CASE_NUMBER.encode()
        topics.append(msg.topic)
    return topics


def wage_case(summary: str = "某工地拖欠工资三个月") -> dict[str, Any]:
    state, _ = TRIAGE.registered(None, ev(*registered(summary, "WAGE_ARREARS")))
    assert state is not None
    return state


# -- the routing matrix --------------------------------------------------------------------
@pytest.mark.parametrize("category", CATEGORIES)
def test_every_category_is_diverted_or_routed_to_handling_units(category: str) -> None:
    decision = ROUTING.decide(category, "")
    assert decision.category == category
    if decision.diversion is not None:
        assert decision.route is None
        assert decision.diversion.channel in DIVERSION_CHANNELS and decision.diversion.channel != "UNKNOWN"
        assert decision.diversion.explanation.strip()
    else:
        assert decision.route is not None
        assert decision.route.lead in HANDLING_UNITS
        assert set(decision.co_units) <= set(HANDLING_UNITS)
        assert decision.route.lead not in decision.co_units
        assert decision.route.mode in ("FORWARD", "ASSIGN")


def test_the_matrix_names_only_schema_categories_and_units() -> None:
    assert set(ROUTING.routes) <= set(CATEGORIES)
    assert set(ROUTING.diversions) <= set(CATEGORIES)
    assert {c for c, _ in ROUTING.keywords} <= set(CATEGORIES)
    assert not set(ROUTING.routes) & set(ROUTING.diversions)
    for route in ROUTING.routes.values():
        assert {u for u, _ in route.co_if} <= set(HANDLING_UNITS) <= set(UNITS)
    assert ROUTING.handling_units == set(HANDLING_UNITS)


@pytest.mark.parametrize(("category", "lead_or_channel"), [
    ("WAGE_ARREARS", "HRSS"), ("HEATING", "HOUSING"), ("PROPERTY_MANAGEMENT", "HOUSING"), ("PUBLIC_ORDER", "POLICE"),
    ("CIVIL_DISPUTE", "JUSTICE"), ("OTHER", "STREET_OFFICE"),
    ("LITIGATION", "LITIGATION"), ("ARBITRATION", "ARBITRATION"), ("OFFICIAL_MISCONDUCT", "DISCIPLINE"),
])
def test_the_matrix_follows_the_domain_brief(category: str, lead_or_channel: str) -> None:
    d = ROUTING.decide(category, "")
    assert (d.diversion.channel if d.diversion else d.route.lead) == lead_or_channel  # type: ignore[union-attr]


def test_a_category_without_a_route_falls_back_to_the_other_route() -> None:
    matrix = RoutingMatrix.from_data({"routes": {"OTHER": {"lead": "JUSTICE"}}})
    assert matrix.decide("LAND", "").route == matrix.fallback
    assert matrix.fallback.lead == "JUSTICE"
    assert RoutingMatrix.from_data({"routes": {}}).fallback.lead == "STREET_OFFICE"


@pytest.mark.parametrize(("summary", "category"), [
    ("今年冬天小区供暖温度不达标", "HEATING"),
    ("家里暖气不热", "HEATING"),
    ("对法院的判决不服", "LITIGATION"),
    ("老板拖欠工资三个月", "WAGE_ARREARS"),
    ("物业乱收费", "PROPERTY_MANAGEMENT"),
    ("新房漏水", "HOUSING_QUALITY"),
    ("申请劳动仲裁", "ARBITRATION"),
    ("反映干部作风问题", "OFFICIAL_MISCONDUCT"),
    ("邻里之间因排水发生纠纷", "CIVIL_DISPUTE"),
    ("养老金没有按时发放", "SOCIAL_SECURITY"),
    ("咨询办事流程", "OTHER"),
])
def test_keywords_classify_when_the_hint_is_other(summary: str, category: str) -> None:
    assert ROUTING.classify("OTHER", summary) == category
    assert ROUTING.classify("", summary) == category


def test_an_explicit_hint_wins_over_keywords() -> None:
    assert ROUTING.classify("HEATING", "对法院的判决不服") == "HEATING"
    assert ROUTING.decide("HEATING", "对法院的判决不服").diversion is None


def test_keyword_rules_are_tried_in_file_order() -> None:
    # Both a litigation and a wage word: the litigation rule comes first and diverts.
    assert ROUTING.classify("OTHER", "拖欠工资，已向法院起诉") == "LITIGATION"


@pytest.mark.parametrize(("summary", "co_units"), [
    ("老板恶意欠薪，拒不见面", ("POLICE",)),
    ("工人在公司门口聚集讨薪", ("POLICE",)),
    ("拖欠工资三个月", ()),  # no construction project, no crowd: HRSS alone, no one else sees the petitioner
    ("建筑工地拖欠农民工工资", ("HOUSING",)),
    ("施工队恶意欠薪后工人聚集", ("HOUSING", "POLICE")),
])
def test_wage_arrears_adds_housing_and_police_only_when_the_summary_calls_for_it(summary: str, co_units: tuple[str, ...]) -> None:
    d = ROUTING.decide("WAGE_ARREARS", summary)
    assert d.route is not None and d.route.lead == "HRSS"
    assert d.co_units == co_units


def test_conditional_co_units_belong_to_their_route_only() -> None:
    assert "POLICE" not in ROUTING.decide("HEATING", "供暖公司恶意欠薪").co_units


@pytest.mark.parametrize(("tried", "suggested", "expected"), [
    (["HOUSING"], "JUSTICE", "JUSTICE"),  # the objector's suggestion
    (["HOUSING"], "UNKNOWN", "STREET_OFFICE"),  # no suggestion: first co-unit of the route
    (["HOUSING"], None, "STREET_OFFICE"),
    (["HOUSING"], "HOUSING", "STREET_OFFICE"),  # a unit already tried is not suggested again
    (["HOUSING"], "COURT", "STREET_OFFICE"),  # not a handling unit
    (["HOUSING", "STREET_OFFICE"], None, "JUSTICE"),
    (["HOUSING", "STREET_OFFICE", "JUSTICE"], None, None),  # exhausted
])
def test_next_lead(tried: list[str], suggested: str | None, expected: str | None) -> None:
    assert ROUTING.next_lead("HEATING", tried, suggested) == expected


# -- Triage.registered ---------------------------------------------------------------------
def test_a_routed_petition_is_triaged_and_handed_to_each_unit() -> None:
    state, out = TRIAGE.registered(None, ev(*registered("施工工地老板恶意欠薪三个月", "WAGE_ARREARS")))
    assert [name for name, _ in out] == ["petition.triaged"] + ["case.handoff.requested"] * 3
    triaged = out[0][1]
    assert (triaged["category"], triaged["lead_unit"], triaged["co_units"], triaged["mode"]) == (
        "WAGE_ARREARS", "HRSS", ["HOUSING", "POLICE"], "ASSIGN")
    assert triaged["rationale"] and triaged["occurred_at"] == T0
    handoffs = [r for _, r in out[1:]]
    assert [(h["unit"], h["role"]) for h in handoffs] == [("HRSS", "LEAD"), ("HOUSING", "CO"), ("POLICE", "CO")]
    for h in handoffs:
        # Fri 20 Nov + 15 days: Sat 5 Dec, a rest day: Mon 7 Dec, 24:00
        assert h["deadline"] == {"clock": "ACCEPTANCE_NOTICE", "due_at": end(12, 7), "days": 15,
                                 "day_basis": "CALENDAR"}
        assert h["objection_due_at"] == end(11, 27)  # 5 working days: Mon 23 .. Fri 27 Nov
        assert (h["mode"], h["category"], h["attempt"], h["summary"]) == ("ASSIGN", "WAGE_ARREARS", 1, "施工工地老板恶意欠薪三个月")
        assert h["petitioner"] == PETITIONER
        assert h["case"] == {"case_number": CASE_NUMBER, "petition_id": str(PETITION_ID), "district_code": "140214"}
    assert state is not None
    assert (state["lead"], state["co"], state["tried"], state["attempt"], state["escalated"]) == (
        "HRSS", ["HOUSING", "POLICE"], ["HRSS"], 1, False)
    assert encode_all(out) == ["liandong.bureau.triage", "liandong.unit.hrss.inbox", "liandong.unit.housing.inbox",
                               "liandong.unit.police.inbox"]


def test_personal_data_travels_only_on_the_handoffs() -> None:
    _, out = TRIAGE.registered(None, ev(*registered("拖欠工资三个月", "WAGE_ARREARS")))
    name, triaged = out[0]
    assert "petitioner" not in triaged
    value = CODEC.encode(name, triaged, source="/test").value
    for pii in (PETITIONER["name"], PETITIONER["id_number"], PETITIONER["phone"]):
        assert pii.encode() not in value  # type: ignore[union-attr]
    assert all(r["petitioner"] == PETITIONER for n, r in out if n == "case.handoff.requested")


def test_keyword_classification_drives_the_route() -> None:
    _, out = TRIAGE.registered(None, ev(*registered("小区供暖不热", "OTHER")))
    assert out[0][1]["category"] == "HEATING" and out[0][1]["lead_unit"] == "HOUSING"
    assert [r["unit"] for n, r in out if n == "case.handoff.requested"] == ["HOUSING", "STREET_OFFICE", "JUSTICE"]
    encode_all(out)


def test_the_same_input_yields_the_same_event_ids() -> None:
    _, first = TRIAGE.registered(None, ev(*registered("老板恶意欠薪", "WAGE_ARREARS")))
    _, again = TRIAGE.registered(None, ev(*registered("老板恶意欠薪", "WAGE_ARREARS")))
    _, other = TRIAGE.registered(None, ev(*registered("老板恶意欠薪", "WAGE_ARREARS", event_id=str(uuid.uuid4()))))
    ids = [r["event_id"] for _, r in first]
    assert ids == [r["event_id"] for _, r in again]
    assert len(set(ids)) == len(ids)
    assert not set(ids) & {r["event_id"] for _, r in other}
    assert all(uuid.UUID(i) for i in ids)


@pytest.mark.parametrize(("summary", "hint", "channel"), [
    ("对法院的判决不服", "OTHER", "LITIGATION"),
    ("不服行政处罚决定", "LITIGATION", "LITIGATION"),
    ("反映某干部吃拿卡要", "OTHER", "DISCIPLINE"),
    ("劳动合同纠纷", "ARBITRATION", "ARBITRATION"),
])
def test_a_diverted_petition_yields_only_petition_diverted(summary: str, hint: str, channel: str) -> None:
    state, out = TRIAGE.registered(None, ev(*registered(summary, hint)))
    assert state is not None and state["diverted"] == channel and state["lead"] is None  # kept: the bureau may route it
    assert [name for name, _ in out] == ["petition.diverted"]
    record = out[0][1]
    assert record["diversion_channel"] == channel and record["explanation"]
    assert "petitioner" not in record
    assert encode_all(out) == ["liandong.bureau.triage"]


def test_a_repeat_petition_yields_nothing() -> None:
    assert TRIAGE.registered(None, ev(*registered("拖欠工资", "WAGE_ARREARS", repeat_of="140214-2026-000007"))) == (None, [])


# -- Triage.rejected ---------------------------------------------------------------------
def test_lead_objection_with_a_suggestion_reroutes_to_it() -> None:
    state = wage_case()
    at = T0 + timedelta(days=2)
    new, out = TRIAGE.rejected(state, ev(*rejection("HRSS", "JUSTICE", at)))
    assert [name for name, _ in out] == ["case.handoff.requested"]
    h = out[0][1]
    assert (h["unit"], h["role"], h["attempt"], h["mode"]) == ("JUSTICE", "LEAD", 2, "ASSIGN")
    assert h["deadline"]["due_at"] == end(12, 7) and h["petitioner"] == PETITIONER  # Sun 22 Nov + 15
    assert new is not None and (new["lead"], new["tried"], new["attempt"]) == ("JUSTICE", ["HRSS", "JUSTICE"], 2)
    assert state["lead"] == "HRSS"  # the old state is not mutated
    assert encode_all(out) == ["liandong.unit.justice.inbox"]


def test_lead_objection_without_a_suggestion_promotes_the_first_co_unit() -> None:
    new, out = TRIAGE.rejected(wage_case(), ev(*rejection("HRSS")))
    assert [(r["unit"], r["role"]) for _, r in out] == [("HOUSING", "LEAD")]
    assert new is not None and new["lead"] == "HOUSING" and "HOUSING" not in new["co"]
    encode_all(out)


def test_rerouting_ids_are_deterministic() -> None:
    event_id, data = rejection("HRSS", "JUSTICE")
    _, first = TRIAGE.rejected(wage_case(), ev(event_id, data))
    _, again = TRIAGE.rejected(wage_case(), ev(event_id, data))
    assert first == again


def test_a_co_unit_objection_yields_nothing() -> None:
    current = wage_case()
    assert TRIAGE.rejected(current, ev(*rejection("HOUSING", "POLICE"))) == (current, [])


def test_an_objection_from_a_former_lead_is_ignored() -> None:
    state, _ = TRIAGE.rejected(wage_case(), ev(*rejection("HRSS", "JUSTICE")))
    assert TRIAGE.rejected(state, ev(*rejection("HRSS", "POLICE", T0 + timedelta(days=3)))) == (state, [])


@pytest.mark.parametrize("max_bounces", [1, 2, 3])
def test_after_max_bounces_objections_jurisdiction_is_escalated(max_bounces: int) -> None:
    triage = Typed(Triage(ROUTING, ClockConfig(max_bounces=max_bounces)))
    state, _ = triage.registered(None, ev(*registered("拖欠工资三个月", "WAGE_ARREARS")))
    suggestions = ["JUSTICE", "POLICE", "STREET_OFFICE"]
    out: list[tuple[str, dict[str, Any]]] = []
    for n in range(max_bounces):
        assert state is not None
        at = T0 + timedelta(days=n + 1)
        state, out = triage.rejected(state, ev(*rejection(state["lead"], suggestions[n], at)))
        if n < max_bounces - 1:
            assert [name for name, _ in out] == ["case.handoff.requested"]
    assert [name for name, _ in out] == ["case.jurisdiction.escalated"]
    expected_tried = ["HRSS", *suggestions[: max_bounces - 1]]
    assert out[0][1]["units_tried"] == expected_tried
    assert out[0][1]["reason"] == "不属于本单位职责"
    assert state is not None and state["escalated"] is True
    assert encode_all(out) == ["liandong.bureau.triage"]
    # Escalated: further objections wait for the bureau's decision.
    assert triage.rejected(state, ev(*rejection(state["lead"], "HOUSING", T0 + timedelta(days=9)))) == (state, [])


def test_default_config_escalates_on_the_second_objection() -> None:
    state, _ = TRIAGE.rejected(wage_case(), ev(*rejection("HRSS", "JUSTICE")))
    state, out = TRIAGE.rejected(state, ev(*rejection("JUSTICE", "POLICE", T0 + timedelta(days=4))))
    assert [name for name, _ in out] == ["case.jurisdiction.escalated"]
    assert out[0][1]["units_tried"] == ["HRSS", "JUSTICE"]


def test_exhausted_candidates_escalate_before_max_bounces() -> None:
    triage = Typed(Triage(ROUTING, ClockConfig(max_bounces=5)))
    state, _ = triage.registered(None, ev(*registered("养老金没有发放", "SOCIAL_SECURITY")))  # HRSS, no co-units
    new, out = triage.rejected(state, ev(*rejection("HRSS")))
    assert [name for name, _ in out] == ["case.jurisdiction.escalated"]
    assert out[0][1]["units_tried"] == ["HRSS"] and new is not None and new["escalated"]


# -- Triage.decided ----------------------------------------------------------------------
def test_the_bureaus_decision_hands_the_case_to_the_decided_unit() -> None:
    state, _ = TRIAGE.rejected(wage_case(), ev(*rejection("HRSS", "JUSTICE")))
    state, _ = TRIAGE.rejected(state, ev(*rejection("JUSTICE", "POLICE", T0 + timedelta(days=4))))
    assert state is not None and state["escalated"]
    at = T0 + timedelta(days=6)
    event_id, data = reply("case.jurisdiction.decided", "HOUSING", at, "decided", decided_by="区信访联席会议",
                           reason="工程建设项目欠薪由住建牵头")
    new, out = TRIAGE.decided(state, ev(event_id, data))
    assert [name for name, _ in out] == ["case.handoff.requested"]
    h = out[0][1]
    assert (h["unit"], h["role"], h["mode"], h["attempt"]) == ("HOUSING", "LEAD", "ASSIGN", 3)
    assert h["deadline"]["due_at"] == end(12, 11) and h["petitioner"] == PETITIONER  # Thu 26 Nov + 15
    assert new is not None and (new["lead"], new["escalated"]) == ("HOUSING", False)
    assert "HOUSING" not in new["co"] and new["tried"] == ["HRSS", "JUSTICE", "HOUSING"]
    assert encode_all(out) == ["liandong.unit.housing.inbox"]
    assert TRIAGE.decided(state, ev(event_id, data)) == (new, out)


def test_a_decision_on_an_unknown_case_yields_nothing() -> None:
    event_id, data = reply("case.jurisdiction.decided", "HOUSING", T0, "decided-unknown", decided_by="局务会", reason="r")
    assert TRIAGE.decided(None, ev(event_id, data)) == (None, [])


# -- a triage the bureau can correct ------------------------------------------------------------
def test_classification_carries_what_it_matched_on() -> None:
    _, out = TRIAGE.registered(None, ev(*registered("小区暖气不热，供暖公司不理", "OTHER")))
    assert out[0][0] == "petition.triaged" and out[0][1]["matched"] == ["供暖", "暖气"]
    _, explicit = TRIAGE.registered(None, ev(*registered("小区暖气不热", "HEATING")))
    assert explicit[0][1]["matched"] == []  # intake's category: matched on nothing
    _, diverted = TRIAGE.registered(None, ev(*registered("对法院的判决不服", "OTHER")))
    assert diverted[0][1]["matched"] == ["判决", "法院"]
    encode_all(out + explicit + diverted)


def test_a_discipline_complaint_beside_a_service_problem_gets_both_handled() -> None:
    """"街道干部作风粗暴，小区供暖一直不达标": the heating problem is routed to housing, the
    discipline part is named with its channel; neither is dropped."""
    state, out = TRIAGE.registered(None, ev(*registered("街道干部作风粗暴，小区供暖一直不达标", "OTHER")))
    names = [name for name, _ in out]
    assert names[0] == "petition.triaged" and "case.handoff.requested" in names
    triaged = out[0][1]
    assert (triaged["category"], triaged["lead_unit"], triaged["matched"]) == ("HEATING", "HOUSING", ["供暖"])
    assert triaged["diverted_part_channel"] == "DISCIPLINE" and "纪检监察" in triaged["diverted_part_explanation"]
    assert state is not None and state["lead"] == "HOUSING"
    encode_all(out)


def test_a_clerks_diversion_stands_and_a_plain_petition_names_no_other_part() -> None:
    _, out = TRIAGE.registered(None, ev(*registered("劳动合同纠纷", "ARBITRATION")))
    assert [name for name, _ in out] == ["petition.diverted"]
    _, routed = TRIAGE.registered(None, ev(*registered("拖欠工资三个月", "WAGE_ARREARS")))
    assert routed[0][1]["diverted_part_channel"] is None


def test_the_bureau_routes_a_diverted_case_after_all() -> None:
    state, _ = TRIAGE.registered(None, ev(*registered("反映某干部吃拿卡要", "OTHER")))
    event_id, data = reply("case.jurisdiction.decided", "STREET_OFFICE", T0 + timedelta(days=1), "undivert",
                           decided_by="信访局", reason="经审查属服务态度问题，由街道办理")
    new, out = TRIAGE.decided(state, ev(event_id, data))
    assert [name for name, _ in out] == ["case.handoff.requested"]
    h = out[0][1]
    assert (h["unit"], h["role"], h["attempt"]) == ("STREET_OFFICE", "LEAD", 1) and h["petitioner"] == PETITIONER
    assert new is not None and new["diverted"] is None and new["lead"] == "STREET_OFFICE"
    encode_all(out)


def test_the_bureau_re_routes_a_routed_case() -> None:
    state = wage_case()
    event_id, data = reply("case.jurisdiction.decided", "STREET_OFFICE", T0 + timedelta(days=1), "reroute",
                           decided_by="信访局", reason="属地处理")
    new, out = TRIAGE.decided(state, ev(event_id, data))
    assert [(r["unit"], r["role"]) for _, r in out] == [("STREET_OFFICE", "LEAD")]
    assert new is not None and new["lead"] == "STREET_OFFICE" and "STREET_OFFICE" in new["handoffs"]
