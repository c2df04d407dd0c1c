"""Every runnable service by name: what `liandong run <service>` and `--all` start."""

from __future__ import annotations

from collections.abc import Callable

from liandong import Bus
from liandong._catalogue import HANDLING_UNITS
from liandong._runtime import Runtime


def _intake(bus: Bus) -> Runtime:
    from services.intake.app import build

    return build(bus)


def _triage(bus: Bus) -> Runtime:
    from services.triage.app import build

    return build(bus)


def _ledger(bus: Bus) -> Runtime:
    from services.ledger.app import build

    return build(bus)


def _department(slug: str) -> Callable[[Bus], Runtime]:
    def build(bus: Bus) -> Runtime:
        from services.departments.app import build as build_department

        return build_department(bus, slug)

    return build


SERVICES: dict[str, Callable[[Bus], Runtime]] = {
    "intake": _intake,
    "triage": _triage,
    "ledger": _ledger,
    **{slug: _department(slug) for slug in HANDLING_UNITS.values()},
}
