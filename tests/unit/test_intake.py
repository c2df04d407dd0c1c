"""Intake's registry (case numbers, idempotency, repeats) and submission validation."""

from __future__ import annotations

import json
import re
import typing
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from liandong import get_settings
from services.intake.registry import IntakeRegistry, Registration
from services.intake.submission import Category, Channel, Submission, field_errors

DISTRICT = "140214"
ID_NUMBER = "14021419800101002X"


def matter(name: str = "王秀英", id_number: str | None = ID_NUMBER, phone: str | None = "13912345678",
           category: str = "WAGE_ARREARS") -> str:
    return IntakeRegistry.matter_key(name, id_number, phone, category)


@pytest.fixture
def reg() -> IntakeRegistry:
    return IntakeRegistry(DISTRICT)


# -- case numbers --------------------------------------------------------------------------
def test_case_numbers_are_sequential_and_readable_per_year(reg: IntakeRegistry) -> None:
    numbers = [reg.register(f"k{i}", matter(name=f"p{i}", id_number=None), 2026).case_number for i in range(1, 4)]
    assert numbers == ["140214-2026-000001", "140214-2026-000002", "140214-2026-000003"]
    assert all(re.fullmatch(r"\d{6}-\d{4}-\d{6}", n) for n in numbers)


def test_each_year_has_its_own_sequence(reg: IntakeRegistry) -> None:
    assert reg.register("a", matter(name="a", id_number=None), 2026).case_number == "140214-2026-000001"
    assert reg.register("b", matter(name="b", id_number=None), 2027).case_number == "140214-2027-000001"
    assert reg.register("c", matter(name="c", id_number=None), 2026).case_number == "140214-2026-000002"


# -- idempotency -------------------------------------------------------------------------
def test_the_same_idempotency_key_returns_the_same_case_and_is_not_new(reg: IntakeRegistry) -> None:
    first = reg.register("visit-0001", matter(), 2026)
    again = reg.register("visit-0001", matter(), 2026)
    assert first == Registration("140214-2026-000001", new=True)
    assert again == Registration("140214-2026-000001", new=False)
    # A duplicate consumes no number.
    assert reg.register("visit-0002", matter(name="other", id_number=None), 2026).case_number == "140214-2026-000002"


def test_a_known_key_wins_whatever_else_is_sent(reg: IntakeRegistry) -> None:
    reg.register("visit-0001", matter(), 2026)
    assert reg.register("visit-0001", matter(category="HEATING"), 2027) == Registration("140214-2026-000001", new=False)


# -- repeats -----------------------------------------------------------------------------
def test_repeats_link_to_the_original_case(reg: IntakeRegistry) -> None:
    original = reg.register("k1", matter(), 2026)
    second = reg.register("k2", matter(), 2026)
    third = reg.register("k3", matter(), 2026)
    assert original.repeat_of is None
    assert (second.case_number, second.repeat_of) == ("140214-2026-000002", "140214-2026-000001")
    assert (third.case_number, third.repeat_of) == ("140214-2026-000003", "140214-2026-000001")
    assert second.new and third.new


def test_another_person_or_another_kind_of_matter_is_not_a_repeat(reg: IntakeRegistry) -> None:
    reg.register("k1", matter(), 2026)
    assert reg.register("k2", matter(category="HEATING"), 2026).repeat_of is None
    assert reg.register("k3", matter(id_number="110105194912310021"), 2026).repeat_of is None


def test_earlier_closed_is_reported_after_the_original_closes(reg: IntakeRegistry) -> None:
    reg.register("k1", matter(), 2026)
    assert reg.register("k2", matter(), 2026).earlier_closed is False
    reg.close("140214-2026-000001", datetime(2026, 3, 20, tzinfo=UTC))
    later = reg.register("k3", matter(), 2026)
    assert (later.repeat_of, later.earlier_closed) == ("140214-2026-000001", True)


def test_closing_a_repeat_does_not_close_the_original(reg: IntakeRegistry) -> None:
    reg.register("k1", matter(), 2026)
    reg.register("k2", matter(), 2026)
    reg.close("140214-2026-000002", datetime(2026, 3, 20, tzinfo=UTC))
    assert reg.register("k3", matter(), 2026).earlier_closed is False


def test_a_repeat_is_within_the_review_window_after_closure_and_later_a_new_case() -> None:
    """Heating next winter: the same household's complaint, a year after its case closed, is a new
    case; within 30 days of the closure it is a repeat of it (repeat_window_days)."""
    from liandong import load_clocks

    clocks = load_clocks()
    reg = IntakeRegistry(DISTRICT, window_end=clocks.repeat_window_end)
    heating = matter(category="HEATING")
    first = reg.register("winter-1", heating, 2025, datetime(2025, 12, 1, tzinfo=UTC))
    closed = datetime(2026, 1, 10, 2, 0, tzinfo=UTC)  # Sat 10 Jan 2026, Beijing morning
    reg.close(first.case_number, closed)
    # 30 days: Mon 9 Feb 2026, 24:00 Beijing time
    soon = reg.register("winter-2", heating, 2026, datetime(2026, 2, 9, 15, 0, tzinfo=UTC))  # 23:00 Beijing
    assert (soon.repeat_of, soon.earlier_closed) == (first.case_number, True)
    next_winter = reg.register("winter-3", heating, 2026, datetime(2026, 11, 20, tzinfo=UTC))
    assert next_winter.repeat_of is None and next_winter.new
    again = reg.register("winter-4", heating, 2026, datetime(2026, 11, 25, tzinfo=UTC))
    assert (again.repeat_of, again.earlier_closed) == (next_winter.case_number, False)  # the new case is the matter's now
    day_after = IntakeRegistry(DISTRICT, window_end=clocks.repeat_window_end)
    day_after.register("a", heating, 2026, datetime(2026, 1, 1, tzinfo=UTC))
    day_after.close("140214-2026-000001", closed)
    assert day_after.register("b", heating, 2026, datetime(2026, 2, 9, 16, 0, tzinfo=UTC)).repeat_of is None  # 00:00 10 Feb


def test_an_open_case_takes_repeats_however_long_it_runs() -> None:
    from liandong import load_clocks

    reg = IntakeRegistry(DISTRICT, window_end=load_clocks().repeat_window_end)
    first = reg.register("k1", matter(), 2025, datetime(2025, 1, 5, tzinfo=UTC))
    assert reg.register("k2", matter(), 2026, datetime(2026, 6, 1, tzinfo=UTC)).repeat_of == first.case_number


# -- matter keys ---------------------------------------------------------------------------
def test_matter_key_is_a_hash_without_personal_data() -> None:
    key = matter()
    assert re.fullmatch(r"[0-9a-f]{32}", key)
    for clear in ("王秀英", ID_NUMBER, ID_NUMBER.lower(), "13912345678", "WAGE_ARREARS", "1980"):
        assert clear not in key
    no_id = matter(id_number=None)
    assert re.fullmatch(r"[0-9a-f]{32}", no_id) and "13912345678" not in no_id
    assert key == matter()  # deterministic: rebuilt from the log on start


def test_matter_key_identifies_the_person_by_id_number_first() -> None:
    assert matter(name="王秀英", phone="1") == matter(name="王 秀英", phone="2")
    assert matter(id_number=ID_NUMBER.lower()) == matter()
    assert matter(category="HEATING") != matter()


def test_without_an_id_number_name_and_phone_identify_the_person() -> None:
    assert matter(name=" 王秀英 ", id_number=None) == matter(id_number=None)
    assert matter(id_number=None, phone="13900000000") != matter(id_number=None)
    assert matter(name="李四", id_number=None) != matter(id_number=None)
    assert matter(id_number=None, phone=None) == matter(id_number=None, phone="")


# -- rebuilding from the log -----------------------------------------------------------------
def test_remember_continues_the_sequence_from_the_log(reg: IntakeRegistry) -> None:
    reg.remember("k41", matter(name="a", id_number=None), "140214-2026-000041")
    reg.remember("k7", matter(name="b", id_number=None), "140214-2026-000007")  # read out of order
    assert reg.register("k42", matter(name="c", id_number=None), 2026).case_number == "140214-2026-000042"
    assert reg.register("k1", matter(name="d", id_number=None), 2025).case_number == "140214-2025-000001"
    assert reg.register("k41", matter(), 2026) == Registration("140214-2026-000041", new=False)


@pytest.mark.parametrize("case_number", [
    "140214-smoke-000003",  # the smoke scenario's numbers
    "140299-2026-000500",  # another district
    "140214-2026-x00009",
    "140214",
])
def test_remember_ignores_non_conforming_case_numbers_for_the_sequence(reg: IntakeRegistry, case_number: str) -> None:
    reg.remember("old", matter(), case_number)
    assert reg.last_seq == {}
    assert reg.register("new", matter(name="x", id_number=None), 2026).case_number == "140214-2026-000001"
    # ... but still knows the key and the matter.
    assert reg.register("old", matter(), 2026) == Registration(case_number, new=False)
    assert reg.register("again", matter(), 2026).repeat_of == case_number


def test_remember_keeps_the_original_case_for_repeats(reg: IntakeRegistry) -> None:
    reg.remember("k1", matter(), "140214-2026-000001")
    reg.remember("k2", matter(), "140214-2026-000002", repeat_of="140214-2026-000001")  # itself a repeat, read back
    assert reg.register("k3", matter(), 2026).repeat_of == "140214-2026-000001"


# -- Submission ----------------------------------------------------------------------------
def valid(**overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "idempotency_key": "visit-0001", "channel": "VISIT", "received_at": "2026-03-01T09:30:00+08:00",
        "petitioner": {"name": "王秀英", "id_number": ID_NUMBER, "phone": "139-1234-5678", "address": "平城区某街1号"},
        "summary": "拖欠工资三个月", "category": "WAGE_ARREARS",
    }
    raw.update(overrides)
    return raw


def errors_of(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as info:
        Submission.model_validate(raw)
    return field_errors(info.value)


def test_a_valid_submission_is_normalised() -> None:
    sub = Submission.model_validate(valid(summary="  拖欠工资三个月  ", petitioner={"name": " 王秀英 ", "id_number": "14021419800101002x"}))
    assert sub.received_at == datetime(2026, 3, 1, 1, 30, tzinfo=UTC)
    assert sub.received_at.tzinfo == UTC
    assert sub.summary == "拖欠工资三个月" and sub.petitioner.name == "王秀英"
    assert sub.petitioner.group_size == 1 and sub.petitioner.phone is None


def test_category_defaults_to_other() -> None:
    raw = valid()
    del raw["category"]
    assert Submission.model_validate(raw).category == "OTHER"


def test_received_at_keeps_the_instant_of_any_offset() -> None:
    sub = Submission.model_validate(valid(received_at=datetime(2026, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=8)))))
    assert sub.received_at == datetime(2026, 3, 1, 1, 30, tzinfo=UTC)


def _without_name(raw: dict[str, Any]) -> dict[str, Any]:
    del raw["petitioner"]["name"]
    return raw


@pytest.mark.parametrize(("raw", "expected"), [
    (_without_name(valid()), "petitioner.name: Field required"),
    (valid(petitioner={"name": "   "}), "petitioner.name: String should have at least 1 character"),
    (valid(channel="FAX"), "channel: must be one of 'ONLINE', 'VISIT', 'LETTER' or 'HOTLINE_12345'"),
    (valid(received_at="2026-03-01T09:30:00"),
     "received_at: Value error, must include a time zone offset, e.g. 2026-03-01T09:30:00+08:00"),
    (valid(fax_number="0351-1234567"), "fax_number: unknown field"),
    (valid(petitioner={"name": "王秀英", "email": "a@b.c"}), "petitioner.email: unknown field"),
    (valid(petitioner={"name": "王秀英", "group_size": 0}), "petitioner.group_size: Input should be greater than or equal to 1"),
    (valid(summary=""), "summary: String should have at least 1 character"),
    (valid(idempotency_key=" "), "idempotency_key: String should have at least 1 character"),
])
def test_field_errors_name_the_field_and_the_problem(raw: dict[str, Any], expected: str) -> None:
    assert errors_of(raw) == [expected]


@pytest.mark.parametrize("id_number", ["1402141980010100", "14021419800101002Y", "14021419800101002X1", "ABCDEFGHIJKLMNOPQR"])
def test_a_bad_id_number_is_reported_on_its_field(id_number: str) -> None:
    [line] = errors_of(valid(petitioner={"name": "王秀英", "id_number": id_number}))
    assert line == "petitioner.id_number: Value error, must be an 18-character resident ID number (17 digits, then a digit or X)"


@pytest.mark.parametrize("phone", ["12", "phone", "+86 139 1234 5678"])
def test_a_bad_phone_is_reported_on_its_field(phone: str) -> None:
    [line] = errors_of(valid(petitioner={"name": "王秀英", "phone": phone}))
    assert line.startswith("petitioner.phone: ")


def test_a_bad_category_lists_the_allowed_ones() -> None:
    [line] = errors_of(valid(category="NOISE"))
    assert line.startswith("category: must be one of 'WAGE_ARREARS', ") and line.endswith(" or 'OTHER'")


def test_every_problem_of_a_submission_is_reported_at_once() -> None:
    lines = errors_of({"channel": "FAX", "petitioner": {"id_number": "1"}, "extra": 1})
    fields = [line.split(":", 1)[0] for line in lines]
    assert sorted(fields) == sorted(["idempotency_key", "channel", "received_at", "petitioner.name", "petitioner.id_number",
                                     "summary", "extra"])
    assert "extra: unknown field" in lines


def test_a_record_level_error_has_a_placeholder_path() -> None:
    with pytest.raises(ValidationError) as info:
        Submission.model_validate(["not", "a", "record"])
    assert [line.split(":", 1)[0] for line in field_errors(info.value)] == ["(record)"]


def _symbols(fullname: str) -> list[str]:
    return json.loads((get_settings().schemas_dir / f"{fullname}.avsc").read_text(encoding="utf-8"))["symbols"]


def test_submission_choices_match_the_schema_enums() -> None:
    assert list(typing.get_args(Category)) == _symbols("liandong.types.MatterCategory")
    assert list(typing.get_args(Channel)) == [s for s in _symbols("liandong.types.Channel") if s != "UNKNOWN"]


def test_planning_a_registration_changes_nothing_until_it_is_remembered(reg: IntakeRegistry) -> None:
    """A publish that fails leaves no trace: the retry gets the same number and is no repeat."""
    first = reg.plan("k1", matter(), 2026)
    retry = reg.plan("k1", matter(), 2026)
    assert first == retry and first.new and first.repeat_of is None
    assert reg.by_key == {} and reg.by_matter == {} and reg.last_seq == {}
    reg.remember("k1", matter(), retry.case_number)
    assert reg.plan("k1", matter(), 2026).new is False


def test_a_case_is_numbered_in_the_bureau_year() -> None:
    sub = Submission.model_validate(valid(received_at="2027-01-01T05:00:00+08:00"))
    assert sub.received_at.year == 2026  # stored in UTC
    assert sub.bureau_year == 2027


# -- items assigned from above (上级交办) --------------------------------------------------------
def test_an_item_from_above_carries_its_own_due_date_or_limit() -> None:
    from datetime import date, time

    from liandong import load_clocks
    from liandong.domain import BUREAU_TZ

    clocks = load_clocks()
    ordinary = Submission.model_validate(valid())
    assert ordinary.assigned is None and ordinary.due_from_above(clocks) is None
    by_date = Submission.model_validate(valid(assigned={"by": "市信访局", "due_on": "2026-03-10"}))
    assert by_date.due_from_above(clocks) == datetime.combine(date(2026, 3, 10), time(23, 59, 59, 999000), BUREAU_TZ)
    # received Sun 1 Mar, 7 days: Sun 8 Mar, a rest day, so Mon 9 Mar (the Civil Code's rule, as every period)
    by_limit = Submission.model_validate(valid(assigned={"by": "省信访局", "limit_days": 7}))
    assert by_limit.due_from_above(clocks) == datetime.combine(date(2026, 3, 9), time(23, 59, 59, 999000), BUREAU_TZ)


@pytest.mark.parametrize(("assigned", "words"), [
    ({"by": "市信访局"}, "either due_on or limit_days"),
    ({"by": "市信访局", "due_on": "2026-03-10", "limit_days": 5}, "either due_on or limit_days"),
    ({"by": "市信访局", "due_on": "2026-02-27"}, "before the petition was received"),
    ({"by": " ", "limit_days": 5}, "assigned.by"),
    ({"by": "市信访局", "limit_days": 0}, "assigned.limit_days"),
])
def test_an_item_from_above_without_a_clear_limit_is_refused(assigned: dict[str, Any], words: str) -> None:
    assert any(words in e for e in errors_of(valid(assigned=assigned))), errors_of(valid(assigned=assigned))


def test_each_intake_instance_numbers_from_its_own_stripe_after_every_number_given() -> None:
    second = IntakeRegistry(DISTRICT, instance=1, instances=3)
    assert second.register("k1", "m1", 2026).case_number == f"{DISTRICT}-2026-000002"
    second.remember("k2", "m2", f"{DISTRICT}-2026-000007")  # given by instance 0 meanwhile (read from the log)
    assert second.register("k3", "m3", 2026).case_number == f"{DISTRICT}-2026-000008"
    assert IntakeRegistry(DISTRICT).register("k1", "m1", 2026).case_number == f"{DISTRICT}-2026-000001"


def test_bad_settings_are_named_not_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    from liandong import StartupError

    monkeypatch.setenv("LIANDONG_INTAKE_INSTANCE", "2")
    monkeypatch.setenv("LIANDONG_INTAKE_INSTANCES", "2")
    get_settings.cache_clear()
    try:
        with pytest.raises(StartupError, match="LIANDONG_INTAKE_INSTANCE 2 is not below LIANDONG_INTAKE_INSTANCES 2"):
            get_settings()
        monkeypatch.setenv("LIANDONG_INTAKE_INSTANCE", "0")
        monkeypatch.setenv("LIANDONG_TOPIC_PARTITIONS", "twelve")
        get_settings.cache_clear()
        with pytest.raises(StartupError, match="LIANDONG_TOPIC_PARTITIONS: Input should be a valid integer"):
            get_settings()
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
