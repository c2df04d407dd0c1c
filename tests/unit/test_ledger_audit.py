"""The ledger keeps each link of a case's audit chain once, in its audit table (``link_key``), not
inside the case's record, which would write every link again with each later event; the API serves
the chain from there and names a link that is missing. A record written with its links inside
(before they were kept apart) is served as it is, and its links move out at its next change."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from liandong_sdk import (
    BUREAU_ANSWERS,
    BUREAU_PETITIONS,
    BUREAU_TRIAGE,
    Codec,
    SchemaCatalogue,
    Signer,
    topic_matches,
)
from liandong_sdk.events import PetitionRegistered

from liandong import UNIT_INBOX, UNIT_REPLIES, concrete_topics, get_settings
from liandong.audit import Chain, genesis, link_key, verify
from liandong.bench_scale import answer, register
from liandong.domain import ClockConfig, Ledger
from liandong.domain.triage import Triage
from liandong.security import Grant
from liandong.service import InMemory
from liandong.tokens import TokenStore
from services.ledger.api import AUDIT, CASES, make_api
from services.ledger.app import LEDGER, Recorder
from services.triage.app import TRIAGE, load_routing
from tests.conftest import signing_keys

SCHEMAS = SchemaCatalogue(get_settings().schemas_dir)
AT = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)


class Bus:
    """Triage and the ledger in memory, every event signed and checked as it is read (one principal
    signs them all here: what is tested is where the ledger keeps the links)."""

    def __init__(self, folder: Path) -> None:
        writes = (BUREAU_PETITIONS, BUREAU_TRIAGE, BUREAU_ANSWERS, *concrete_topics(UNIT_INBOX, UNIT_REPLIES))
        grants = [Grant("svc-triage", (), writes), Grant("svc-ledger", (), ())]
        seeds, self.verifier = signing_keys(folder, grants)
        codec = Codec(SCHEMAS, signer=Signer.from_seed("svc-triage", seeds["svc-triage"]), verifier=self.verifier)
        self.triage = InMemory(TRIAGE, Triage(load_routing(), ClockConfig()), codec)
        recorder = Recorder(Ledger(ClockConfig()), Chain(Signer.from_seed("svc-ledger", seeds["svc-ledger"])),
                            self.verifier)
        self.ledger = InMemory(LEDGER, recorder, codec)

    def send(self, event: Any) -> None:
        outputs = self.triage.send(event)
        if isinstance(event, PetitionRegistered):
            self.ledger.send(event)
        for out in outputs:
            if any(topic_matches(t, out.topic) for t in LEDGER.topics_in):
                self.ledger.send(out)

    def links(self, number: str, length: int) -> list[dict[str, Any] | None]:
        raw = self.ledger.stores[AUDIT]
        return [json.loads(r) if (r := raw.get(link_key(number, i).encode())) is not None else None
                for i in range(length)]


@pytest.fixture
def bus(tmp_path: Path) -> Bus:
    return Bus(tmp_path)


def _case(bus: Bus, number: str) -> Any:
    case = register(bus.send, number, AT, f"k-{uuid.uuid4()}")
    state = bus.ledger.state(number, CASES)
    assert state is not None and state.lead_unit is not None
    return case, state.lead_unit


def test_each_event_is_linked_once_in_the_audit_table_and_the_record_holds_no_link(bus: Bus) -> None:
    number = "140214-2026-000001"
    case, lead = _case(bus, number)
    answer(bus.send, case, lead, AT)
    state = bus.ledger.state(number, CASES)
    assert state is not None and state.status.value == "RESOLVED"
    assert state.audit == [] and state.audit_length == len(state.timeline) >= 5
    assert b'"seal"' not in bus.ledger.stores[CASES][number.encode()]  # no link inside the record
    links = bus.links(number, state.audit_length)
    assert all(link is not None for link in links)
    chain: list[dict[str, Any]] = [link for link in links if link is not None]
    assert sorted(bus.ledger.stores[AUDIT]) == sorted(link_key(number, i).encode() for i in range(len(chain)))
    assert chain[0]["prev"] == genesis(number) and state.audit_head == chain[-1]["hash"]
    assert verify(number, chain, bus.verifier) is None
    assert sorted(link["event_id"] for link in chain) == sorted(t.event_id for t in state.timeline)


def _audit(bus: Bus, number: str, tmp_path: Path) -> dict[str, Any]:
    tokens = TokenStore(tmp_path / "tokens.json")
    app = make_api(bus.ledger.view, lambda: AT + timedelta(days=50), bus.verifier).application(tokens)
    token = tokens.issue("operator")

    async def run() -> dict[str, Any]:
        async with TestClient(TestServer(app)) as client:
            async with client.get(f"/cases/{number}/audit", headers={"Authorization": f"Bearer {token}"}) as r:
                assert r.status == 200
                body: dict[str, Any] = await r.json()
            async with client.get(f"/cases/{number}", headers={"Authorization": f"Bearer {token}"}) as r:
                assert r.status == 200 and not {"audit", "audit_length", "audit_head"} & set(await r.json())
            return body

    return asyncio.run(run())


def test_the_api_serves_the_chain_from_the_audit_table_and_names_a_missing_link(bus: Bus, tmp_path: Path) -> None:
    number = "140214-2026-000002"
    case, lead = _case(bus, number)
    answer(bus.send, case, lead, AT)
    served = _audit(bus, number, tmp_path)
    state = bus.ledger.state(number, CASES)
    assert state is not None
    assert served["intact"] is True and served["length"] == state.audit_length
    assert served["links"] == bus.links(number, state.audit_length) and served["head"] == state.audit_head

    del bus.ledger.stores[AUDIT][link_key(number, 2).encode()]  # as if the link were never kept
    served = _audit(bus, number, tmp_path)
    assert served["intact"] is False
    assert (served["first_broken"]["index"], served["first_broken"]["problem"]) == (2, "removed")


def test_a_record_written_with_its_links_inside_is_served_and_its_links_move_out_at_its_next_change(
        bus: Bus, tmp_path: Path) -> None:
    number = "140214-2026-000003"
    case, lead = _case(bus, number)
    state = bus.ledger.state(number, CASES)
    assert state is not None
    before = state.audit_length
    links = bus.links(number, before)
    # The record as the ledger wrote it before the links were kept apart: the whole chain inside.
    stored = json.loads(bus.ledger.stores[CASES][number.encode()])
    stored["audit"] = links
    del stored["audit_length"], stored["audit_head"]
    bus.ledger.stores[CASES][number.encode()] = json.dumps(stored, ensure_ascii=False).encode()
    bus.ledger.stores[AUDIT].clear()

    served = _audit(bus, number, tmp_path)
    assert served["intact"] is True and served["links"] == links

    answer(bus.send, case, lead, AT)  # the case changes: its links move out, the new ones follow them
    state = bus.ledger.state(number, CASES)
    assert state is not None and state.audit == [] and state.audit_length == len(state.timeline) > before
    moved = bus.links(number, state.audit_length)
    assert moved[:before] == links
    assert verify(number, [link for link in moved if link is not None], bus.verifier) is None
    assert b'"seal"' not in bus.ledger.stores[CASES][number.encode()]
