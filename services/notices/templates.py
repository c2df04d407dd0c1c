"""The notices' words: Jinja2 templates kept as data (``templates/<KIND>.txt.j2``, one per notice
kind, all extending ``_letter.txt.j2``) and the bureau's settings (``notices.yaml``: its name and
seal line, each unit's name and reviewing body, the diversion channels' and outcomes' words)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from liandong_sdk.events import DiversionChannel, NoticeKind, ResolutionOutcome

from liandong import HANDLING_UNITS, StartupError, get_settings, load_config_file

NOTICES_FILE = Path(__file__).with_name("notices.yaml")
TEMPLATES_DIR = Path(__file__).with_name("templates")


@dataclass(frozen=True)
class Unit:
    name: str
    #: Who decides a review (复查) of this unit's handling opinion (Art. 35).
    reviewer: str


@dataclass(frozen=True)
class NoticeSettings:
    bureau: str
    seal: str
    units: Mapping[str, Unit]
    diversion: Mapping[str, str]
    outcomes: Mapping[str, str]

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> NoticeSettings:
        units = {code: Unit(str(u["name"]), str(u["reviewer"])) for code, u in (data.get("units") or {}).items()}
        missing = sorted(set(HANDLING_UNITS) - set(units))
        if missing:
            raise ValueError(f"units: no name and reviewer for {', '.join(missing)}")
        diversion, outcomes = dict(data.get("diversion") or {}), dict(data.get("outcomes") or {})
        for what, words, symbols in (("diversion", diversion, DiversionChannel), ("outcomes", outcomes, ResolutionOutcome)):
            if absent := sorted(set(symbols) - set(words)):
                raise ValueError(f"{what}: no words for {', '.join(absent)}")
        return cls(str(data["bureau"]), str(data.get("seal", "")), units, diversion, outcomes)


def load_notice_settings(path: Path | None = None) -> NoticeSettings:
    return load_config_file(path or get_settings().notices_file or NOTICES_FILE, NoticeSettings.from_data, "notices")


class Templates:
    """Renders a notice: ``templates(kind, variables)`` -> its text (a missing variable is an error,
    not an empty gap in a letter)."""

    def __init__(self, settings: NoticeSettings, directory: Path = TEMPLATES_DIR) -> None:
        self.settings = settings
        self.env = jinja2.Environment(loader=jinja2.FileSystemLoader(directory), undefined=jinja2.StrictUndefined,
                                      autoescape=False, keep_trailing_newline=True)  # plain text, not HTML
        for kind in NoticeKind:  # every kind's template exists and parses, or the service does not start
            if kind is not NoticeKind.OTHER:
                try:
                    self.env.get_template(f"{kind.value}.txt.j2")
                except jinja2.TemplateError as exc:
                    raise StartupError(f"notice template {directory / (kind.value + '.txt.j2')}: {exc}") from None

    def __call__(self, kind: NoticeKind, variables: Mapping[str, Any]) -> str:
        s, unit = self.settings, variables.get("unit")
        words: dict[str, Any] = {"bureau": s.bureau, "seal": s.seal}
        if unit is not None:
            words |= {"unit_name": s.units[unit].name if unit in s.units else unit,
                      "reviewer": s.units[unit].reviewer if unit in s.units else s.bureau}
        if "diversion_channel" in variables:
            words["diversion_route"] = s.diversion[variables["diversion_channel"]]
        if "outcome" in variables:
            words["outcome_text"] = s.outcomes[variables["outcome"]]
        return self.env.get_template(f"{kind.value}.txt.j2").render({**variables, **words})
