"""The consumer-lag exporter: every few seconds, each group's committed offsets against the
log end offsets, summed per topic."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from kafka import TopicPartition

from liandong import Bus, get_logger
from liandong.metrics import CONSUMER_LAG
from liandong.runtime import Runtime

log = get_logger("monitor")
SERVICE = "monitor"


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


def build(bus: Bus, *, interval: float = 5.0) -> Runtime:
    task: list[asyncio.Task[None]] = []

    async def loop() -> None:
        while True:
            try:
                for (group, topic), value in (await asyncio.to_thread(lag_by_group_and_topic, bus)).items():
                    CONSUMER_LAG.labels(group, topic).set(value)
            except Exception:  # the broker may be away for a moment: report again next round
                log.exception("lag_scrape_failed")
            await asyncio.sleep(interval)

    async def start() -> None:
        task.append(asyncio.ensure_future(loop()))

    async def stop() -> None:
        for t in task:
            t.cancel()

    return Runtime(SERVICE, bus, on_start=[start], on_stop=[stop])
