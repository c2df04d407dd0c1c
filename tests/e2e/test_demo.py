"""`liandong demo` (the district simulation, small, on the session's broker) and `liandong bench --quick
--profile` (on a broker of its own) as a user runs them: the report and its charts are written, the
figures and profiles too, Ctrl-C leaves no process behind."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import psutil

from tests.conftest import wait_for


def _pids(run_dir: Path) -> list[int]:
    return [int(line.split()[0]) for line in (run_dir / "pids").read_text().splitlines()]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def test_demo_runs_the_district_and_writes_the_report(service_env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "demo"
    env = {**service_env, "COLUMNS": "160", "LIANDONG_RUN_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "liandong.cli", "demo", "--cases", "24", "--duration", "16",
                             "--year", "2037", "--seed", "5", "--out", str(out)],
                            capture_output=True, text=True, env=env, timeout=280, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    report = (out / "report" / "report.md").read_text(encoding="utf-8")
    stats = json.loads((out / "report" / "stats.json").read_text(encoding="utf-8"))
    # every petition of both years reached the ledger; the report year's total is the generator's
    assert stats["run"]["ledger_cases"] == stats["run"]["petitions"] == 24 + 36
    assert stats["stats"]["total"] == 24 and stats["stats"]["previous_year_total"] == 36
    assert "**24 件(批)**, down 33.3% year on year (36 in 2036)" in report
    assert stats["stats"]["resolved"] > 0 and stats["stats"]["on_time_acceptance_rate"] is not None
    assert "Petition statistics 2037" in result.stdout  # printed in the terminal as well
    # the console's address, and an account for the bureau and one per unit
    assert "console (工作台) http://127.0.0.1:" in result.stdout
    assert all(f"{name} / " in result.stdout for name in ("bureau", "justice", "hrss", "housing", "police", "street"))
    for png in ("cases_by_unit_status.png", "deadline_compliance.png"):
        assert (out / "report" / png).stat().st_size > 5000
    assert "/metrics" in report and "ledger: http://127.0.0.1:" in report
    pids = _pids(out)
    assert len(pids) >= 9
    assert not [p for p in pids if _alive(p)]


def test_ctrl_c_stops_every_process(service_env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "demo"
    env = {**service_env, "COLUMNS": "160", "LIANDONG_RUN_DIR": str(tmp_path)}
    demo = subprocess.Popen([sys.executable, "-m", "liandong.cli", "demo", "--cases", "20", "--duration", "60",
                             "--year", "2038", "--out", str(out)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        # Every service started and serving (each reports its bound ports): an interrupt mid-start is
        # a case too, but not this one.
        wait_for(lambda: (out / "pids").exists() and len(list(out.glob("*/ports.json"))) >= len(_pids(out)) >= 9,
                 timeout=120, interval=0.5, message="the demo's services to serve")
        demo.send_signal(signal.SIGINT)
        output, _ = demo.communicate(timeout=120)
    finally:
        if demo.poll() is None:
            demo.kill()
    assert demo.returncode == 130, output[-3000:]
    assert "no process left behind" in output
    assert not [p for p in _pids(out) if _alive(p)]


def test_bench_quick_writes_every_figure(service_env: dict[str, str], tmp_path: Path) -> None:
    """As `make bench` runs it on a fresh machine: its own broker (so that --profile records it too)."""
    out = tmp_path / "bench.json"
    env = {k: v for k, v in service_env.items() if k not in ("LIANDONG_BOOTSTRAP_SERVERS", "LIANDONG_SECRETS_FILE")}
    env |= {"COLUMNS": "200", "LIANDONG_RUN_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "liandong.cli", "bench", "--quick", "--workers", "1", "--profile",
                             "--out", str(out)],
                            capture_output=True, text=True, env=env, timeout=280, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    r = json.loads(out.read_text())
    base, pipe = r["baseline"]["1"], r["pipeline"]["1"]
    assert base["messages"] == r["config"]["baseline_messages"] and base["messages_per_second"] > 0
    assert pipe["resolutions_seen"] == pipe["resolutions_expected"] > 0  # every lifecycle completed in the ledger
    assert pipe["cases_resolved"] == pipe["cases"] > 0  # and the ledger's state holds each case resolved
    assert pipe["left_unresolved"] == 0  # the run's latency cases too, before its stack stopped
    assert pipe["warmup_cases"] == r["config"]["warmup"] == 20 and pipe["warmup_seconds"] > 0  # run and drained first
    assert pipe["lifecycles_per_second"] > 0 and pipe["events_per_second"] > 0 and pipe["ratio_to_baseline"] > 0
    assert pipe["latency_seen"] == pipe["latency_cases"] > 0
    assert 0 < pipe["latency_ms"]["p50"] <= pipe["latency_ms"]["p95"] <= pipe["latency_ms"]["p99"]
    assert pipe["low_rate_seen"] == pipe["low_rate_cases"] > 0 and pipe["low_rate"] < pipe["offered_rate"]
    assert 0 < pipe["latency_low_rate_ms"]["p50"] <= pipe["latency_low_rate_ms"]["p99"]
    # where the latency goes: triage sent each handoff after its registration went out and before it was seen
    for at in ("", "low_rate_"):
        part, whole = pipe[f"latency_{at}to_send_ms"], pipe[f"latency_{at}ms"]
        assert 0 < part["p50"] <= whole["p50"] and part["p99"] <= whole["p99"]  # each case's part is less than its whole
        assert 0 < pipe[f"{at}busy_percent"] <= 100
    assert set(pipe["peak_rss_mib"]) == {"triage", "ledger", "justice", "hrss", "housing", "police", "street"}
    assert all(v > 10 for v in pipe["peak_rss_mib"].values())
    assert set(r["targets"]) == {"lifecycles_per_second>=300", "events_ratio_to_relay>=0.40", "p99_inbox_latency_ms<=50",
                                 "low_load_latency_no_worse", "every_run_finished"}
    assert r["targets"]["lifecycles_per_second>=300"]["measured"] == pipe["lifecycles_per_second"]
    assert r["targets"]["every_run_finished"]["met"]
    # one row per measure, and each target with its figure and verdict
    assert "lifecycles/s" in result.stdout and "ratio to the relay" in result.stdout
    assert "≥ 300 lifecycles/s" in result.stdout and f"{pipe['lifecycles_per_second']:,.1f}/s" in result.stdout
    # --profile: every process of the burst sampled (py-spy; JFR for the broker), summarised and printed
    profile = pipe["profile"]
    assert set(profile) == set(pipe["peak_rss_mib"]) | {"broker"}
    for label in ("ledger", "triage", "broker"):
        entry = profile[label]
        assert entry["samples"] > 0 and entry["functions"] and entry["packages"], (label, entry)
        assert Path(entry["raw"]).stat().st_size > 0
        assert sum(entry["cpu_seconds"].values()) > 0 and entry["threads"][0]["cpu_seconds"] > 0
    assert any(f["package"] in ("liandong", "liandong_sdk", "services") for f in profile["ledger"]["functions"])
    assert profile["broker"]["requests"] and 99 <= sum(q["percent"] for q in profile["broker"]["requests"]) <= 101
    assert "where the CPU went" in result.stdout
    # and no sampler is left running
    assert not [p for p in psutil.process_iter(["cmdline"]) if str(tmp_path) in " ".join(p.info["cmdline"] or [])]
