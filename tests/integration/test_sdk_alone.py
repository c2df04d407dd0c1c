"""The department SDK as its own distribution: ``pip install ./sdk`` into a clean virtualenv (no
faust, no liandong core, no services) gives a client that works against the running bus."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from liandong import Bus, load_secrets
from liandong.examples import example_record
from tests.conftest import wait_for

ROOT = Path(__file__).resolve().parents[2]

#: What the department's own system runs: nothing of the repository is on its path.
DEPARTMENT = textwrap.dedent("""
    import importlib.util, json, sys
    from liandong_sdk import DepartmentClient, packaged_schemas, InvalidAnswer

    missing = [m for m in ("liandong", "services", "faust", "pydantic", "prometheus_client")
               if importlib.util.find_spec(m) is not None]
    case_number = sys.argv[1]
    seen = []
    with DepartmentClient("HOUSING", group_id=sys.argv[2]) as dept:
        for _ in range(60):
            seen += [h.case_number for h in dept.inbox(timeout=1.0)]
            if case_number in seen:
                break
        dept.sign_for(case_number, signed_by="王科长")
        dept.accept(case_number)
        try:
            dept.report_progress(case_number, 150, "太多")
            refused = None
        except InvalidAnswer as exc:
            refused = str(exc)
        dept.commit()
    print(json.dumps({"seen": seen, "present": missing, "refused": refused,
                      "schemas": str(packaged_schemas()), "verifies": dept.bus.verifier is not None}))
""")


@pytest.fixture(scope="module")
def sdk_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("sdk-venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    # A regular (not editable) install: the wheel must carry the schemas itself.
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(ROOT / "sdk")],
                   check=True, timeout=600)
    return python


def test_sdk_installs_alone_and_answers_on_the_bus(sdk_python: Path, bus: Bus, secrets_file: Path,
                                                    tmp_path: Path) -> None:
    number = f"140214-2026-{uuid.uuid4().int % 10**6:06d}"
    at = datetime.now(UTC).replace(microsecond=0)
    rec = example_record(bus.schemas, "case.handoff.requested", case_number=number, unit="HOUSING", now=at)
    rec.update(role="LEAD", mode="ASSIGN", deadline={"clock": "ACCEPTANCE_NOTICE", "due_at": at + timedelta(days=15),
                                                       "days": 15, "day_basis": "CALENDAR"})
    with bus.as_principal("svc-triage").publisher("triage") as pub:
        pub.publish("case.handoff.requested", rec).get(timeout=30)

    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LIANDONG_BOOTSTRAP_SERVERS": bus.bootstrap_servers,
           "LIANDONG_PRINCIPAL": "unit-housing", "LIANDONG_PASSWORD": load_secrets(secrets_file)["unit-housing"],
           # its key, as the operator hands it over, and the public directory to verify its inbox with
           "LIANDONG_SIGNING_KEY": json.loads(bus.settings.signing_keys_path.read_text())["unit-housing"],
           "LIANDONG_PRINCIPALS_FILE": str(bus.settings.principals_path)}
    out = subprocess.run([str(sdk_python), "-c", DEPARTMENT, number, f"unit-housing-{uuid.uuid4().hex[:8]}"],
                         env=env, cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["present"] == [], f"the SDK's virtualenv has {result['present']} installed"
    assert number in result["seen"] and result["verifies"]  # its inbox checked against the directory, and read
    assert "percent" in (result["refused"] or ""), "an out-of-range answer was not refused before publishing"
    assert ROOT.as_posix() not in result["schemas"], "the SDK read the repository's schemas, not its own"

    # What the department answered arrives on its replies topic, decoded by the bus's own codec.
    sub = bus.subscriber([], group_id=None,
                         service="test-sdk-alone")
    sub.assign_all(["liandong.unit.housing.replies"])
    answers: list[str] = []

    def answered() -> bool:
        polled = [ev for ev in sub.poll(500) if ev.key == number]
        assert all(ev.signer == "unit-housing" for ev in polled), [ev.signature_error for ev in polled]
        answers.extend(ev.type for ev in polled)
        return {"case.handoff.accepted", "case.accepted"} <= set(answers)

    try:
        wait_for(answered, timeout=60, message="the SDK's answers on liandong.unit.housing.replies")
    finally:
        sub.close()
    assert "case.progress" not in answers
