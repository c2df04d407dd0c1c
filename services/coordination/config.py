"""Coordination's configuration files: the answer and reporting periods (``config.yaml``) and the
joint task teams with their groups (``teams.yaml``)."""

from __future__ import annotations

from pathlib import Path

import yaml

from liandong.domain.coordination import CoordinationConfig

HERE = Path(__file__).parent
CONFIG_FILE = HERE / "config.yaml"
TEAMS_FILE = HERE / "teams.yaml"


def load_config(config: Path = CONFIG_FILE, teams: Path = TEAMS_FILE) -> CoordinationConfig:
    return CoordinationConfig.from_data(yaml.safe_load(config.read_text(encoding="utf-8")) or {},
                                        yaml.safe_load(teams.read_text(encoding="utf-8")) or {})
