"""The scale benchmark's pieces: the synthetic history's records are real ledger records under
distinct case numbers; the report fits a terminal."""

from __future__ import annotations

import io
import re

from rich.console import Console

from liandong.bench_scale import MEASURES, Template, case_number, scale_table
from services.ledger.api import CASES
from services.ledger.app import LEDGER


def test_every_synthetic_case_is_a_real_ledger_record_under_its_own_number_mostly_closed() -> None:
    template = Template.build(open_every=20)
    spec = next(t for t in LEDGER.tables if t.name == CASES)
    indices = (0, 1, 20, 999_998, 999_999, 2_345_678)
    numbers = [case_number(i) for i in indices]
    assert len(set(numbers)) == len(numbers)
    assert numbers[0] == "140214-2026-000001" and numbers[3] == "140214-2026-999999"
    assert numbers[4] == "140215-2026-000001" and all(re.fullmatch(r"\d{6}-2026-\d{6}", n) for n in numbers)
    statuses = {}
    for i, number in zip(indices, numbers, strict=True):
        key, raw = template.record(i)
        assert key == number.encode()
        state = spec.decode(raw)
        assert state.case_number == number
        assert number == template.number or template.number not in raw.decode()  # renumbered throughout
        assert state.lead_unit is not None and state.handoffs  # registered, triaged and handed on
        statuses[i] = state.status.value
    assert statuses[0] == statuses[20] == "ROUTED"  # one in 20 open
    assert statuses[1] == statuses[999_998] == "RESOLVED"  # the rest accepted and resolved by the lead unit


def test_the_report_has_one_row_per_measure_and_a_column_per_run_and_fits_80_columns() -> None:
    run = {"store": "rocksdb://", "cases": 1_000_000, "start_seconds": 12.3, "rss_mib": 150.0, "peak_rss_mib": 180.0,
           "case_ms": {"p50": 1.2, "p99": 4.5}, "stats_first_ms": 31000.0, "stats_ms": {"p50": 9000.0, "p99": 9500.0},
           "restart_seconds": 2.0, "restart_rss_mib": 140.0}
    runs = [{**run, "store": s, "cases": n} for s in ("memory://", "rocksdb://") for n in (10_000, 100_000, 1_000_000)]
    runs[2] = {"store": "memory://", "cases": 1_000_000, "error": "the ledger exited with -9", "peak_rss_mib": 21260.0}
    out = io.StringIO()
    Console(file=out, width=80, color_system=None).print(scale_table({"runs": runs}))
    text = out.getvalue()
    assert all(name in text for name, _ in MEASURES)
    assert "1M" in text and "10k" in text and "rocksdb" in text and "9,500" in text and "31,000" in text
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "failed" in text and "21,260" in text  # a run that died: how far its memory got
