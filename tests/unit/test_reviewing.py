"""Who reviews and who re-checks (reviewing.yaml): configuration checked when intake starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from liandong import HANDLING_UNITS, REVIEWING_BODIES, StartupError
from services.intake.reviewing import Reviewing, load_reviewing


def test_the_shipped_file_names_a_body_for_every_unit_and_a_recheck_for_every_body() -> None:
    shipped = load_reviewing()
    assert set(shipped.review) == set(HANDLING_UNITS)
    assert set(shipped.review.values()) <= set(shipped.recheck) <= set(REVIEWING_BODIES)
    assert shipped.review["HRSS"] == "CITY_HRSS" and shipped.recheck["CITY_HRSS"] == "CITY_GOVERNMENT"


@pytest.mark.parametrize(("data", "says"), [
    ({"review": {"HRSS": "CITY_HRSS"}, "recheck": {"CITY_HRSS": "CITY_GOVERNMENT"}}, "no reviewing body for"),
    ({"review": dict.fromkeys(HANDLING_UNITS, "PROVINCE"), "recheck": {}}, "'PROVINCE' is not a reviewing body"),
    ({"review": dict.fromkeys(HANDLING_UNITS, "CITY_HRSS"), "recheck": {}}, "no re-check body for CITY_HRSS"),
    ({"review": dict.fromkeys(HANDLING_UNITS, "CITY_HRSS"), "recheck": {"CITY_HRSS": "CITY_GOVERNMENT"},
      "appeal": {}}, "unknown settings: appeal"),
])
def test_a_bad_configuration_is_refused_naming_what_is_wrong(data: dict, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        Reviewing.from_data(data)


def test_a_bad_file_stops_intake_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "reviewing.yaml"
    bad.write_text("review: {HRSS: NOBODY}\n", encoding="utf-8")
    with pytest.raises(StartupError, match=f"reviewing file {bad}"):
        load_reviewing(bad)
