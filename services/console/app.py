"""The console (工作台): a web application in the browser for the bureau's staff and for the units
without a system of their own, acting on the bus with the same rules as any client: the bureau
registers through intake and decides as ``svc-bureau``; a unit answers as its own principal through
the SDK (refused answers shown with their reasons). Started by ``liandong run console``; bound to
127.0.0.1 (``LIANDONG_BIND_HOST``) on ``LIANDONG_CONSOLE_PORT`` (default 8083).

Topics in:  liandong.bureau.answers, .triage (the bureau's pages follow them live), each unit's inbox
            (as the unit); topics out: liandong.bureau.triage (as svc-bureau), each unit's replies (as the unit).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from liandong_sdk import BUREAU_ANSWERS, BUREAU_TRIAGE, HANDLING_UNITS

from liandong import Bus
from liandong.clock import now as wall_clock
from liandong.runtime import Runtime
from liandong.tokens import tool_token

from .accounts import AccountStore, accounts_file
from .desks import BureauDesk, Live, UnitDesk
from .web import Console

SERVICE = "console"
TOPICS_IN = (BUREAU_ANSWERS, BUREAU_TRIAGE)
TOPICS_OUT = (BUREAU_TRIAGE,)


def build(bus: Bus, *, port: int | None = None, intake_url: str | None = None, ledger_url: str | None = None,
          units: tuple[str, ...] | None = None, clock: Callable[[], datetime] | None = None) -> Runtime:
    """``units``: the units whose desks the console keeps (default: every unit an account maps to, or all)."""
    settings = bus.settings
    live = Live()
    bureau = BureauDesk(bus, intake_url or settings.console_intake_url or f"http://127.0.0.1:{settings.intake_port}",
                        ledger_url or settings.console_ledger_url or f"http://127.0.0.1:{settings.ledger_port}",
                        tool_token(settings), live)
    accounts = AccountStore(accounts_file(settings.secrets_path))
    wanted = units if units is not None else (tuple(u for u in HANDLING_UNITS
                                                    if any(a.unit == u for a in accounts.accounts())) or tuple(HANDLING_UNITS))
    desks: dict[str, UnitDesk] = {}
    console = Console(accounts, bureau, desks, live, clock or wall_clock)

    async def start() -> None:
        live.loop = asyncio.get_running_loop()
        for unit in wanted:
            desks[unit] = await asyncio.to_thread(UnitDesk, unit, bus, live, clock)
            desks[unit].start()
        bureau.start()

    async def stop() -> None:
        bureau.stop()
        for desk in desks.values():
            await asyncio.to_thread(desk.stop)

    port = port if port is not None else settings.console_port
    return Runtime(SERVICE, bus.as_principal("svc-console"), web_apps=[(console.application(), port)],
                   on_start=[start], on_stop=[stop], topics=(*TOPICS_IN, *TOPICS_OUT))
