"""`liandong console account add|remove|list`: the console's accounts, one per person, each mapped
to one principal (``svc-bureau`` for the bureau's staff, ``unit-<slug>`` for a unit's)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

console_app = typer.Typer(help="The console (工作台) in the browser: its accounts.", no_args_is_help=True)
account_app = typer.Typer(help="Accounts: one per person, each mapped to one principal.", no_args_is_help=True)
console_app.add_typer(account_app, name="account")
out = Console()

if TYPE_CHECKING:
    from .accounts import AccountStore


def _store() -> AccountStore:
    from liandong import get_settings

    from .accounts import AccountStore, accounts_file

    return AccountStore(accounts_file(get_settings().secrets_path))


@account_app.command("add")
def account_add(name: str, principal: str = typer.Option(None, help="svc-bureau, or unit-<slug> (unit-hrss …)."),
                group: str = typer.Option(None, help="A task team's working group instead, <team>/<group> of "
                                          "teams.yaml (e.g. heating/supply): it acts as the group's unit."),
                password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin "
                                                    "(else it is asked for, twice)."),
                note: str = typer.Option("", help="Who the person is (shown by `list`).")) -> None:
    """Add an account (or set a new password and principal for an existing one); the password is kept argon2-hashed."""
    from liandong_sdk import HANDLING_UNITS

    from services.coordination.config import load_config

    from .accounts import AccountError

    if group is not None:
        team, _, name_of_group = group.partition("/")
        teams = load_config().teams
        if team not in teams or name_of_group not in teams[team].groups:
            out.print(f"[red]no group {group!r}; groups: {', '.join(f'{t}/{g}' for t in teams for g in teams[t].groups)}[/red]")
            raise typer.Exit(2)
        principal = f"unit-{HANDLING_UNITS[teams[team].groups[name_of_group].unit]}"
    elif principal is None:
        out.print("[red]give --principal, or --group for a task team's working group[/red]")
        raise typer.Exit(2)
    password = sys.stdin.readline().rstrip("\n") if password_stdin else \
        typer.prompt("password", hide_input=True, confirmation_prompt=True)
    try:
        account = _store().add(name, principal, password, note, group)
    except AccountError as exc:
        out.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    out.print(f"account {account.name} -> {account.principal}" + (f" (group {group})" if group else ""))


@account_app.command("remove")
def account_remove(name: str) -> None:
    """Remove an account: it cannot sign in again (its open sessions end within 8 hours)."""
    if not _store().remove(name):
        out.print(f"no account {name!r}")
        raise typer.Exit(1)
    out.print(f"account {name} removed")


@account_app.command("list")
def account_list() -> None:
    """The accounts and their principals (never their passwords)."""
    table = Table("account", "principal", "group", "note")
    for a in _store().accounts():
        table.add_row(a.name, a.principal, a.group or "", a.note)
    out.print(table)
