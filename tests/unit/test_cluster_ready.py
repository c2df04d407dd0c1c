"""A local cluster counts as started only when each broker serves: a broker is listed in the
cluster's metadata (even fenced) before its listener opens, and a client sent to it then is refused."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from liandong_sdk import BrokerError

from liandong import broker


@pytest.fixture()
def listening() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


@pytest.fixture()
def closed() -> int:
    with socket.socket() as s:  # bound, never listening: a connection is refused
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _metadata(monkeypatch: pytest.MonkeyPatch, brokers: list[dict[str, Any]]) -> None:
    class Admin:
        def __init__(self, **_: Any) -> None: ...

        def describe_cluster(self) -> dict[str, Any]:
            return {"brokers": brokers}

        def close(self) -> None: ...

    import kafka

    class Clock:  # each pause moves the clock on instead of waiting
        now = 0.0

        def monotonic(self) -> float:
            return self.now

        def sleep(self, seconds: float) -> None:
            self.now += seconds

    monkeypatch.setattr(kafka, "KafkaAdminClient", Admin)
    monkeypatch.setattr(broker, "time", Clock())


def _broker(port: int, fenced: bool = False) -> dict[str, Any]:
    return {"broker_id": port, "host": "127.0.0.1", "port": port, "is_fenced": fenced}


def test_brokers_that_all_accept_connections_are_ready(monkeypatch: pytest.MonkeyPatch, listening: int) -> None:
    _metadata(monkeypatch, [_broker(listening), _broker(listening)])
    broker.wait_for_brokers("127.0.0.1:1", 2, timeout=5, client={})


def test_a_listed_broker_whose_listener_is_not_open_is_not_ready(monkeypatch: pytest.MonkeyPatch, listening: int,
                                                                 closed: int) -> None:
    _metadata(monkeypatch, [_broker(listening), _broker(closed)])
    with pytest.raises(BrokerError, match=r"did not show 2 serving brokers .* \(saw 1\)"):
        broker.wait_for_brokers("127.0.0.1:1", 2, timeout=3, client={})


def test_a_fenced_broker_is_not_ready(monkeypatch: pytest.MonkeyPatch, listening: int) -> None:
    _metadata(monkeypatch, [_broker(listening), _broker(listening, fenced=True)])
    with pytest.raises(BrokerError, match=r"\(saw 1\)"):
        broker.wait_for_brokers("127.0.0.1:1", 2, timeout=3, client={})
