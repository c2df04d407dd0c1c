"""Batches (faust services): table writes wait for the messages' acks, a second event of a case sees
the first's state, what a batch counts is counted once it is complete, a broker that is away is
waited for. The department SDK: answers confirmed before the inbox is committed, a refused one sent
again; the state file keeps mediations, packages and tasks across a restart."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError

from liandong import OutgoingMessage, streams


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streams, "RETRY_BACKOFF", (0.0,))


class Producer:
    """Records what was sent; its acks resolve when ``ack()`` is called, or fail ``failures`` times first."""

    def __init__(self, failures: int = 0) -> None:
        self.sent: list[bytes] = []
        self.pending: list[asyncio.Future[None]] = []
        self.failures = failures

    async def send(self, topic: str, key: bytes, value: bytes, **_: Any) -> asyncio.Future[None]:
        self.sent.append(value)
        ack: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.failures:
            self.failures -= 1
            ack.set_exception(KafkaConnectionError("broker restarting"))
        else:
            self.pending.append(ack)
        return ack

    def ack(self) -> None:
        for ack in self.pending:
            if not ack.done():
                ack.set_result(None)


class App:
    def __init__(self, producer: Producer) -> None:
        self.producer = producer


class Table:
    """A faust table as ``faust_patches.write`` sees it: its changelog records go through the app's
    producer (the same acks as the messages), its store is ``data``."""

    class _Changelog:
        @staticmethod
        def get_topic_name() -> str:
            return "test-changelog"

    name = "test"
    changelog_topic = _Changelog()

    def __init__(self, data: dict[bytes, bytes] | None = None) -> None:
        self.data: dict[bytes, bytes] = dict(data or {})

    def get(self, key: bytes) -> bytes | None:
        return self.data.get(key)

    def _should_expire_keys(self) -> bool:
        return False

    def partition_for_key(self, key: bytes) -> int:
        return 0

    def _sensor_on_set(self, table: Any, key: bytes, value: bytes) -> None:
        pass


def message(value: bytes) -> OutgoingMessage:
    return OutgoingMessage("liandong.unit.housing.inbox", b"case-1", value, [("ce_type", b"liandong.x")])


def test_table_writes_wait_until_every_message_of_the_batch_is_acknowledged() -> None:
    table = Table()
    producer = Producer()
    batch = streams.Batch()
    counted: list[str] = []
    batch.send(message(b"handoff"))
    batch.put(table, b"case-1", {"handled": ["e1"]}, lambda v: repr(v).encode())
    batch.after(lambda: counted.append("e1"))

    async def run() -> None:
        done = asyncio.ensure_future(batch.complete(App(producer), service="test"))  # type: ignore[arg-type]
        for _ in range(5):
            await asyncio.sleep(0)
        assert producer.sent == [b"handoff"]
        assert table.data == {} and counted == []  # not acknowledged yet: nothing says it was sent
        producer.ack()
        while len(producer.sent) < 2:
            await asyncio.sleep(0)
        assert producer.sent[1] == b"{'handled': ['e1']}"  # the state's changelog record
        for _ in range(5):
            await asyncio.sleep(0)
        assert not done.done() and counted == []  # the batch waits for the state's acknowledgement too
        producer.ack()
        await done

    asyncio.run(run())
    assert table.data == {b"case-1": b"{'handled': ['e1']}"}
    assert counted == ["e1"]


def test_an_entry_put_first_is_acknowledged_before_the_state_that_names_it_is_written() -> None:
    links, cases = Table(), Table()
    producer = Producer()
    batch = streams.Batch()
    batch.put(cases, b"case-1", "state: 1 link", str.encode)
    batch.put(links, b"case-1/000000", "link 0", str.encode, first=True)

    async def run() -> None:
        done = asyncio.ensure_future(batch.complete(App(producer), service="test"))  # type: ignore[arg-type]
        while not producer.sent:
            await asyncio.sleep(0)
        for _ in range(5):
            await asyncio.sleep(0)
        assert producer.sent == [b"link 0"]  # the state waits until the link is acknowledged
        producer.ack()
        while len(producer.sent) < 2:
            await asyncio.sleep(0)
        assert producer.sent[1] == b"state: 1 link"
        producer.ack()
        await done

    asyncio.run(run())
    assert links.data == {b"case-1/000000": b"link 0"} and cases.data == {b"case-1": b"state: 1 link"}


def test_a_state_record_the_broker_refused_is_sent_again_before_the_batch_completes() -> None:
    table = Table()
    producer = Producer(failures=1)  # the changelog record's first send fails (a broker restart)
    batch = streams.Batch()
    batch.put(table, b"case-1", "one", str.encode)
    batch.put(table, b"case-2", "two", str.encode)

    async def run() -> None:
        done = asyncio.ensure_future(batch.complete(App(producer), service="test"))  # type: ignore[arg-type]
        while not done.done():  # the broker acknowledges whatever reaches it
            producer.ack()
            await asyncio.sleep(0)
        await done

    asyncio.run(run())
    assert producer.sent == [b"one", b"two", b"one"]  # only the refused record again
    assert table.data == {b"case-1": b"one", b"case-2": b"two"}


def test_a_later_event_of_the_same_case_reads_what_the_batch_wrote() -> None:
    table = Table({b"case-1": b"1"})
    batch = streams.Batch()
    decode = int
    assert batch.get(table, b"case-1", decode) == 1
    batch.put(table, b"case-1", 2, lambda v: str(v).encode())
    assert batch.get(table, b"case-1", decode) == 2
    assert batch.get(table, b"case-2", decode) is None
    assert table.data == {b"case-1": b"1"}  # the table itself is written only on completion


def test_a_broker_away_is_waited_for_and_the_whole_batch_sent_again() -> None:
    table = Table()
    producer = Producer(failures=1)
    batch = streams.Batch()
    batch.send(message(b"a"))
    batch.send(message(b"b"))
    batch.put(table, b"case-1", "state", str.encode)

    async def run() -> None:
        done = asyncio.ensure_future(batch.complete(App(producer), service="test"))  # type: ignore[arg-type]
        while len(producer.sent) < 4:
            await asyncio.sleep(0)
        producer.ack()
        while len(producer.sent) < 5:
            await asyncio.sleep(0)
        producer.ack()
        await done

    asyncio.run(run())
    assert producer.sent == [b"a", b"b", b"a", b"b", b"state"]  # same messages again: readers drop the copies by id
    assert table.data == {b"case-1": b"state"}


# -- states kept decoded between batches ------------------------------------------------------
class Decoder:
    """Counts what it decodes; states are lists, changed in place as a handler might."""

    def __init__(self) -> None:
        self.decoded = 0

    def __call__(self, raw: bytes) -> list[str]:
        self.decoded += 1
        return raw.decode().split(",") if raw else []


def encode(state: list[str]) -> bytes:
    return ",".join(state).encode()


def complete(batch: streams.Batch) -> None:
    async def run() -> None:
        done = asyncio.ensure_future(batch.complete(App(producer), service="test"))  # type: ignore[arg-type]
        while not done.done():
            producer.ack()
            await asyncio.sleep(0)
        await done

    producer = Producer()
    asyncio.run(run())


def one_event(table: Table, recent: streams.Recent, decode: Decoder, key: bytes, event: str) -> list[str]:
    """A batch that appends ``event`` to the state under ``key``, in place, and completes."""
    batch = streams.Batch(recent)
    state = batch.get(table, key, decode) or []
    state.append(event)
    batch.put(table, key, state, encode)
    complete(batch)
    return state


def test_the_next_batch_of_a_case_takes_its_state_as_the_last_batch_wrote_it_without_decoding() -> None:
    table, recent, decode = Table({b"case-1": b"e1"}), streams.Recent(10), Decoder()
    one_event(table, recent, decode, b"case-1", "e2")
    assert decode.decoded == 1  # the first batch decodes what the table held
    one_event(table, recent, decode, b"case-1", "e3")
    one_event(table, recent, decode, b"case-1", "e4")
    assert decode.decoded == 1
    assert table.data == {b"case-1": b"e1,e2,e3,e4"}
    assert decode(table.data[b"case-1"]) == ["e1", "e2", "e3", "e4"]


def test_a_state_the_table_no_longer_holds_is_decoded_again() -> None:
    table, recent, decode = Table(), streams.Recent(10), Decoder()
    one_event(table, recent, decode, b"case-1", "e1")
    table.data[b"case-1"] = b"e1,elsewhere"  # written by another worker, or restored from the changelog
    assert one_event(table, recent, decode, b"case-1", "e2") == ["e1", "elsewhere", "e2"]
    assert decode.decoded == 1


def test_a_state_handed_to_a_batch_that_fails_is_not_handed_out_again() -> None:
    table, recent, decode = Table(), streams.Recent(10), Decoder()
    one_event(table, recent, decode, b"case-1", "e1")
    failed = streams.Batch(recent)
    state = failed.get(table, b"case-1", decode)
    state.append("never written")  # the handler changed it in place, then the batch failed
    assert streams.Batch(recent).get(table, b"case-1", decode) == ["e1"]  # as the table holds it
    assert decode.decoded == 1


def test_at_most_size_states_are_kept_the_oldest_written_forgotten_first() -> None:
    table, recent, decode = Table(), streams.Recent(2), Decoder()
    for key in (b"case-1", b"case-2", b"case-1", b"case-3"):
        one_event(table, recent, decode, key, "e")
    assert len(recent) == 2
    one_event(table, recent, decode, b"case-1", "e")  # written after case-2: kept
    assert decode.decoded == 0
    one_event(table, recent, decode, b"case-2", "e")
    assert decode.decoded == 1


# -- the SDK's answers: sent at once, confirmed before the inbox is marked read ----------------
class Delivery:
    def __init__(self, error: Exception | None) -> None:
        self.error = error

    def get(self, timeout: float | None = None) -> None:
        if self.error is not None:
            raise self.error


class Publisher:
    """Refuses the first ``failures`` answers (as a restarting broker would), then delivers."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.published: list[str] = []

    def publish(self, event_type: str, record: dict[str, Any]) -> Delivery:
        self.published.append(record["event_id"])
        if self.failures:
            self.failures -= 1
            return Delivery(KafkaConnectionError("broker restarting"))
        return Delivery(None)

    def flush(self, timeout: float | None = None) -> None:
        pass


def test_an_answer_the_broker_refused_is_sent_again_and_confirmed_later() -> None:
    from liandong_sdk import DeliveryPending, DepartmentClient

    client = object.__new__(DepartmentClient)  # no broker: only the confirmation logic
    client.unit = "HOUSING"
    client._publisher = Publisher(failures=1)
    client._unconfirmed = []
    client._publish("case.handoff.accepted", {"event_id": "a1"})
    client._publish("case.accepted", {"event_id": "a2"})
    with pytest.raises(DeliveryPending, match="1 answer"):
        client.confirm()
    assert client._publisher.published == ["a1", "a2", "a1"]  # the refused one again, same id
    client.confirm()
    assert client._unconfirmed == []


# -- rebuilding from a log: an unknown topic is not an empty one ----------------------------------
class Consumer:
    """Metadata that comes late (``late`` empty answers first), or never (``late`` None)."""

    def __init__(self, late: int | None) -> None:
        self.late = late
        self.assigned: list[Any] = []

    def partitions_for_topic(self, topic: str) -> set[int]:
        if self.late is None:
            return set()
        if self.late:
            self.late -= 1
            return set()
        return {0, 1}

    def assign(self, parts: list[Any]) -> None:
        self.assigned = parts

    def seek_to_beginning(self, *parts: Any) -> None:
        pass

    def end_offsets(self, parts: list[Any]) -> dict[Any, int]:
        return {p: 5 for p in parts}

    def position(self, tp: Any) -> int:
        return 0


def subscriber(consumer: Consumer) -> Any:
    from liandong_sdk import Subscriber

    sub = object.__new__(Subscriber)  # no broker: only the assignment logic
    sub._consumer, sub._topics, sub.service = consumer, set(), "intake"
    return sub


def test_assign_all_waits_for_metadata_that_comes_late() -> None:
    consumer = Consumer(late=1)
    sub = subscriber(consumer)
    waited: list[float] = []
    sub.assign_all(["liandong.bureau.petitions"], timeout=5, wait=waited.append)
    assert waited == [0.2]  # asked once more after the empty answer
    assert [(tp.topic, tp.partition) for tp in consumer.assigned] == [("liandong.bureau.petitions", 0),
                                                                         ("liandong.bureau.petitions", 1)]
    assert not sub.caught_up()  # five records to read in each partition, not an empty log


def test_assign_all_refuses_a_topic_whose_partitions_never_become_known() -> None:
    from liandong_sdk import StartupError

    with pytest.raises(StartupError, match=r"intake: the partitions of liandong\.bureau\.petitions are not known"):
        subscriber(Consumer(late=None)).assign_all(["liandong.bureau.petitions"], timeout=0)
