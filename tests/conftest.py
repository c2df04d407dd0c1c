"""Test fixtures. Tests marked ``kafka`` share one real broker per test session: the local
one started by the same code as `liandong broker start` (on free ports, in a temporary
folder), or the cluster named by LIANDONG_BOOTSTRAP_SERVERS."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from liandong import Bus, get_settings, provision_topics
from liandong.broker import LocalBroker, free_port

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("LIANDONG_BOOTSTRAP_SERVERS")
    if external:
        yield external
        return
    broker = LocalBroker(tmp_path_factory.mktemp("kafka"), port=free_port(), controller_port=free_port())
    info = broker.start()
    try:
        yield info.bootstrap_servers
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def bus(kafka_bootstrap: str) -> Bus:
    b = Bus.from_settings(kafka_bootstrap)
    provision_topics(kafka_bootstrap)
    return b


@pytest.fixture(scope="session")
def schemas_bus() -> Bus:
    """A bus object for codec-only (no broker) tests."""
    return Bus.from_settings("127.0.0.1:1", get_settings())


@pytest.fixture
def group_id() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "kafka_bootstrap" in getattr(item, "fixturenames", ()) or "bus" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.kafka)
