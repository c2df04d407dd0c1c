"""Topic provisioning: the catalogue's topics created and kept at their configuration."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType, NewPartitions, NewTopic
from kafka.errors import TopicAlreadyExistsError
from liandong_sdk import TopicSpec, all_topics

from ._settings import get_settings


# -- provisioning ---------------------------------------------------------------------------
@dataclass
class ProvisionReport:
    created: list[str] = field(default_factory=list)
    reconfigured: list[str] = field(default_factory=list)
    repartitioned: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.reconfigured or self.repartitioned)


def provision_topics(bootstrap: str, topics: Iterable[TopicSpec] | None = None, *,
                     partitions: int | None = None, replication_factor: int | None = None,
                     min_insync: int | None = None, **client: Any) -> ProvisionReport:
    """Creates missing topics and brings config and partition counts up to the catalogue.

    Idempotent: a second run changes nothing. Partitions are only ever added (Kafka cannot
    remove them).
    """
    settings = get_settings()
    default_partitions = partitions or settings.topic_partitions
    replication = replication_factor or settings.replication_factor

    def want(spec: TopicSpec) -> dict[str, str]:
        return {**spec.config(), "min.insync.replicas": str(min_insync or settings.min_insync_replicas)}

    specs = list(topics if topics is not None else all_topics())
    report = ProvisionReport()
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, **client)
    try:
        existing = set(admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        if missing:
            new = [NewTopic(s.name, s.partitions or default_partitions, replication, topic_configs=want(s))
                   for s in missing]
            # Another provisioner may win the race; the config check of the next run still applies.
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(new)
            report.created = [s.name for s in missing]
        present = [s for s in specs if s.name in existing]
        if present:
            described = {t["name"]: len(t["partitions"]) for t in admin.describe_topics([s.name for s in present])}
            resources = [ConfigResource(ConfigResourceType.TOPIC, s.name, configs=None) for s in present]
            configs = admin.describe_configs(resources, config_filter="all")
            current = _flatten_configs(configs)
            altered: dict[str, dict[str, str]] = {}
            for s in present:
                wanted = want(s)
                if _drifted(current.get(s.name, {}), wanted):
                    admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, s.name, configs=wanted)])
                    report.reconfigured.append(s.name)
                    altered[s.name] = wanted
                wanted_parts = s.partitions or default_partitions
                if described.get(s.name, wanted_parts) < wanted_parts:
                    admin.create_partitions({s.name: NewPartitions(wanted_parts)})
                    report.repartitioned.append(s.name)
                if s.name not in report.reconfigured and s.name not in report.repartitioned:
                    report.unchanged.append(s.name)
            if altered:
                _wait_for_configs(admin, altered)
        if missing:
            admin.wait_for_topics([s.name for s in missing], timeout_ms=30000)
    finally:
        admin.close()
    return report


def _wait_for_configs(admin: KafkaAdminClient, wanted: dict[str, dict[str, str]], timeout: float = 30.0) -> None:
    """Returns once the brokers describe every topic of ``wanted`` with its new config. Why: the
    controller applies an alteration at once, but a broker's metadata (what it describes) follows a
    moment later, and a check run meanwhile (the next ``provision_topics``) would alter it again."""
    deadline = time.monotonic() + timeout
    while True:
        resources = [ConfigResource(ConfigResourceType.TOPIC, name, configs=None) for name in wanted]
        current = _flatten_configs(admin.describe_configs(resources, config_filter="all"))
        behind = sorted(name for name, config in wanted.items() if _drifted(current.get(name, {}), config))
        if not behind:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"the brokers still describe the old config of {', '.join(behind)} {timeout:.0f} s "
                               "after it was altered")
        time.sleep(0.1)


def _drifted(have: dict[str, str], wanted: dict[str, str]) -> bool:
    return any(have.get(k) != v for k, v in wanted.items())


def _flatten_configs(described: Any) -> dict[str, dict[str, str]]:
    """kafka-python's describe_configs result as {topic: {key: value}}."""
    out: dict[str, dict[str, str]] = {}
    for resources in described.values():
        for name, entries in resources.items():
            out[name] = {k: str(v.get("value") if isinstance(v, dict) else v) for k, v in entries.items()}
    return out


