"""What a bureau clerk or a channel system submits: one petition, validated field by field."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator, model_validator

from liandong.domain import BUREAU_TZ, ClockConfig, bureau_year

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Channel = Literal["ONLINE", "VISIT", "LETTER", "HOTLINE_12345"]
Category = Literal[
    "WAGE_ARREARS", "HEATING", "PROPERTY_MANAGEMENT", "HOUSING_QUALITY", "LAND", "SOCIAL_SECURITY", "LITIGATION",
    "ARBITRATION", "ADMINISTRATIVE_REVIEW", "CIVIL_DISPUTE", "ADMINISTRATIVE_ACT", "PUBLIC_ORDER",
    "OFFICIAL_MISCONDUCT", "OTHER",
]


ID_NUMBER = r"^\d{17}[\dXx]$"
PHONE = r"^\+?[\d-]{7,20}$"
#: A case number carries its bureau year in four digits; a receipt outside these years is a typo.
YEARS = (2000, 2099)


class PetitionerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Text
    # The patterns are for the document (and clients); the validators below check with their own words.
    id_number: str | None = Field(None, json_schema_extra={"pattern": ID_NUMBER})
    phone: str | None = Field(None, json_schema_extra={"pattern": PHONE})
    address: Text | None = None
    group_size: int = Field(default=1, ge=1, le=10000)


    @field_validator("id_number")
    @classmethod
    def _id_number(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(ID_NUMBER, v.strip()):
            raise ValueError("must be an 18-character resident ID number (17 digits, then a digit or X)")
        return v.strip().upper() if v else v

    @field_validator("phone")
    @classmethod
    def _phone(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(PHONE, v.strip()):
            raise ValueError("must be a phone number of 7 to 20 digits (dashes and a leading + allowed)")
        return v.strip() if v else v


class FromAbove(BaseModel):
    """An item assigned or supervised from above (上级交办/督办): who, and its own limit or due date."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "oneOf": [{"required": ["due_on"], "properties": {"limit_days": {"type": "null"}}},
                  {"required": ["limit_days"], "properties": {"due_on": {"type": "null"}}}]})

    by: Text
    #: The day it must be done by (it ends at 24:00 Beijing time of that day) ...
    due_on: date | None = None
    #: ... or a limit in calendar days from its receipt (by the Civil Code's rule, like every period).
    limit_days: int | None = Field(default=None, ge=1, le=365)

    @model_validator(mode="after")
    def _one_limit(self) -> FromAbove:
        if (self.due_on is None) == (self.limit_days is None):
            raise ValueError("give either due_on or limit_days")
        return self


class Submission(BaseModel):
    """One petition as submitted through a channel."""

    model_config = ConfigDict(extra="forbid")

    idempotency_key: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    channel: Channel
    received_at: datetime = Field(json_schema_extra={"pattern": r"^20\d\d-"})
    petitioner: PetitionerIn
    summary: Text
    category: Category = "OTHER"
    #: Set for an item assigned or supervised from above: its deadline binds every clock of the case.
    assigned: FromAbove | None = None

    @field_validator("received_at")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise ValueError("must include a time zone offset, e.g. 2026-03-01T09:30:00+08:00")
        if not YEARS[0] <= v.astimezone(BUREAU_TZ).year <= YEARS[1]:
            raise ValueError(f"must be in the years {YEARS[0]} to {YEARS[1]}")
        return v.astimezone(UTC)

    @model_validator(mode="after")
    def _due_after_receipt(self) -> Submission:
        if self.assigned is not None and self.assigned.due_on is not None \
                and self.assigned.due_on < self.received_at.astimezone(BUREAU_TZ).date():
            raise ValueError("assigned.due_on is before the petition was received")
        return self

    def due_from_above(self, clocks: ClockConfig) -> datetime | None:
        """The due date of an item assigned from above (24:00 of its last day), if it is one."""
        if self.assigned is None:
            return None
        if self.assigned.limit_days is not None:
            return clocks.calendar.period_end(self.received_at, self.assigned.limit_days)
        assert self.assigned.due_on is not None
        return clocks.calendar.end_of(self.assigned.due_on, self.received_at)

    @property
    def bureau_year(self) -> int:
        """The year in the bureau's own calendar, which numbers the case."""
        return bureau_year(self.received_at)


def field_errors(exc: ValidationError) -> list[str]:
    """Pydantic's errors as 'field.path: message' lines a clerk can act on."""
    out = []
    for err in exc.errors():
        path = ".".join(str(p) for p in err["loc"]) or "(record)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        elif err["type"] == "literal_error":
            msg = f"must be one of {err.get('ctx', {}).get('expected', '')}"
        out.append(f"{path}: {msg}")
    return out
