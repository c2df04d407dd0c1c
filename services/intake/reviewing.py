"""Who examines a handling opinion again: each unit's reviewing body (复查机关, Art. 35) and each
reviewing body's re-check body (复核机关, Art. 36), as configuration (``reviewing.yaml``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from liandong import HANDLING_UNITS, REVIEWING_BODIES, get_settings, load_config_file

REVIEWING_FILE = Path(__file__).with_name("reviewing.yaml")


@dataclass(frozen=True)
class Reviewing:
    #: Handling unit -> the body that reviews its opinion.
    review: Mapping[str, str]
    #: Reviewing body -> the body that re-checks its review decision.
    recheck: Mapping[str, str]

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Reviewing:
        unknown = set(data) - {"review", "recheck"}
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}; known: review, recheck")
        review, recheck = dict(data.get("review") or {}), dict(data.get("recheck") or {})
        missing = sorted(set(HANDLING_UNITS) - set(review))
        if missing:
            raise ValueError(f"review: no reviewing body for {', '.join(missing)}")
        for section, mapping, keys in (("review", review, HANDLING_UNITS), ("recheck", recheck, REVIEWING_BODIES)):
            for who, body in mapping.items():
                if who not in keys:
                    raise ValueError(f"{section}: {who!r} is not one of {', '.join(keys)}")
                if body not in REVIEWING_BODIES:
                    raise ValueError(f"{section}.{who}: {body!r} is not a reviewing body on the bus "
                                     f"({', '.join(REVIEWING_BODIES)})")
        unchecked = sorted(set(review.values()) - set(recheck))
        if unchecked:
            raise ValueError(f"recheck: no re-check body for {', '.join(unchecked)}")
        return cls(review, recheck)


def load_reviewing(path: Path | None = None) -> Reviewing:
    """``path``, else ``LIANDONG_REVIEWING_FILE``, else the shipped ``reviewing.yaml``."""
    return load_config_file(path or get_settings().reviewing_file or REVIEWING_FILE, Reviewing.from_data, "reviewing")
