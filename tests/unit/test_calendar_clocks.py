"""The business calendar (weekends, holidays, make-up working days 调休) and the regulation's clocks.

The holiday fixture is China's 2026 National Day week as the State Council published it:
Thu 1 Oct .. Wed 7 Oct off, with Sun 20 Sep and Sat 10 Oct as make-up working days.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest

from liandong import load_clocks
from liandong.domain import BusinessCalendar, ClockConfig

CST = timezone(timedelta(hours=8))
NATIONAL_DAY_2026 = [date(2026, 10, d) for d in range(1, 8)]
MAKEUP_2026 = [date(2026, 9, 20), date(2026, 10, 10)]
CHINA_2026 = BusinessCalendar.of(NATIONAL_DAY_2026, MAKEUP_2026)
PLAIN = BusinessCalendar()


def at(month: int, day: int, hour: int = 10, minute: int = 30, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=CST)


def end(month: int, day: int, year: int = 2026) -> datetime:
    """24:00 of the day (its last millisecond, bureau time): where a period ends."""
    return datetime.combine(date(year, month, day), time(23, 59, 59, 999000), CST)


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
    assert ClockConfig(calendar=calendar).acceptance_due(at(9, 30)) == end(10, 15)


def test_objection_due_is_5_working_days_on_the_configured_calendar() -> None:
    assert ClockConfig().objection_due(at(9, 30)) == end(10, 7)
    assert ClockConfig(calendar=CHINA_2026).objection_due(at(9, 30)) == end(10, 13)
    assert ClockConfig(calendar=CHINA_2026).objection_due(at(9, 18)) == end(9, 24)


def test_handling_due_is_60_calendar_days_plus_extension() -> None:
    clocks = ClockConfig(calendar=CHINA_2026)
    accepted = at(9, 1)
    assert clocks.handling_due(accepted) == end(11, 2)  # day 60 is Sat 31 Oct, a rest day: Mon 2 Nov
    assert clocks.handling_due(accepted, 30) == end(11, 30)


def test_clock_lengths_are_configurable() -> None:
    c = ClockConfig(acceptance_notice_days=10, objection_working_days=3, handling_days=30, calendar=CHINA_2026)
    assert c.acceptance_due(at(9, 30)) == end(10, 10)  # Sat 10 Oct is a make-up working day: not moved
    assert c.objection_due(at(9, 30)) == end(10, 10)
    assert c.handling_due(at(9, 30), 5) == end(11, 4)


def test_clock_config_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        ClockConfig().handling_days = 90  # type: ignore[misc]


def test_working_days_are_counted_on_the_bureau_calendar_even_for_utc_times() -> None:
    """Mon 12 Oct 2026 07:00 in Beijing is Sun 11 Oct 23:00 UTC: the window still ends Mon 19 Oct."""
    beijing = timezone(timedelta(hours=8))
    handed = datetime(2026, 10, 12, 7, 0, tzinfo=beijing)
    clocks = ClockConfig()
    due_utc = clocks.objection_due(handed.astimezone(UTC))
    assert due_utc == clocks.objection_due(handed) == end(10, 19)
    assert due_utc.tzinfo == UTC  # returned in the caller's time zone


# -- the Civil Code's rule for periods (Art. 201, 203) on the shipped calendar ------------------
SHIPPED = load_clocks()


def test_the_shipped_calendar_covers_2025_and_2026() -> None:
    cal = SHIPPED.calendar
    assert cal.years == {2025, 2026}
    assert not cal.is_working_day(date(2025, 1, 28)) and cal.is_working_day(date(2025, 1, 26))  # 春节 2025, 调休
    assert not cal.is_working_day(date(2026, 2, 23)) and cal.is_working_day(date(2026, 2, 28))  # 春节 2026, 调休
    assert not cal.is_working_day(date(2025, 10, 8)) and cal.is_working_day(date(2025, 10, 11))  # 国庆 2025


@pytest.mark.parametrize(("what", "start", "expected"), [
    # The start day is not counted and the period ends at 24:00: a 10:30 handoff's window lasts all day 5.
    ("objection", at(3, 2), end(3, 9)),
    # Fri 13 Feb: Sat 14 (make-up day) is day 1, the Spring Festival rests, then Tue 24 .. Fri 27.
    ("objection", at(2, 13), end(2, 27)),
    # Wed 30 Sep: the National Day week rests; Thu 8, Fri 9, Sat 10 (make-up), Mon 12, Tue 13.
    ("objection", at(9, 30), end(10, 13)),
    # 15 calendar days from Thu 5 Feb end on Fri 20 Feb, inside the Spring Festival: moved to Tue 24 Feb.
    ("acceptance", at(2, 5), end(2, 24)),
    # From Sun 20 Sep (a make-up day): day 15 is Mon 5 Oct, inside National Day: Thu 8 Oct.
    ("acceptance", at(9, 20), end(10, 8)),
    # Day 15 on Sat 28 Feb, a make-up working day: it stays.
    ("acceptance", at(2, 13), end(2, 28)),
    # Day 15 on an ordinary Sunday (Sun 22 Mar): Mon 23 Mar.
    ("forward", at(3, 7), end(3, 23)),
    # Registered Tue 22 Sep: day 15 is Wed 7 Oct (National Day): Thu 8 Oct.
    ("forward", at(9, 22), end(10, 8)),
    # Accepted Mon 3 Aug + 60 days: Fri 2 Oct (National Day): Thu 8 Oct.
    ("handling", at(8, 3), end(10, 8)),
    # Accepted Fri 19 Dec 2025 + 60 days: Tue 17 Feb 2026 (Spring Festival): Tue 24 Feb.
    ("handling", at(12, 19, year=2025), end(2, 24)),
    # 2025's Spring Festival: Fri 24 Jan; Sun 26 (make-up) day 1, Mon 27 day 2, rest to 4 Feb, then 5, 6, 7 Feb.
    ("objection", at(1, 24, year=2025), end(2, 7, year=2025)),
])
def test_periods_end_at_24_00_of_the_last_day_moved_past_rest_days(what: str, start: datetime, expected: datetime) -> None:
    due = {"objection": SHIPPED.objection_due, "acceptance": SHIPPED.acceptance_due, "forward": SHIPPED.forward_due,
           "handling": SHIPPED.handling_due}[what](start)
    assert due == expected
    assert due.astimezone(CST).time() == time(23, 59, 59, 999000)


def test_an_answer_at_16_00_on_the_last_day_is_in_time_and_one_at_midnight_is_not() -> None:
    due = SHIPPED.objection_due(at(3, 2, 10, 30))
    assert at(3, 9, 16, 0) <= due
    assert at(3, 10, 0, 0) > due


def test_an_extension_moves_the_end_of_the_whole_period() -> None:
    # Accepted Mon 3 Aug: 60 days end Thu 8 Oct (moved past National Day); +30 days: 90 days end Sun 1 Nov -> Mon 2 Nov.
    assert SHIPPED.handling_due(at(8, 3), 30) == end(11, 2)


def test_a_year_the_calendar_does_not_cover_is_counted_on_weekends_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    clocks = load_clocks()  # a calendar of its own: its warnings are its own
    with caplog.at_level(logging.WARNING, logger="liandong_sdk.calendar"):
        due = clocks.objection_due(at(9, 30, year=2027))  # Thu 30 Sep 2027; no 2027 holidays known
        clocks.objection_due(at(10, 4, year=2027))
    assert due == end(10, 7, year=2027)  # Fri 1, Mon 4 .. Thu 7: weekends only
    warnings = [r.getMessage() for r in caplog.records if "2027" in r.getMessage()]
    assert len(warnings) == 1 and "weekends only" in warnings[0]
    assert not clocks.calendar.covers(date(2027, 1, 1)) and clocks.calendar.covers(date(2026, 12, 31))
