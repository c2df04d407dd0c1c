"""Where the registration-to-inbox latency goes, at a load the pipeline sustains (docs/benchmark.md).

    .venv/bin/python -m tools.latency_split                      # the bench's pipeline, 20 cases/s
    .venv/bin/python -m tools.latency_split --services triage    # triage alone: the hop itself

Starts its own broker and the services as `liandong bench` does, publishes registrations with the
bench's driver in rounds, and splits each case's latency by the records' CreateTime (one machine,
one clock): registration sent -> its record seen by a plain consumer; registration -> triage
sending the handoff; the handoff sent -> seen on the unit inbox. Also how busy the CPUs were while
sending, and each process's share. The first round warms the services up.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import UTC, datetime
from typing import Annotated

import typer
from liandong_sdk import BUREAU_PETITIONS

from liandong import Bus, get_settings
from liandong.bench import (
    HANDOFF_CE_TYPE,
    INBOXES,
    PIPELINE_SERVICES,
    REGISTERED_CE_TYPE,
    SIM_ENV,
    Driver,
    Watcher,
    busy_percent,
    cpu_ticks,
    percentiles,
)
from liandong.sim.stack import ServiceStack, own_broker
from services.registry import provision


def _cpu_by_process() -> dict[str, tuple[float, str]]:
    out = {}
    hz = os.sysconf("SC_CLK_TCK")
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{pid}/cmdline") as f:
                cmd = f.read().replace("\0", " ").strip()
        except OSError:
            continue
        out[pid] = ((int(fields[11]) + int(fields[12])) / hz, cmd)
    return out


def _pct(values: list[float]) -> str:
    p = percentiles(sorted(values))
    return "-" if p["p50"] is None else " / ".join(f"{p[k]:.1f}" for k in ("p50", "p95", "p99")) + " ms"


def main(services: Annotated[str, typer.Option(help="comma-separated")] = ",".join(PIPELINE_SERVICES),
         rate: float = 20.0, seconds: float = 10.0, rounds: int = 3) -> None:
    logging.getLogger("kafka").setLevel(logging.ERROR)
    run_dir = get_settings().run_dir / "bench" / f"latency-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    run_dir.mkdir(parents=True, exist_ok=True)
    with own_broker(run_dir) as bootstrap:
        bus = Bus.from_settings(bootstrap)
        provision(bus)
        stack = ServiceStack(bus.bootstrap_servers, run_dir, services.split(","), workers=1, extra_env=SIM_ENV)
        driver = Driver(bus, "149909")
        watcher: Watcher | None = None
        try:
            stack.start()
            watcher = Watcher(bus, [*INBOXES, BUREAU_PETITIONS], (REGISTERED_CE_TYPE, HANDOFF_CE_TYPE))
            watcher.start()
            for n in range(rounds):
                cases = driver.cases(max(1, int(rate * seconds)), f"split{n}")
                procs, ticks, started = _cpu_by_process(), cpu_ticks(), time.time()
                sent = driver.publish(cases, rate=rate)
                took, busy, after = time.time() - started, busy_percent(ticks, cpu_ticks()), _cpu_by_process()
                handed, registered = watcher.wait(sent), watcher.arrivals(sent, REGISTERED_CE_TYPE)
                keys = [k for k in sent if k in handed and k in registered]
                print(f"round {n + 1} of {rounds}: {len(keys)} of {len(sent)} cases seen; CPUs busy {busy}% "
                      f"while sending ({rate:.0f} cases/s)")
                print("  registration -> unit inbox   ", _pct([(handed[k][1] - sent[k]) * 1000 for k in keys]))
                print("  registration -> seen         ", _pct([(registered[k][1] - registered[k][0]) * 1000
                                                              for k in keys]))
                print("  registration -> triage sends ", _pct([(handed[k][0] - registered[k][0]) * 1000
                                                              for k in keys]))
                print("  triage sends -> unit inbox   ", _pct([(handed[k][1] - handed[k][0]) * 1000
                                                              for k in keys]))
                shares = sorted(((t - procs.get(pid, (t, ""))[0]) / took * 100, cmd) for pid, (t, cmd) in after.items())
                for share, cmd in reversed([s for s in shares[-6:] if s[0] >= 1]):
                    print(f"    {share:5.1f}% of a core  {cmd[:70]}")
        finally:
            if watcher is not None:
                watcher.stop()
            driver.close()
            stack.stop()


if __name__ == "__main__":
    typer.run(main)
