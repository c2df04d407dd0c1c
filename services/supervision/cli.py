"""The bureau's supervision commands (`liandong supervise ...`), published as ``svc-supervision``
(the bureau's supervision office) on the unit's inbox: the three recommendations (三项建议) and a
supervision notice for a trigger other than time (e.g. irregular handling, or an opinion the unit
reports it could not implement)."""

from __future__ import annotations

from typing import Any

import typer
from liandong_sdk.events import SupervisionNoticeIssued, SupervisionRecommendationIssued
from liandong_sdk.records import case_ref_of
from rich.console import Console

supervise_app = typer.Typer(help="Supervision (督查督办): recommendations and notices.", no_args_is_help=True)
console = Console()


def _publish(name: str, record: dict[str, Any]) -> None:
    from liandong import Bus
    from liandong.broker import configured_bootstrap

    bus = Bus.from_settings(configured_bootstrap()).as_principal("svc-supervision")
    with bus.publisher("bureau/supervision") as pub:
        pub.publish(name, record).get(timeout=30)


def _unit(unit: str) -> str:
    from liandong import HANDLING_UNITS

    if unit not in HANDLING_UNITS:
        console.print(f"[red]refused:[/red] unknown unit {unit!r}; units: {', '.join(HANDLING_UNITS)}", highlight=False)
        raise typer.Exit(2)
    return unit


@supervise_app.command("recommend")
def recommend(case_number: str, unit: str = typer.Option(..., help="The unit that must answer, e.g. HRSS."),
              kind: str = typer.Option(..., help="IMPROVE_WORK, IMPROVE_POLICY or PURSUE_ACCOUNTABILITY."),
              text: str = typer.Option(..., help="The recommendation.")) -> None:
    """Issue one of the three recommendations; the unit answers in writing by the deadline."""
    from liandong import load_clocks
    from liandong.clock import now
    from liandong.domain.supervision import recommendation

    try:
        record = recommendation(case_ref_of(case_number), _unit(unit), kind, text, now(), load_clocks())
    except ValueError as exc:
        console.print(f"[red]refused:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    _publish(SupervisionRecommendationIssued.TYPE, record)
    console.print(f"{case_number}: recommendation {record['recommendation_id']} to {unit}, "
                  f"answer due {record['deadline']['due_at'].isoformat()}")


@supervise_app.command("notice")
def notice(case_number: str, unit: str = typer.Option(..., help="The supervised unit."),
           trigger: str = typer.Option(..., help="IRREGULAR_HANDLING, OPINION_NOT_IMPLEMENTED, SHOULD_ACCEPT_NOT_ACCEPTED, ..."),
           text: str = typer.Option(..., help="What the unit is asked to do."),
           stage: str = typer.Option("HANDLING", help="The clock concerned (HANDLING, ACCEPTANCE_NOTICE, ...).")) -> None:
    """A supervision notice (督办函) for a trigger other than time."""
    from liandong.clock import now
    from liandong.domain import bureau_year
    from liandong.domain.supervision import notice as notice_record

    at = now()
    try:
        record = notice_record(case_ref_of(case_number), _unit(unit), trigger, text, stage, at, bureau_year(at))
    except ValueError as exc:
        console.print(f"[red]refused:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    _publish(SupervisionNoticeIssued.TYPE, record)
    console.print(f"{case_number}: supervision notice to {unit} ({trigger})")
