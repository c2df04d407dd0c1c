"""The bureau's commands for joint mediation, responsibility packages and task teams
(`liandong mediation ...`, `liandong package ...`, `liandong team ...`), published as ``svc-bureau``
on liandong.bureau.coordination."""

from __future__ import annotations

from datetime import date
from typing import Any

import typer
from rich.console import Console

from . import requests as rq

mediation_app = typer.Typer(help="Joint mediation (联合调处).", no_args_is_help=True)
package_app = typer.Typer(help="Responsibility packages (包案, 五包一).", no_args_is_help=True)
team_app = typer.Typer(help="Joint task teams (一办五组).", no_args_is_help=True)
console = Console()


def _publish(requests: list[rq.Request]) -> None:
    from liandong import Bus
    from liandong.broker import configured_bootstrap

    bus = Bus.from_settings(configured_bootstrap()).as_principal("svc-bureau")
    with bus.publisher("bureau") as pub:
        for name, record in requests:
            pub.publish(name, record).get(timeout=30)


def _now() -> Any:
    from liandong.clock import now

    return now()


def _checked(make: Any) -> Any:
    try:
        return make()
    except ValueError as exc:
        console.print(f"[red]refused:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None


@mediation_app.command("request")
def mediation_request(case_number: str,
                      convener: str = typer.Option(..., help="Unit convening the mediation, e.g. JUSTICE."),
                      participant: list[str] = typer.Option(..., help="A participating unit (repeat the option)."),
                      subject: str = typer.Option(..., help="What is to be mediated."),
                      adviser: list[str] = typer.Option([], help="A legal adviser taking part (repeat)."),
                      answer_days: int = typer.Option(3, help="Days each participant has to join or decline."),
                      requested_by: str = typer.Option("BUREAU", help="Who asks (BUREAU, or a unit it acts for).")) -> None:
    """Ask for a joint mediation of a case: every participant is invited on its inbox."""
    name, record = _checked(lambda: rq.mediation_proposal(
        case_number, convener=convener, participants=participant, subject=subject, legal_advisers=adviser,
        requested_by=requested_by, answer_days=answer_days, at=_now()))
    _publish([(name, record)])
    console.print(f"{case_number}: mediation {record['mediation_id']} requested")


def _member(spec: str) -> dict[str, str]:
    try:
        role, rest = spec.split("=", 1)
        person, unit = rest.rsplit("@", 1)
    except ValueError:
        raise typer.BadParameter(f"{spec!r}: write ROLE=PERSON@UNIT, e.g. leading_official=张副区长@BUREAU") from None
    return {"role": role.strip(), "person": person.strip(), "unit": unit.strip()}


@package_app.command("assign")
def package_assign(case_number: str,
                   member: list[str] = typer.Option(..., help="ROLE=PERSON@UNIT, one per role slot (repeat)."),
                   plan: str = typer.Option(..., help="The resolution plan."),
                   expected: str = typer.Option(..., help="Expected resolution date, YYYY-MM-DD."),
                   cadence_days: int = typer.Option(None, help="Days between progress reports (default: config)."),
                   linked: list[str] = typer.Option([], help="A linked case of the same petitioner group (repeat)."),
                   leader: bool = typer.Option(False, help="A leader's package (领导包案).")) -> None:
    """Assign a key case (and its linked cases) to a responsibility package; every member unit is told."""
    name, record = _checked(lambda: rq.package_order(
        case_number, members=[_member(m) for m in member], plan=plan, expected_on=date.fromisoformat(expected),
        cadence_days=cadence_days, linked_cases=linked, leader_package=leader, at=_now()))
    _publish([(name, record)])
    console.print(f"{case_number}: package {record['package_id']} assigned")


@package_app.command("extend")
def package_extend(case_number: str, package_id: str, days: int = typer.Option(..., help="Days to add."),
                   reason: str = typer.Option(..., help="Why more time is needed.")) -> None:
    """Move a package's expected resolution date (granted within the configured bound)."""
    _publish([_checked(lambda: rq.package_extension(case_number, package_id, days=days, reason=reason, at=_now()))])
    console.print(f"{case_number}: extension of {days} days asked for package {package_id}")


@package_app.command("close")
def package_close(case_number: str, package_id: str,
                  result: str = typer.Option(..., help="RESOLVED, PARTIALLY_RESOLVED, UNRESOLVED, TRANSFERRED_TO_JUDICIAL."),
                  summary: str = typer.Option(..., help="How the matter ended."),
                  resolved_on: str = typer.Option(None, help="Actual resolution date (default today).")) -> None:
    """Close a package with its result (化解 / 部分化解 / 未化解 / 转入司法)."""
    at = _now()
    on = date.fromisoformat(resolved_on) if resolved_on else at.date()
    _publish([_checked(lambda: rq.package_closing(case_number, package_id, result=result, summary=summary,
                                                  resolved_on=on, at=at))])
    console.print(f"{case_number}: package {package_id} closed ({result})")


@team_app.command("task")
def team_task(team: str, campaign: str = typer.Option(..., help="Campaign, e.g. winter-heating-2026."),
              description: str = typer.Option(..., help="What is to be done."),
              due_days: int = typer.Option(7, help="Days until the task is due."),
              group: list[str] = typer.Option([], help="A working group (repeat; default every group of the team)."),
              number: str = typer.Option(None, help="Task number prefix (default from the campaign).")) -> None:
    """Publish a campaign task to a team's working groups (teams.yaml): each group's unit receives it."""
    tasks = _checked(lambda: rq.task_publications(team, campaign=campaign, description=description, due_days=due_days,
                                                  groups=group or None, number=number, at=_now()))
    _publish(tasks)
    for _, record in tasks:
        console.print(f"task {record['task_number']} published to {team}/{record['group']}")
