"""The bureau's requests to the coordination service, as records for liandong.bureau.coordination.

The command line (`liandong mediation|package|team ...`) and tests build them here and publish
them as the bureau (principal ``svc-bureau``); the coordination service checks them again
against its state and configuration. Ids are derived from what identifies the request, so the
same command given twice is one request.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from liandong_sdk.events import MediationProposed, PackageClosed, PackageExtensionRequested, PackageOrdered, TeamTaskPublished
from liandong_sdk.records import case_ref_of

from liandong import HANDLING_UNITS
from liandong.domain.coordination import PACKAGE_RESULTS, CoordinationConfig

from .config import load_config

Request = tuple[str, dict[str, Any]]
_IDS = uuid.UUID("2d7b9e41-0c3a-4f5b-8e16-a49c7d2b5f08")
UNITS = (*HANDLING_UNITS, "BUREAU")


def _id(*parts: object) -> str:
    return str(uuid.uuid5(_IDS, "/".join(str(p) for p in parts)))


def mediation_proposal(case_number: str, *, convener: str, participants: list[str], subject: str,
                       legal_advisers: list[str] | None = None, requested_by: str = "BUREAU", answer_days: int = 3,
                       at: datetime, mediation_id: str | None = None) -> Request:
    for u in (convener, *participants):
        if u not in HANDLING_UNITS:
            raise ValueError(f"{u!r} is not a unit on the bus ({', '.join(HANDLING_UNITS)})")
    if requested_by not in UNITS:
        raise ValueError(f"requested_by: {requested_by!r} is not a unit")
    if not subject.strip():
        raise ValueError("subject: must be a non-empty text")
    mid = mediation_id or _id("mediation", case_number, subject, convener, *participants)
    return MediationProposed.TYPE, {
        "event_id": _id(mid, "proposed"), "occurred_at": at, "case": case_ref_of(case_number), "deadline": None,
        "requested_by": requested_by, "mediation_id": mid, "convener": convener,
        "participants": list(dict.fromkeys([convener, *participants])), "legal_advisers": list(legal_advisers or []),
        "subject": subject, "answer_days": answer_days}


def package_order(case_number: str, *, members: list[dict[str, str]], plan: str, expected_on: date, at: datetime,
                  cadence_days: int | None = None, linked_cases: list[str] | None = None, leader_package: bool = False,
                  config: CoordinationConfig | None = None, package_id: str | None = None) -> Request:
    config = config or load_config()
    roles = [m["role"] for m in members]
    missing = [r for r in config.package_roles if r not in roles]
    unknown = [r for r in roles if r not in config.package_roles]
    if missing or unknown or len(set(roles)) != len(roles):
        raise ValueError(f"fill every role slot once: {', '.join(config.package_roles)} "
                         f"(missing: {', '.join(missing) or '-'}; unknown: {', '.join(unknown) or '-'})")
    for m in members:
        if m["unit"] not in UNITS or not m["person"].strip():
            raise ValueError(f"slot {m['role']}: a named person from a unit ({', '.join(UNITS)})")
    pid = package_id or _id("package", case_number, *sorted(linked_cases or []))
    return PackageOrdered.TYPE, {
        "event_id": _id(pid, "ordered"), "occurred_at": at, "case": case_ref_of(case_number), "deadline": None,
        "package_id": pid, "case_numbers": list(dict.fromkeys([case_number, *(linked_cases or [])])),
        "members": members, "leader_package": leader_package, "plan": plan,
        "progress_cadence_days": cadence_days or config.package_cadence_days, "expected_resolution_on": expected_on}


def package_extension(case_number: str, package_id: str, *, days: int, reason: str, at: datetime) -> Request:
    if days < 1 or not reason.strip():
        raise ValueError("an extension needs days >= 1 and a reason")
    return PackageExtensionRequested.TYPE, {
        "event_id": _id(package_id, "extension", at.isoformat()), "occurred_at": at, "case": case_ref_of(case_number),
        "deadline": None, "package_id": package_id, "days": days, "reason": reason}


def package_closing(case_number: str, package_id: str, *, result: str, summary: str, resolved_on: date,
                    at: datetime) -> Request:
    if result not in PACKAGE_RESULTS:
        raise ValueError(f"result: one of {', '.join(PACKAGE_RESULTS)}")
    return PackageClosed.TYPE, {
        "event_id": _id(package_id, "closed"), "occurred_at": at, "case": case_ref_of(case_number), "deadline": None,
        "package_id": package_id, "result": result, "resolved_on": resolved_on, "summary": summary}


def task_publications(team: str, *, campaign: str, description: str, due_days: int, at: datetime,
                      groups: list[str] | None = None, number: str | None = None,
                      config: CoordinationConfig | None = None) -> list[Request]:
    """One task per group of the team (every group unless ``groups`` names some), numbered ``<number>-<group>``."""
    config = config or load_config()
    t = config.teams.get(team)
    if t is None:
        raise ValueError(f"no team {team!r}; teams: {', '.join(config.teams)}")
    chosen = groups or list(t.groups)
    unknown = [g for g in chosen if g not in t.groups]
    if unknown:
        raise ValueError(f"team {team} has no group(s) {', '.join(unknown)}; groups: {', '.join(t.groups)}")
    prefix = number or f"{campaign}-{_id(team, campaign, description)[:8]}"
    return [(TeamTaskPublished.TYPE, {
        "event_id": _id(prefix, g, "published"), "occurred_at": at, "task_number": f"{prefix}-{g}", "team": team,
        "group": g, "campaign": campaign, "description": description, "due_days": due_days}) for g in chosen]
