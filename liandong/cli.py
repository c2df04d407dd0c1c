"""The `liandong` command."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import typer
from rich.console import Console
from rich.table import Table

from ._bus import Bus
from ._compat import check_schemas
from ._kafka import provision_topics
from ._schemas import SchemaCatalogue
from ._settings import get_settings
from .broker import LocalBroker

app = typer.Typer(help="Liandong (联动): the petition bureaus' multi-department coordination bus.",
                  no_args_is_help=True, add_completion=False)
broker_app = typer.Typer(help="The local single-node Kafka broker (127.0.0.1).", no_args_is_help=True)
topics_app = typer.Typer(help="Topics of the catalogue.", no_args_is_help=True)
schemas_app = typer.Typer(help="Avro schemas under schemas/.", no_args_is_help=True)
app.add_typer(broker_app, name="broker")
app.add_typer(topics_app, name="topics")
app.add_typer(schemas_app, name="schemas")
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


@topics_app.command("create")
def topics_create(partitions: int = typer.Option(None, help="Partitions of a new topic (default from settings).")) -> None:
    """Create the catalogue's topics, idempotently: a second run changes nothing."""
    bus = Bus.from_settings(_bootstrap())
    report = provision_topics(bus.bootstrap_servers, partitions=partitions)
    for label, names in (("created", report.created), ("reconfigured", report.reconfigured),
                         ("repartitioned", report.repartitioned)):
        for n in names:
            console.print(f"{label}: {n}")
    console.print(f"{len(report.unchanged)} topics unchanged" + ("" if report.changed else "; nothing to do"))


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


@schemas_app.command("release")
def schemas_release() -> None:
    """Keep a copy of the current event schemas under schemas/released/ (a release's evolution baseline)."""
    written = SchemaCatalogue(get_settings().schemas_dir).release()
    for p in written:
        console.print(f"released {p.relative_to(get_settings().schemas_dir)}")
    console.print(f"{len(written)} new released schema(s)")


@app.command("demo")
def demo(keep_broker: bool = typer.Option(False, help="Leave the local broker running afterwards.")) -> None:
    """The main job. For now, the smoke scenario: every event type through the broker and back."""
    from .smoke import run_smoke

    with running_broker(keep=keep_broker) as bootstrap:
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


@contextlib.contextmanager
def running_broker(keep: bool = False) -> Iterator[str]:
    """The configured cluster, or the local broker, started for the block if it was not running."""
    external = get_settings().bootstrap_servers
    if external:
        yield external
        return
    broker = LocalBroker()
    already = broker.info()
    if already and already.alive():
        yield already.bootstrap_servers
        return
    console.print("starting the local Kafka broker (first run fetches its jars from Maven Central) …")
    info = broker.start()
    try:
        yield info.bootstrap_servers
    finally:
        if not keep:
            broker.stop()
            console.print("local broker stopped")


def _bootstrap() -> str:
    external = get_settings().bootstrap_servers
    if external:
        return external
    info = LocalBroker().info()
    if info is None or not info.alive():
        console.print("no broker: start one with `liandong broker start` or set LIANDONG_BOOTSTRAP_SERVERS")
        raise typer.Exit(2)
    return info.bootstrap_servers


def main() -> None:
    app(prog_name="liandong")


if __name__ == "__main__":
    main()
