"""No offset passed over: the consumer's check (liandong.streams.Continuity) and the faust patches
it relies on (an untracked message is not counted as acked; a jump in fetched offsets is no gap)."""

from __future__ import annotations

import asyncio

import faust
from faust.types import TP
from faust.types.tuples import ConsumerMessage

from liandong import faust_patches
from liandong.streams import Continuity, Verdict

TP0 = TP("liandong.unit.justice.replies", 0)


def _checked(continuity: Continuity, offsets: list[int], generation: int = 1) -> list[Verdict]:
    return [continuity.check(TP0, o, generation) for o in offsets]


def test_offsets_in_order_from_the_committed_one_are_handled() -> None:
    verdicts = _checked(Continuity(lambda tp: 10), [10, 11, 12])
    assert verdicts == [Verdict(True)] * 3


def test_a_message_past_a_hole_is_put_aside_and_the_partition_read_again_from_the_hole() -> None:
    continuity = Continuity(lambda tp: 0)
    first = _checked(continuity, [0, 2, 3, 4])
    assert first == [Verdict(True), Verdict(False, reread_from=1), Verdict(False), Verdict(False)]
    # The fetch from offset 1 brings 1, then 2, 3, 4 again: each handled, in order.
    assert _checked(continuity, [1, 2, 3, 4, 5]) == [Verdict(True)] * 5


def test_what_another_worker_handled_meanwhile_is_not_asked_for_again() -> None:
    committed = {TP0: 0}
    continuity = Continuity(lambda tp: committed.get(tp))
    assert _checked(continuity, [0, 1]) == [Verdict(True)] * 2
    committed[TP0] = 20  # the partition went elsewhere and came back, handled up to 19
    assert _checked(continuity, [20, 21], generation=2) == [Verdict(True)] * 2


def test_one_read_again_is_handled_again_without_moving_back() -> None:
    continuity = Continuity(lambda tp: None)
    assert _checked(continuity, [5, 6, 7, 6, 8]) == [Verdict(True)] * 5
    assert continuity.check(TP0, 10, 1) == Verdict(False, reread_from=9)


def test_a_hole_every_fetch_confirms_is_taken_as_missing_offsets_after_a_few_seeks() -> None:
    continuity = Continuity(lambda tp: 3)
    assert continuity.check(TP0, 5, 1) == Verdict(False, reread_from=3)  # offsets 3 and 4 are not there
    seeks = 1
    while True:
        verdict = continuity.check(TP0, 5, 1)  # each fetch from 3 begins at 5
        if verdict.handle:
            break
        assert verdict == Verdict(False, reread_from=3)
        seeks += 1
    assert seeks == Continuity.MAX_SEEKS
    assert verdict == Verdict(True, missing=(3, 4))
    assert continuity.check(TP0, 6, 1) == Verdict(True)


def test_a_rebalance_drops_the_pending_reread_but_not_what_was_handled() -> None:
    continuity = Continuity(lambda tp: 0)
    _checked(continuity, [0, 1, 5])  # a reread from 2 pending
    assert continuity.check(TP0, 7, 2) == Verdict(False, reread_from=2)  # a new one from what was handled


def _consumer() -> tuple[faust.App, object]:
    faust_patches.install()
    app = faust.App("continuity-unit", broker="kafka://127.0.0.1:1", autodiscover=False, web_enabled=False)
    app.topics._acking_topics.add(TP0.topic)  # what an agent's subscription does
    return app, app.consumer


def _message(offset: int) -> ConsumerMessage:
    return ConsumerMessage(TP0.topic, TP0.partition, offset, 0.0, 0, None, b"k", b"v", None, tp=TP0)


def test_a_message_no_stream_took_up_is_not_counted_as_acked() -> None:
    _, consumer = _consumer()
    skipped = _message(5)  # what faust's stream acks when it passes a message over
    assert skipped.ack(consumer) is False
    assert consumer._acked[TP0] == []
    taken = _message(6)
    taken.tracked = True  # a stream takes it up before handling it
    consumer._unacked_messages.add(taken)
    assert taken.ack(consumer) is True
    assert consumer._acked[TP0] == [6]
    assert not consumer._unacked_messages


def test_a_message_set_aside_is_neither_counted_nor_waited_for() -> None:
    app, consumer = _consumer()
    message = _message(7)
    message.tracked = True
    consumer._unacked_messages.add(message)
    faust_patches.set_aside(app, message)
    assert message.ack(consumer) is False
    assert consumer._acked[TP0] == [] and not consumer._unacked_messages


def test_only_confirmed_holes_are_gaps_faust_may_commit_past() -> None:
    app, consumer = _consumer()
    asyncio.run(consumer._add_gap(TP0, 3, 9))  # faust's fetch loop guessing at a jump
    assert not consumer._gap[TP0]
    asyncio.run(faust_patches.missing(app, TP0, 3, 4))
    assert sorted((i.begin, i.end) for i in consumer._gap[TP0]) == [(3, 5)]

