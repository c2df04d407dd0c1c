"""The bureau's own moves in the simulation: a responsibility package (包案, 五包一) for every
key case — a group visit of ``KEY_CASE_PERSONS`` or more — and its closing once the ledger shows
the case resolved; a joint mediation (联合调处) for a share of the disputes that several units
handle together (the lead convenes, the co-units take part, a legal adviser joins). Published as the bureau (principal ``svc-bureau``) on
liandong.bureau.coordination through the coordination service's own request builders; the
coordination service assigns the package to every member unit's inbox and chases progress.
Only when the coordination service is in the registry."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta
from typing import Any

from liandong import load_clocks
from liandong._bus import Bus
from liandong.domain.routing import RoutingMatrix

from .reviewers import Decided

#: A group visit of this many persons is a key case with a package.
KEY_CASE_PERSONS = 10
#: Package results once the case is resolved (化解 / 部分化解 / 未化解 / 转入司法), weights.
RESULTS = {"RESOLVED": 0.7, "PARTIALLY_RESOLVED": 0.18, "UNRESOLVED": 0.07, "TRANSFERRED_TO_JUDICIAL": 0.05}
_UNIT_OF_ROLE = {"leading_official": "BUREAU", "street_cadre": "STREET_OFFICE", "police_officer": "POLICE",
                 "legal_adviser": "JUSTICE"}
#: Matters the bureau sends to joint mediation when several units handle them, and how often.
MEDIATED_MATTERS = frozenset({"CIVIL_DISPUTE", "WAGE_ARREARS", "PROPERTY_MANAGEMENT", "HEATING", "LAND"})
MEDIATION_RATE = 0.3
_ADVISERS = ("刘律师", "陈律师", "法律顾问周某")
#: The petitioners' evaluations at the callback (回访) after the opinion, weights.
EVALUATIONS = {"SATISFIED": 0.62, "BASICALLY_SATISFIED": 0.26, "UNSATISFIED": 0.12}
CALLBACK_ATTEMPTS = 5
#: How many unsatisfied petitioners apply for review (复查), and how many of those whose review upheld or
#: changed the opinion go on to a re-check (复核).
REVIEW_RATE = 0.6
RECHECK_RATE = 0.4
_REMARKS = {"SATISFIED": "", "BASICALLY_SATISFIED": "问题基本解决", "UNSATISFIED": "问题没有完全解决"}
_PEOPLE = ("张副区长", "李局长", "王主任", "赵所长", "刘律师", "陈书记", "杨科长", "周网格员")


class Bureau:
    def __init__(self, bus: Bus, routing: RoutingMatrix, seed: int) -> None:
        from services.coordination.config import load_config

        self.config = load_config()
        self.clocks = load_clocks()
        self.routing = routing
        self.publisher = bus.as_principal("svc-bureau").publisher("bureau")
        # The bureau's supervision office writes the three recommendations (三项建议) to a unit's inbox.
        self.supervision = bus.as_principal("svc-supervision").publisher("bureau/supervision")
        self.rng = random.Random(seed)
        self.open: dict[str, str] = {}  # case number -> package id
        self.ordered = 0
        self.mediations = 0
        self.closed: dict[str, int] = {}
        self.called_back: set[str] = set()
        self.attempts: dict[str, int] = {}
        #: (case number, stage) -> refusals so far, for applications to forward (intake may not know the decision yet).
        self.to_apply: dict[tuple[str, str], int] = {}

    def registered(self, record: dict[str, Any], persons: int, case_number: str, at: datetime) -> None:
        """A newly registered petition: a key case gets its package."""
        from services.coordination.requests import package_order

        decision = self.routing.decide(record["category"], record["summary"])
        if decision.route is None:
            return  # diverted: neither package nor mediation
        lead = decision.route.lead
        if decision.co_units and decision.category in MEDIATED_MATTERS and self.rng.random() < MEDIATION_RATE:
            self._propose_mediation(case_number, lead, list(decision.co_units), decision.category, at)
        if persons < KEY_CASE_PERSONS:
            return  # not a key case: no package
        members = [{"role": role, "person": self.rng.choice(_PEOPLE), "unit": _UNIT_OF_ROLE.get(role, lead)}
                   for role in self.config.package_roles]
        name, req = package_order(case_number, members=members, plan=f"{persons}人集体访：领导包案，五包一化解",
                                  expected_on=(at + timedelta(days=60)).date(), at=at, config=self.config,
                                  leader_package=persons >= 30)
        self.publisher.publish(name, req).get(timeout=30)
        self.open[case_number] = req["package_id"]
        self.ordered += 1

    def _propose_mediation(self, case_number: str, lead: str, co_units: list[str], category: str,
                           at: datetime) -> None:
        from services.coordination.requests import mediation_proposal

        name, req = mediation_proposal(case_number, convener=lead, participants=co_units,
                                       subject=f"{category} 多部门联合调处", legal_advisers=[self.rng.choice(_ADVISERS)],
                                       at=at)
        self.publisher.publish(name, req).get(timeout=30)
        self.mediations += 1

    def resolved(self, case_numbers: set[str], at: datetime) -> None:
        """Closes the packages of cases the ledger shows resolved."""
        from services.coordination.requests import package_closing

        for number in [n for n in self.open if n in case_numbers]:
            result = self.rng.choices(list(RESULTS), weights=list(RESULTS.values()))[0]
            name, req = package_closing(number, self.open.pop(number), result=result, summary="包案化解工作完成",
                                        resolved_on=at.date(), at=at)
            self.publisher.publish(name, req).get(timeout=30)
            self.closed[result] = self.closed.get(result, 0) + 1

    def call_back(self, case_numbers: set[str], at: datetime, record: Any) -> int:
        """Calls back the petitioners of newly resolved cases (回访) and records their evaluations
        through ``record(body)`` (intake's POST /callbacks: status, answer); returns how many were recorded."""
        done = 0
        for number in sorted(case_numbers - self.called_back):
            evaluation = self.rng.choices(list(EVALUATIONS), weights=list(EVALUATIONS.values()))[0]
            status, _ = record({"case_number": number, "evaluation": evaluation, "remark": _REMARKS[evaluation],
                                "called_at": at.isoformat()})
            # The ledger may show the case resolved before intake has read the opinion (409 "no handling
            # opinion yet"): try again at the next poll, and give up after a few refusals.
            self.attempts[number] = self.attempts.get(number, 0) + 1
            if status == 200 or self.attempts[number] >= CALLBACK_ATTEMPTS:
                self.called_back.add(number)
                done += status == 200
            if status == 200 and evaluation == "UNSATISFIED" and self.rng.random() < REVIEW_RATE:
                self.to_apply[(number, "REVIEW")] = 0
        return done

    def reviewed(self, decisions: list[Decided], at: datetime) -> None:
        """The bodies' decisions: a petitioner unhappy with a review decision applies for a re-check; an
        opinion the review changed or revoked earns its unit a recommendation to improve its work (三项建议)."""
        from liandong_sdk.events import SupervisionRecommendationIssued

        from liandong.domain.supervision import recommendation

        for d in decisions:
            if d.stage != "REVIEW":
                continue
            if d.decision != "REVOKED" and self.rng.random() < RECHECK_RATE:
                self.to_apply[(d.case_number, "RECHECK")] = 0
            if d.decision in ("CHANGED", "REVOKED"):
                record = recommendation(d.case, d.reviewed_unit, "IMPROVE_WORK",
                                        "复查改变了原处理意见：建议查找办理中的问题，改进工作并书面答复。", at, self.clocks,
                                        uuid.uuid5(uuid.NAMESPACE_URL, f"liandong:recommend:{d.case_number}"))
                self.supervision.publish(SupervisionRecommendationIssued.TYPE, record).get(timeout=30)

    def apply_reviews(self, at: datetime, apply: Any) -> int:
        """Forwards the petitioners' applications through ``apply(body)`` (intake's POST /reviews: status,
        answer); one refused is tried again at the next poll, a few times; returns how many were forwarded."""
        done = 0
        for (number, stage), tries in sorted(self.to_apply.items()):
            status, _ = apply({"case_number": number, "stage": stage, "applied_at": at.isoformat(),
                               "grounds": "对处理意见不服" if stage == "REVIEW" else "对复查意见不服"})
            if status == 200 or tries + 1 >= CALLBACK_ATTEMPTS:
                del self.to_apply[(number, stage)]
                done += status == 200
            else:
                self.to_apply[(number, stage)] = tries + 1
        return done

    def close(self) -> None:
        self.publisher.close()
        self.supervision.close()
