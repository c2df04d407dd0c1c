"""A case's audit chain (liandong.audit): each event the ledger records is linked with its
publisher's signature and sealed by the ledger; ``verify`` finds the chain intact, or names the
first event changed, removed or unsigned, and a link moved to another case."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from liandong_sdk import (
    BUREAU_ANSWERS,
    BUREAU_PETITIONS,
    BUREAU_TRIAGE,
    Codec,
    SchemaCatalogue,
    Signer,
    Verifier,
    answer_headers,
)

from liandong import get_settings
from liandong.audit import Chain, genesis, link_hash, verify
from liandong.examples import example_record
from liandong.security import Grant
from tests.conftest import signing_keys

SCHEMAS = SchemaCatalogue(get_settings().schemas_dir)
CASE = "140214-2026-000007"
HRSS_REPLIES = "liandong.unit.hrss.replies"


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]], Verifier]:
    """A chain of three events (the petition, the bureau's decision, HRSS's sign-for), as the ledger links them."""
    folder: Path = tmp_path_factory.mktemp("keys")
    grants = [Grant("svc-intake", (), (BUREAU_PETITIONS,)), Grant("svc-bureau", (), (BUREAU_TRIAGE,)),
              Grant("unit-hrss", (), (HRSS_REPLIES,)), Grant("svc-triage", (), (BUREAU_ANSWERS,)),
              Grant("svc-ledger", (), ())]
    seeds, verifier = signing_keys(folder, grants)
    reader = Codec(SCHEMAS, verifier=verifier)
    chain = Chain(Signer.from_seed("svc-ledger", seeds["svc-ledger"]))
    links: list[dict[str, Any]] = []
    for principal, event_type in (("svc-intake", "petition.registered"), ("svc-bureau", "case.jurisdiction.decided"),
                                  ("unit-hrss", "case.handoff.accepted")):
        writer = Codec(SCHEMAS, signer=Signer.from_seed(principal, seeds[principal]))
        msg = writer.encode(event_type, example_record(SCHEMAS, event_type, case_number=CASE, unit="HRSS"), source="/t")
        event = reader.decode(msg.topic, msg.key, msg.value, msg.headers)
        if principal == "unit-hrss":  # the referee's checked copy, with HRSS's own signature of what it sent
            referee = Codec(SCHEMAS, signer=Signer.from_seed("svc-triage", seeds["svc-triage"]))
            copy_ = referee.encode(event_type, event.data, source="/t")
            headers = copy_.headers + answer_headers(event.headers, event.topic, event.raw_value)
            event = reader.decode(BUREAU_ANSWERS, copy_.key, copy_.value, headers)
        links.append(chain.link(CASE, links[-1]["hash"] if links else None, event))
    return links, verifier


def test_a_chain_as_recorded_is_intact(signed: tuple[list[dict[str, Any]], Verifier]) -> None:
    links, verifier = signed
    assert verify(CASE, links, verifier) is None
    assert links[0]["prev"] == genesis(CASE) and links[2]["prev"] == links[1]["hash"]
    assert [link["signer"] for link in links] == ["svc-intake", "svc-bureau", "svc-triage"]
    assert links[2]["answer"]["signer"] == "unit-hrss" and links[2]["answer"]["topic"] == HRSS_REPLIES
    assert {link["sealed_by"] for link in links} == {"svc-ledger"}
    assert "value" not in links[0] and len(links[0]["value_sha256"]) == 64  # the petition's personal data is not kept


def tampered(links: list[dict[str, Any]], index: int, **changes: Any) -> list[dict[str, Any]]:
    out = copy.deepcopy(links)
    out[index].update(changes)
    return out


def test_an_event_changed_after_it_was_recorded_is_named(signed: tuple[list[dict[str, Any]], Verifier]) -> None:
    links, verifier = signed
    # its time moved a day back (a sign-for made to look on time)
    broken = verify(CASE, tampered(links, 2, ce_time="2026-01-01T00:00:00.000Z"), verifier)
    assert broken is not None and (broken.index, broken.problem) == (2, "changed")
    assert broken.event_id == links[2]["event_id"] and "not what its publisher signed" in broken.reason


def test_a_changed_signature_is_named(signed: tuple[list[dict[str, Any]], Verifier]) -> None:
    links, verifier = signed
    signature = links[1]["signature"]
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    broken = verify(CASE, tampered(links, 1, signature=flipped), verifier)
    assert broken is not None and (broken.index, broken.problem) == (1, "changed")
    assert "'svc-bureau' does not verify" in broken.reason
    # another principal's name on it: it may not write the topic, or its key does not fit
    broken = verify(CASE, tampered(links, 1, signer="unit-hrss"), verifier)
    assert broken is not None and broken.index == 1 and "does not write liandong.bureau.triage" in broken.reason


def test_a_changed_signature_of_the_unit_on_its_checked_answer_is_named(
        signed: tuple[list[dict[str, Any]], Verifier]) -> None:
    links, verifier = signed
    answer = links[2]["answer"]
    flipped = ("A" if answer["signature"][0] != "A" else "B") + answer["signature"][1:]
    broken = verify(CASE, tampered(links, 2, answer={**answer, "signature": flipped}), verifier)
    assert broken is not None and broken.index == 2 and "the unit's own signature" in broken.reason
    broken = verify(CASE, tampered(links, 2, answer={**answer, "value_sha256": "0" * 64}), verifier)
    assert broken is not None and broken.index == 2 and "'unit-hrss' does not verify" in broken.reason


def test_a_removed_event_and_an_unsigned_one_are_named(signed: tuple[list[dict[str, Any]], Verifier]) -> None:
    links, verifier = signed
    broken = verify(CASE, [links[0], links[2]], verifier)
    assert broken is not None and (broken.index, broken.problem) == (1, "removed")
    assert broken.event_id == links[2]["event_id"]
    # removed, and the chain rewritten over the gap: every signature holds, the ledger's seal does not
    rewritten = [links[0], {**links[2], "prev": links[0]["hash"]}]
    rewritten[1]["hash"] = link_hash(rewritten[1])
    broken = verify(CASE, rewritten, verifier)
    assert broken is not None and (broken.index, broken.problem) == (1, "changed") and "seal" in broken.reason
    broken = verify(CASE, tampered(links, 0, signer=None, signature=None), verifier)
    assert broken is not None and (broken.index, broken.problem) == (0, "unsigned")
    broken = verify("140214-2026-000008", links, verifier)  # another case's chain
    assert broken is not None and broken.index == 0 and broken.problem == "removed"
