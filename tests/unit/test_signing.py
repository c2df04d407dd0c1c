"""Signatures (docs/security.md): the codec signs what it encodes with its principal's key and checks
what it decodes against the principals directory; a message unsigned, signed by one who may not
write its topic, or changed after signing is refused (a unit's answer: told to the referee, which
refuses it on the unit's inbox; anything else: dead-lettered). Keys and the directory are made by
provisioning."""

from __future__ import annotations

import base64
import hashlib
import json
import stat
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from liandong_sdk import (
    BUREAU_PETITIONS,
    Codec,
    OutgoingMessage,
    SchemaCatalogue,
    SignatureError,
    Signer,
    Verifier,
    signing_input,
)
from liandong_sdk.rules import Refused

from liandong import BUREAU_TRIAGE, get_settings
from liandong.domain.answers import speaker
from liandong.examples import example_record
from liandong.security import Grant, ensure_signing_keys
from tests.conftest import signing_keys
from tests.stand_ins import In

SCHEMAS = SchemaCatalogue(get_settings().schemas_dir)
AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HRSS_REPLIES = "liandong.unit.hrss.replies"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], Verifier, Path]:
    folder = tmp_path_factory.mktemp("keys")
    grants = [Grant("unit-hrss", (), (HRSS_REPLIES,)), Grant("unit-police", (), ("liandong.unit.police.replies",)),
              Grant("svc-bureau", (), (BUREAU_TRIAGE,))]
    seeds, verifier = signing_keys(folder, grants)
    return seeds, verifier, folder


def codec(keys: tuple[dict[str, str], Verifier, Path], principal: str | None) -> Codec:
    seeds, verifier, _ = keys
    return Codec(SCHEMAS, signer=Signer.from_seed(principal, seeds[principal]) if principal else None, verifier=verifier)


def objection(unit: str = "HRSS") -> dict:
    return {"event_id": uuid.uuid4(), "occurred_at": AT, "deadline": None, "unit": unit, "reason": "不属于本单位职责",
            "suggested_unit": "JUSTICE", "case": {"case_number": "140214-2026-000001", "petition_id": str(uuid.uuid4()),
                                                 "district_code": "140214"}}


def decode(c: Codec, msg: OutgoingMessage, topic: str | None = None):  # type: ignore[no-untyped-def]
    return c.decode(topic or msg.topic, msg.key, msg.value, msg.headers)


def test_keys_are_made_once_private_0600_and_the_directory_lists_public_keys_and_writes(keys) -> None:  # type: ignore[no-untyped-def]
    seeds, _, folder = keys
    assert set(seeds) == {"admin", "unit-hrss", "unit-police", "svc-bureau"}
    assert stat.S_IMODE((folder / "signing-keys.json").stat().st_mode) == 0o600
    listed = json.loads((folder / "principals.json").read_text())["principals"]
    assert listed["unit-hrss"]["writes"] == [HRSS_REPLIES] and listed["admin"]["writes"] == ["*"]
    assert not any(seed in (folder / "principals.json").read_text() for seed in seeds.values())  # public keys only
    again = ensure_signing_keys(folder / "signing-keys.json", folder / "principals.json", [])
    assert json.loads((folder / "signing-keys.json").read_text()) == seeds  # kept, not regenerated
    assert set(again["principals"]) == {"admin"}  # type: ignore[call-overload]  # the directory follows the grants


def test_what_the_codec_signs_any_client_can_verify_by_the_documented_input(keys) -> None:  # type: ignore[no-untyped-def]
    msg = codec(keys, "unit-hrss").encode("case.handoff.rejected", objection(), source="/liandong/unit/hrss")
    h = dict(msg.headers)
    assert h["ld_signer"] == b"unit-hrss"
    # the input, as docs/security.md spells it, computed here without the SDK
    documented = b"\n".join([b"liandong-signature-v1", h["ce_id"], h["ce_type"], h["ce_time"], msg.key,
                             hashlib.sha256(msg.value).hexdigest().encode()])
    assert signing_input(h, msg.key, msg.value) == documented
    # verified with another library (OpenSSL's Ed25519 through cryptography; the SDK uses libsodium)
    public = Ed25519PublicKey.from_public_bytes(bytes(keys[1].principals["unit-hrss"].key))
    public.verify(base64.b64decode(h["ld_signature"]), documented)  # raises if it does not verify
    event = decode(codec(keys, None), msg)
    assert event.signer == "unit-hrss" and event.signature_error is None


def test_a_bad_signature_on_a_bureau_topic_is_refused_for_the_dead_letter_topic(keys) -> None:  # type: ignore[no-untyped-def]
    record = example_record(SCHEMAS, "case.jurisdiction.decided")
    reader = codec(keys, None)
    cases = {
        "unsigned": codec(keys, None),
        "'unit-hrss', which does not write liandong.bureau.triage": codec(keys, "unit-hrss"),
    }
    for words, writer in cases.items():
        msg = writer.encode("case.jurisdiction.decided", record, source="/test")
        with pytest.raises(SignatureError, match=words):
            decode(reader, msg)
    good = codec(keys, "svc-bureau").encode("case.jurisdiction.decided", record, source="/test")
    changed = OutgoingMessage(good.topic, good.key, good.value[:-1] + bytes([good.value[-1] ^ 1]), good.headers)
    with pytest.raises(SignatureError, match="'svc-bureau' does not verify"):
        decode(reader, changed)
    assert decode(reader, good).signer == "svc-bureau"


def test_the_admin_writes_any_topic_but_speaks_for_no_unit(keys) -> None:  # type: ignore[no-untyped-def]
    verifier = keys[1]
    admin = verifier.principals["admin"]
    assert admin.may_write(BUREAU_PETITIONS) and not admin.may_write(HRSS_REPLIES)


def test_an_answer_not_signed_by_its_unit_reaches_the_referee_which_refuses_it(keys) -> None:  # type: ignore[no-untyped-def]
    reader = codec(keys, None)
    for writer, words in ((None, "unsigned"), ("unit-police", "which does not write"), ("admin", "which does not write")):
        msg = codec(keys, writer).encode("case.handoff.rejected", objection(), source="/test")
        event = decode(reader, msg)  # not raised: the unit must be told, on its inbox
        assert event.signer is None and words in (event.signature_error or "")
        with pytest.raises(Refused, match="not HRSS's word: .*" + words):
            speaker(event)  # type: ignore[arg-type]
    # the police's own key under HRSS's name: the signature does not verify
    seeds = keys[0]
    forged = Signer.from_seed("unit-hrss", seeds["unit-police"])
    msg = Codec(SCHEMAS, signer=forged).encode("case.handoff.rejected", objection(), source="/test")
    assert "does not verify" in (decode(reader, msg).signature_error or "")
    signed = decode(reader, codec(keys, "unit-hrss").encode("case.handoff.rejected", objection(), source="/test"))
    assert speaker(signed).value == "HRSS"  # type: ignore[arg-type]
    assert speaker(In("case.handoff.rejected", "x", objection(), HRSS_REPLIES)).value == "HRSS"  # unchecked: as before
