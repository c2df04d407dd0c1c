"""Scale-out: a third ledger worker joins two that have settled, gets its share of the partitions
(faust alone would leave it none: patch 10 of liandong.faust_patches), and every one of the three
answers for every case and gives the same statistics."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from liandong import Bus
from liandong.api import call_api
from liandong.service import OWNED_PATH
from liandong.sim.stack import ServiceStack
from liandong.tokens import PEER_HEADER, TokenStore
from tests.conftest import api, wait_for
from tests.e2e.stack import petitions

LEDGERS = 3


def _get(port: int, path: str) -> tuple[int, Any]:
    try:
        return api(port, path)
    except OSError:
        return 0, None


def _owned(stack: ServiceStack, port: int) -> tuple[int, Any]:
    """What one worker owns, asked as the workers ask each other (with their peer key)."""
    try:
        return call_api(f"http://127.0.0.1:{port}{OWNED_PATH.format(table='ledger-cases')}", None,
                        headers={PEER_HEADER: TokenStore(stack.tokens_path).peer_key})
    except OSError:
        return 0, None


def _spread(ports: list[int], partitions: int) -> list[list[int]] | None:
    """Each worker's partitions as its /healthz says, once every one is ready and each partition is owned once."""
    health = [_get(port, "/healthz")[1] or {} for port in ports]
    owned = [h.get("partitions", []) for h in health]
    every = sorted(p for mine in owned for p in mine)
    return owned if all(h.get("ready") for h in health) and every == list(range(partitions)) else None


def test_every_ledger_worker_answers_for_every_case_and_the_same_statistics(
        kafka_bootstrap: str, secrets_file: Path, bus: Bus, tmp_path: Path) -> None:
    district = f"14{uuid.uuid4().int % 10000:04d}"
    stack = ServiceStack(kafka_bootstrap, tmp_path, ["intake", "triage", "ledger"], counts={"ledger": LEDGERS - 1},
                         secrets_file=secrets_file, extra_env={"LIANDONG_DISTRICT_CODE": district})
    try:
        stack.start()
        first = [w.ports["http"] for w in stack.procs if w.service == "ledger"]
        wait_for(lambda: _spread(first, bus.settings.topic_partitions), timeout=120, interval=0.5,
                 message=f"the first {LEDGERS - 1} ledger workers settled, owning every partition between them")
        stack.start_one("ledger")  # joins a settled group: faust's sticky assignment alone gave it nothing
        body = "\n".join(json.dumps(p, ensure_ascii=False) for p in petitions(36, "scale")).encode()
        status, answer = call_api(f"http://127.0.0.1:{stack.intake_port}/petitions", stack.token, body,
                                  content_type="application/x-ndjson", timeout=120)
        assert status == 200, answer
        numbers = [a["case_number"] for a in answer["results"]]
        assert len(numbers) == 36
        ports = [w.ports["http"] for w in stack.procs if w.service == "ledger"]
        assert len(ports) == LEDGERS

        waiting = ["nothing asked yet"]  # what the last look found missing, for the failure's message

        def owned() -> dict[int, set[str]] | None:
            """Which worker owns which of the cases, once all are in the ledger and owned by one each."""
            found = {}
            for port in ports:
                status, raws = _owned(stack, port)
                if status != 200:
                    waiting[0] = f"worker :{port} answered {status}: {raws!r:.200}"
                    return None
                found[port] = {json.loads(raw)["case_number"] for raw in raws} & set(numbers)
            everyone = [n for cases in found.values() for n in cases]
            if sorted(everyone) != sorted(numbers):
                waiting[0] = (f"{len(set(numbers) - set(everyone))} cases owned by no worker, "
                              f"{len(everyone) - len(set(everyone))} by two; owned: "
                              f"{ {port: len(cases) for port, cases in found.items()} }")
                return None
            # Until the last worker has joined the group, the first ones own every partition between them:
            # wait for the assignment that spreads the partitions over all of them.
            waiting[0] = f"owned: { {port: len(cases) for port, cases in found.items()} }"
            return found if all(found.values()) else None

        try:
            ownership = wait_for(owned, timeout=180, interval=1.0,
                                 message="every case in the ledger, owned once, each worker owning some")
        except AssertionError as timeout:
            health = {port: _get(port, "/healthz") for port in ports}
            raise AssertionError(f"{timeout}\nlast look: {waiting[0]}\nhealth: {health}\n{stack.tails('ledger')}") from None
        # The partitions are spread: no worker owns every case (what it does not own it must ask for).
        assert all(0 < len(cases) < len(numbers) for cases in ownership.values()), ownership
        assert all(wait_for(lambda: _spread(ports, bus.settings.topic_partitions), timeout=60, interval=0.5,
                            message="every partition owned once, by a ready worker"))

        for port in ports:
            answers = {n: _get(port, f"/cases/{n}") for n in numbers}
            missing = {n: a for n, a in answers.items() if a[0] != 200 or a[1].get("case_number") != n}
            assert not missing, f"worker :{port} did not answer for {len(missing)} cases: {list(missing.items())[:3]}"
            status, listed = _get(port, "/cases?limit=1000")
            assert status == 200
            assert set(numbers) <= {c["case_number"] for c in listed["cases"]}
        # The same from each worker, once nothing changes in between (verdicts on other topics may still
        # be arriving): asked again until every worker gives the same answer.
        def agreed() -> list[Any] | None:
            stats = [_get(port, "/stats") for port in ports]
            assert all(status == 200 for status, _ in stats)
            return stats if all(s == stats[0][1] for _, s in stats) else None

        wait_for(agreed, timeout=60, interval=1.0, message="the same statistics from every worker")
        assert _get(ports[0], "/cases/140000-2026-999999")[0] == 404  # an unknown case: asked of its owner, not found
    finally:
        stack.stop()
