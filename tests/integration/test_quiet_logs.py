"""The monitor's scrape, on the real broker, logs nothing at WARNING: a consumer with no group has
nothing to commit (kafka-python warned 'group_id is None: disabling auto-commit.' on every scrape)."""

from __future__ import annotations

import logging

import pytest

from liandong import Bus
from services.monitor.app import lag_by_group_and_topic


def test_scraping_the_lag_again_and_again_logs_no_warning(bus: Bus, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    for _ in range(3):
        lag_by_group_and_topic(bus)
    assert [r.getMessage() for r in caplog.records] == []
