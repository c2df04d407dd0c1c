"""The bureau's own moves in the simulation: a responsibility package (包案, 五包一) for every
key case — a group visit of ``KEY_CASE_PERSONS`` or more — and its closing once the ledger shows
the case resolved. Published as the bureau (principal ``svc-bureau``) on
liandong.bureau.coordination through the coordination service's own request builders; the
coordination service assigns the package to every member unit's inbox and chases progress.
Only when the coordination service is in the registry."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from liandong._bus import Bus
from liandong.domain.routing import RoutingMatrix

#: A group visit of this many persons is a key case with a package.
KEY_CASE_PERSONS = 10
#: Package results once the case is resolved (化解 / 部分化解 / 未化解 / 转入司法), weights.
RESULTS = {"RESOLVED": 0.7, "PARTIALLY_RESOLVED": 0.18, "UNRESOLVED": 0.07, "TRANSFERRED_TO_JUDICIAL": 0.05}
_UNIT_OF_ROLE = {"leading_official": "BUREAU", "street_cadre": "STREET_OFFICE", "police_officer": "POLICE",
                 "legal_adviser": "JUSTICE"}
_PEOPLE = ("张副区长", "李局长", "王主任", "赵所长", "刘律师", "陈书记", "杨科长", "周网格员")


class Bureau:
    def __init__(self, bus: Bus, routing: RoutingMatrix, seed: int) -> None:
        from services.coordination.handlers import CoordinationConfig

        self.config = CoordinationConfig.load()
        self.routing = routing
        self.publisher = bus.as_principal("svc-bureau").publisher("bureau")
        self.rng = random.Random(seed)
        self.open: dict[str, str] = {}  # case number -> package id
        self.ordered = 0
        self.closed: dict[str, int] = {}

    def registered(self, record: dict[str, Any], persons: int, case_number: str, at: datetime) -> None:
        """A newly registered petition: a key case gets its package."""
        from services.coordination.requests import package_order

        decision = self.routing.decide(record["category"], record["summary"])
        if persons < KEY_CASE_PERSONS or decision.route is None:
            return  # not a key case, or diverted: no package
        lead = decision.route.lead
        members = [{"role": role, "person": self.rng.choice(_PEOPLE), "unit": _UNIT_OF_ROLE.get(role, lead)}
                   for role in self.config.package_roles]
        name, req = package_order(case_number, members=members, plan=f"{persons}人集体访：领导包案，五包一化解",
                                  expected_on=(at + timedelta(days=60)).date(), at=at, config=self.config,
                                  leader_package=persons >= 30)
        self.publisher.publish(name, req).get(timeout=30)
        self.open[case_number] = req["package_id"]
        self.ordered += 1

    def resolved(self, case_numbers: set[str], at: datetime) -> None:
        """Closes the packages of cases the ledger shows resolved."""
        from services.coordination.requests import package_closing

        for number in [n for n in self.open if n in case_numbers]:
            result = self.rng.choices(list(RESULTS), weights=list(RESULTS.values()))[0]
            name, req = package_closing(number, self.open.pop(number), result=result, summary="包案化解工作完成",
                                        resolved_on=at.date(), at=at)
            self.publisher.publish(name, req).get(timeout=30)
            self.closed[result] = self.closed.get(result, 0) + 1

    def close(self) -> None:
        self.publisher.close()
