"""The reference departments (simulated units for the demo): each answers the three recommendations
(三项建议) in writing at once, adopted at its configured rate, the same way in every run."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from services.departments.reference import Behaviour, ReferenceDepartment


class Client:
    """The SDK client's surface a reference department uses, with recommendations on its inbox."""

    def __init__(self, recommendations: list[Any]) -> None:
        self.unit, self.cases, self.mediations, self.packages, self.tasks = "HOUSING", {}, {}, {}, {}
        self._recommendations = recommendations
        self.answers: list[tuple[str, bool, str | None]] = []

    def inbox(self, timeout: float) -> list[Any]:
        return []

    def recommendations(self) -> list[Any]:
        out, self._recommendations = self._recommendations, []  # the last poll's only
        return out

    def answer_recommendation(self, rec: Any, adopted: bool, reason: str | None = None) -> None:
        self.answers.append((rec.data["recommendation_id"], adopted, reason))

    def commit(self) -> bool:
        return True


def _recs(n: int) -> list[Any]:
    return [SimpleNamespace(data={"recommendation_id": f"r{i}", "unit": "HOUSING"}) for i in range(n)]


def test_each_recommendation_is_answered_once_adopted_at_the_configured_rate() -> None:
    now = datetime(2026, 5, 1, tzinfo=UTC)
    client = Client(_recs(200))
    dept = ReferenceDepartment(client, Behaviour(recommendation_adoption_rate=0.8))  # type: ignore[arg-type]
    assert dept.step(now) == 200 and dept.step(now) == 0
    assert sorted(r for r, _, _ in client.answers) == sorted(f"r{i}" for i in range(200))
    adopted = sum(a for _, a, _ in client.answers)
    assert 140 <= adopted <= 185  # 80% of 200, give or take the dice
    assert all(reason for _, a, reason in client.answers if not a)  # not adopted: always with the reason
    again = Client(_recs(200))
    ReferenceDepartment(again, Behaviour(recommendation_adoption_rate=0.8)).step(now)  # type: ignore[arg-type]
    assert again.answers == client.answers  # the same answers in every run
