"""A stream service decodes only what it has a handler for, read from the ``ce_type`` header; a
message without a known type is decoded (and so dead-lettered with its reason); the ledger decodes
everything, so a bad message of any type reaches the dead-letter topic."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from liandong_sdk import event_type
from liandong_sdk.events import CaseHandoffAccepted, CaseHandoffRequested, PetitionRegistered

from liandong.metrics import SKIPPED
from liandong.streams import skipped
from services.coordination.app import COORDINATION
from services.ledger.app import LEDGER
from services.triage.app import TRIAGE


def message(ce_type: str | None, *other: tuple[str, bytes]) -> Any:
    headers = [*other, *([("ce_type", ce_type.encode())] if ce_type is not None else [])]
    return SimpleNamespace(message=SimpleNamespace(headers=headers))


def ce(cls: Any) -> str:
    return event_type(cls.TYPE).ce_type


def test_a_service_wants_the_types_it_has_handlers_for_and_no_other() -> None:
    wanted = TRIAGE.wanted
    assert wanted is not None
    assert ce(PetitionRegistered).encode() in wanted
    assert ce(CaseHandoffAccepted).encode() in wanted  # the referee checks every answer
    assert ce(CaseHandoffRequested).encode() not in wanted  # its own output: nothing to do with it
    assert wanted == {event_type(cls.TYPE).ce_type.encode() for cls in TRIAGE.handlers}
    assert COORDINATION.wanted is not None and ce(PetitionRegistered).encode() not in COORDINATION.wanted


def test_the_ledger_decodes_everything_it_reads() -> None:
    assert LEDGER.wanted is None
    batch = [message(ce(CaseHandoffRequested)), message(None), message("nonsense")]
    assert skipped(batch, LEDGER.wanted, "ledger") == batch


def test_only_wanted_types_and_messages_of_no_known_type_are_kept_and_the_rest_counted() -> None:
    wanted = frozenset({ce(PetitionRegistered).encode()})
    registered = message(ce(PetitionRegistered), ("ce_id", b"1"))
    other = message(ce(CaseHandoffRequested))
    unheaded = message(None, ("ce_id", b"2"))
    unknown = message("org.example.nonsense")
    before = SKIPPED.labels("skip-test")._value.get()
    kept = skipped([registered, other, unheaded, other, unknown], wanted, "skip-test")
    assert kept == [registered, unheaded, unknown]  # the last two are decoded to be dead-lettered
    assert SKIPPED.labels("skip-test")._value.get() == before + 2
