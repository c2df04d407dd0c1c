"""A case's record that proves itself: the ledger links every event of a case, as it records it,
into a hash chain; ``verify`` walks the chain and names the first event that was changed, removed
or unsigned.

A link keeps what verifies the publisher's signature later without the message's value (which may
hold personal data): the signed CloudEvents attributes, the key, the value's SHA-256, the signer
and its signature. Each link's ``hash`` covers those and the previous link's hash (the first
link's ``prev`` is the SHA-256 of ``liandong-chain-v1\\n<case number>``), and the ledger seals
each hash with its own key: rewriting the chain after a change needs the ledger's key, and a
changed event would need its publisher's. A unit's answer is recorded as the referee's checked
copy (signed by the referee); its link also keeps the unit's own signature of the answer as sent
(``answer``: signer, signature, its ce_time, its value's SHA-256 and the replies topic it came on),
which ``verify`` checks as well.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from liandong_sdk import (
    ANSWER_HEADERS,
    SIGNATURE_HEADER,
    SIGNER_HEADER,
    SignatureError,
    Signer,
    Verifier,
    signing_text,
    verifies,
)

CHAIN_VERSION = "liandong-chain-v1"
#: What a link's hash covers, besides the previous hash (in this order, as JSON).
LINKED = ("event_id", "ce_type", "ce_time", "key", "value_sha256", "topic", "signer", "signature", "answer")
#: The parts of a unit's own signature on a checked answer (``ANSWER_HEADERS``, in that order).
ANSWER_PARTS = ("signer", "signature", "ce_time", "value_sha256", "topic")

Link = dict[str, Any]
Problem = Literal["changed", "removed", "unsigned"]

__all__ = ["CHAIN_VERSION", "Break", "Chain", "Link", "genesis", "link_hash", "link_key", "verify"]


def link_key(case_number: str, index: int) -> str:
    """Where the ledger keeps a case's link ``index`` (from 0), in its audit table: each link is
    written once, not again with every later event of the case."""
    return f"{case_number}/{index:06d}"


def genesis(case_number: str) -> str:
    """The ``prev`` of a case's first link."""
    return hashlib.sha256(f"{CHAIN_VERSION}\n{case_number}".encode()).hexdigest()


def link_hash(link: Mapping[str, Any]) -> str:
    content = json.dumps([link.get("prev")] + [link.get(k) for k in LINKED], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(content.encode()).hexdigest()


@dataclass(frozen=True)
class Chain:
    """Links events into their case's chain, sealed with ``sealer`` (the ledger's key; None: unsealed)."""

    sealer: Signer | None

    def link(self, case_number: str, head: str | None, event: Any) -> Link:
        """The link of ``event`` (a bus ``Event``: its headers and the value as read) after the link
        whose hash is ``head`` (None: the case's first link)."""
        headers: Mapping[str, bytes] = getattr(event, "headers", {}) or {}

        def text(name: str) -> str | None:
            raw = headers.get(name)
            return raw.decode("utf-8", "replace") if raw is not None else None

        value: bytes = getattr(event, "raw_value", None) or b""
        link: Link = {
            "event_id": event.id, "ce_type": text("ce_type"), "ce_time": text("ce_time"), "key": case_number,
            "value_sha256": hashlib.sha256(value).hexdigest(), "topic": event.topic,
            "signer": text(SIGNER_HEADER), "signature": text(SIGNATURE_HEADER),
            "answer": None,
            "prev": head if head is not None else genesis(case_number),
        }
        if all(name in headers for name in ANSWER_HEADERS):
            link["answer"] = {part: text(name) for part, name in zip(ANSWER_PARTS, ANSWER_HEADERS, strict=True)}
        link["hash"] = link_hash(link)
        if self.sealer is not None:
            link["sealed_by"], link["seal"] = self.sealer.principal, self.sealer.sign(link["hash"].encode())
        return link


@dataclass(frozen=True)
class Break:
    """The first link of a chain that does not hold."""

    index: int
    event_id: str | None
    ce_type: str | None
    problem: Problem
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "event_id": self.event_id, "type": self.ce_type, "problem": self.problem,
                "reason": self.reason}


def verify(case_number: str, chain: Sequence[Mapping[str, Any]], verifier: Verifier) -> Break | None:
    """None when every link holds; else the first that does not, and why. A link holds when it
    follows the one before it, its publisher's signature verifies (a principal that may write the
    topic it was read on), its hash covers its content and the ledger's seal verifies."""
    prev = genesis(case_number)
    for i, link in enumerate(chain):
        def broken(problem: Problem, reason: str) -> Break:
            return Break(i, link.get("event_id"), link.get("ce_type"), problem, reason)  # noqa: B023 (used at once)

        if link.get("prev") != prev:
            return broken("removed", "it does not follow the link before it: an event between them was removed "
                                     "(or the links were reordered)")
        if not link.get("signer") or not link.get("signature"):
            return broken("unsigned", "the event carries no signature of its publisher")
        data = signing_text(str(link.get("event_id")), str(link.get("ce_type")), str(link.get("ce_time")),
                            str(link.get("key")), str(link.get("value_sha256")))
        try:
            verifier.check(str(link.get("topic")), link["signer"], link["signature"], data)
        except SignatureError as exc:
            return broken("changed", f"{exc} (the event as recorded is not what its publisher signed)")
        answer = link.get("answer")
        if answer:
            said = signing_text(str(link.get("event_id")), str(link.get("ce_type")), str(answer.get("ce_time")),
                                str(link.get("key")), str(answer.get("value_sha256")))
            try:
                verifier.check(str(answer.get("topic")), answer.get("signer"), answer.get("signature"), said)
            except SignatureError as exc:
                return broken("changed", f"the unit's own signature of its answer: {exc}")
        if link.get("key") != case_number:
            return broken("changed", f"it is an event of case {link.get('key')}, not of {case_number}")
        if link_hash(link) != link.get("hash"):
            return broken("changed", "its content no longer matches its hash in the chain")
        sealer = verifier.principals.get(str(link.get("sealed_by")))
        if sealer is None or not verifies(sealer.key, str(link.get("seal")), str(link["hash"]).encode()):
            return broken("changed", f"the ledger's seal ({link.get('sealed_by')}) on its link does not verify")
        prev = link["hash"]
    return None
