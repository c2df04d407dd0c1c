"""The `liandong` command."""

from __future__ import annotations

import sys
from datetime import UTC
from pathlib import Path
from typing import Any

import typer
from liandong_sdk import LiandongError, SchemaCatalogue, load_directory
from liandong_sdk.events import CaseJurisdictionDecided
from rich.console import Console
from rich.table import Table

from ._bus import Bus
from ._settings import ROOT, get_settings
from .broker import LocalBroker, broker_for, configured_bootstrap
from .compat import check_schemas

app = typer.Typer(help="Liandong (联动): the petition bureaus' multi-department coordination bus.",
                  no_args_is_help=True, add_completion=False)
broker_app = typer.Typer(help="The local single-node Kafka broker (127.0.0.1).", no_args_is_help=True)
topics_app = typer.Typer(help="Topics of the catalogue.", no_args_is_help=True)
schemas_app = typer.Typer(help="Avro schemas under schemas/.", no_args_is_help=True)
app.add_typer(broker_app, name="broker")
cluster_app = typer.Typer(help="A local three-node Kafka cluster (KRaft, 127.0.0.1; replication 3, min ISR 2).",
                          no_args_is_help=True)
app.add_typer(cluster_app, name="cluster")
app.add_typer(topics_app, name="topics")
app.add_typer(schemas_app, name="schemas")
principals_app = typer.Typer(help="Principals (SCRAM users) and their ACLs.", no_args_is_help=True)
app.add_typer(principals_app, name="principals")
intake_app = typer.Typer(help="Petition intake (登记).", no_args_is_help=True)
case_app = typer.Typer(help="Bureau decisions on cases.", no_args_is_help=True)
tokens_app = typer.Typer(help="Tokens for the HTTP APIs (issued per principal, stored hashed).", no_args_is_help=True)
app.add_typer(tokens_app, name="tokens")
audit_app = typer.Typer(help="A case's record that proves itself: its signed, hash-chained events.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
app.add_typer(intake_app, name="intake")
app.add_typer(case_app, name="case")
from services.coordination.cli import mediation_app, package_app, team_app  # noqa: E402

app.add_typer(mediation_app, name="mediation")  # joint mediation, packages, task teams (services/coordination)
app.add_typer(package_app, name="package")
app.add_typer(team_app, name="team")
from services.supervision.cli import supervise_app  # noqa: E402

app.add_typer(supervise_app, name="supervise")  # supervision: recommendations, notices (services/supervision)
from services.notices.cli import notices_app  # noqa: E402

app.add_typer(notices_app, name="notices")  # the petitioner's written notices: delivery confirmations (services/notices)
from services.console.cli import console_app  # noqa: E402

app.add_typer(console_app, name="console")  # the browser workbench's accounts (services/console)
console = Console()


@broker_app.command("start")
def broker_start() -> None:
    """Fetch the Kafka jars (once), format storage and start the broker; prints the bootstrap address."""
    if get_settings().bootstrap_servers:
        console.print(f"LIANDONG_BOOTSTRAP_SERVERS is set: using {get_settings().bootstrap_servers}, no local broker")
        return
    info = LocalBroker().start()
    console.print(f"broker running: pid {info.pid}, bootstrap {info.bootstrap_servers}, log {info.log_file}")


@broker_app.command("stop")
def broker_stop() -> None:
    """Stop the local broker and wait until its JVM has exited."""
    stopped = LocalBroker().stop()
    console.print("broker stopped" if stopped else "no broker was running")


@broker_app.command("status")
def broker_status() -> None:
    """Print the bootstrap address of the running broker (exit 1 when none runs)."""
    external = get_settings().bootstrap_servers
    if external:
        print(external)
        return
    info = LocalBroker().info()
    if info is None or not info.alive():
        console.print("no local broker is running (start one with `liandong broker start`)")
        raise typer.Exit(1)
    print(info.bootstrap_servers)


@cluster_app.command("start")
def cluster_start() -> None:
    """Start three KRaft nodes (formatted the first time, ports kept in the run folder) and print the
    settings that point the services at them."""
    from .broker import LocalCluster

    cluster = LocalCluster()
    bootstrap = cluster.start()
    console.print(f"cluster running: {bootstrap}")
    print(f"LIANDONG_BOOTSTRAP_SERVERS={bootstrap} LIANDONG_REPLICATION_FACTOR={cluster.replication} "
          f"LIANDONG_MIN_INSYNC_REPLICAS={cluster.min_isr}")


@cluster_app.command("stop")
def cluster_stop() -> None:
    """Stop every node of the local cluster."""
    from .broker import LocalCluster

    if not LocalCluster.made():
        console.print("no cluster was started here")
        return
    stopped = LocalCluster().stop()
    console.print(f"{stopped} node(s) stopped" if stopped else "no cluster node was running")


@cluster_app.command("status")
def cluster_status() -> None:
    """Each node and whether it runs (exit 1 when none does)."""
    from .broker import LocalCluster

    if not LocalCluster.made():
        console.print("no cluster was started here (start one with `liandong cluster start`)")
        raise typer.Exit(1)
    rows = LocalCluster().status()
    for node_id, address, running in rows:
        console.print(f"node {node_id} {address} {'running' if running else 'stopped'}")
    if not any(running for _, _, running in rows):
        raise typer.Exit(1)


@topics_app.command("create")
def topics_create(partitions: int = typer.Option(None, help="Partitions of a new topic (default from settings).")) -> None:
    """Create the catalogue's topics, idempotently: a second run changes nothing."""
    bus = Bus.from_settings(configured_bootstrap())
    report = bus.provision_topics(partitions=partitions)
    for label, names in (("created", report.created), ("reconfigured", report.reconfigured),
                         ("repartitioned", report.repartitioned)):
        for n in names:
            console.print(f"{label}: {n}")
    console.print(f"{len(report.unchanged)} topics unchanged" + ("" if report.changed else "; nothing to do"))


@principals_app.command("create")
def principals_create() -> None:
    """Create every service's and unit's SCRAM user and its least-privilege ACLs (idempotent).

    Passwords come from the secrets file (LIANDONG_SECRETS_FILE, default .liandong/secrets.json);
    missing ones are generated into it."""
    from services.registry import grants

    from .security import apply_grants, ensure_secrets, ensure_signing_keys

    settings = get_settings()
    bus = Bus.from_settings(configured_bootstrap())
    all_grants = grants()
    passwords = ensure_secrets(settings.secrets_path, [g.principal for g in all_grants])
    ensure_signing_keys(settings.signing_keys_path, settings.principals_path, all_grants)
    report = apply_grants(all_grants, passwords, bus.bootstrap_servers, **bus.client_config())
    console.print(f"{len(report.users)} principals, {report.acls} ACLs in place "
                  f"(passwords in {settings.secrets_path}, signing keys in {settings.signing_keys_path}, "
                  f"public keys in {settings.principals_path})")


@schemas_app.command("check")
def schemas_check() -> None:
    """Parse every schema, check names, docs, enum defaults, and backward compatibility with released versions."""
    report = check_schemas(get_settings().schemas_dir)
    for problem in report.problems:
        console.print(f"[red]✗[/red] {problem}", highlight=False)
    if not report.ok:
        console.print(f"{len(report.problems)} problem(s)")
        raise typer.Exit(1)
    console.print(f"✓ {report.schemas} schemas parse and are documented; "
                  f"{report.checked_pairs} released versions are readable by the current schemas")


@schemas_app.command("codegen")
def schemas_codegen() -> None:
    """Write the typed event classes (sdk/liandong_sdk/events.py) from the current schemas."""
    from .codegen import TARGET, events_module

    target = ROOT / TARGET
    source = events_module(SchemaCatalogue(get_settings().schemas_dir))
    if target.exists() and target.read_text(encoding="utf-8") == source:
        console.print(f"{TARGET} is current")
        return
    target.write_text(source, encoding="utf-8")
    console.print(f"wrote {TARGET}")


@schemas_app.command("release")
def schemas_release() -> None:
    """Keep a copy of the current event schemas under schemas/released/ (a release's evolution baseline)."""
    written = SchemaCatalogue(get_settings().schemas_dir).release()
    for p in written:
        console.print(f"released {p.relative_to(get_settings().schemas_dir)}")
    console.print(f"{len(written)} new released schema(s)")


@app.command("demo")
def demo(cases: int = typer.Option(400, help="Petitions in the report year (the year before gets the seed report's -34.2% more)."),
         duration: float = typer.Option(180.0, help="Real seconds the two simulated years (and a closing tail) take."),
         seed: int = typer.Option(2024, help="Seed of the petition generator and the departments' dice."),
         year: int = typer.Option(None, help="The report year (default: last year)."),
         out: Path = typer.Option(None, help="Run folder: logs, and report/ (default .liandong/demo/<time>)."),
         keep_broker: bool = typer.Option(False, help="Leave the demo's own broker running afterwards.")) -> None:
    """The main job: a district's petitions end to end on a compressed clock, then the annual report."""
    from .sim.run import DemoConfig, Interrupted, run_demo

    cfg = DemoConfig(cases=cases, duration=duration, seed=seed, out=out, keep_broker=keep_broker)
    if year is not None:
        cfg.year = year
    try:
        run_demo(cfg, console)
    except (KeyboardInterrupt, Interrupted):
        console.print("stopped; no process left behind")
        raise typer.Exit(130) from None


@app.command("bench")
def bench(workers: str = typer.Option("1,2", help="Workers per service to measure, comma-separated."),
          seconds: float = typer.Option(20.0, help="Seconds of the fixed-load latency run."),
          rate: float = typer.Option(200.0, help="Offered load (cases per second) of the latency run."),
          low_rate: float = typer.Option(20.0, help="A second, lighter load (cases per second) for latency "
                                                    "without a backlog; runs half as long."),
          cases: int = typer.Option(2000, help="Cases in the burst of the sustained-throughput run."),
          baseline_messages: int = typer.Option(50_000, help="Messages the raw relay baseline moves."),
          warmup: int = typer.Option(1000, help="Cases run through each stack and drained before its timed burst "
                                                "(a broker's JIT compiler, the services' caches); 0: none."),
          quick: bool = typer.Option(False, help="A small, fast run (tests)."),
          profile: bool = typer.Option(False, help="Profile every process during each burst (py-spy; JFR for the "
                                                   "broker): where the CPU goes, printed and in the JSON."),
          out: Path = typer.Option(Path("bench.json"), help="Where to write the JSON results.")) -> None:
    """Throughput and latency: a raw Kafka relay baseline and the full pipeline, on the same broker."""
    from .bench import BenchConfig, run_bench

    run_bench(BenchConfig(workers=[int(w) for w in workers.split(",")], seconds=seconds, rate=rate, low_rate=low_rate,
                          quick=quick, out=out, cases=cases, baseline_messages=baseline_messages, profile=profile,
                          warmup=warmup),
              console)


@app.command("bench-scale")
def bench_scale(sizes: str = typer.Option("10000,100000,1000000", help="Numbers of cases, comma-separated."),
                stores: str = typer.Option("memory://,rocksdb://", help="Table stores to measure, comma-separated."),
                new: int = typer.Option(1000, help="Cases written between the clean stop and the restart."),
                lookups: int = typer.Option(200, help="GET /cases/{n} requests per run."),
                stats_calls: int = typer.Option(20, help="GET /stats requests per run after the first."),
                stats_up_to: int = typer.Option(10_000_000, help="Ask /stats only up to this many cases."),
                out: Path = typer.Option(Path("bench-scale.json"), help="Where to write the JSON results.")) -> None:
    """The ledger's memory, start time and API latency as cases accumulate, per table store."""
    from .bench_scale import ScaleConfig, run_scale

    run_scale(ScaleConfig(sizes=[int(n) for n in sizes.split(",")], stores=stores.split(","), new=new, lookups=lookups,
                          stats_calls=stats_calls, stats_up_to=stats_up_to, out=out), console)


@app.command("smoke")
def smoke(keep_broker: bool = typer.Option(False, help="Leave the local broker running afterwards.")) -> None:
    """The smoke scenario: one event of every type through the broker and back, decoded."""
    from .smoke import run_smoke

    with broker_for(keep=keep_broker, announce=console.print) as bootstrap:
        rows = run_smoke(Bus.from_settings(bootstrap))
    table = Table(title="Liandong smoke: one event of every type, published and read back")
    for col in ("event type", "topic", "key", "round trip"):
        table.add_column(col, no_wrap=True)
    for r in rows:
        table.add_row(r.event_type, r.topic, r.key, "[green]ok[/green]" if r.round_trip else "[red]FAILED[/red]")
    console.print(table)
    failed = [r for r in rows if not r.round_trip]
    console.print(f"{len(rows) - len(failed)}/{len(rows)} event types round-tripped")
    if failed:
        raise typer.Exit(1)


@app.command("run")
def run(service: str = typer.Argument(None, help="A service name; see --list."),
        all_services: bool = typer.Option(False, "--all", help="Run every service, each as its own process."),
        list_services: bool = typer.Option(False, "--list", help="List the services and exit.")) -> None:
    """Run one service in the foreground, or every service (`--all`) until Ctrl-C."""
    from services.registry import SERVICES

    if list_services or (service is None and not all_services):
        console.print("services: " + ", ".join(SERVICES))
        return
    if all_services:
        _run_all(list(SERVICES))
        return
    if service not in SERVICES:
        console.print(f"no service {service!r}; services: {', '.join(SERVICES)}")
        raise typer.Exit(2)
    SERVICES[service](Bus.from_settings(configured_bootstrap())).run_forever()


def _run_all(names: list[str]) -> None:
    import os
    import signal
    import subprocess
    import time

    with broker_for(announce=console.print) as bootstrap:
        from services.registry import provision

        provision(Bus.from_settings(bootstrap))
        env = {**os.environ, "LIANDONG_BOOTSTRAP_SERVERS": bootstrap,
               "LIANDONG_SECRETS_FILE": str(get_settings().secrets_path)}
        procs = {n: subprocess.Popen([sys.executable, "-m", "liandong.cli", "run", n], env=env) for n in names}
        settings = get_settings()
        console.print(f"running {len(procs)} services on {bootstrap}: {', '.join(procs)}")
        from .tokens import local_token

        local_token(settings.tokens_path)
        console.print(f"intake  http://127.0.0.1:{settings.intake_port}/petitions   "
                      f"ledger  http://127.0.0.1:{settings.ledger_port}/cases   "
                      f"console http://127.0.0.1:{settings.console_port}/ (accounts: liandong console account add)   "
                      f"(Ctrl-C stops everything)")
        console.print(f"the bureau's token (Authorization: Bearer …) is in "
                      f"{settings.tokens_path.with_name('svc-bureau.token')}", highlight=False)
        stopping = False

        def stop(*_: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        dead: list[str] = []
        try:
            while not stopping:
                dead = [n for n, p in procs.items() if p.poll() is not None]
                if dead:
                    console.print(f"[red]service(s) exited: {', '.join(dead)} (their log lines above say why); "
                                  "stopping the rest[/red]")
                    break
                time.sleep(0.5)
        finally:
            for p in procs.values():
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            for p in procs.values():
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            console.print("all services stopped")
        if dead:
            raise typer.Exit(1)


@intake_app.command("submit")
def intake_submit(file: Path = typer.Argument(..., exists=True, dir_okay=False, help="JSON lines, one petition each."),
                  url: str = typer.Option(None, help="Intake endpoint (default http://127.0.0.1:<intake port>).")) -> None:
    """Submit a file of petitions to the running intake service; prints each line's result."""
    from .api import call_api
    from .tokens import tool_token

    settings = get_settings()
    endpoint = url or f"http://127.0.0.1:{settings.intake_port}/petitions"
    try:
        status, body = call_api(endpoint, tool_token(settings), file.read_bytes(), content_type="application/x-ndjson",
                                timeout=120)
    except OSError as exc:  # not listening, refused, or no answer within the timeout
        console.print(f"intake is not reachable at {endpoint} ({getattr(exc, 'reason', exc)}); "
                      f"start it with `liandong run intake`")
        raise typer.Exit(2) from None
    if "results" not in body:
        console.print(f"intake answered {status}: {body.get('error')}", highlight=False)
        raise typer.Exit(1)
    table = Table(title=f"{file.name}: {body['registered']} registered, {body['duplicates']} duplicate(s), "
                        f"{body['rejected']} rejected")
    for col in ("line", "result", "case number", "detail"):
        table.add_column(col)
    for r in body["results"]:
        detail = "; ".join(r.get("errors", [])) or (f"repeat of {r['repeat_of']}" if r.get("repeat_of") else "")
        table.add_row(str(r["line"]), r["status"], r.get("case_number", ""), detail)
    console.print(table)
    if body["rejected"]:
        raise typer.Exit(1)


@intake_app.command("callback")
def intake_callback(case_number: str,
                    evaluation: str = typer.Option(..., help="SATISFIED (满意), BASICALLY_SATISFIED (基本满意) or UNSATISFIED (不满意)."),
                    remark: str = typer.Option("", help="What the petitioner said, without personal data."),
                    url: str = typer.Option(None, help="Intake endpoint (default http://127.0.0.1:<intake port>).")) -> None:
    """Record the petitioner's evaluation at the callback (回访) after the handling opinion."""
    answer = _post_to_intake(url, "/callbacks", {"case_number": case_number, "evaluation": evaluation, "remark": remark})
    console.print(f"{case_number}: {answer['evaluation']} ({answer['unit']}'s opinion) recorded", highlight=False)


@intake_app.command("review")
def intake_review(case_number: str,
                  grounds: str = typer.Option(..., help="The petitioner's grounds, without personal data."),
                  recheck: bool = typer.Option(False, "--recheck", help="A re-check (复核) of the review decision, "
                                                                          "not a review (复查) of the opinion."),
                  url: str = typer.Option(None, help="Intake endpoint (default http://127.0.0.1:<intake port>).")) -> None:
    """Forward the petitioner's application for review (复查) or re-check (复核) to the body that decides."""
    stage = "RECHECK" if recheck else "REVIEW"
    answer = _post_to_intake(url, "/reviews", {"case_number": case_number, "stage": stage, "grounds": grounds})
    console.print(f"{case_number}: {stage.lower()} of {answer['reviewed_unit']}'s decision asked of {answer['body']}, "
                  f"to decide by {answer['due_at']}", highlight=False)


@audit_app.command("verify")
def audit_verify(case_number: str,
                 url: str = typer.Option(None, help="Ledger endpoint (default http://127.0.0.1:<ledger port>)."),
                 principals: Path = typer.Option(None, dir_okay=False, help="The principals directory to verify "
                                                 "with (default LIANDONG_PRINCIPALS_FILE, or principals.json beside "
                                                 "the secrets file).")) -> None:
    """Check a case's record: every event signed by a principal that may write its topic, every link
    of its chain in place and sealed by the ledger. Checked here, with the principals directory, not
    taken from the ledger's word; exits 1 naming the first event changed, removed or unsigned."""
    from .api import call_api
    from .audit import verify
    from .tokens import tool_token

    settings = get_settings()
    endpoint = f"{url or f'http://127.0.0.1:{settings.ledger_port}'}/cases/{case_number}/audit"
    try:
        status, answer = call_api(endpoint, tool_token(settings), timeout=60)
    except OSError as exc:
        console.print(f"the ledger is not reachable at {endpoint} ({getattr(exc, 'reason', exc)}); "
                      f"start it with `liandong run ledger`")
        raise typer.Exit(2) from None
    if status != 200:
        console.print(f"[red]{status}:[/red] {answer.get('error')}", highlight=False)
        raise typer.Exit(2)
    directory = principals or settings.principals_path
    verifier = load_directory(directory)
    if verifier is None:
        console.print(f"no principals directory at {directory} (liandong provision writes it): "
                      f"nothing to verify the signatures with")
        raise typer.Exit(2)
    links = answer["links"]
    broken = verify(case_number, links, verifier)
    if broken is None:
        console.print(f"{case_number}: [green]intact[/green]: {len(links)} events, each signed by its publisher "
                      f"and chained (head {answer['head'][:16] if answer['head'] else '-'}…)", highlight=False)
        return
    console.print(f"{case_number}: [red]{broken.problem}[/red] at event {broken.index + 1} of {len(links)} "
                  f"({broken.ce_type} {broken.event_id}): {broken.reason}", highlight=False)
    raise typer.Exit(1)


def _post_to_intake(url: str | None, path: str, body: dict[str, Any]) -> Any:
    """POSTs ``body`` to intake as the bureau; its answer, or exits naming the refusal."""
    import json

    from .api import call_api
    from .tokens import tool_token

    settings = get_settings()
    endpoint = url or f"http://127.0.0.1:{settings.intake_port}{path}"
    try:
        status, answer = call_api(endpoint, tool_token(settings), json.dumps(body, ensure_ascii=False).encode(),
                                  content_type="application/json", timeout=60)
    except OSError as exc:
        console.print(f"intake is not reachable at {endpoint} ({getattr(exc, 'reason', exc)}); "
                      f"start it with `liandong run intake`")
        raise typer.Exit(2) from None
    if status != 200:
        details = "; ".join(f"{p['parameter']}: {p['message']}" for p in answer.get("problems", []))
        console.print(f"[red]refused ({status}):[/red] {answer.get('error')}" + (f" ({details})" if details else ""),
                      highlight=False)
        raise typer.Exit(1)
    return answer


@case_app.command("decide")
def case_decide(case_number: str, unit: str = typer.Option(..., help="The unit that must handle the case."),
                reason: str = typer.Option(..., help="Grounds of the decision."),
                decided_by: str = typer.Option("信访局", help="Who decided.")) -> None:
    """The bureau's jurisdiction decision on an escalated case (Art. 24)."""
    _decide(case_number, unit, reason, decided_by)


@case_app.command("route")
def case_route(case_number: str, unit: str = typer.Option(..., help="The unit that becomes the case's lead."),
               reason: str = typer.Option(..., help="Why (on the case's timeline)."),
               decided_by: str = typer.Option("信访局", help="Who decided.")) -> None:
    """Correct triage: re-route a case to another lead unit, or route a diverted one after all (un-divert)."""
    _decide(case_number, unit, reason, decided_by)


def _decide(case_number: str, unit: str, reason: str, decided_by: str) -> None:
    """A ``case.jurisdiction.decided``: triage hands the case to ``unit`` as its lead."""
    import uuid
    from datetime import datetime

    from liandong_sdk import HANDLING_UNITS

    if unit not in HANDLING_UNITS:
        console.print(f"unknown unit {unit!r}; units: {', '.join(HANDLING_UNITS)}")
        raise typer.Exit(2)
    from liandong_sdk.records import case_ref_of

    bus = Bus.from_settings(configured_bootstrap()).as_principal("svc-bureau")
    record = {"event_id": uuid.uuid4(), "occurred_at": datetime.now(UTC), "case": case_ref_of(case_number),
              "deadline": None, "unit": unit, "decided_by": decided_by, "reason": reason}
    with bus.publisher("bureau") as pub:
        pub.publish(CaseJurisdictionDecided.TYPE, record).get(timeout=30)
    console.print(f"{case_number}: jurisdiction decided for {unit}")


@app.command("events")
def events(event_type: str = typer.Argument(None, help="One event type, e.g. case.handoff.rejected.")) -> None:
    """Every event type: its topic, who publishes it and who consumes it (read from the services' declarations)."""
    from services.registry import event_map

    rows = [r for r in event_map() if event_type in (None, r.event_type)]
    if not rows:
        raise typer.BadParameter(f"no event type {event_type!r}; see `liandong events`")
    table = Table("event type", "topic", "published by", "consumed by")
    for r in rows:
        topic = r.topic + (f"\nchecked: {r.checked_on}" if r.checked_on else "")
        table.add_row(r.event_type, topic, "\n".join(r.producers) or "-", "\n".join(r.consumers) or "-")
    console.print(table)


@app.command("openapi")
def openapi(folder: Path = typer.Option(ROOT / "docs" / "openapi", help="Where to write the documents."),
            check: bool = typer.Option(False, help="Only check that the committed documents are current.")) -> None:
    """Write the OpenAPI 3.1 document of each HTTP API (intake.json, ledger.json), from the endpoints' declarations."""
    import json

    from services.registry import apis

    stale = []
    for name, api in apis().items():
        path = folder / f"{name}.json"
        text = json.dumps(api.document(), ensure_ascii=False, indent=2) + "\n"
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path))
            continue
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        console.print(f"wrote {path}")
    if stale:
        console.print(f"out of date (run `liandong openapi`): {', '.join(stale)}")
        raise typer.Exit(1)


@tokens_app.command("issue")
def tokens_issue(principal: str = typer.Argument(..., help="svc-bureau, operator[-name], unit-<unit> or channel-<name>."),
                 note: str = typer.Option("", help="What the token is for (shown by `tokens list`).")) -> None:
    """Issue an HTTP API token for a principal; prints it once (only its hash is kept)."""
    from .tokens import TokenStore, role_of

    settings = get_settings()
    token = TokenStore(settings.tokens_path).issue(principal, note)
    caller = role_of(principal)
    # The note on stderr, the token alone on stdout: `liandong tokens issue x > x.token` keeps just it.
    Console(stderr=True).print(f"{principal} ({caller.role.value}{', unit ' + caller.unit if caller.unit else ''}): "
                               f"send `Authorization: Bearer <token>`; shown only now:", highlight=False)
    print(token)


@tokens_app.command("revoke")
def tokens_revoke(token_id: str = typer.Argument(..., help="The id (`tokens list`; the part after ld_).")) -> None:
    """Revoke a token: every service refuses it from its next request."""
    from .tokens import TokenStore

    info = TokenStore(get_settings().tokens_path).revoke(token_id)
    console.print(f"revoked {info.id} ({info.principal}) at {info.revoked_at}")


@tokens_app.command("list")
def tokens_list() -> None:
    """Every token issued: id, principal, when, note, and whether it is revoked (never the secret)."""
    from .tokens import TokenStore

    table = Table()
    for col in ("id", "principal", "issued", "note", "revoked"):
        table.add_column(col)
    for t in TokenStore(get_settings().tokens_path).list():
        table.add_row(t.id, t.principal, t.created_at, t.note, t.revoked_at or "")
    console.print(table)


@app.command("asyncapi")
def asyncapi(path: Path = typer.Option(ROOT / "docs" / "asyncapi.yaml", help="Where to write the document.")) -> None:
    """Write the AsyncAPI 3.0 document of every topic and message (from the topic catalogue)."""
    from .asyncapi import write_asyncapi

    console.print(f"wrote {write_asyncapi(path)}")


def main() -> None:
    try:
        app(prog_name="liandong", standalone_mode=True)
    except LiandongError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
