"""The regulation's clocks (《信访工作条例》2022), as configuration."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from typing import Any

from ._calendar import BusinessCalendar


@dataclass(frozen=True)
class EscalationLadder:
    """When supervision acts on a running clock, relative to its due date (督查督办)."""

    reminder_before: int = 3  # 提醒函: this many days before the due date
    notice_after: int = 0  # 督办函: this many days after the due date (0: on it)
    listing_after: int = 10  # 挂牌督办: this many days after the due date
    working_days: bool = True  # the offsets count working days (else calendar days)

    def reminder_at(self, due: datetime, calendar: BusinessCalendar) -> datetime:
        """The start (00:00) of the day ``reminder_before`` days before the due date."""
        day = calendar.add_days(due, -self.reminder_before, working=self.working_days)
        return calendar.end_of(calendar.day_of(day), due) - _DAY + _MS

    def notice_at(self, due: datetime, calendar: BusinessCalendar) -> datetime:
        """Once the period is over (24:00 of its last day), ``notice_after`` days on."""
        return calendar.add_days(due, self.notice_after, working=self.working_days) + _MS

    def listing_at(self, due: datetime, calendar: BusinessCalendar) -> datetime:
        return calendar.add_days(due, self.listing_after, working=self.working_days) + _MS


_MS = timedelta(milliseconds=1)
_DAY = timedelta(days=1)


@dataclass(frozen=True)
class ClockConfig:
    forward_days: int = 15  # Art. 22: register -> forward/assign
    acceptance_notice_days: int = 15  # Art. 23: receiving unit -> written acceptance notice
    objection_working_days: int = 5  # Art. 23: objection window, working days
    handling_days: int = 60  # Art. 32: acceptance -> written opinion
    extension_max_days: int = 30  # Art. 32: one extension, with reasons
    max_bounces: int = 2  # objections before the bureau decides jurisdiction (Art. 24)
    review_apply_days: int = 30  # Art. 35: petitioner may apply for review (复查) within
    review_decide_days: int = 30  # Art. 35: review decided within
    recheck_apply_days: int = 30  # Art. 36: petitioner may apply for re-check (复核) within
    recheck_decide_days: int = 30  # Art. 36: re-check decided within
    recommendation_answer_days: int = 30  # 三项建议: the unit answers in writing within
    callback_days: int = 30  # 回访: the bureau records the petitioner's evaluation within this long after the opinion
    #: After a case closes, the same person on the same matter is a repeat for this long (the review
    #: window, Art. 35); later, it is a new case.
    repeat_window_days: int = 30
    ladder: EscalationLadder = field(default_factory=EscalationLadder)
    calendar: BusinessCalendar = field(default_factory=BusinessCalendar)

    # Every due date below is a period's end by the Civil Code's rule (BusinessCalendar.period_end):
    # the start day not counted, 24:00 of the last day, a last day on a rest day moved past it.
    def acceptance_due(self, handed_off_at: datetime) -> datetime:
        return self.calendar.period_end(handed_off_at, self.acceptance_notice_days)

    def objection_due(self, handed_off_at: datetime) -> datetime:
        return self.calendar.period_end(handed_off_at, self.objection_working_days, working=True)

    def handling_due(self, accepted_at: datetime, extension_days: int = 0) -> datetime:
        return self.calendar.period_end(accepted_at, self.handling_days + extension_days)

    def forward_due(self, registered_at: datetime) -> datetime:
        return self.calendar.period_end(registered_at, self.forward_days)

    def callback_due(self, opinion_at: datetime) -> datetime:
        return self.calendar.period_end(opinion_at, self.callback_days)

    def review_apply_due(self, opinion_at: datetime) -> datetime:
        return self.calendar.period_end(opinion_at, self.review_apply_days)

    def review_decide_due(self, applied_at: datetime) -> datetime:
        return self.calendar.period_end(applied_at, self.review_decide_days)

    def recheck_apply_due(self, review_decided_at: datetime) -> datetime:
        return self.calendar.period_end(review_decided_at, self.recheck_apply_days)

    def recheck_decide_due(self, applied_at: datetime) -> datetime:
        return self.calendar.period_end(applied_at, self.recheck_decide_days)

    def repeat_window_end(self, closed_at: datetime) -> datetime:
        return self.calendar.period_end(closed_at, self.repeat_window_days)

    def recommendation_due(self, issued_at: datetime) -> datetime:
        return self.calendar.period_end(issued_at, self.recommendation_answer_days)

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> ClockConfig:
        """A configuration from plain data (a YAML file's contents); unknown keys are an error.

        ``calendar: {holidays: [dates], makeup_workdays: [dates], years: [covered years]}``, ``ladder: {reminder_before: …}``,
        every other key one of the durations above."""
        data = dict(data)
        known = {f.name for f in fields(cls)} - {"calendar", "ladder"}
        unknown = set(data) - known - {"calendar", "ladder"}
        if unknown:
            raise ValueError(f"unknown clock settings: {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
        cal = dict(data.pop("calendar", None) or {})
        ladder = dict(data.pop("ladder", None) or {})
        bad = (set(cal) - {"holidays", "makeup_workdays", "years"}) | {f"ladder.{k}" for k in set(ladder) - {
            f.name for f in fields(EscalationLadder)}}
        if bad:
            raise ValueError(f"unknown clock settings: {', '.join(sorted(bad))}")
        for name, value in data.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name}: a whole number of days >= 0, got {value!r}")
        return cls(**data, ladder=EscalationLadder(**ladder),
                   calendar=BusinessCalendar.of(_dates(cal.get("holidays")), _dates(cal.get("makeup_workdays")),
                                                cal.get("years")))


def _dates(values: Any) -> list[date]:
    out = []
    for v in values or ():
        out.append(v if isinstance(v, date) else date.fromisoformat(str(v)))
    return out
