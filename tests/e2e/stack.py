"""Liandong services as real processes for the e2e tests: ``liandong.sim.stack.ServiceStack``
(every port bound by the process itself and reported, process groups, SIGKILL and restart),
plus what the tests ask of a running bus: petitions in, the ledger's view of them out."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Any

from liandong.api import call_api
from liandong.domain import CaseStatus, HandoffStatus
from liandong.sim.stack import ServiceStack
from services.registry import PIPELINE
from tests.conftest import wait_for

#: A case's statuses after which nothing more happens to it without the bureau (StrEnums: equal to their text).
TERMINAL = {CaseStatus.RESOLVED, CaseStatus.DIVERTED, CaseStatus.REPEAT, CaseStatus.ESCALATED, CaseStatus.NOT_ACCEPTED}
SETTLED_HANDOFFS = {HandoffStatus.RESOLVED, HandoffStatus.OBJECTED, HandoffStatus.NOT_ACCEPTED}


class ProcessStack:
    def __init__(self, bootstrap: str, secrets_file: Path, run_dir: Path, district: str) -> None:
        self.run_dir = run_dir
        self.services = ServiceStack(bootstrap, run_dir, list(PIPELINE), secrets_file=secrets_file, extra_env={
            "LIANDONG_SIM_SECONDS_PER_DAY": "0.05", "LIANDONG_DISTRICT_CODE": district,
            # No objections: a re-routed case interleaves two units' simulated schedules, which
            # depends on timing, so two runs could differ for reasons that are not the bus's.
            "LIANDONG_SIM_OBJECTION_RATE": "0", "LIANDONG_SIM_EXTENSION_RATE": "0.2"})

    def start_all(self) -> None:
        try:
            self.services.start()
        except BaseException:
            self.stop_all()  # what did start is not left behind
            raise

    def start(self, name: str) -> None:
        self.services.start_one(name)

    def kill(self, name: str) -> None:
        self.services.kill(name)

    def stop_all(self) -> None:
        self.services.stop()
        self.services.procs.clear()

    def metrics_port(self, name: str) -> int:
        return self.services.port(name, "metrics")

    @property
    def intake_port(self) -> int:
        return self.services.intake_port

    # -- talking to it -------------------------------------------------------------------------
    def submit(self, petitions: list[dict[str, Any]]) -> dict[str, Any]:
        body = "\n".join(json.dumps(p, ensure_ascii=False) for p in petitions).encode()
        status, answer = call_api(f"http://127.0.0.1:{self.intake_port}/petitions", self.services.token, body,
                                  content_type="application/x-ndjson", timeout=120)
        assert status in (200, 422), answer
        return answer  # type: ignore[no-any-return]

    def ledger(self, path: str) -> Any:
        """The ledger's answer (None while it is down or restarting: its port is new each start)."""
        try:
            status, answer = call_api(f"http://127.0.0.1:{self.services.ledger_port}{path}", self.services.token,
                                      timeout=10)
        except (OSError, KeyError):
            return None
        return answer if status == 200 else None

    def cases(self, numbers: list[str]) -> dict[str, dict[str, Any]]:
        return {n: c for n in numbers if (c := self.ledger(f"/cases/{n}")) and "status" in c}

    def unsettled(self, numbers: list[str]) -> list[str]:
        """Why the run has not settled: the cases still moving, for a failure message."""
        found = self.cases(numbers)
        out = [f"{n}: not in the ledger" for n in numbers if n not in found]
        stuck = [(n, c) for n, c in found.items()
                 if c["status"] not in TERMINAL or any(h["status"] not in SETTLED_HANDOFFS for h in c["handoffs"].values())]
        for i, (n, c) in enumerate(stuck):
            out.append(f"{n}: {c['status']} {({u: h['status'] for u, h in c['handoffs'].items()})} "
                       f"last: {[t['event'] + '/' + (t['unit'] or '') for t in c['timeline'][-3:]]}")
            if i < 2:  # the whole story of the first ones: what arrived, in what order, and what was ignored
                out += [f"    {t['at']} {t['event']} {t['unit'] or ''} {t['detail']} ({t['event_id'][:8]})"
                        for t in c["timeline"]]
                out += [f"    pending: {p['event_type']} {p['data'].get('unit')}" for p in c.get("pending", [])]
        return out

    def wait_settled(self, numbers: list[str], timeout: float, limit: float = 900.0) -> dict[str, dict[str, Any]]:
        """Waits until every case has settled. Fails when the ledger's view of them has not moved
        for ``timeout`` seconds (stuck), or after ``limit`` seconds in all. A restarted ledger
        replays its topics, which on a loaded 2-core machine takes minutes: slow is not stuck."""
        progress = {"view": None, "moved": time.monotonic()}

        def settled_or_moving() -> dict[str, dict[str, Any]] | None:
            found = self.cases(numbers)
            if self._all_settled(numbers, found):
                return found
            view = sorted((n, c["status"], len(c["timeline"])) for n, c in found.items())
            if view != progress["view"]:
                progress.update(view=view, moved=time.monotonic())
            elif time.monotonic() - progress["moved"] > timeout:
                raise AssertionError("stuck:\n" + "\n".join(self.unsettled(numbers)[:80]))
            return None

        try:
            settled = wait_for(settled_or_moving, timeout=limit, interval=1.0, message="the run to settle")
        except AssertionError as exc:
            if str(exc).startswith("stuck"):
                raise
            raise AssertionError(f"not settled within {limit:.0f} s:\n" + "\n".join(self.unsettled(numbers)[:30])) from None
        return self._quiet(numbers, settled)

    def _quiet(self, numbers: list[str], found: dict[str, dict[str, Any]], still: int = 5,
               limit: float = 60.0) -> dict[str, dict[str, Any]]:
        """The view once no case's timeline has grown for ``still`` polls a second apart (what follows a
        settled case on other topics, like the petitioner's notices, has arrived), or after ``limit`` s."""
        polls = {"same": 0, "view": found}

        def quiet() -> bool:
            now = self.cases(numbers)
            same = {n: len(c["timeline"]) for n, c in now.items()} == {n: len(c["timeline"]) for n, c in polls["view"].items()}
            polls.update(same=polls["same"] + 1 if same else 0, view=now)
            return polls["same"] >= still

        with contextlib.suppress(AssertionError):
            wait_for(quiet, timeout=limit, interval=1.0, message="the settled run to go quiet")
        return polls["view"]  # type: ignore[return-value]

    def settled(self, numbers: list[str]) -> dict[str, dict[str, Any]] | None:
        found = self.cases(numbers)
        return found if self._all_settled(numbers, found) else None

    @staticmethod
    def _all_settled(numbers: list[str], found: dict[str, dict[str, Any]]) -> bool:
        if len(found) < len(numbers):
            return False
        return all(c["status"] in TERMINAL and all(h["status"] in SETTLED_HANDOFFS for h in c["handoffs"].values())
                   for c in found.values())

def petitions(n: int, tag: str) -> list[dict[str, Any]]:
    """``n`` petitions of mixed matters; every tenth repeats an earlier petitioner's matter."""
    matters = [("WAGE_ARREARS", "建筑工地拖欠工资两个月"), ("HEATING", "冬季供暖温度不达标"), ("PROPERTY_MANAGEMENT", "物业不作为"),
               ("OTHER", "不服法院判决要求改判"), ("PUBLIC_ORDER", "夜间噪音扰民"), ("SOCIAL_SECURITY", "养老金核算有误"),
               ("CIVIL_DISPUTE", "邻里宅基地纠纷"), ("LAND", "征地补偿分配不公"), ("HOUSING_QUALITY", "新房漏水")]
    out = []
    for i in range(n):
        who = i - 7 if i % 10 == 9 and i >= 7 else i
        category, summary = matters[who % len(matters)]
        out.append({
            "idempotency_key": f"{tag}-{i:05d}", "channel": ["ONLINE", "VISIT", "LETTER", "HOTLINE_12345"][i % 4],
            "received_at": f"2026-0{1 + i % 9}-1{i % 10}T09:00:00+08:00",
            "petitioner": {"name": f"信访人{who:05d}", "id_number": f"140214199001{who:05d}1", "phone": f"1390000{who:04d}"},
            "summary": summary, "category": category,
        })
    return out


#: Events that depend on how long a step took in wall-clock time, not on the log: supervision
#: fires on a case that happened to be slower in one run than in the other.
TIMING_DEPENDENT = ("supervision.",)


def normalise(case: dict[str, Any]) -> dict[str, Any]:
    """What must be equal between two runs of the same petitions (wall-clock times are not)."""
    return {
        "number": case["case_number"].split("-", 1)[1],
        "status": case["status"], "category": case["category"], "channel": case["channel"],
        "lead": case["lead_unit"], "co": sorted(case["co_units"]), "repeat_of": (case["repeat_of"] or "").split("-", 1)[-1],
        "diverted_to": case["diverted_to"], "objections": case["objections"], "extensions": case["extensions"],
        "outcome": case["outcome"], "tag": case["tag"],
        "handoffs": {u: (h["status"], h["attempt"], h["extension_days"]) for u, h in case["handoffs"].items()},
        "timeline": sorted((t["event"], t["unit"] or "") for t in case["timeline"]
                           if not t["event"].startswith(TIMING_DEPENDENT)),
    }
