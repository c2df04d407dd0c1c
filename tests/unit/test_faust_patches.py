"""The faust internals that liandong.faust_patches relies on are still the ones it was written for."""

from __future__ import annotations

import hashlib
import importlib
import inspect
from importlib.metadata import version

import aiokafka
import pytest
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

from liandong import FETCH_MAX_WAIT_MS, faust_patches

#: sha256 (first 16 hex digits) of each internal's source as of WRITTEN_FOR. When an upgrade
#: changes one, read it, check the patch still does what its docstring says, then update the hash.
FINGERPRINTS = {
    "faust.transport.drivers.aiokafka:AIOKafkaConsumerThread._create_worker_consumer": "c2701bfc3e6f6cad",
    "aiokafka.consumer.consumer:AIOKafkaConsumer.start": "2f1ba70443327538",
    "faust.streams:current_event": "3b821f1a78d86a58",
}


def _resolve(spec: str) -> object:
    module, qualname = spec.split(":")
    obj: object = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return inspect.unwrap(obj)  # type: ignore[arg-type]


def test_every_internal_is_fingerprinted() -> None:
    assert set(faust_patches.INTERNALS) == set(FINGERPRINTS)


@pytest.mark.parametrize("spec", sorted(FINGERPRINTS))
def test_patched_internal_is_unchanged(spec: str) -> None:
    source = inspect.getsource(_resolve(spec))  # type: ignore[arg-type]
    got = hashlib.sha256(source.encode()).hexdigest()[:16]
    assert got == FINGERPRINTS[spec], (
        f"{spec} changed since faust-streaming {faust_patches.WRITTEN_FOR['faust-streaming']} "
        f"(installed: {version('faust-streaming')}, aiokafka {version('aiokafka')}): re-read liandong/faust_patches.py")


def test_the_fetch_wait_reaches_the_consumer_the_patch_sets() -> None:
    faust_patches.install()
    assert hasattr(AIOKafkaConsumerThread._create_worker_consumer, "__wrapped__")
    faust_patches.install()  # idempotent: not wrapped twice
    assert inspect.unwrap(AIOKafkaConsumerThread._create_worker_consumer) is \
        AIOKafkaConsumerThread._create_worker_consumer.__wrapped__  # type: ignore[attr-defined]
    # aiokafka keeps the setting under the attribute the patch writes, and start() reads it.
    assert "self._fetch_max_wait_ms = fetch_max_wait_ms" in inspect.getsource(aiokafka.AIOKafkaConsumer.__init__)
    assert "fetch_max_wait_ms=self._fetch_max_wait_ms" in inspect.getsource(aiokafka.AIOKafkaConsumer.start)
    assert FETCH_MAX_WAIT_MS < 1500
