"""The business calendar (weekends, holidays, make-up working days 调休) and the regulation's clocks.

The holiday fixture is China's 2026 National Day week as the State Council published it:
Thu 1 Oct .. Wed 7 Oct off, with Sun 20 Sep and Sat 10 Oct as make-up working days.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from liandong.domain import BusinessCalendar, ClockConfig

CST = timezone(timedelta(hours=8))
NATIONAL_DAY_2026 = [date(2026, 10, d) for d in range(1, 8)]
MAKEUP_2026 = [date(2026, 9, 20), date(2026, 10, 10)]
CHINA_2026 = BusinessCalendar.of(NATIONAL_DAY_2026, MAKEUP_2026)
PLAIN = BusinessCalendar()


def at(month: int, day: int, hour: int = 10, minute: int = 30) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=CST)


def test_the_fixture_dates_fall_on_the_weekdays_the_tests_assume() -> None:
    assert [d.strftime("%a") for d in NATIONAL_DAY_2026] == ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]
    assert [d.strftime("%a") for d in MAKEUP_2026] == ["Sun", "Sat"]


# -- BusinessCalendar.is_working_day --------------------------------------------------------
@pytest.mark.parametrize(("day", "working"), [
    (date(2026, 3, 2), True),  # Monday
    (date(2026, 3, 6), True),  # Friday
    (date(2026, 3, 7), False),  # Saturday
    (date(2026, 3, 8), False),  # Sunday
])
def test_without_holidays_weekdays_work_and_weekends_rest(day: date, working: bool) -> None:
    assert PLAIN.is_working_day(day) is working
    assert CHINA_2026.is_working_day(day) is working


@pytest.mark.parametrize("day", NATIONAL_DAY_2026)
def test_holidays_are_not_working_days_even_on_weekdays(day: date) -> None:
    assert not CHINA_2026.is_working_day(day)


@pytest.mark.parametrize("day", MAKEUP_2026)
def test_makeup_weekend_days_are_working_days(day: date) -> None:
    assert day.weekday() >= 5
    assert not PLAIN.is_working_day(day)
    assert CHINA_2026.is_working_day(day)


def test_of_accepts_any_iterables_and_freezes_them() -> None:
    cal = BusinessCalendar.of(iter(NATIONAL_DAY_2026), (d for d in MAKEUP_2026))
    assert cal == CHINA_2026
    assert isinstance(cal.holidays, frozenset) and isinstance(cal.makeup_workdays, frozenset)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cal.holidays = frozenset()  # type: ignore[misc]


# -- BusinessCalendar.add_working_days ------------------------------------------------------
@pytest.mark.parametrize(("start", "days", "expected"), [
    # Wed 30 Sep: the whole week off, then Thu 8, Fri 9, Sat 10 (make-up), Mon 12, Tue 13.
    (at(9, 30), 1, at(10, 8)),
    (at(9, 30), 3, at(10, 10)),
    (at(9, 30), 4, at(10, 12)),
    (at(9, 30), 5, at(10, 13)),
    # Fri 18 Sep: Sat 19 rests, Sun 20 is a make-up day, then Mon 21 .. Thu 24.
    (at(9, 18), 1, at(9, 20)),
    (at(9, 18), 5, at(9, 24)),
    # Starting inside the holiday (Sat 3 Oct) counts from the first working day after it.
    (at(10, 3), 1, at(10, 8)),
    # An ordinary week: Fri 16 Oct + 1 is Mon 19 Oct.
    (at(10, 16), 1, at(10, 19)),
    (at(10, 17), 5, at(10, 23)),  # from a Saturday: Mon .. Fri
])
def test_add_working_days_skips_weekends_and_holidays_and_counts_makeup_days(
        start: datetime, days: int, expected: datetime) -> None:
    assert CHINA_2026.add_working_days(start, days) == expected


def test_add_working_days_without_the_holiday_calendar_lands_inside_the_holiday() -> None:
    assert PLAIN.add_working_days(at(9, 30), 5) == at(10, 7)
    assert PLAIN.add_working_days(at(9, 18), 5) == at(9, 25)


def test_add_working_days_keeps_time_of_day_and_time_zone() -> None:
    due = CHINA_2026.add_working_days(at(9, 30, 16, 45), 5)
    assert (due.hour, due.minute, due.tzinfo) == (16, 45, CST)


def test_add_zero_working_days_is_the_start() -> None:
    assert CHINA_2026.add_working_days(at(10, 3), 0) == at(10, 3)


def test_add_days_counts_calendar_days_unless_working_is_asked() -> None:
    assert CHINA_2026.add_days(at(9, 30), 15) == at(10, 15)
    assert CHINA_2026.add_days(at(9, 30), 5, working=True) == at(10, 13)


# -- ClockConfig -------------------------------------------------------------------------
def test_clock_defaults_follow_the_regulation() -> None:
    c = ClockConfig()
    assert (c.forward_days, c.acceptance_notice_days, c.objection_working_days) == (15, 15, 5)
    assert (c.handling_days, c.extension_max_days, c.max_bounces) == (60, 30, 2)
    assert c.calendar == PLAIN


@pytest.mark.parametrize("calendar", [PLAIN, CHINA_2026], ids=["plain", "china-2026"])
def test_acceptance_due_is_15_calendar_days_even_across_a_holiday(calendar: BusinessCalendar) -> None:
    assert ClockConfig(calendar=calendar).acceptance_due(at(9, 30)) == at(10, 15)


def test_objection_due_is_5_working_days_on_the_configured_calendar() -> None:
    assert ClockConfig().objection_due(at(9, 30)) == at(10, 7)
    assert ClockConfig(calendar=CHINA_2026).objection_due(at(9, 30)) == at(10, 13)
    assert ClockConfig(calendar=CHINA_2026).objection_due(at(9, 18)) == at(9, 24)


def test_handling_due_is_60_calendar_days_plus_extension() -> None:
    clocks = ClockConfig(calendar=CHINA_2026)
    accepted = at(9, 1)
    assert clocks.handling_due(accepted) == at(10, 31)  # the holiday does not stop the clock
    assert clocks.handling_due(accepted, 30) == at(11, 30)
    assert clocks.handling_due(accepted, 30) - clocks.handling_due(accepted) == timedelta(days=30)


def test_clock_lengths_are_configurable() -> None:
    c = ClockConfig(acceptance_notice_days=10, objection_working_days=3, handling_days=30, calendar=CHINA_2026)
    assert c.acceptance_due(at(9, 30)) == at(10, 10)
    assert c.objection_due(at(9, 30)) == at(10, 10)
    assert c.handling_due(at(9, 30), 5) == at(11, 4)


def test_clock_config_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        ClockConfig().handling_days = 90  # type: ignore[misc]


def test_working_days_are_counted_on_the_bureau_calendar_even_for_utc_times() -> None:
    """Mon 12 Oct 2026 07:00 in Beijing is Sun 11 Oct 23:00 UTC: the window still ends Mon 19 Oct."""
    beijing = timezone(timedelta(hours=8))
    handed = datetime(2026, 10, 12, 7, 0, tzinfo=beijing)
    clocks = ClockConfig()
    due_utc = clocks.objection_due(handed.astimezone(UTC))
    assert due_utc == clocks.objection_due(handed) == datetime(2026, 10, 19, 7, 0, tzinfo=beijing)
    assert due_utc.tzinfo == UTC  # returned in the caller's time zone
