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
    #: What the classification matched on: the keywords found in the summary (empty: intake's category).
    matched: tuple[str, ...] = ()
    #: A routed petition that also raises a matter for another channel: that part, named (its
    #: petitioner is told where to take it), while the service part is routed.
    diverted_part: Diversion | None = None
    diverted_matched: tuple[str, ...] = ()


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
        return self.matches(hint, summary)[0][0]

    def matches(self, hint: str, summary: str) -> list[tuple[str, tuple[str, ...]]]:
        """Every category the petition speaks to, with the keywords it matched: the explicit one
        first (matched on nothing), then the keyword rules in their order; ``OTHER`` if none."""
        found: list[tuple[str, tuple[str, ...]]] = [(hint, ())] if hint and hint != "OTHER" else []
        for category, words in self.keywords:
            hits = tuple(w for w in words if w in summary)
            if hits and category not in (c for c, _ in found):
                found.append((category, hits))
        return found or [("OTHER", ())]

    def decide(self, hint: str, summary: str) -> Decision:
        """Where the petition goes. A matter for another channel (litigation, discipline ...) is
        diverted; one whose summary also raises a service problem has that problem routed and the
        other part named (never silently dropped). A diversion intake's clerk chose stands."""
        found = self.matches(hint, summary)
        category, matched = found[0]
        service = next(((c, m) for c, m in found if c not in self.diversions), None)
        if category in self.diversions and (service is None or category == hint):  # a clerk's diversion stands
            return Decision(category, diversion=self.diversions[category], matched=matched)
        part: tuple[str, tuple[str, ...]] | None = None
        if category in self.diversions:
            assert service is not None
            part, (category, matched) = (category, matched), service
        else:
            part = next(((c, m) for c, m in found if c in self.diversions), None)
        route = self.routes.get(category, self.fallback)
        co = list(route.co)
        for unit, words in route.co_if:
            if unit not in co and unit != route.lead and any(w in summary for w in words):
                co.append(unit)
        return Decision(category, route=route, co_units=tuple(co), matched=matched,
                        diverted_part=self.diversions[part[0]] if part else None,
                        diverted_matched=part[1] if part else ())

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
