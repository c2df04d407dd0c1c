"""The consumer-lag exporter: every few seconds, each group's committed offsets against the
log end offsets, summed per topic. It reads no topic: a service of one job."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import datetime
from typing import Any

from kafka import TopicPartition

from liandong import Bus
from liandong.metrics import CONSUMER_LAG
from liandong.runtime import Runtime
from liandong.service import Job, Service, View, faust_runtime


def lag_by_group_and_topic(bus: Bus) -> dict[tuple[str, str], int]:
    admin = bus.admin()
    consumer = bus.consumer(group_id=None)
    try:
        groups = [g["group_id"] if isinstance(g, dict) else g[0] for g in admin.list_groups()]
        committed: dict[str, dict[TopicPartition, Any]] = admin.list_group_offsets(groups) if groups else {}
        parts = sorted({tp for offsets in committed.values() for tp in offsets})
        ends = consumer.end_offsets(parts) if parts else {}
        lag: dict[tuple[str, str], int] = defaultdict(int)
        for group, offsets in committed.items():
            for tp, meta in offsets.items():
                if meta is not None and meta.offset >= 0 and tp in ends:
                    lag[(group, tp.topic)] += max(0, ends[tp] - meta.offset)
        return dict(lag)
    finally:
        consumer.close()
        admin.close()


def scrape(bus: Bus, _: View, __: datetime) -> None:
    """One round: every group's lag per topic as a gauge (the broker away: logged, tried next round)."""
    for (group, topic), value in lag_by_group_and_topic(bus).items():
        CONSUMER_LAG.labels(group, topic).set(value)


MONITOR = Service("monitor", topics_in=(), topics_out=(), emits=(), jobs=(Job(5.0, scrape, blocking=True),))
SERVICE = MONITOR.name


def build(bus: Bus, *, interval: float = 5.0) -> Runtime:
    return faust_runtime(replace(MONITOR, jobs=(Job(interval, scrape, blocking=True),)), bus, bus)
