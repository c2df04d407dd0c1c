"""Topic provisioning against the real broker: the catalogue's topics, idempotently."""

from __future__ import annotations

from kafka.admin import ConfigResource, ConfigResourceType

from liandong import Bus, all_topics
from tests.conftest import wait_for


def test_provisioning_twice_changes_nothing(bus: Bus) -> None:
    first_or_later = bus.provision_topics()  # the fixture already provisioned once
    assert not first_or_later.changed
    again = bus.provision_topics()
    assert not again.changed
    assert sorted(again.unchanged) == sorted(t.name for t in all_topics())


def test_topics_have_the_catalogue_partitions_and_config(bus: Bus) -> None:
    admin = bus.admin()
    try:
        described = {t["name"]: len(t["partitions"]) for t in admin.describe_topics([t.name for t in all_topics()])}
        configs = admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, "liandong.unit.police.inbox", configs=None)], config_filter="all")
    finally:
        admin.close()
    assert described["liandong.unit.police.inbox"] == bus.settings.topic_partitions
    assert described["liandong.deadletter"] == 3
    entries = configs["topic"]["liandong.unit.police.inbox"]
    assert entries["retention.ms"]["value"] == str(400 * 24 * 3600 * 1000)
    assert entries["cleanup.policy"]["value"] == "delete"


def _retention(bus: Bus, topic: str) -> str:
    admin = bus.admin()
    try:
        configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs=None)],
                                         config_filter="all")
    finally:
        admin.close()
    return str(configs["topic"][topic]["retention.ms"]["value"])


def test_a_drifted_topic_config_is_repaired(bus: Bus) -> None:
    topic = "liandong.bureau.supervision"
    admin = bus.admin()
    try:
        admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs={"retention.ms": "1000"})])
    finally:
        admin.close()
    # The broker describes an alteration a moment after the controller applied it: drifted once it says so.
    wait_for(lambda: _retention(bus, topic) == "1000", timeout=30, message="the drift described by the broker")
    report = bus.provision_topics()
    assert report.reconfigured == [topic]
    # provision_topics returns once the repair is described: at once, a second run finds nothing to do.
    assert _retention(bus, topic) == str(400 * 24 * 3600 * 1000)
    assert not bus.provision_topics().changed
