"""`liandong bench-scale`: what the ledger costs as cases accumulate, with each table store.

For each size N a fresh local broker gets a synthetic history: N cases' ledger records written
straight to the ledger's changelog (each a real case's record, built by the ledger's own domain
code in memory, under its own case number). Then, for each store (``memory://``, ``rocksdb://``),
the real ledger process is started on it and measured:

- **start**: seconds from launch until the API answers for the last case written to every
  partition (the whole state is there);
- **RSS**: the ledger's resident memory once serving, and its peak;
- **one case**: p50/p99 of ``GET /cases/{n}`` over random cases;
- **/stats**: the first ``GET /stats`` (the annual report's figures over every case) once the
  cases are served, which waits until the ledger has read its cases into its kept sums (once per
  start or rebalance), then p50/p99 of the calls after it;
- **restart**: a clean stop (SIGTERM), ``new`` more cases written, a start again: seconds until it
  serves the new cases (a persistent store reads only what is new; memory reads everything), the
  first ``GET /stats`` then, and the memory after it.
"""

from __future__ import annotations

import json
import random
import statistics
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
from kafka.partitioner.default import murmur2
from rich.console import Console
from rich.table import Table

from ._bus import Bus
from ._settings import get_settings

STORES = ("memory://", "rocksdb://")


@dataclass
class ScaleConfig:
    sizes: list[int] = field(default_factory=lambda: [10_000, 100_000, 1_000_000])
    stores: list[str] = field(default_factory=lambda: list(STORES))
    #: Cases written between the clean stop and the restart.
    new: int = 1000
    lookups: int = 200
    stats_calls: int = 20
    #: /stats is asked only up to this many cases (it was once linear: before the kept sums a
    #: million cases took more memory than this machine has).
    stats_up_to: int = 10_000_000
    #: Longest wait for one start (seconds) or one /stats answer.
    timeout: float = 900.0
    out: Path = Path("bench-scale.json")


def run_scale(cfg: ScaleConfig, console: Console) -> dict[str, Any]:
    from .bench import sigterm_interrupts

    with sigterm_interrupts():
        return _run_scale(cfg, console)


def _run_scale(cfg: ScaleConfig, console: Console) -> dict[str, Any]:
    from services.registry import provision

    from .bench import machine
    from .sim.stack import own_broker

    run_dir = get_settings().run_dir / "bench-scale" / datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    run_dir.mkdir(parents=True, exist_ok=True)
    template = Template.build()
    result: dict[str, Any] = {"machine": machine(), "config": {"sizes": cfg.sizes, "stores": cfg.stores, "new": cfg.new,
                                                              "lookups": cfg.lookups, "stats_calls": cfg.stats_calls},
                              "started_at": datetime.now(UTC).isoformat(),
                              "record_bytes": {"open": len(template.open), "closed": len(template.closed)},
                              "open_share": round(1 / template.open_every, 4),
                              "runs": []}
    cfg.out.parent.mkdir(parents=True, exist_ok=True)
    for n in cfg.sizes:
        with own_broker(run_dir / f"broker-{n}") as bootstrap:
            bus = Bus.from_settings(bootstrap)
            provision(bus)
            history = History(bus, template)
            console.print(f"{n:,} cases: writing their ledger records …")
            written_s = history.write(n)
            for store in cfg.stores:
                console.print(f"  {store} …")
                try:
                    run = measure(bus, history, store, run_dir / f"{n}-{store.split(':')[0]}", cfg, stats=n <= cfg.stats_up_to)
                except Failed as exc:  # the ledger died (out of memory, say): said, and the next run goes on
                    run = {"store": store, "error": str(exc), "peak_rss_mib": exc.peak_rss_mib}
                    console.print(f"    [red]failed[/red]: {exc}")
                else:
                    console.print(f"    serving after {run['start_seconds']} s, RSS {run['rss_mib']} MiB, one case p99 "
                                  f"{run['case_ms']['p99']} ms, /stats p99 {run['stats_ms']['p99']} ms, "
                                  f"restart {run['restart_seconds']} s")
                run.update(cases=n, write_seconds=round(written_s, 1))
                result["runs"].append(run)
                cfg.out.write_text(json.dumps(result, indent=2))  # what is measured so far survives a later failure
                history.write(cfg.new)  # the next store starts on what this one saw, and its `new`
    console.print(scale_table(result))
    console.print(f"written {cfg.out}")
    return result


# -- the synthetic history ----------------------------------------------------------------------
@dataclass
class Template:
    """Two real cases' ledger records, as stored: one open (registered, triaged, handed to its lead
    unit) and one closed (its lead unit accepted and resolved it); a history has mostly closed cases."""

    open: bytes
    closed: bytes
    number: str
    #: One case in this many is open (the rest are closed): years of cases are mostly resolved.
    open_every: int = 20

    @classmethod
    def build(cls, open_every: int = 20) -> Template:
        from services.ledger.api import CASES
        from services.ledger.app import LEDGER

        ledger, send = ledger_in_memory()
        spec = next(t for t in LEDGER.tables if t.name == CASES)
        at = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)
        number = "140214-2026-000001"
        case = register(send, number, at, "scale-1")
        state = ledger.state(number, CASES)
        if state is None or state.lead_unit is None:
            raise RuntimeError("the template case was not handed to a unit")
        opened = spec.encode(state)
        answer(send, case, state.lead_unit, at)
        state = ledger.state(number, CASES)
        if state is None or state.status.value != "RESOLVED":
            raise RuntimeError(f"the template case was not resolved ({state and state.status})")
        return cls(opened, spec.encode(state), number, open_every)

    def record(self, i: int) -> tuple[bytes, bytes]:
        number = case_number(i)
        raw = self.open if i % self.open_every == 0 else self.closed
        return number.encode(), raw.replace(self.number.encode(), number.encode())


def ledger_in_memory(recorder: Any = None) -> tuple[Any, Callable[[Any], None]]:
    """The ledger in memory (``recorder``: an unsealed one by default), and what delivers an event
    to it as the bus would: a registration itself and what triage makes of it; a unit's answer as
    triage's checked copy."""
    from liandong_sdk import Codec, SchemaCatalogue, topic_matches
    from liandong_sdk.events import PetitionRegistered

    from services.ledger.app import LEDGER, Recorder
    from services.triage.app import TRIAGE, load_routing

    from .domain import ClockConfig
    from .domain.triage import Triage
    from .service import InMemory

    codec = Codec(SchemaCatalogue(get_settings().schemas_dir))  # unsigned: the record, not a message
    triage = InMemory(TRIAGE, Triage(load_routing(), ClockConfig()), codec)
    ledger = InMemory(LEDGER, recorder or Recorder.unsealed(ClockConfig()), codec)

    def send(event: Any) -> None:
        outputs = triage.send(event)
        if isinstance(event, PetitionRegistered):
            ledger.send(event)
        for out in outputs:
            if any(topic_matches(t, out.topic) for t in LEDGER.topics_in):
                ledger.send(out)

    return ledger, send


def register(send: Callable[[Any], None], number: str, at: datetime, key: str) -> Any:
    """A wage-arrears visit registered at ``at`` as case ``number`` (``key``: its idempotency key);
    its ``CaseRef``."""
    from liandong_sdk.events import CaseRef, Channel, MatterCategory, Petitioner, PetitionRegistered

    case = CaseRef(case_number=number, petition_id=uuid.uuid4(), district_code=number.split("-")[0])
    send(PetitionRegistered(
        event_id=uuid.uuid4(), occurred_at=at, deadline=None, channel=Channel.VISIT, case=case,
        petitioner=Petitioner(name="赵建国", phone="13500001111"), summary="某工地拖欠工资三个月",
        category_hint=MatterCategory.WAGE_ARREARS, idempotency_key=key, received_at=at - timedelta(minutes=5)))
    return case


def answer(send: Callable[[Any], None], case: Any, unit: str, at: datetime, *, signed: timedelta = timedelta(days=1),
           accepted: timedelta = timedelta(days=3), resolved: timedelta = timedelta(days=40)) -> None:
    """``unit`` signs for the case, accepts it and resolves it, those times after ``at``."""
    from liandong_sdk.events import (
        CaseAccepted,
        CaseHandoffAccepted,
        CaseResolved,
        ResolutionOutcome,
        ResolutionTag,
        Unit,
    )

    lead = Unit(unit)
    send(CaseHandoffAccepted(event_id=uuid.uuid4(), occurred_at=at + signed, case=case, deadline=None, unit=lead,
                             signed_by="王科员"))
    send(CaseAccepted(event_id=uuid.uuid4(), occurred_at=at + accepted, case=case, deadline=None, unit=lead,
                      notice_no="SL-1"))
    send(CaseResolved(event_id=uuid.uuid4(), occurred_at=at + resolved, case=case, deadline=None, unit=lead,
                      outcome=ResolutionOutcome.SUPPORTED, tag=next(iter(ResolutionTag)),
                      opinion="责令用工单位十日内支付拖欠工资。"))


#: Case numbers a district gives in a year (six digits: 000001 … 999999).
PER_DISTRICT = 999_999


def case_number(i: int) -> str:
    """The i-th synthetic case number (districts 140214, 140215, …, each numbered 000001 … 999999)."""
    return f"{140214 + i // PER_DISTRICT}-2026-{i % PER_DISTRICT + 1:06d}"


class History:
    """The ledger's changelog of cases, written straight to the topic (as the ledger writes it:
    the case number as key, the partition its source events have)."""

    def __init__(self, bus: Bus, template: Template) -> None:
        from liandong_sdk import TopicSpec

        from services.ledger.api import CASES
        from services.ledger.app import SERVICE

        self.bus, self.template = bus, template
        self.topic = f"{SERVICE}-{CASES}-changelog"  # faust's name: <app id>-<table>-changelog
        self.partitions = bus.settings.topic_partitions
        bus.provision_topics([TopicSpec(self.topic, "changelog of table ledger-cases (state log)", compacted=True)])
        self.count = 0
        self.last: dict[int, str] = {}  # partition -> the last case number written there

    def write(self, n: int) -> float:
        from kafka import KafkaProducer

        started = time.perf_counter()
        producer = KafkaProducer(bootstrap_servers=self.bus.bootstrap_servers, acks="all", linger_ms=20,
                                 batch_size=512 * 1024, compression_type=None, max_request_size=8 * 2**20,
                                 **self.bus.client_config())
        try:
            for i in range(self.count, self.count + n):
                key, value = self.template.record(i)
                partition = (murmur2(key) & 0x7FFFFFFF) % self.partitions
                producer.send(self.topic, key=key, value=value, partition=partition)
                self.last[partition] = key.decode()
            producer.flush()
        finally:
            producer.close()
        self.count += n
        return time.perf_counter() - started


# -- one store, one size ------------------------------------------------------------------------
class Failed(RuntimeError):
    """The ledger could not be measured (it died, or never served every case)."""

    def __init__(self, message: str, peak_rss_mib: float) -> None:
        super().__init__(message)
        self.peak_rss_mib = peak_rss_mib


def measure(bus: Bus, history: History, store: str, run_dir: Path, cfg: ScaleConfig, *,
            stats: bool = True) -> dict[str, Any]:
    from .sim.stack import ServiceStack

    env = {"LIANDONG_TABLE_STORE": store, "LIANDONG_LOG_LEVEL": "WARNING"}
    stack = ServiceStack(bus.bootstrap_servers, run_dir, ["ledger"], extra_env=env)
    try:
        start_s = _start(stack, history, cfg.timeout)
        rss = _rss(stack)
        numbers = [case_number(random.randrange(history.count)) for _ in range(cfg.lookups)]
        case_ms = [_get(stack, f"/cases/{n}", cfg.timeout)[1] for n in numbers]
        stats_ms = [_get(stack, "/stats", cfg.timeout)[1] for _ in range(cfg.stats_calls + 1 if stats else 0)]
        first_ms = stats_ms.pop(0) if stats_ms else None  # it waits for the sums: apart from the rest
        stack.sample_rss()
        peak = stack.peak_rss().get("ledger", 0)
        stack.stop()  # a clean stop: SIGTERM
        history.write(cfg.new)
        restart_s = _start(stack, history, cfg.timeout)
        # the first answer after the restart: the worker reads its cases into the kept sums again
        restart_stats_ms = _get(stack, "/stats", cfg.timeout)[1] if stats else None
        restart_rss = _rss(stack)
    except (RuntimeError, OSError) as exc:
        died = [w.proc.returncode for w in stack.procs if w.proc.poll() is not None]
        cause = f"the ledger exited with {died[0]}" if died else repr(exc)
        raise Failed(f"{cause} ({exc})", round(stack.peak_rss().get("ledger", 0) / 2**20, 1)) from exc
    finally:
        stack.stop()
    return {"store": store, "start_seconds": round(start_s, 1), "rss_mib": round(rss / 2**20, 1),
            "peak_rss_mib": round(peak / 2**20, 1), "case_ms": _percentiles(case_ms),
            "stats_first_ms": None if first_ms is None else round(first_ms, 1), "stats_ms": _percentiles(stats_ms),
            "restart_seconds": round(restart_s, 1),
            "restart_stats_first_ms": None if restart_stats_ms is None else round(restart_stats_ms, 1),
            "restart_rss_mib": round(restart_rss / 2**20, 1),
            "cases_after_restart": history.count}


def _start(stack: Any, history: History, timeout: float) -> float:
    """Starts the ledger; seconds until it answers for the last case of every partition."""
    stack.procs.clear()
    started = time.monotonic()
    stack.start(timeout=timeout)
    waiting = set(history.last.values())
    while waiting:
        waiting = {n for n in waiting if _get(stack, f"/cases/{n}", 30.0, missing_ok=True)[0] != 200}
        if stack.dead():
            raise RuntimeError(f"the ledger exited; its log: {stack.run_dir / 'logs'}")
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"the ledger did not serve every case within {timeout:.0f} s")
        if waiting:
            time.sleep(0.2)
    return time.monotonic() - started


def _get(stack: Any, path: str, timeout: float, *, missing_ok: bool = False) -> tuple[int, float]:
    """(status, milliseconds) of a GET on the ledger's API, as the bureau."""
    request = urllib.request.Request(f"http://127.0.0.1:{stack.ledger_port}{path}",
                                     headers={"Authorization": f"Bearer {stack.token}"})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        if not missing_ok:
            raise RuntimeError(f"GET {path}: {exc.code}") from exc
        status = exc.code
    except OSError:
        if not missing_ok:
            raise
        status = 0
    return status, (time.perf_counter() - started) * 1000


def _rss(stack: Any) -> int:
    stack.sample_rss()
    return sum(psutil.Process(w.proc.pid).memory_info().rss for w in stack.procs)


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p99": None}
    ordered = sorted(values)
    return {"p50": round(statistics.median(ordered), 1),
            "p99": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 1)}


# -- the report ---------------------------------------------------------------------------------
Pick = Callable[[dict[str, Any]], "float | None"]
MEASURES: tuple[tuple[str, Pick], ...] = (("start (s)", lambda r: r["start_seconds"]), ("RSS serving (MiB)", lambda r: r["rss_mib"]),
            ("peak RSS (MiB)", lambda r: r["peak_rss_mib"]), ("one case p50 (ms)", lambda r: r["case_ms"]["p50"]),
            ("one case p99 (ms)", lambda r: r["case_ms"]["p99"]),
            ("/stats first (ms)", lambda r: r.get("stats_first_ms")), ("/stats p50 (ms)", lambda r: r["stats_ms"]["p50"]),
            ("/stats p99 (ms)", lambda r: r["stats_ms"]["p99"]),
            ("restart +new (s)", lambda r: r["restart_seconds"]),
            ("  /stats first (ms)", lambda r: r.get("restart_stats_first_ms")),
            ("RSS restarted (MiB)", lambda r: r["restart_rss_mib"]))


def scale_table(result: dict[str, Any]) -> Table:
    """One row per measure, one column per (store, N): fits an 80-column terminal for 3 sizes."""
    runs = result["runs"]
    t = Table(title="ledger cost as cases accumulate")
    t.add_column("measure")
    for r in runs:
        t.add_column(f"{r['store'].split(':')[0]}\n{_size(r['cases'])}", justify="right")
    for name, pick in MEASURES:
        t.add_row(name, *(_cell(pick(r)) if "error" not in r else _failed(name, r) for r in runs))
    return t


def _failed(measure: str, run: dict[str, Any]) -> str:
    """A run that failed: its peak memory (how far it got), "failed" in its first row."""
    if measure == "peak RSS (MiB)":
        return _cell(run.get("peak_rss_mib"))
    return "failed" if measure == MEASURES[0][0] else "–"


def _size(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 and n % 1_000_000 == 0 else \
        f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


def _cell(v: float | None) -> str:
    if v is None:
        return "–"
    return f"{v:,.0f}" if v >= 100 else f"{v:,.1f}"
