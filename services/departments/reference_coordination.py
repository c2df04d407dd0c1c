"""How a reference department answers joint mediations, responsibility packages and task-team
tasks (simulated, for demos and tests). Time is injected: ``step(now)`` does what is due.

Per department (each has its own behaviour): answer delay, decline and silence rates for
mediation invitations, the convener's session and conclusion delays and agreement rate, the
progress-report interval for packages (longer than the package's cadence: reminders follow),
and how long a working group takes to acknowledge and complete a task (a slow group).
"""

from __future__ import annotations

import heapq
import itertools
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from liandong_sdk import DepartmentClient, DepartmentError

from liandong import get_logger
from liandong.domain import IllegalTransition

log = get_logger("departments")


@dataclass(frozen=True)
class CoordinationBehaviour:
    mediation_answer_after_days: float = 1.0
    mediation_decline_rate: float = 0.15
    mediation_silent_rate: float = 0.05  # never answers: reminder, then escalation
    mediation_session_after_days: float = 5.0
    mediation_agreement_rate: float = 0.6
    package_report_every_days: float = 6.0
    package_report_step: int = 20  # percent added per report
    task_ack_after_days: float = 0.2
    task_complete_after_days: float = 3.0
    seed: int = 11


class CoordinationAnswers:
    """Plans and gives a department's answers to mediations, packages and tasks."""

    def __init__(self, client: DepartmentClient, behaviour: CoordinationBehaviour | None = None) -> None:
        self.client = client
        self.behaviour = behaviour or CoordinationBehaviour()
        self._agenda: list[tuple[datetime, int, str, str]] = []  # (due, order, action, entity id)
        self._order = itertools.count()
        self._planned: set[str] = set()

    def _dice(self, what: str) -> random.Random:
        return random.Random(f"{self.behaviour.seed}:{self.client.unit}:{what}")

    def _at(self, due: datetime, action: str, entity: str) -> None:
        heapq.heappush(self._agenda, (due, next(self._order), action, entity))

    def plan(self, now: datetime) -> None:
        b = self.behaviour
        for mid, m in self.client.mediations.items():
            if f"m/{mid}" in self._planned:
                continue
            self._planned.add(f"m/{mid}")
            dice = self._dice(mid)
            if m.concluded or (m.convener != self.client.unit and m.answer != "PENDING"):
                continue  # done before a restart (the client's state file remembers)
            if m.convener == self.client.unit:
                self._at(now + timedelta(days=b.mediation_session_after_days), "session", mid)
                self._at(now + timedelta(days=b.mediation_session_after_days, hours=2), "conclude", mid)
            elif dice.random() >= b.mediation_silent_rate:
                action = "decline" if dice.random() < b.mediation_decline_rate else "join"
                self._at(now + timedelta(days=b.mediation_answer_after_days), action, mid)
        for pid in self.client.packages:
            if f"p/{pid}" not in self._planned:
                self._planned.add(f"p/{pid}")
                self._at(now + timedelta(days=b.package_report_every_days), "report", pid)
        for number in self.client.tasks:
            if f"t/{number}" not in self._planned and self.client.tasks[number].status != "COMPLETED":
                self._planned.add(f"t/{number}")
                self._at(now + timedelta(days=b.task_ack_after_days), "acknowledge", number)
                self._at(now + timedelta(days=b.task_complete_after_days), "complete", number)

    def step(self, now: datetime) -> int:
        """Plans what the last inbox poll brought and gives every answer due by ``now``."""
        self.plan(now)
        done = 0
        while self._agenda and self._agenda[0][0] <= now:
            entry = heapq.heappop(self._agenda)
            try:
                done += self._do(entry[2], entry[3], now)
            except (DepartmentError, IllegalTransition) as exc:  # no longer allowed (e.g. concluded): drop it
                log.warning("coordination_answer_refused", unit=self.client.unit, action=entry[2], error=str(exc))
            except Exception:  # the bus is away: keep the answer for the next step
                heapq.heappush(self._agenda, entry)
                raise
        return done

    def _do(self, action: str, entity: str, now: datetime) -> int:
        c, b = self.client, self.behaviour
        if action == "join":
            c.join_mediation(entity)
        elif action == "decline":
            c.decline_mediation(entity, "本单位职责范围外，建议由属地街道参与")
        elif action == "session":
            m = c.mediations[entity]
            c.record_session(entity, now, [f"{u.lower()}-代表" for u in m.participants] + m.legal_advisers,
                             "听取各方意见，释法明理")
        elif action == "conclude":
            agreed = self._dice(entity + "/result").random() < b.mediation_agreement_rate
            if agreed:
                c.conclude_mediation(entity, "AGREEMENT", "各方达成调解协议")
            else:
                c.conclude_mediation(entity, "NO_AGREEMENT", "未达成协议，引导申请劳动仲裁", referral="ARBITRATION")
        elif action == "report":
            p = c.packages[entity]
            percent = min(100, (p.reports + 1) * b.package_report_step)
            c.report_package_progress(entity, percent, [f"第{p.reports + 1}次走访当事人"])
            if percent < 100:
                self._at(now + timedelta(days=b.package_report_every_days), "report", entity)
        elif action == "acknowledge":
            if c.tasks[entity].status != "ASSIGNED":
                return 0
            c.acknowledge_task(entity, f"{c.unit.lower()}-值班员")
        elif action == "complete":
            c.complete_task(entity, "已按要求完成")
        return 1
