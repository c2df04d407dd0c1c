"""Classification and routing: which matter goes where, from a routing matrix kept as data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Route:
    lead: str
    co: tuple[str, ...] = ()
    mode: str = "FORWARD"
    #: Extra co-units when the summary mentions one of their keywords (e.g. police for refusal to pay).
    co_if: tuple[tuple[str, tuple[str, ...]], ...] = ()
    rationale: str = ""


DEFAULT_FALLBACK = Route("STREET_OFFICE", rationale="no specific rule: local responsibility (属地)")


@dataclass(frozen=True)
class Diversion:
    channel: str
    explanation: str


@dataclass(frozen=True)
class Decision:
    category: str
    route: Route | None = None
    diversion: Diversion | None = None
    co_units: tuple[str, ...] = ()


@dataclass(frozen=True)
class RoutingMatrix:
    routes: dict[str, Route]
    diversions: dict[str, Diversion]
    keywords: tuple[tuple[str, tuple[str, ...]], ...] = ()
    fallback: Route = field(default_factory=lambda: DEFAULT_FALLBACK)

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> RoutingMatrix:
        routes = {
            cat: Route(
                lead=r["lead"], co=tuple(r.get("co", ())), mode=r.get("mode", "FORWARD"),
                co_if=tuple((u, tuple(words)) for u, words in (r.get("co_if") or {}).items()),
                rationale=r.get("rationale", ""),
            )
            for cat, r in data["routes"].items()
        }
        diversions = {cat: Diversion(d["channel"], d["explanation"]) for cat, d in data.get("divert", {}).items()}
        keywords = tuple((cat, tuple(words)) for cat, words in data.get("keywords", {}).items())
        return cls(routes, diversions, keywords, routes.get("OTHER", DEFAULT_FALLBACK))

    def classify(self, hint: str, summary: str) -> str:
        """The explicit category if one was given, otherwise the first keyword rule that matches."""
        if hint and hint != "OTHER":
            return hint
        for category, words in self.keywords:
            if any(w in summary for w in words):
                return category
        return "OTHER"

    def decide(self, hint: str, summary: str) -> Decision:
        category = self.classify(hint, summary)
        if category in self.diversions:
            return Decision(category, diversion=self.diversions[category])
        route = self.routes.get(category, self.fallback)
        co = list(route.co)
        for unit, words in route.co_if:
            if unit not in co and unit != route.lead and any(w in summary for w in words):
                co.append(unit)
        return Decision(category, route=route, co_units=tuple(co))

    def next_lead(self, category: str, tried: list[str], suggested: str | None, co_units: tuple[str, ...] = ()) -> str | None:
        """Where a case goes after its lead objected: the objector's suggestion if it is a unit
        not tried yet, else the case's first co-unit not tried yet, else the route's; None when exhausted."""
        candidates = ([suggested] if suggested else []) + list(co_units) + list(self.routes.get(category, self.fallback).co)
        for unit in candidates:
            if unit in self.handling_units and unit not in tried:
                return unit
        return None

    @property
    def handling_units(self) -> set[str]:
        units = {r.lead for r in self.routes.values()} | {u for r in self.routes.values() for u in r.co}
        units |= {u for r in self.routes.values() for u, _ in r.co_if}
        return units | {self.fallback.lead}
