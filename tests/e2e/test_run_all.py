"""`liandong run --all` plus `liandong intake submit` on the shipped sample file, as a user runs them:
the cases show in the ledger API, the reference departments answer, Ctrl-C stops everything."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from liandong.broker import free_port
from services.registry import SPECS
from tests.conftest import ROOT, api_get, wait_for

SAMPLE = ROOT / "deploy" / "samples" / "petitions.jsonl"


_get = api_get  # None while nothing answers (a service still starting)


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, check=False).stdout
    return [int(p) for p in out.split()]


def test_run_all_and_submit_the_sample(service_env: dict[str, str], tmp_path: Path) -> None:
    intake_port, ledger_port = free_port(), free_port()
    env = {**service_env, "LIANDONG_INTAKE_PORT": str(intake_port),
           "LIANDONG_LEDGER_PORT": str(ledger_port), "LIANDONG_CONSOLE_PORT": "0", "LIANDONG_RUN_DIR": str(tmp_path),
           "LIANDONG_SIM_SECONDS_PER_DAY": "0.05", "LIANDONG_DISTRICT_CODE": "140299", "COLUMNS": "160"}
    run = subprocess.Popen([sys.executable, "-m", "liandong.cli", "run", "--all"], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: _get(intake_port, "/healthz") and _get(ledger_port, "/healthz"), timeout=120,
                 interval=0.5, message="intake and ledger to answer")
        children = _children(run.pid)
        assert len(children) == len(SPECS)  # every registered service: intake, triage, ledger, ..., five departments
        submit = subprocess.run([sys.executable, "-m", "liandong.cli", "intake", "submit", str(SAMPLE)], env=env,
                                capture_output=True, text=True, timeout=120, check=False)
        assert submit.returncode == 0, submit.stdout + submit.stderr
        assert "10 registered, 0 duplicate(s), 0 rejected" in " ".join(submit.stdout.split())
        numbers = [f"140299-2026-{i:06d}" for i in range(1, 11)]

        def sample_cases(status: str | None = None) -> dict[str, Any]:
            listed = _get(ledger_port, "/cases?limit=100000" + (f"&status={status}" if status else "")) or {"cases": []}
            return {c["case_number"]: c for c in listed["cases"] if c["case_number"] in numbers}

        cases = wait_for(lambda: (found := sample_cases()) and len(found) == 10 and found,
                         timeout=60, interval=0.5, message="the 10 sample cases in the ledger")
        assert len(cases) == 10
        # triage's verdicts are on another topic than the registrations: they may reach the ledger just after
        wait_for(lambda: sample_cases().get("140299-2026-000003", {}).get("status") == "DIVERTED", timeout=60,
                 interval=0.5, message="case 3 (a court judgment) diverted")
        # the same worker again (petition.repeat.detected may reach the ledger just after the registration)
        wait_for(lambda: sample_cases().get("140299-2026-000008", {}).get("status") == "REPEAT", timeout=60,
                 interval=0.5, message="case 8 marked as a repeat")
        # the reference departments work through the cases on their compressed clock
        wait_for(lambda: len(sample_cases("RESOLVED")) >= 5, timeout=120, interval=0.5,
                 message="reference departments to resolve sample cases")
        again = subprocess.run([sys.executable, "-m", "liandong.cli", "intake", "submit", str(SAMPLE)], env=env,
                               capture_output=True, text=True, timeout=120, check=False)
        assert "0 registered, 10 duplicate(s), 0 rejected" in " ".join(again.stdout.split())
    finally:
        run.send_signal(signal.SIGINT)
        out, _ = run.communicate(timeout=90)
    assert run.returncode == 0, out[-3000:]
    assert "all services stopped" in out
    assert all(not Path(f"/proc/{c}").exists() for c in children)
