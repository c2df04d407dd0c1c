"""Configuration files a service reads at start: a bad one is a StartupError naming the file and
what is wrong (``liandong run`` prints it as one ``error:`` line and exits 1)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from liandong import StartupError, load_clocks
from services.coordination.config import TEAMS_FILE, load_config
from services.triage.app import load_routing


def test_the_shipped_files_load() -> None:
    assert load_clocks().handling_days == 60
    assert load_routing().routes["HEATING"].lead == "HOUSING"
    assert load_config().mediation_answer_days >= 1


def test_a_bad_routing_file_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "routing.yaml"
    bad.write_text("keywords: {}\n", encoding="utf-8")  # no routes
    with pytest.raises(StartupError, match=f"routing file {re.escape(str(bad))}: 'routes'"):
        load_routing(bad)


def test_a_bad_coordination_file_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "config.yaml"
    bad.write_text("mediation: {answer_days: [3\n", encoding="utf-8")
    with pytest.raises(StartupError, match=f"coordination file {re.escape(str(bad))}: not valid YAML"):
        load_config(bad, TEAMS_FILE)
    with pytest.raises(StartupError, match=r"coordination teams file .*: cannot be read"):
        load_config(TEAMS_FILE, tmp_path / "missing.yaml")


def test_a_clock_setting_of_the_wrong_kind_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "clocks.yaml"
    bad.write_text("handling_days: sixty\n", encoding="utf-8")
    with pytest.raises(StartupError, match=f"clocks file {re.escape(str(bad))}: handling_days: a whole number of days"):
        load_clocks(bad)
