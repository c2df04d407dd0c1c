"""`liandong bench`'s printout: issue 19's targets judged from a run's figures, and tables that read
in an 80-column terminal (one row per measure, one column per run). The figures are a recorded run
(docs/bench.json), changed where a test needs another outcome."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from rich.console import Console

from liandong.bench import busy_percent, cpu_ticks, table, targets, targets_table

RECORDED = json.loads((Path(__file__).parents[2] / "docs" / "bench.json").read_text())


def _printed(*renderables: Any) -> str:
    console = Console(width=80, record=True, color_system=None)
    for r in renderables:
        console.print(r)
    return console.export_text()


def _run(**one: Any) -> dict[str, Any]:
    r = copy.deepcopy(RECORDED)
    r["pipeline"]["1"].update(one)
    r["targets"] = targets(r)
    return r


def test_every_figure_of_every_run_is_printed_whole_in_80_columns() -> None:
    r = _run(cpu_ms_per_lifecycle=27.43)
    text = _printed(table(r), targets_table(r))
    assert "…" not in text and max(map(len, text.splitlines())) <= 80
    for w in ("1", "2"):
        p = r["pipeline"][w]
        assert f"{p['lifecycles_per_second']:,.1f}" in text and f"{p['events_per_second']:,.0f}" in text
        assert f"{r['baseline'][w]['messages_per_second']:,.0f}" in text
    assert "1 worker" in text and "2 workers" in text
    assert "CPU ms a lifecycle" in text and "27.4" in text


def test_the_targets_are_judged_on_one_worker_per_service() -> None:
    short = _run(lifecycles_per_second=54.0)["targets"]
    assert not short["lifecycles_per_second>=300"]["met"] and short["lifecycles_per_second>=300"]["measured"] == 54.0
    assert short["every_run_finished"]["met"]
    two = _run(lifecycles_per_second=54.0)
    two["pipeline"]["2"]["lifecycles_per_second"] = 400.0  # two workers do not meet a target set for one
    assert not targets(two)["lifecycles_per_second>=300"]["met"]
    met = _run(lifecycles_per_second=310.0, ratio_to_baseline=0.41, offered_rate=200.0,
               latency_ms={"p50": 9.0, "p95": 20.0, "p99": 48.0},
               latency_low_rate_ms={"p50": 8.0, "p95": 15.0, "p99": 30.0})["targets"]
    assert all(v["met"] for v in met.values()), met
    slow_at_low_load = _run(latency_low_rate_ms={"p50": 8.0, "p95": 15.0, "p99": 42.0})["targets"]
    assert not slow_at_low_load["low_load_latency_no_worse"]["met"]


def test_a_run_that_did_not_finish_is_a_target_missed() -> None:
    r = copy.deepcopy(RECORDED)
    del r["pipeline"]["2"], r["baseline"]["2"]
    r["targets"] = targets(r)
    assert not r["targets"]["every_run_finished"]["met"]
    assert "no" in _printed(targets_table(r)).split("every --workers run ends")[1].splitlines()[0]


def test_a_run_whose_ledger_did_not_resolve_every_case_did_not_finish() -> None:
    r = copy.deepcopy(RECORDED)
    for p in r["pipeline"].values():
        p["cases_resolved"] = p["cases"]
    assert targets(r)["every_run_finished"]["met"]
    r["pipeline"]["2"]["cases_resolved"] = r["pipeline"]["2"]["cases"] - 1  # the deadline passed first
    judged = targets(r)["every_run_finished"]
    assert not judged["met"] and judged["measured"] == ["1"]
    r["pipeline"]["2"]["cases_resolved"] = r["pipeline"]["2"]["cases"]
    r["pipeline"]["2"]["left_unresolved"] = 12  # its drain timed out: the next run would inherit them
    assert targets(r)["every_run_finished"]["measured"] == ["1"]
    r["pipeline"]["2"].update(cases_resolved=r["pipeline"]["2"]["cases"] - 1, left_unresolved=0)
    r["targets"] = targets(r)
    rows = [c[1].strip() + "|" + c[3].strip() for line in _printed(table(r)).splitlines()
            if len(c := line.split("│")) >= 4 and c[1].strip() == "cases resolved"]
    assert rows == [f"cases resolved|{r['pipeline']['2']['cases'] - 1:,}/{r['pipeline']['2']['cases']:,}"]


def test_where_the_latency_goes_is_printed_and_an_older_run_without_it_still_prints() -> None:
    split = _run(latency_low_rate_to_send_ms={"p50": 17.0, "p95": 23.0, "p99": 26.0}, low_rate_busy_percent=41.6,
                 latency_to_send_ms={"p50": 901.0, "p95": 1502.0, "p99": 2203.0}, busy_percent=99.4)
    text = _printed(table(split))
    assert max(map(len, text.splitlines())) <= 80 and "…" not in text
    rows = [(cells[1].strip(), cells[2].strip()) for line in text.splitlines() if len(cells := line.split("│")) >= 4]
    assert [v for k, v in rows if k == "of which to triage's send"] == ["17/23/26", "901/1502/2203"]
    assert [v for k, v in rows if k.startswith("CPUs busy")] == ["42%", "99%"]
    old = copy.deepcopy(split)
    for p in old["pipeline"].values():
        for k in ("latency_low_rate_to_send_ms", "latency_to_send_ms", "low_rate_busy_percent", "busy_percent",
                  "cases_resolved", "left_unresolved"):
            p.pop(k, None)
    text = _printed(table(old))
    assert "CPUs busy at" in text  # figures a run did not take: shown as "-"
    assert [line.split("│")[2].strip() for line in text.splitlines() if "cases resolved" in line] == ["-"]
    assert targets(old)["every_run_finished"]["met"]  # a run recorded before those figures counts as ended


def test_how_busy_the_cpus_were_between_two_readings() -> None:
    assert busy_percent((1000, 400), (2000, 650)) == 75.0  # 1000 ticks, 250 of them idle
    assert busy_percent(None, (2000, 650)) is None and busy_percent((2000, 650), (2000, 650)) is None
    now = cpu_ticks()
    assert now is None or now[0] >= now[1] > 0


def test_runs_are_matched_by_number_of_workers_not_by_text() -> None:
    r = copy.deepcopy(RECORDED)
    r["pipeline"] = {"2": r["pipeline"]["2"], "10": copy.deepcopy(r["pipeline"]["2"])}
    r["config"]["workers"] = [2, 10]
    assert targets(r)["every_run_finished"] == {"measured": ["2", "10"], "requested": [2, 10], "met": True}


def test_the_warm_up_before_a_burst_is_printed_where_a_run_had_one() -> None:
    r = copy.deepcopy(RECORDED)
    r["pipeline"]["1"].update(warmup_cases=1000, warmup_seconds=18.4)
    r["pipeline"]["2"].update(warmup_cases=0, warmup_seconds=None)
    text = _printed(table(r))
    assert max(map(len, text.splitlines())) <= 80 and "…" not in text
    assert [[c.strip() for c in line.split("│")[2:4]] for line in text.splitlines() if "after a warm-up of" in line] == [
        ["1,000 in 18 s", "-"]]
    r["pipeline"]["1"].update(warmup_cases=0)
    assert "warm-up" not in _printed(table(r))  # no run warmed up: no row
