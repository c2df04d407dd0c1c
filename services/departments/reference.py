"""Reference departments: a department system built on the SDK, with simulated behaviour
(answer delay, objection rate, extension rate) for demos and tests.

Topics in:  liandong.unit.<unit>.inbox      Topics out: liandong.unit.<unit>.replies
Time is injected: ``step(now)`` does whatever is due at ``now``; ``run_forever`` drives it
with the wall clock, with delays scaled by ``seconds_per_day``.
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from liandong_sdk import DepartmentClient, DepartmentError, Handoff
from liandong_sdk.events import CaseExtensionApproved

from liandong import get_logger
from liandong.domain import HandoffStatus, IllegalTransition

from .reference_coordination import CoordinationAnswers, CoordinationBehaviour

log = get_logger("departments")

#: Who is competent instead, when a unit objects (its suggestion to triage).
SUGGESTIONS = {"JUSTICE": "STREET_OFFICE", "HRSS": "HOUSING", "HOUSING": "STREET_OFFICE", "POLICE": "STREET_OFFICE",
               "STREET_OFFICE": "HOUSING"}


@dataclass(frozen=True)
class Behaviour:
    sign_after_days: float = 1.0
    accept_after_days: float = 3.0
    progress_after_days: float = 20.0
    resolve_after_days: float = 40.0
    objection_rate: float = 0.05
    extension_rate: float = 0.05
    seed: int = 7
    #: How often the unit adopts one of the three recommendations (三项建议); it answers each at once.
    recommendation_adoption_rate: float = 0.8
    #: Each case's delays are stretched by a factor drawn in [1 - jitter, 1 + jitter] (0: exactly the delays above).
    jitter: float = 0.0


class ReferenceDepartment:
    def __init__(self, client: DepartmentClient, behaviour: Behaviour | None = None,
                 coordination: CoordinationBehaviour | None = None, commit_every: float = 1.0) -> None:
        self.client = client
        self.behaviour = behaviour or Behaviour()
        # mediations, packages and task-team tasks (reference_coordination.py)
        self.coordination = CoordinationAnswers(client, coordination)
        # (due, order, action, case number, handoff id): a plan belongs to one handoff
        self._agenda: list[tuple[datetime, int, str, str, str]] = []
        self._order = itertools.count()
        self.commit_every = commit_every
        self._committed_at = -commit_every  # the first step commits

    def resume(self, now: datetime) -> None:
        """After a restart: plans what is left for every case the client remembers."""
        for h in self.client.cases.values():
            self._plan(h, now)

    def step(self, now: datetime, poll_timeout: float = 0.2) -> int:
        """Reads the inbox, schedules answers for new cases, performs every answer due by ``now``."""
        for h in self.client.inbox(poll_timeout):
            self._plan(h, now)
        done = 0
        for rec in self.client.recommendations():  # 三项建议: a written answer, adopted or not with the reason
            adopted = self._dice(f"{rec.data['recommendation_id']}/adopt").random() < self.behaviour.recommendation_adoption_rate
            self.client.answer_recommendation(rec, adopted, None if adopted else "现行政策无调整空间，已向信访人解释说明")
            done += 1
        while self._agenda and self._agenda[0][0] <= now:
            entry = heapq.heappop(self._agenda)
            _, _, action, case_number, handoff_id = entry
            current = self.client.cases.get(case_number)
            if current is None or current.handoff_id != handoff_id:
                continue  # planned for a handoff since replaced (re-routed to us as lead): that plan is void
            try:
                self._do(action, case_number)
                done += 1
            except (DepartmentError, IllegalTransition) as exc:  # wrong now (e.g. the case was re-routed): drop it
                log.warning("answer_refused", unit=self.client.unit, case=case_number, action=action, error=str(exc))
            except Exception:  # the bus is away (e.g. a broker restart): keep the answer for the next step
                heapq.heappush(self._agenda, entry)
                raise
        done += self.coordination.step(now)
        # Committing writes the client's whole state file: at most every COMMIT_EVERY seconds of wall
        # time, or a busy unit spends its time rewriting it. Answers in between are already sent; a
        # crash repeats them with the same ids.
        if self._commit_due():
            self.client.commit()
        return done

    def _commit_due(self) -> bool:
        at = time.monotonic()
        if at - self._committed_at < self.commit_every:
            return False
        self._committed_at = at
        return True

    def planned(self, case_number: str) -> list[str]:
        """The answers still to come for a case, in order."""
        return [action for _, _, action, number, _ in sorted(self._agenda) if number == case_number]

    def _at(self, now: datetime, days: float, action: str, h: Handoff) -> None:
        heapq.heappush(self._agenda, (now + timedelta(days=days), next(self._order), action, h.case_number, h.handoff_id))

    def _dice(self, case_number: str) -> random.Random:
        """Decisions depend on the case (its year and sequence), not on the order cases arrive in,
        so the same petitions meet the same answers in every run."""
        return random.Random(f"{self.behaviour.seed}:{self.client.unit}:{case_number.split('-', 1)[-1]}")

    def _plan(self, h: Handoff, now: datetime) -> None:
        """Schedules the answers still due for a handoff, given how far it has come."""
        b = self.behaviour
        dice = self._dice(h.case_number)
        objects = h.role == "LEAD" and dice.random() < b.objection_rate
        extends = dice.random() < b.extension_rate
        stretch = 1 + b.jitter * (2 * dice.random() - 1) if b.jitter else 1.0
        if h.status is HandoffStatus.REQUESTED and objects:
            self._at(now, b.sign_after_days * stretch, "object", h)
            return
        steps = [("sign", b.sign_after_days), ("accept", b.accept_after_days), ("progress", b.progress_after_days)]
        if extends:
            steps.append(("extend", b.progress_after_days + 1))
        steps.append(("resolve", b.resolve_after_days))
        steps = [(action, days * stretch) for action, days in steps]
        done = {"sign": HandoffStatus.SIGNED, "accept": HandoffStatus.ACCEPTED, "progress": HandoffStatus.IN_PROGRESS}
        order = [HandoffStatus.REQUESTED, HandoffStatus.SIGNED, HandoffStatus.ACCEPTED, HandoffStatus.IN_PROGRESS]
        if h.status not in order:
            return  # resolved, objected or not accepted: nothing left
        reached = order.index(h.status)
        for action, days in steps:
            if action in done and order.index(done[action]) <= reached:
                continue
            if action == "extend" and h.answered.get(CaseExtensionApproved.TYPE):
                continue
            self._at(now, days, action, h)

    def _do(self, action: str, case_number: str) -> None:
        c = self.client
        if action == "object":
            c.object(case_number, "该事项不属于本单位职责范围", SUGGESTIONS.get(c.unit))
        elif action == "sign":
            c.sign_for(case_number, signed_by=f"{c.unit.lower()}-收件员")
        elif action == "accept":
            c.accept(case_number)
        elif action == "progress":
            c.report_progress(case_number, 50, "已调查核实，正在协调处理")
        elif action == "extend":
            c.request_extension(case_number, 15, "情况复杂，需多部门会商")
        elif action == "resolve":
            outcome, tag = self._dice(case_number + "/resolve").choice([("SUPPORTED", "SOLVED"), ("EXPLAINED", "EXPLAINED"),
                                               ("NOT_SUPPORTED", "EXPLAINED"), ("SUPPORTED", "ASSISTED")])
            c.resolve(case_number, outcome, tag, "已出具书面处理意见")

    def run_forever(self, stop: threading.Event, clock: Callable[[], datetime], seconds_per_day: float) -> None:
        """Simulated days pass ``seconds_per_day`` real seconds each, counted from the start."""
        start = clock()
        self.resume(start)
        while not stop.is_set():
            elapsed = (clock() - start).total_seconds()
            try:
                self.step(start + timedelta(days=elapsed / seconds_per_day))
            except Exception:  # a broker hiccup must not end the department: log, back off, go on
                log.exception("department_step_failed", unit=self.client.unit)
                stop.wait(1.0)
