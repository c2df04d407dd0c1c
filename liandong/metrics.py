"""Prometheus metrics, one definition for every service (prometheus-client).

Names follow the Prometheus naming guide: prefix ``liandong_``, base units (seconds),
``_total`` for counters, no ``_created`` series, labels bounded to service / topic / unit /
event type / outcome (never a case number or a person). Label combinations known in advance
are created at 0 by ``preset`` so dashboards show them from the first scrape.
"""

from __future__ import annotations

from collections.abc import Iterable

import prometheus_client
from liandong_sdk import EVENT_TYPES, HANDLING_UNITS, Observer
from liandong_sdk.events import MediationResult, PackageResult, ResolutionOutcome, Satisfaction, known
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]
REGISTRY = CollectorRegistry(auto_describe=True)

DAY = 86400.0
#: Sign-for latency buckets (seconds), including the regulation's thresholds: 1, 5 and 15 days.
SIGNFOR_BUCKETS = (3600.0, 6 * 3600.0, DAY, 2 * DAY, 3 * DAY, 5 * DAY, 7 * DAY, 10 * DAY, 15 * DAY, 30 * DAY, 60 * DAY)

CONSUMED = Counter("liandong_consumed_messages", "Messages consumed, by outcome (handled, duplicate, dead_lettered).",
                   ["service", "topic", "event_type", "outcome"], registry=REGISTRY)
SKIPPED = Counter("liandong_skipped_messages", "Messages a service read but did not decode: their ce_type header "
                  "names a type it has no handler for.", ["service"], registry=REGISTRY)
PRODUCED = Counter("liandong_produced_messages", "Messages produced.", ["service", "topic", "event_type"], registry=REGISTRY)
PROCESSING = Histogram("liandong_processing_duration_seconds", "Time to handle one consumed event.",
                       ["service", "event_type"], registry=REGISTRY,
                       buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5))
DEAD_LETTERS = Counter("liandong_dead_letters", "Messages sent to the dead-letter topic, by reason.",
                       ["service", "topic", "reason"], registry=REGISTRY)
REREADS = Counter("liandong_partition_rereads", "Times a service read a partition again from an offset it was "
                  "not given (a hole in what it was handed after a rebalance).", ["service", "topic"], registry=REGISTRY)
REFUSED = Counter("liandong_events_refused", "Events a service refused (the state or the regulation does not "
                  "allow them): nothing changed for them.", ["service", "event_type"], registry=REGISTRY)
SIGNFOR_LATENCY = Histogram("liandong_handoff_signfor_latency_seconds",
                            "From registration to the lead unit's sign-for (case time, not wall time).",
                            ["unit"], registry=REGISTRY, buckets=SIGNFOR_BUCKETS)
OPEN_CASES = Gauge("liandong_open_cases", "Cases the unit leads that are not resolved.", ["unit"], registry=REGISTRY)
OVERDUE_CASES = Gauge("liandong_overdue_cases", "Open cases past a deadline, by the clock that is late.",
                      ["unit", "clock"], registry=REGISTRY)
ON_TIME_ACCEPTANCE = Gauge("liandong_on_time_acceptance_ratio", "Share of the unit's acceptances made within 15 days.",
                           ["unit"], registry=REGISTRY)
OBJECTIONS = Counter("liandong_objections", "Objections (异议) by the objecting unit.", ["unit"], registry=REGISTRY)
EXTENSIONS = Counter("liandong_extensions", "Approved extensions of the handling period.", ["unit"], registry=REGISTRY)
RESOLUTIONS = Counter("liandong_resolutions", "Written opinions issued, by outcome.", ["unit", "outcome"], registry=REGISTRY)
CALLBACKS = Counter("liandong_callbacks", "Petitioners' evaluations of opinions at the bureau's callbacks (回访).",
                    ["unit", "evaluation"], registry=REGISTRY)
MEDIATION_OUTCOMES = Counter("liandong_mediation_outcomes", "Joint mediations concluded, by result.", ["result"],
                             registry=REGISTRY)
PACKAGE_OUTCOMES = Counter("liandong_package_outcomes", "Responsibility packages closed, by result.", ["result"],
                           registry=REGISTRY)
TEAM_TASKS = Counter("liandong_team_tasks", "Joint task team tasks, by state (assigned, acknowledged, completed).",
                     ["state"], registry=REGISTRY)
SUPERVISION_ACTIONS = Counter("liandong_supervision_actions",
                              "Supervision letters and listings (reminder, notice, listed, recommendation).",
                              ["unit", "action"], registry=REGISTRY)
WORKER_READY = Gauge("liandong_worker_ready", "1 once this worker has joined its group and restored its tables; 0 "
                     "while it joins, rebalances or restores, and once stopped.", ["service"], registry=REGISTRY)
CONSUMER_LAG = Gauge("liandong_consumer_lag_messages", "Messages not yet consumed, per consumer group and topic.",
                     ["group", "topic"], registry=REGISTRY)
HTTP_REFUSED = Counter("liandong_http_refused_requests", "HTTP requests refused: 401 (no valid token) or 403 (the "
                       "principal may not call that endpoint).", ["service", "code"], registry=REGISTRY)
AUTHORIZATION_DENIED = Counter("liandong_authorization_denied", "Requests the broker refused for lack of an ACL.",
                               ["service", "operation"], registry=REGISTRY)

OUTCOMES = known(ResolutionOutcome)
CLOCKS = ("ACCEPTANCE_NOTICE", "HANDLING")
MEDIATION_RESULTS = known(MediationResult)
PACKAGE_RESULTS = known(PackageResult)
TASK_STATES = ("assigned", "acknowledged", "completed")
SUPERVISION_KINDS = ("reminder", "notice", "listed", "recommendation")


def preset(service: str, topics_in: Iterable[str] = (), event_types: Iterable[str] = ()) -> None:
    """Creates the label combinations known in advance at 0."""
    types = list(event_types) or list(EVENT_TYPES)
    SKIPPED.labels(service)
    for t in types:
        PROCESSING.labels(service, t)
        REFUSED.labels(service, t)
    for topic in topics_in:
        DEAD_LETTERS.labels(service, topic, "UNDECODABLE")
    for unit in HANDLING_UNITS:
        OPEN_CASES.labels(unit)
        ON_TIME_ACCEPTANCE.labels(unit)
        OBJECTIONS.labels(unit)
        EXTENSIONS.labels(unit)
        SIGNFOR_LATENCY.labels(unit)
        for clock in CLOCKS:
            OVERDUE_CASES.labels(unit, clock)
        for outcome in OUTCOMES:
            RESOLUTIONS.labels(unit, outcome)
        for action in SUPERVISION_KINDS:
            SUPERVISION_ACTIONS.labels(unit, action)
        for evaluation in known(Satisfaction):
            CALLBACKS.labels(unit, evaluation)
    for result in MEDIATION_RESULTS:
        MEDIATION_OUTCOMES.labels(result)
    for result in PACKAGE_RESULTS:
        PACKAGE_OUTCOMES.labels(result)
    for state in TASK_STATES:
        TEAM_TASKS.labels(state)
    AUTHORIZATION_DENIED.labels(service, "read")
    AUTHORIZATION_DENIED.labels(service, "write")


def exposition() -> tuple[bytes, str]:
    """The text exposition of every Liandong metric of this process, and its content type."""
    return prometheus_client.generate_latest(REGISTRY), prometheus_client.CONTENT_TYPE_LATEST


def count_produced(headers: list[tuple[str, bytes]], topic: str) -> None:
    """Counts one produced message, by the service and event type its CloudEvents headers name."""
    h = dict(headers)
    service = h.get("ce_source", b"/liandong/unknown").decode().removeprefix("/liandong/")
    event_type = h.get("ce_type", b"liandong.unknown").decode().removeprefix("liandong.")
    PRODUCED.labels(service, topic, event_type).inc()


class PrometheusObserver(Observer):
    """What the SDK's plain clients report (``liandong_sdk.Observer``), counted in the metrics above."""

    def produced(self, headers: list[tuple[str, bytes]], topic: str) -> None:
        count_produced(headers, topic)

    def consumed(self, service: str, topic: str, event_type: str, outcome: str) -> None:
        CONSUMED.labels(service, topic, event_type, outcome).inc()

    def dead_lettered(self, service: str, topic: str, reason: str) -> None:
        DEAD_LETTERS.labels(service, topic, reason).inc()

    def denied(self, service: str, operation: str) -> None:
        AUTHORIZATION_DENIED.labels(service, operation).inc()


OBSERVER = PrometheusObserver()
