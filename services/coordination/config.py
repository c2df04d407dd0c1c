"""Coordination's configuration files: the answer and reporting periods (``config.yaml``) and the
joint task teams with their groups (``teams.yaml``)."""

from __future__ import annotations

from pathlib import Path

from liandong import load_config_file
from liandong.domain.coordination import CoordinationConfig

HERE = Path(__file__).parent
CONFIG_FILE = HERE / "config.yaml"
TEAMS_FILE = HERE / "teams.yaml"


def load_config(config: Path = CONFIG_FILE, teams: Path = TEAMS_FILE) -> CoordinationConfig:
    team_data = load_config_file(teams, lambda d: d, "coordination teams")
    return load_config_file(config, lambda d: CoordinationConfig.from_data(d, team_data), "coordination")
