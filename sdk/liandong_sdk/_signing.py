"""Signatures: every event carries its publisher's Ed25519 signature, so that no one (a unit, or
anyone with write access to a topic or to the broker's disks) can put words in another's mouth.

On the wire (a client in any language does the same; docs/security.md)::

    ld_signer     the publishing principal, UTF-8 (e.g. ``unit-hrss``)
    ld_signature  base64 (RFC 4648, with padding) of the 64-byte Ed25519 signature of the
                  signing input, UTF-8 of these six lines joined by "\\n":
                  liandong-signature-v1, ce_id, ce_type, ce_time, the message key,
                  and the lowercase hex SHA-256 of the message value

The topic is not signed: a copy on another topic is still judged by who signed it. The referee
publishes a unit's checked answer again, signed by the referee, with the unit's own signature of
the answer as it was sent (``ld_answer_signer``, ``ld_answer_signature``, and what it signed beyond
the copy's own attributes: ``ld_answer_time``, its ce_time; ``ld_answer_sha256``, its value's
SHA-256; ``ld_answer_topic``, the replies topic it came on), so the record keeps the unit's word.

A message is authentic on topic T when its signer is in the principals directory
(``principals.json``: each principal's public key and the topics it writes), the directory lets
the signer write T (``*``: any topic but a unit's replies, which are the unit's alone), and the
signature verifies with the signer's key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# libsodium's Ed25519 (PyNaCl): a check takes half the time of OpenSSL's through ``cryptography``
# (45 against 95 µs here), and every reader checks every event it reads. Signatures are the same bytes.
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from ._catalogue import replies_unit
from ._errors import CredentialsError, SignatureError

SIGNER_HEADER = "ld_signer"
SIGNATURE_HEADER = "ld_signature"
SIGNING_VERSION = "liandong-signature-v1"
#: In the directory's ``writes``: every topic but a unit's replies.
ANY_TOPIC = "*"

#: On the referee's checked copy of an answer: the unit's signature of the answer as it was sent.
ANSWER_HEADERS = ("ld_answer_signer", "ld_answer_signature", "ld_answer_time", "ld_answer_sha256", "ld_answer_topic")

Headers = list[tuple[str, bytes]]


def signing_input(headers: Mapping[str, bytes], key: bytes | None, value: bytes | None) -> bytes:
    """What the publisher signs (see the module's docstring)."""
    return signing_text(headers.get("ce_id", b"").decode("utf-8", "replace"),
                        headers.get("ce_type", b"").decode("utf-8", "replace"),
                        headers.get("ce_time", b"").decode("utf-8", "replace"),
                        (key or b"").decode("utf-8", "replace"), hashlib.sha256(value or b"").hexdigest())


def signing_text(ce_id: str, ce_type: str, ce_time: str, key: str, value_sha256: str) -> bytes:
    """The signing input from its parts (the value as its SHA-256, lowercase hex): what a record of
    the event (the ledger's audit chain) keeps to verify the signature later without the value."""
    return "\n".join((SIGNING_VERSION, ce_id, ce_type, ce_time, key, value_sha256)).encode()


def answer_headers(headers: Mapping[str, bytes], topic: str, value: bytes | None) -> Headers:
    """``ANSWER_HEADERS`` for a copy of the signed message (``headers``, ``value``) read on ``topic``."""
    parts = (headers.get(SIGNER_HEADER, b""), headers.get(SIGNATURE_HEADER, b""), headers.get("ce_time", b""),
             hashlib.sha256(value or b"").hexdigest().encode(), topic.encode())
    return list(zip(ANSWER_HEADERS, parts, strict=True))


def new_key() -> str:
    """A fresh private key: base64 of its 32-byte Ed25519 seed."""
    return _b64(bytes(SigningKey.generate()))


def public_key_of(private: str) -> str:
    """The base64 32-byte public key of a private key given as base64 seed."""
    return _b64(bytes(_private(private).verify_key))


@dataclass(frozen=True)
class Signer:
    """Signs what one principal publishes."""

    principal: str
    key: SigningKey

    @classmethod
    def from_seed(cls, principal: str, seed: str) -> Signer:
        return cls(principal, _private(seed, principal))

    def headers(self, headers: Headers, key: bytes | None, value: bytes | None) -> Headers:
        """The two signature headers for a message with ``headers`` (its CloudEvents ones)."""
        return [(SIGNER_HEADER, self.principal.encode()),
                (SIGNATURE_HEADER, self.sign(signing_input(dict(headers), key, value)).encode())]

    def sign(self, data: bytes) -> str:
        """The base64 Ed25519 signature of ``data``."""
        return _b64(self.key.sign(data).signature)


@dataclass(frozen=True)
class Principal:
    """A principal as the directory lists it: its public key and the topics it writes."""

    name: str
    key: VerifyKey
    writes: frozenset[str]

    def may_write(self, topic: str) -> bool:
        return topic in self.writes or (ANY_TOPIC in self.writes and replies_unit(topic) is None)


class Verifier:
    """Checks that a message is signed by a principal that may write the topic it was read on."""

    def __init__(self, principals: Mapping[str, Principal]) -> None:
        self.principals = dict(principals)

    @classmethod
    def from_directory(cls, data: Mapping[str, object]) -> Verifier:
        listed = data.get("principals")
        if not isinstance(listed, dict):
            raise CredentialsError("the principals directory has no \"principals\" object")
        out = {}
        for name, entry in listed.items():
            try:
                key = VerifyKey(base64.b64decode(entry["public_key"], validate=True))
                out[name] = Principal(name, key, frozenset(entry.get("writes", ())))
            except (KeyError, TypeError, ValueError, binascii.Error) as exc:
                raise CredentialsError(f"the principals directory's entry for {name!r} is malformed: {exc}") from None
        return cls(out)

    def signer(self, topic: str, key: bytes | None, value: bytes | None, headers: Mapping[str, bytes]) -> str:
        """The principal that signed the message; raises ``SignatureError`` saying what is wrong."""
        name, signature = headers.get(SIGNER_HEADER), headers.get(SIGNATURE_HEADER)
        return self.check(topic, name.decode("utf-8", "replace") if name else None,
                          signature.decode("ascii", "replace") if signature else None,
                          signing_input(headers, key, value))

    def check(self, topic: str, name: str | None, signature: str | None, data: bytes) -> str:
        """``name``, when its ``signature`` of ``data`` verifies and it may write ``topic``; else
        raises ``SignatureError`` saying what is wrong."""
        if not name or not signature:
            raise SignatureError(f"unsigned: no {SIGNER_HEADER}/{SIGNATURE_HEADER} header (every event is signed "
                                 f"by its publisher's key, docs/security.md)")
        principal = self.principals.get(name)
        if principal is None:
            raise SignatureError(f"signed by {name!r}, which is no principal of the directory")
        if not principal.may_write(topic):
            raise SignatureError(f"signed by {name!r}, which does not write {topic}: it cannot speak there")
        if not verifies(principal.key, signature, data):
            raise SignatureError(f"the signature of {name!r} does not verify: the message was changed, or not signed "
                                 f"with {name!r}'s key")
        return name


def verifies(key: VerifyKey, signature_b64: bytes | str, data: bytes) -> bool:
    try:
        key.verify(data, base64.b64decode(signature_b64, validate=True))
    except (BadSignatureError, ValueError, TypeError, binascii.Error):
        return False
    return True


# -- files ----------------------------------------------------------------------------------
def load_signing_keys(path: Path) -> dict[str, str]:
    """The keys file's ``{principal: base64 seed}``; empty when there is no file."""
    keys = _read_json(path, "signing keys file")
    if keys is None:
        return {}
    if not isinstance(keys, dict) or not all(isinstance(v, str) for v in keys.values()):
        raise CredentialsError(f"signing keys file {path} must be a JSON object of principal -> base64 seed")
    return keys


def load_signing_key(principal: str, path: Path | None, explicit: str | None = None) -> Signer | None:
    """``principal``'s signer: ``explicit`` (base64 seed), else its entry in the keys file ``path``;
    None when neither has one."""
    seed = explicit or (load_signing_keys(path).get(principal) if path is not None else None)
    return Signer.from_seed(principal, seed) if seed else None


def load_directory(path: Path | None) -> Verifier | None:
    """The verifier of the principals directory at ``path``; None when there is none."""
    data = _read_json(path, "principals directory") if path is not None else None
    return Verifier.from_directory(data) if data is not None else None


def _read_json(path: Path, what: str) -> Any:
    """The file's JSON; None when there is no file."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise CredentialsError(f"{what} {path} is not JSON: {exc}") from None


def directory(keys: Mapping[str, str], writes: Mapping[str, Iterable[str]]) -> dict[str, object]:
    """The principals directory (public) for private ``keys`` and the topics each principal ``writes``."""
    return {"version": 1, "principals": {
        name: {"public_key": public_key_of(seed), "writes": sorted(set(writes.get(name, ())))}
        for name, seed in sorted(keys.items())}}


def _private(seed: str, principal: str = "") -> SigningKey:
    try:
        return SigningKey(base64.b64decode(seed, validate=True))
    except (ValueError, TypeError, binascii.Error):
        raise CredentialsError(f"the signing key of {principal or 'a principal'} is not base64 of a 32-byte "
                               f"Ed25519 seed") from None


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()
