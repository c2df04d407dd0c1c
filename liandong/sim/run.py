"""`liandong demo`: a district's petitions end to end on a compressed clock.

Sets up a broker (its own, fresh, unless LIANDONG_BOOTSTRAP_SERVERS names one), provisions topics,
principals and ACLs, starts every service of ``services/registry.py`` as its own process and
principal, and submits the generated petitions (two years: the previous year for the year-on-year
comparison, then the report year, then a few weeks for the last cases to close) to intake's HTTP
API at their simulated time of receipt. The services run on the same compressed clock
(liandong/clock.py), so deadlines, the reference departments' answers (per-unit delays,
objections, extensions) and supervision all happen in simulated days. A progress bar and a live
summary while it runs; at the end the report (report.py) in the terminal and as files.
"""

from __future__ import annotations

import json
import signal
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.markdown import Markdown
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from liandong._bus import Bus
from liandong._settings import get_settings
from liandong.api import call_api
from liandong.domain import BUREAU_TZ

from .bureau import Bureau
from .delivery import Delivery
from .generator import Petition, generate
from .report import ReportInputs, write_report
from .reviewers import Reviewers
from .stack import ServiceStack, own_broker

#: How each reference department behaves in the simulation (simulated days; rates). Delays vary
#: per case by ±40% (LIANDONG_SIM_DELAY_JITTER): the street office is slow to sign (late acceptance
#: notices), housing is slow to close unless it extends; police answers fast.
UNIT_BEHAVIOUR: dict[str, dict[str, float]] = {
    "justice": {"SIGN_AFTER_DAYS": 1, "RESOLVE_AFTER_DAYS": 30, "OBJECTION_RATE": 0.03, "EXTENSION_RATE": 0.05},
    "hrss": {"SIGN_AFTER_DAYS": 2, "RESOLVE_AFTER_DAYS": 45, "OBJECTION_RATE": 0.05, "EXTENSION_RATE": 0.15},
    "housing": {"SIGN_AFTER_DAYS": 2.5, "RESOLVE_AFTER_DAYS": 56, "OBJECTION_RATE": 0.05, "EXTENSION_RATE": 0.3},
    "police": {"SIGN_AFTER_DAYS": 0.5, "RESOLVE_AFTER_DAYS": 20, "OBJECTION_RATE": 0.03, "EXTENSION_RATE": 0.02},
    "street": {"SIGN_AFTER_DAYS": 11, "RESOLVE_AFTER_DAYS": 50, "OBJECTION_RATE": 0.0, "EXTENSION_RATE": 0.1},
}
#: Simulated days after the report year for the last cases to close (the report is written in February).
TAIL_DAYS = 45


@dataclass
class DemoConfig:
    cases: int = 400
    duration: float = 180.0
    seed: int = 2024
    year: int = field(default_factory=lambda: datetime.now(UTC).year - 1)
    out: Path | None = None
    keep_broker: bool = False
    #: Real seconds the services get to start before the simulated clock reaches the first day.
    startup_seconds: float = 30.0

    def run_dir(self) -> Path:
        return self.out or get_settings().run_dir / "demo" / datetime.now(UTC).strftime("%Y%m%d-%H%M%S")


@dataclass
class Timeline:
    start: datetime
    end: datetime
    origin: float
    seconds_per_day: float

    @classmethod
    def of(cls, year: int, duration: float, origin: float) -> Timeline:
        start = datetime(year - 1, 1, 1, tzinfo=BUREAU_TZ)
        end = datetime(year + 1, 1, 1, tzinfo=BUREAU_TZ) + timedelta(days=TAIL_DAYS)
        return cls(start, end, origin, duration / ((end - start).total_seconds() / 86400))

    @property
    def days(self) -> float:
        return (self.end - self.start).total_seconds() / 86400

    def now(self) -> datetime:
        return self.start + timedelta(days=(time.time() - self.origin) / self.seconds_per_day)

    def env(self) -> dict[str, str]:
        return {"LIANDONG_SIM_EPOCH": self.start.isoformat(), "LIANDONG_SIM_ORIGIN": repr(self.origin),
                "LIANDONG_SIM_SECONDS_PER_DAY": repr(self.seconds_per_day)}


def service_env() -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    common = {"LIANDONG_SIM_DELAY_JITTER": "0.4", "LIANDONG_LOG_LEVEL": "WARNING"}
    per = {slug: {f"LIANDONG_SIM_{k}": repr(v) for k, v in b.items()} for slug, b in UNIT_BEHAVIOUR.items()}
    return common, per


class Interrupted(Exception):
    pass


def start_console(stack: ServiceStack, console: Console) -> None:
    """The console for the demo, once intake and the ledger serve: an account for the bureau and one
    per unit (new passwords each run), printed with its address."""
    import secrets

    from liandong_sdk import HANDLING_UNITS

    from services.console.accounts import BUREAU, AccountStore, accounts_file

    settings = get_settings()
    store = AccountStore(accounts_file(stack.secrets_file or settings.secrets_path))
    accounts = {"bureau": BUREAU, **{slug: f"unit-{slug}" for slug in HANDLING_UNITS.values()}}
    passwords = {name: secrets.token_urlsafe(9) for name in accounts}
    for name, principal in accounts.items():
        store.add(name, principal, passwords[name], note="demo")
    stack.per_service_env["console"] = {"LIANDONG_CONSOLE_PORT": "0",
                                        "LIANDONG_CONSOLE_INTAKE_URL": f"http://127.0.0.1:{stack.intake_port}",
                                        "LIANDONG_CONSOLE_LEDGER_URL": f"http://127.0.0.1:{stack.ledger_port}"}
    stack.names.append("console")
    stack.start_one("console")
    console.print(f"console (工作台) http://127.0.0.1:{stack.port('console')}/  accounts (this run only): "
                  + ", ".join(f"{name} / {passwords[name]}" for name in accounts), highlight=False)


def run_demo(cfg: DemoConfig, console: Console) -> Path:
    """Runs the simulation; returns the report's path. Ctrl-C (or SIGTERM) stops every process it started."""
    from services.registry import PIPELINE, SPECS, provision

    def interrupt(*_: object) -> None:
        raise Interrupted

    previous = signal.signal(signal.SIGTERM, interrupt)
    run_dir = cfg.run_dir()
    run_dir.mkdir(parents=True, exist_ok=True)
    petitions = generate(cfg.cases, year=cfg.year, seed=cfg.seed, tag=f"sim{run_dir.name}")
    console.print(f"[bold]Liandong district simulation[/bold]: {len(petitions)} petitions "
                  f"({cfg.cases} in {cfg.year}, {len(petitions) - cfg.cases} in {cfg.year - 1}), seed {cfg.seed}, "
                  f"about {cfg.duration:.0f} s; files in {run_dir}")
    try:
        with own_broker(run_dir, keep=cfg.keep_broker) as bootstrap:
            console.print(f"broker {bootstrap}: provisioning topics, principals and ACLs …")
            provision(Bus.from_settings(bootstrap))
            timeline = Timeline.of(cfg.year, cfg.duration, time.time() + cfg.startup_seconds)
            common, per = service_env()
            stack = ServiceStack(bootstrap, run_dir, list(PIPELINE), extra_env={**common, **timeline.env()},
                                 per_service_env=per)
            bureau = None
            if "coordination" in SPECS:  # packages for key cases, when the coordination service exists
                from services.triage.app import load_routing

                from .bureau import Bureau

                bureau = Bureau(Bus.from_settings(bootstrap), load_routing(), cfg.seed)
            reviewers = Reviewers(Bus.from_settings(bootstrap), cfg.seed) if bureau is not None else None
            delivery = None
            if "notices" in SPECS:  # the petitioners' notices, confirmed as delivered
                delivery = Delivery(Bus.from_settings(bootstrap), "delivery-demo")
            try:  # the services stop before the broker does
                console.print(f"starting {len(PIPELINE)} services: {', '.join(PIPELINE)} …")
                stack.start()
                console.print(f"all services up; intake http://127.0.0.1:{stack.intake_port}/petitions, "
                              f"ledger http://127.0.0.1:{stack.ledger_port}/cases")
                if "console" in SPECS:
                    start_console(stack, console)
                simulate(petitions, timeline, stack, console, cfg.year, bureau, delivery, reviewers)
                inputs = collect(stack, cfg, petitions, timeline)
                if bureau is not None:
                    inputs.run["packages_ordered"] = bureau.ordered
                    inputs.run["mediations_proposed"] = bureau.mediations
                    inputs.run["packages_open_at_end"] = len(bureau.open)
            except (KeyboardInterrupt, Interrupted):
                console.print("[yellow]interrupted: stopping every service and the broker …[/yellow]")
                raise
            finally:
                if bureau is not None:
                    bureau.close()
                if delivery is not None:
                    delivery.close()
                if reviewers is not None:
                    reviewers.close()
                stack.stop()
                console.print(f"{len(stack.procs)} service processes stopped")
        path, text = write_report(inputs, run_dir / "report")
        console.print(Markdown(text))
        console.print(f"\nreport: {path} (and {path.parent / 'cases_by_unit_status.png'}, "
                      f"{path.parent / 'deadline_compliance.png'}, {path.parent / 'cases_by_month_matter.png'}, "
                      f"{path.parent / 'stats.json'})")
        return path
    finally:
        signal.signal(signal.SIGTERM, previous)


def simulate(petitions: list[Petition], timeline: Timeline, stack: ServiceStack, console: Console, year: int,
             bureau: Bureau | None = None, delivery: Delivery | None = None, reviewers: Reviewers | None = None) -> None:
    """Submits each petition when the simulated clock reaches its receipt; shows progress until the end."""
    pending = list(petitions)
    results: Counter[str] = Counter()
    progress = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:.0f}/{task.total:.0f} days"),
                        TimeRemainingColumn(), console=console)
    task = progress.add_task("simulated days", total=timeline.days)
    summary: dict[str, Any] = {}
    last_poll = 0.0
    with Live(Group(progress, _summary_table(summary, results, timeline)), console=console, refresh_per_second=4) as live:
        while True:
            now = timeline.now()
            # At the end every petition still pending is due: a slow round (a loaded machine) must not
            # leave the year's last petitions unsubmitted.
            end = now >= timeline.end
            due = pending if end else [p for p in pending if p.received_at <= now]
            if due:
                pending = pending[len(due):]
                body = _post(stack, "\n".join(json.dumps(p.record, ensure_ascii=False) for p in due))
                for r in body["results"]:
                    results[r["status"]] += 1
                    results["repeat"] += bool(r.get("repeat_of"))
                    if bureau is not None and r["status"] == "registered" and not r.get("repeat_of"):
                        p = due[r["line"] - 1]
                        bureau.registered(p.record, p.persons, r["case_number"], now)
            if end:
                break
            dead = stack.dead()
            if dead:
                raise RuntimeError(f"service(s) exited: {', '.join(dead)}; logs in {stack.run_dir / 'logs'}")
            if time.monotonic() - last_poll > 2.0:
                last_poll = time.monotonic()
                summary = _get(stack, f"/stats?year={min(max(now.year, year - 1), year)}") or summary
                if bureau is not None:
                    resolved = _get(stack, "/cases?status=RESOLVED&limit=10000000") or {"cases": []}
                    numbers = {c["case_number"] for c in resolved["cases"]}
                    if bureau.open:
                        bureau.resolved(numbers, now)
                        results["packages closed"] = sum(bureau.closed.values())
                    results["callbacks"] += bureau.call_back(numbers, now, lambda body: _to_intake(stack, "/callbacks", body))
                    if reviewers is not None:  # 复查/复核: the unsatisfied apply, the bodies decide
                        bureau.reviewed(reviewers.decide(now), now)
                        results["reviews"] += bureau.apply_reviews(now, lambda body: _to_intake(stack, "/reviews", body))
                if delivery is not None:
                    results["notices delivered"] += delivery.deliver(now)
                if bureau is not None:
                    results["packages"] = bureau.ordered
                    results["mediations"] = bureau.mediations
            progress.update(task, completed=max(0.0, min(timeline.days, (now - timeline.start).total_seconds() / 86400)))
            live.update(Group(progress, _summary_table(summary, results, timeline)))
            time.sleep(0.2)
        progress.update(task, completed=timeline.days)


def _summary_table(stats: dict[str, Any], results: Counter[str], timeline: Timeline) -> Table:
    now = timeline.now()
    t = Table(title=f"simulated date {max(now, timeline.start):%Y-%m-%d}" + (
        f" — ledger, year {stats['year']}" if stats else ""), show_header=True)
    for col in ("submitted", "registered", "repeats", "in ledger", "routed", "diverted", "resolved", "overdue",
                "on-time acceptance", "on-time closing", "packages (closed)"):
        t.add_column(col, justify="right")

    def pct(v: float | None) -> str:
        return "-" if v is None else f"{v * 100:.0f}%"

    t.add_row(str(sum(results[k] for k in ("registered", "duplicate", "rejected"))), str(results["registered"]),
              str(results["repeat"]), str(stats.get("total", "-")), str(sum(stats.get("by_lead_unit", {}).values())),
              str(stats.get("diverted", "-")), str(stats.get("resolved", "-")), str(stats.get("overdue", "-")),
              pct(stats.get("on_time_acceptance_rate")), pct(stats.get("on_time_closing_rate")),
              f"{results['packages']} ({results['packages closed']})")
    return t


def collect(stack: ServiceStack, cfg: DemoConfig, petitions: list[Petition], timeline: Timeline) -> ReportInputs:
    """The report's inputs, once the ledger holds every registered case."""
    from services.registry import SPECS

    expected = len(petitions)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        listed = _get(stack, "/cases?limit=10000000") or {"cases": []}
        ours = [c for c in listed["cases"] if str(c.get("registered_at") or "")[:4] in (str(cfg.year - 1), str(cfg.year))]
        if len(ours) >= expected:
            break
        time.sleep(1.0)
    # The ledger may still be catching up with the units' answers: wait until its figures stop moving.
    stats: dict[str, Any] = {}
    settle = time.monotonic() + 60
    while time.monotonic() < settle:
        now_stats = _get(stack, f"/stats?year={cfg.year}") or {}
        if now_stats and {k: now_stats.get(k) for k in ("by_status", "resolved")} == {k: stats.get(k) for k in ("by_status", "resolved")}:
            break
        stats = now_stats
        time.sleep(3.0)
    stats = now_stats or stats
    # The chart's cases as of the settled figures, not as first listed (answers were still arriving then).
    listed = _get(stack, "/cases?limit=10000000") or listed
    ours = [c for c in listed["cases"] if str(c.get("registered_at") or "")[:4] in (str(cfg.year - 1), str(cfg.year))]
    cases = [(c["lead_unit"], c["status"]) for c in ours if str(c["registered_at"])[:4] == str(cfg.year)]
    return ReportInputs(
        year=cfg.year, stats=stats, cases=cases, coordination=ledger_counters(stack),
        services=list(SPECS), metrics_urls=stack.metrics_urls(),
        run={"seed": cfg.seed, "cases": cfg.cases, "seconds": cfg.duration, "days": round(timeline.days),
             "report_date": f"{timeline.now():%Y-%m-%d}",
             "seconds_per_day": timeline.seconds_per_day, "ledger_cases": len(ours), "petitions": expected})


def ledger_counters(stack: ServiceStack) -> dict[str, dict[str, float]]:
    """Supervision actions, package and mediation outcomes as the ledger counted them (its /metrics)."""
    from prometheus_client.parser import text_string_to_metric_families

    url = stack.metrics_urls().get("ledger")
    out: dict[str, dict[str, float]] = {"supervision": {}, "packages": {}, "mediation": {}}
    if url is None:
        return out
    with urllib.request.urlopen(url, timeout=10) as r:
        text = r.read().decode()
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if not s.name.endswith("_total") or not s.value:
                continue
            if family.name == "liandong_supervision_actions":
                key = s.labels.get("action", "?")
                out["supervision"][key] = out["supervision"].get(key, 0) + s.value
            elif family.name == "liandong_package_outcomes":
                out["packages"][s.labels.get("result", "?")] = s.value
            elif family.name == "liandong_mediation_outcomes":
                out["mediation"][s.labels.get("result", "?")] = s.value
    return out


def _post(stack: ServiceStack, body: str) -> dict[str, Any]:
    _, answer = call_api(f"http://127.0.0.1:{stack.intake_port}/petitions", stack.token, body.encode(),
                         content_type="application/x-ndjson", timeout=120)
    return answer  # type: ignore[no-any-return]


def _to_intake(stack: ServiceStack, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    return call_api(f"http://127.0.0.1:{stack.intake_port}{path}", stack.token,
                    json.dumps(body, ensure_ascii=False).encode(), timeout=60)


def _get(stack: ServiceStack, path: str) -> Any:
    try:
        status, answer = call_api(f"http://127.0.0.1:{stack.ledger_port}{path}", stack.token)
    except (OSError, ValueError):
        return None
    return answer if status == 200 else None
