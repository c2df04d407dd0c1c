"""What a bureau clerk or a channel system submits: one petition, validated field by field."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from liandong.domain import bureau_year

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Channel = Literal["ONLINE", "VISIT", "LETTER", "HOTLINE_12345"]
Category = Literal[
    "WAGE_ARREARS", "HEATING", "PROPERTY_MANAGEMENT", "HOUSING_QUALITY", "LAND", "SOCIAL_SECURITY", "LITIGATION",
    "ARBITRATION", "ADMINISTRATIVE_REVIEW", "CIVIL_DISPUTE", "ADMINISTRATIVE_ACT", "PUBLIC_ORDER",
    "OFFICIAL_MISCONDUCT", "OTHER",
]


class PetitionerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Text
    id_number: str | None = None
    phone: str | None = None
    address: Text | None = None
    group_size: int = Field(default=1, ge=1, le=10000)


    @field_validator("id_number")
    @classmethod
    def _id_number(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"\d{17}[\dXx]", v.strip()):
            raise ValueError("must be an 18-character resident ID number (17 digits, then a digit or X)")
        return v.strip().upper() if v else v

    @field_validator("phone")
    @classmethod
    def _phone(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"\+?[\d-]{7,20}", v.strip()):
            raise ValueError("must be a phone number of 7 to 20 digits (dashes and a leading + allowed)")
        return v.strip() if v else v


class Submission(BaseModel):
    """One petition as submitted through a channel."""

    model_config = ConfigDict(extra="forbid")

    idempotency_key: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    channel: Channel
    received_at: datetime
    petitioner: PetitionerIn
    summary: Text
    category: Category = "OTHER"

    @field_validator("received_at")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise ValueError("must include a time zone offset, e.g. 2026-03-01T09:30:00+08:00")
        return v.astimezone(UTC)

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
