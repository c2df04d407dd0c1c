"""The reviewing bodies in the simulation (复查/复核机关: 区政府, 市政府, 市人社局, 市公安局): each reads
the review and re-check requests on its own inbox as its own principal (the SDK's
ReviewingBodyClient) and decides them, as a body's own system would."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from liandong_sdk import REVIEWING_BODIES, ReviewingBodyClient

from .._bus import Bus

#: What the bodies decide, weights (维持 / 变更 / 撤销).
DECISIONS = {"UPHELD": 0.72, "CHANGED": 0.2, "REVOKED": 0.08}
_TEXT = {"UPHELD": "经复查，原处理意见认定事实清楚，处理恰当，予以维持。",
         "CHANGED": "经复查，原处理意见部分不当，予以变更。",
         "REVOKED": "经复查，原处理意见认定事实不清，予以撤销，责令重新办理。"}


@dataclass(frozen=True)
class Decided:
    case_number: str
    stage: str
    decision: str
    #: Whose decision was examined: the handling unit (review) or the reviewing body (re-check).
    reviewed_unit: str
    case: dict[str, Any]


class Reviewers:
    def __init__(self, bus: Bus, seed: int, group_suffix: str = "demo") -> None:
        self.rng = random.Random(seed)
        self.now = datetime.now(UTC)
        self.bodies = [ReviewingBodyClient(body, bus, group_id=f"unit-{slug}-{group_suffix}", clock=lambda: self.now)
                       for body, slug in REVIEWING_BODIES.items()]

    def decide(self, at: datetime) -> list[Decided]:
        """Decides every request that has arrived; what was decided of each."""
        self.now = at
        decided = []
        for body in self.bodies:
            requests = body.requests(0.1)
            for r in requests:
                decision = self.rng.choices(list(DECISIONS), weights=list(DECISIONS.values()))[0]
                stage_text = _TEXT[decision].replace("复查", "复核") if r.stage == "RECHECK" else _TEXT[decision]
                body.decide(r, decision, stage_text, decided_by=f"{body.body} 复查复核办")
                decided.append(Decided(r.case_number, r.stage, decision, r.reviewed_unit, r.case))
            if requests:
                body.commit()
        return decided

    def close(self) -> None:
        for body in self.bodies:
            body.close()
