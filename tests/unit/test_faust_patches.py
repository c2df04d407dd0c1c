"""The faust internals that liandong.faust_patches relies on are still the ones it was written for."""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import inspect
from importlib.metadata import version
from types import SimpleNamespace
from typing import Any

import aiokafka
import pytest
from aiokafka import TopicPartition
from faust.assignor.client_assignment import CopartitionedAssignment
from faust.assignor.copartitioned_assignor import CopartitionedAssignor
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from hypothesis import given, settings
from hypothesis import strategies as st

from liandong import FETCH_MAX_WAIT_MS, faust_patches
from liandong.streams import UNHURRIED_FETCH_BYTES

#: sha256 (first 16 hex digits) of each internal's source as of WRITTEN_FOR. When an upgrade
#: changes one, read it, check the patch still does what its docstring says, then update the hash.
FINGERPRINTS = {
    "faust.transport.drivers.aiokafka:AIOKafkaConsumerThread._create_worker_consumer": "c2701bfc3e6f6cad",
    "aiokafka.consumer.consumer:AIOKafkaConsumer.start": "2f1ba70443327538",
    "faust.streams:current_event": "3b821f1a78d86a58",
    "mode.utils.collections:ManagedUserDict.__setitem__": "f3bdf602abc08dd1",
    "faust.tables.table:Table.on_key_set": "a370e35ca55c2c7e",
    "faust.tables.base:Collection.send_changelog": "3dd3884e1b5fc0e1",
    "faust.topics:Topic._on_published": "7cfe9ebd65964b0a",
    "faust.tables.base:Collection.partition_for_key": "3b2291811b8dd791",
    "faust.tables.base:Collection._on_changelog_sent": "60122c86a120d82c",
    "faust.streams:Stream._py_aiter": "3a48ee257a65435b",
    "faust.transport.consumer:Consumer.ack": "5fcf41cf45153475",
    "faust.transport.consumer:Consumer._drain_messages": "44a2500309e83c63",
    "faust.transport.consumer:Consumer._new_offset": "1d2c7ea89a7ad4f1",
    "faust.transport.consumer:Consumer._add_gap": "4df2573ded7c1c2c",
    "faust.transport.consumer:Consumer.perform_seek": "0e8c130ff4b0afd8",
    "faust.transport.drivers.aiokafka:AIOKafkaConsumerThread._seek_wait": "9d221e816d940467",
    "faust.transport.drivers.aiokafka:AIOKafkaConsumerThread.seek_to_committed": "775ab0adc4b052ab",
    "aiokafka.consumer.consumer:AIOKafkaConsumer.seek_to_committed": "f6cd85c8b70a4ccf",
    "faust.tables.recovery:Recovery._seek_offsets": "19598ca63d94d250",
    "aiokafka.consumer.fetcher:Fetcher.__init__": "bf21ecb7e0f210b7",
    "aiokafka.consumer.fetcher:Fetcher._get_actions_per_node": "1dab2cf937d165d0",
    "aiokafka.consumer.fetcher:Fetcher._proc_fetch_request": "59bf948fff47eed5",
    "aiokafka.protocol.fetch:FetchRequest.build": "952ef0f41192efc3",
    "aiokafka.client:AIOKafkaClient.send": "246b277687d7b687",
    "faust.assignor.copartitioned_assignor:CopartitionedAssignor.get_assignment": "9e7c467c7140fd22",
    "faust.assignor.client_assignment:CopartitionedAssignment.can_assign": "26e6af42d5ec12eb",
    "faust.assignor.client_assignment:CopartitionedAssignment.num_assigned": "c740f716a904ccac",
    "faust.assignor.client_assignment:CopartitionedAssignment.assign_partition": "ed9308561f2f61a9",
    "faust.assignor.client_assignment:CopartitionedAssignment.unassign_partition": "95c24a8b76b7a18e",
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


def test_an_app_told_to_gather_has_its_worker_consumer_ask_the_broker_for_that_many_bytes() -> None:
    created = SimpleNamespace(_fetch_min_bytes=1, _fetch_max_wait_ms=1500)
    create = faust_patches._responsive_worker_consumer(lambda thread, transport: created)
    class App:  # a faust app stands in: gather holds it weakly
        pass

    patient, eager = App(), App()
    faust_patches.gather(patient, 32768)
    assert create(SimpleNamespace(app=patient), None) is created
    assert (created._fetch_min_bytes, created._fetch_max_wait_ms) == (32768, FETCH_MAX_WAIT_MS)
    create(SimpleNamespace(app=eager), None)
    assert created._fetch_min_bytes == 1  # not told: the broker answers at the first record
    assert "fetch_min_bytes=self._fetch_min_bytes" in inspect.getsource(aiokafka.AIOKafkaConsumer.start)


def test_only_services_no_one_waits_on_gather_their_fetches() -> None:
    from services.registry import SPECS

    declared = {name: spec.service for name, spec in SPECS.items() if spec.service is not None}
    gathering = {name for name, s in declared.items() if s.fetch_min_bytes > 1}
    assert gathering == {"ledger", "notices", "supervision"}  # triage, on the way to every inbox, does not
    assert all(declared[name].fetch_min_bytes == UNHURRIED_FETCH_BYTES for name in gathering)


def test_write_does_what_a_table_assignment_does_but_sends_the_changelog_record_itself() -> None:
    """Patch 3 mirrors ``Table.__setitem__`` (on_key_set's steps, then the store), sending the
    record where ``send_changelog`` would."""
    from faust.tables.base import Collection
    from faust.tables.table import Table
    from mode.utils.collections import ManagedUserDict

    body = [line.strip() for line in inspect.getsource(ManagedUserDict.__setitem__).splitlines()[1:]]
    assert body == ["self.on_key_set(key, value)", "self.data[key] = value"]
    steps = inspect.getsource(Table.on_key_set)
    ours = inspect.getsource(faust_patches.write)
    assert "self.send_changelog(self.partition_for_key(key), key, value)" in steps
    assert "table.partition_for_key(key)" in ours and "table.changelog_topic.get_topic_name()" in ours
    assert "return self.changelog_topic.send_soon(" in inspect.getsource(Collection.send_changelog)
    assert "self._maybe_set_key_ttl(key, partition)" in steps and "table._should_expire_keys()" in ours
    assert "self._sensor_on_set(self, key, value)" in steps and "table._sensor_on_set(table, key, value)" in ours
    assert "table.data[key] = value" in ours
    assert "RocksDB" in inspect.getsource(Collection._on_changelog_sent)  # what skipping it leaves out


def test_a_partition_never_committed_is_read_from_its_beginning_after_a_rebalance() -> None:
    """Patch 7: the seek that ends a rebalance also moves the partitions the group never committed
    (to their beginning), so what faust passed over there is read again."""
    never, committed, zero = (TopicPartition("liandong.unit.hrss.inbox", p) for p in (6, 7, 8))

    class Consumer:
        def __init__(self) -> None:
            self.to_beginning: list[TopicPartition] = []

        async def seek_to_beginning(self, *partitions: TopicPartition) -> None:
            self.to_beginning += partitions

    class Thread:
        def __init__(self) -> None:
            self.consumer = Consumer()

        async def seek_to_committed(self) -> dict[TopicPartition, int | None]:
            return {never: None, committed: 5, zero: 0}  # as aiokafka answers: it moved only `committed`

        async def call_thread(self, fun: Any, *args: Any) -> Any:
            return await fun(*args)

        def _ensure_consumer(self) -> Consumer:
            return self.consumer

    thread = Thread()
    seek = faust_patches._from_the_beginning_if_never_committed(Thread.seek_to_committed)
    assert asyncio.run(seek(thread)) == {never: None, committed: 5, zero: 0}  # faust's read offsets as before
    assert thread.consumer.to_beginning == [never, zero]
    faust_patches.install()
    assert inspect.unwrap(AIOKafkaConsumerThread.seek_to_committed) is not AIOKafkaConsumerThread.seek_to_committed


def test_recovery_reads_a_changelog_partition_it_has_no_offset_for_from_its_beginning() -> None:
    """Patch 8: a standby partition assigned while recovery was running has no offset (None); the
    seek refused it and recovery crashed. Such a partition is now read from its beginning."""
    from collections import Counter

    from faust.tables.recovery import Recovery

    known, unknown, never = (TopicPartition("ledger-cases-changelog", p) for p in (0, 1, 2))

    class Consumer:
        def __init__(self) -> None:
            self.seeks: dict[TopicPartition, int] = {}

        async def seek_wait(self, offsets: dict[TopicPartition, int]) -> None:
            bad = {tp: o for tp, o in offsets.items() if not isinstance(o, int) or o < 0}
            if bad:  # as aiokafka's seek does
                raise ValueError(f"Offset must be a positive integer: {bad}")
            self.seeks.update(offsets)

    offsets: Counter[TopicPartition] = Counter({known: 41, never: -1})
    offsets[unknown] = None  # type: ignore[assignment]  # as Recovery._add leaves it
    consumer = Consumer()
    with pytest.raises(ValueError, match="positive integer"):  # faust's own seek, unpatched
        asyncio.run(inspect.unwrap(Recovery._seek_offsets)(None, consumer, {known, unknown, never}, offsets, "standby"))
    seek = faust_patches._unknown_offsets_from_the_beginning(inspect.unwrap(Recovery._seek_offsets))
    asyncio.run(seek(None, consumer, {known, unknown, never}, offsets, "standby"))
    assert consumer.seeks == {known: 41, unknown: 0, never: 0}
    faust_patches.install()
    assert inspect.unwrap(Recovery._seek_offsets) is not Recovery._seek_offsets


def _assign(clients: dict[str, CopartitionedAssignment], partitions: int, replicas: int
            ) -> dict[str, CopartitionedAssignment]:
    """One rebalance as faust's leader computes it (patched), for one group of copartitioned topics."""
    faust_patches.install()
    return dict(CopartitionedAssignor({"t"}, clients, partitions, replicas).get_assignment())


def _check(assigned: dict[str, CopartitionedAssignment], partitions: int, replicas: int) -> None:
    actives = sorted(p for a in assigned.values() for p in a.actives)
    assert actives == list(range(partitions)), assigned  # each partition active on one worker
    assert all(not a.actives & a.standbys for a in assigned.values()), assigned
    copies = min(replicas, len(assigned) - 1)
    for p in range(partitions):
        assert sum(p in a.standbys for a in assigned.values()) == copies, (p, assigned)
    least = partitions // len(assigned)
    assert min(len(a.actives) for a in assigned.values()) >= least, assigned


def test_a_worker_joining_a_settled_group_gets_its_share_of_the_partitions() -> None:
    """Two workers settled on 4 partitions (2 actives and 2 standbys each), a third joins: faust's
    sticky assignment leaves it nothing (2 + 2 + 0, faust-streaming #93); patched, it gets an active
    the others held a standby of (a swap), and standbys of its own."""
    clients = {"a": CopartitionedAssignment({0, 1}, {2, 3}, {"t"}), "b": CopartitionedAssignment({2, 3}, {0, 1}, {"t"}),
               "c": CopartitionedAssignment(topics={"t"})}
    assigned = _assign(clients, 4, 1)
    _check(assigned, 4, 1)
    assert sorted(len(a.actives) for a in assigned.values()) == [1, 1, 2]
    assert assigned["c"].actives and assigned["c"].standbys
    # one of the first two kept both its actives: the move was the fewest needed
    assert max(len(assigned["a"].actives), len(assigned["b"].actives)) == 2


def test_balance_moves_an_active_to_the_worker_holding_its_standby() -> None:
    rich, poor = CopartitionedAssignment({0, 1, 2}, set(), {"t"}), CopartitionedAssignment(set(), {2}, {"t"})
    faust_patches.balance([rich, poor])
    assert (rich.actives, rich.standbys, poor.actives, poor.standbys) == ({0, 1}, {2}, {2}, set())


@settings(max_examples=200, deadline=None)
@given(partitions=st.integers(1, 12), replicas=st.integers(0, 2), first=st.integers(1, 4),
       joining=st.integers(0, 3), leaving=st.integers(0, 3))
def test_every_rebalance_keeps_faust_invariants_and_gives_each_worker_its_floor(
        partitions: int, replicas: int, first: int, joining: int, leaving: int) -> None:
    """Workers settle, some join and some leave, and the group rebalances: every partition is active
    once with its standbys elsewhere, and every worker has at least floor(partitions / workers)."""
    clients = {f"w{i}": CopartitionedAssignment(topics={"t"}) for i in range(first)}
    assigned = _assign(clients, partitions, replicas)
    _check(assigned, partitions, replicas)
    for i in range(min(leaving, first - 1)):
        del assigned[f"w{i}"]
    assigned.update({f"n{i}": CopartitionedAssignment(topics={"t"}) for i in range(joining)})
    assigned = _assign(assigned, partitions, replicas)
    _check(assigned, partitions, replicas)
