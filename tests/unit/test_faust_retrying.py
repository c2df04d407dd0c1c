"""A broker that is away for a while is waited for; the same message is tried again, not skipped."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, MessageSizeTooLargeError, TopicAuthorizationFailedError

from liandong import streams


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streams, "RETRY_BACKOFF", (0.0,))


def test_transient_errors_are_retried_until_the_attempt_succeeds() -> None:
    calls: list[int] = []

    async def attempt() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise KafkaConnectionError("broker restarting")
        if len(calls) == 2:
            raise KafkaTimeoutError()
        return "sent"

    assert asyncio.run(streams.retrying(attempt, service="test", what="x")) == "sent"
    assert len(calls) == 3


@pytest.mark.parametrize("error", [MessageSizeTooLargeError(), TopicAuthorizationFailedError()])
def test_errors_that_retrying_cannot_fix_escape_at_once(error: Exception) -> None:
    calls: list[int] = []

    async def attempt() -> None:
        calls.append(1)
        raise error

    with pytest.raises(type(error)):
        asyncio.run(streams.retrying(attempt, service="test", what="x"))
    assert len(calls) == 1
