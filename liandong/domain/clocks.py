"""The regulation's clocks (《信访工作条例》2022), as configuration."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .calendar import BusinessCalendar


@dataclass(frozen=True)
class ClockConfig:
    forward_days: int = 15  # Art. 22: register -> forward/assign
    acceptance_notice_days: int = 15  # Art. 23: receiving unit -> written acceptance notice
    objection_working_days: int = 5  # Art. 23: objection window, working days
    handling_days: int = 60  # Art. 32: acceptance -> written opinion
    extension_max_days: int = 30  # Art. 32: one extension, with reasons
    max_bounces: int = 2  # objections before the bureau decides jurisdiction (Art. 24)
    calendar: BusinessCalendar = field(default_factory=BusinessCalendar)

    def acceptance_due(self, handed_off_at: datetime) -> datetime:
        return self.calendar.add_days(handed_off_at, self.acceptance_notice_days)

    def objection_due(self, handed_off_at: datetime) -> datetime:
        return self.calendar.add_working_days(handed_off_at, self.objection_working_days)

    def handling_due(self, accepted_at: datetime, extension_days: int = 0) -> datetime:
        return self.calendar.add_days(accepted_at, self.handling_days + extension_days)
