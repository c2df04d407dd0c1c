"""Coordination (联合调处 / 包案 / 一办五组): the bureau's requests fanned out to the units, their
answers checked against each mediation, package and task, reminders and escalations when due.

Its decisions are ``liandong.domain.coordination.Coordination``; this module only declares the
service. Three tables, no personal data: coordination-mediations (case -> its mediations),
coordination-packages (key case -> its packages), coordination-tasks (task number -> task).
Every ``tick_seconds`` each table's tick issues the reminders and escalations that are due.
"""

from __future__ import annotations

from liandong_sdk.events import (
    CaseReferred,
    MediationConcluded,
    MediationDeclined,
    MediationEscalated,
    MediationJoined,
    MediationProposed,
    MediationReminderIssued,
    MediationRequested,
    MediationRequestSubmitted,
    MediationSessionHeld,
    PackageAssigned,
    PackageClosed,
    PackageExtended,
    PackageExtensionRequested,
    PackageOrdered,
    PackageProgressReported,
    PackageReminderIssued,
    TeamTaskAcknowledged,
    TeamTaskAssigned,
    TeamTaskCompleted,
    TeamTaskPublished,
    TeamTaskReminderIssued,
)

from liandong import BUREAU_ANSWERS, BUREAU_COORDINATION, HANDLING_UNITS, UNIT_INBOX, Bus, concrete_topics
from liandong.domain.coordination import Coordination, CoordinationConfig
from liandong.runtime import Runtime
from liandong.service import Clock, Service, Table, faust_runtime

from .config import load_config

C = Coordination
COORDINATION = Service(
    "coordination",
    topics_in=(BUREAU_COORDINATION, BUREAU_ANSWERS),
    # the handling units' inboxes only: no mediation, package or task goes to a reviewing body
    topics_out=(BUREAU_COORDINATION, *(UNIT_INBOX.format(unit=slug) for slug in HANDLING_UNITS.values())),
    emits=(MediationRequested, MediationReminderIssued, MediationEscalated, CaseReferred, PackageAssigned,
           PackageReminderIssued, PackageExtended, TeamTaskAssigned, TeamTaskReminderIssued),
    tables=(
        Table("coordination-mediations", {
            MediationProposed: C.proposed,  # the bureau convenes: an invitation to every participant
            MediationRequestSubmitted: C.submitted,  # a unit asks for one
            MediationJoined: C.joined, MediationDeclined: C.declined,  # the invited answer
            MediationSessionHeld: C.session_held,  # the convener records a session
            MediationConcluded: C.concluded,  # the convener concludes; no agreement: the case is referred
        }, tick=C.mediation_tick),  # unanswered invitations: a reminder, then the bureau is told
        Table("coordination-packages", {
            PackageOrdered: C.ordered,  # the bureau assigns a package: every member unit told
            PackageProgressReported: C.reported,
            PackageExtensionRequested: C.extension_requested,  # within the cap: extended
            PackageClosed: C.closed,
        }, tick=C.package_tick),  # a reporting period without a report: every member reminded
        Table("coordination-tasks", {
            TeamTaskPublished: C.published,  # to the team's group, i.e. its unit
            TeamTaskAcknowledged: C.acknowledged, TeamTaskCompleted: C.completed,
        }, tick=C.task_tick),  # not acknowledged in time: one reminder
    ),
)
SERVICE = COORDINATION.name
TOPICS_IN = concrete_topics(*COORDINATION.topics_in)


def build(bus: Bus, *, clock: Clock | None = None, config: CoordinationConfig | None = None,
          tick_seconds: float = 1.0, app_id: str = SERVICE) -> Runtime:
    return faust_runtime(COORDINATION, bus, Coordination(config or load_config()), app_id=app_id, clock=clock,
                         tick_seconds=tick_seconds)
