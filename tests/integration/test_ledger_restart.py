"""The ledger restores its table from the changelog after a restart, and re-reading changes nothing."""

from __future__ import annotations

import uuid

from liandong import Bus
from liandong.examples import example_record
from services.ledger.app import build as build_ledger
from tests.conftest import ServiceHost, api_get, publish_checked, wait_for

_get = api_get  # None for a 404, or while nothing answers yet (still starting)


def test_restarting_the_ledger_restores_its_state(bus: Bus) -> None:
    number = f"140214-2026-{uuid.uuid4().int % 10**6:06d}"
    for name, unit in (("petition.registered", "JUSTICE"), ("petition.triaged", "JUSTICE"),
                       ("case.handoff.requested", "JUSTICE"), ("case.handoff.accepted", "JUSTICE")):
        rec = example_record(bus.schemas, name, case_number=number, unit=unit)
        if name == "case.handoff.requested":
            rec["role"] = "LEAD"
        if name == "petition.triaged":
            rec["lead_unit"] = "JUSTICE"
        publish_checked(bus, name, rec)  # the sign-for as the referee passes it on
    app_id = f"ledger-restart-{uuid.uuid4().hex[:6]}"
    host = ServiceHost()
    try:
        first = host.start(build_ledger(bus.as_principal("svc-ledger"), port=0, app_id=app_id))
        port = first.bound["http"]
        before = wait_for(lambda: (c := _get(port, f"/cases/{number}")) and len(c["timeline"]) == 4 and c,
                          message="the case with 4 timeline entries")
        assert before["status"] == "SIGNED"
        host.stop(first)
        assert _get(port, f"/cases/{number}") is None  # really stopped
        port2 = host.start(build_ledger(bus.as_principal("svc-ledger"), port=0, app_id=app_id)).bound["http"]
        after = wait_for(lambda: _get(port2, f"/cases/{number}"), message="the case after the restart")
        assert after == before
    finally:
        host.close()
