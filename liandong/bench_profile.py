"""`liandong bench --profile`: where each process's CPU goes during the burst.

- **Services**: py-spy samples each Python worker 100 times a second while the burst runs, only the
  thread that holds the GIL (``--gil``): a thread waiting for work (in ``select``, on a queue) is not
  sampled. The shares are of the time the process held the GIL, so C code that lets the GIL go is
  not in them (libsodium's signatures through PyNaCl, system calls: its system CPU is given apart),
  and on a busy machine they include time it waited for a core while holding it. Each sample is
  charged to the function on top of its stack (its *self* time); C code that keeps the GIL
  (fastavro, ``json``) is charged to the Python function that called it.
- **Broker**: JFR (the JDK's own recorder, through ``jcmd``, with execution samples only) samples the
  broker's threads running Java code every 10 ms; each sample is charged to the method on top, to
  its thread's pool (request handlers, network threads, ...), and to the kind of request being
  handled (``KafkaApis.handleProduceRequest`` ... anywhere on its stack).

Each process is summarised by function and by package (where the function's code lives: the
Kafka client, fastavro, faust, asyncio, Liandong's own code ...). The raw profiles stay in the run
directory for a closer look: py-spy's collapsed stacks (``flamegraph.pl``, speedscope) and the
broker's ``.jfr`` (JDK Mission Control, ``jfr print``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

__all__ = ["Profiler", "ProfilerMissing", "collapsed_summary", "jfr_summary", "package_of"]

#: Entries kept per process in the summary.
TOP = 12
_RECORDING = "liandong-bench"
#: A number in a thread name that counts threads of one pool (not the "2" of "C2 CompilerThread").
_DIGITS = re.compile(r"(?<![A-Za-z])\d+")
#: JFR settings with nothing but execution samples: the default settings' other events (allocations,
#: locks, GC phases) cost the broker more than the samples.
_JFC = """<?xml version="1.0" encoding="UTF-8"?>
<configuration version="2.0" label="liandong bench" description="Execution samples only">
  <event name="jdk.ExecutionSample">
    <setting name="enabled">true</setting>
    <setting name="period">{period}</setting>
  </event>
</configuration>
"""


class ProfilerMissing(RuntimeError):
    """py-spy is not installed, or may not attach to the services (the broker's JDK tools are not
    required: without them its summary says why it was not recorded)."""


def py_spy(ptrace_scope: Path = Path("/proc/sys/kernel/yama/ptrace_scope")) -> str:
    """The py-spy next to this interpreter (the project's venv), else the one on PATH; refused where
    it could not attach to the services (they are not its children: Yama's ptrace scope must be 0,
    or the user root with a scope below 3)."""
    beside = Path(sys.executable).parent / "py-spy"
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if found is None:
        raise ProfilerMissing("--profile needs py-spy: pip install 'liandong[profile]' (or `make setup`)")
    try:
        scope = int(ptrace_scope.read_text())
    except (OSError, ValueError):
        scope = 0  # no Yama: ptrace is allowed between one user's processes
    if scope >= 3 or (scope >= 1 and os.geteuid() != 0):
        raise ProfilerMissing(f"--profile needs ptrace rights for py-spy: kernel.yama.ptrace_scope is {scope} "
                              "(run as root, or set it to 0)")
    return found


@dataclass
class Profiler:
    """Samples the given processes from :meth:`start` to :meth:`stop`, then summarises them.

    ``workers`` maps a label (``ledger``, ``triage#1``) to a Python process id; ``broker`` is the
    broker's JVM process id when this run started it (a broker elsewhere is not profiled).
    """

    out: Path
    workers: dict[str, int]
    broker: int | None = None
    rate: int = 100
    _spies: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _jfr: Path | None = None
    _threads: dict[str, dict[int, tuple[str, float]]] = field(default_factory=dict)
    _since: datetime | None = None
    _until: datetime | None = None
    #: Why the broker is not recorded (the JDK's tools missing, JFR refused): said in its summary.
    _broker_error: str | None = None

    def __post_init__(self) -> None:
        self._py_spy = py_spy()
        self._jcmd, self._jfr_tool = shutil.which("jcmd"), shutil.which("jfr")
        if self.broker is not None and (self._jcmd is None or self._jfr_tool is None):
            self._broker_error = "not recorded: the JDK's jcmd and jfr are needed (apt-get install openjdk-17-jdk-headless)"

    def _pids(self) -> dict[str, int]:
        return {**self.workers, **({"broker": self.broker} if self.broker is not None else {})}

    def prepare(self) -> None:
        """Starts the broker's recording ahead of :meth:`start`: starting JFR makes the JVM compile
        much of its code again (its C2 compiler took twice the CPU in a burst that began with it), so
        it should start before a warm-up; only the samples from :meth:`start` on are counted."""
        self.out.mkdir(parents=True, exist_ok=True)
        if self.broker is not None and self._jcmd is not None and self._jfr is None and self._broker_error is None:
            settings = self.out / "samples.jfc"
            settings.write_text(_JFC.format(period=f"{1000 // self.rate} ms"))
            try:
                subprocess.run([self._jcmd, str(self.broker), "JFR.start", f"name={_RECORDING}", f"settings={settings}",
                                f"filename={self.out / 'broker.jfr'}"], capture_output=True, check=True, timeout=60)
            except (OSError, subprocess.SubprocessError) as exc:  # the bench goes on; the profile says why
                self._broker_error = f"JFR did not start: {_said(exc)}"
            else:
                self._jfr = self.out / "broker.jfr"

    def start(self) -> None:
        self.prepare()
        self._since = datetime.now(UTC)
        self._threads = {label: thread_times(pid) for label, pid in self._pids().items()}
        for label, pid in self.workers.items():
            with open(self.out / f"{_file(label)}.py-spy.log", "wb") as log:
                self._spies[label] = subprocess.Popen(
                    [self._py_spy, "record", "--pid", str(pid), "--rate", str(self.rate), "--gil", "--format", "raw",
                     "--nolineno", "--output", str(self.out / f"{_file(label)}.collapsed")],
                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def stop(self, cpu: dict[str, dict[str, float]] | None = None) -> dict[str, Any]:
        """Stops sampling and returns each process's summary (with its user and system CPU seconds
        during the run when ``cpu`` gives them)."""
        self._until = datetime.now(UTC)
        threads = {label: thread_cpu(self._threads.get(label, {}), thread_times(pid)) for label, pid in self._pids().items()}
        for spy in self._spies.values():
            spy.send_signal(signal.SIGINT)  # py-spy writes its file on Ctrl-C
        summary: dict[str, Any] = {}
        for label, spy in self._spies.items():
            try:
                spy.wait(timeout=60)
            except subprocess.TimeoutExpired:
                spy.kill()
                spy.wait()
            path = self.out / f"{_file(label)}.collapsed"
            if path.exists():
                summary[label] = {**collapsed_summary(path.read_text().splitlines()), "raw": str(path)}
            else:  # py-spy could not sample it (no ptrace here?): what it said
                said = (self.out / f"{_file(label)}.py-spy.log").read_text(errors="replace").strip()
                summary[label] = {**collapsed_summary([]), "error": said[-300:] or f"py-spy exited with {spy.returncode}"}
        self._spies.clear()
        if self._jfr is not None and self._jcmd is not None and self._jfr_tool is not None:
            try:
                self._stop_recording(check=True)
                events = _jfr_samples(self._jfr_tool, self._jfr)
            except (OSError, ValueError, KeyError, subprocess.SubprocessError) as exc:
                self._broker_error = f"JFR's recording could not be read: {_said(exc)}"
            else:
                summary["broker"] = {**jfr_summary(events, since=self._since, until=self._until), "raw": str(self._jfr)}
            self._jfr = None
        if self._broker_error is not None:
            summary["broker"] = {**jfr_summary([]), "error": self._broker_error}
        for label, seconds in (cpu or {}).items():
            if label in summary:
                summary[label]["cpu_seconds"] = {k: round(v, 2) for k, v in seconds.items()}
        for label, pools in threads.items():
            if label in summary:
                summary[label]["threads"] = pools
        return summary

    def close(self) -> None:
        """Stops whatever still samples (a run that failed before :meth:`stop`)."""
        for spy in self._spies.values():
            if spy.poll() is None:
                spy.kill()
                spy.wait()
        self._spies.clear()
        if self._jfr is not None and self._jcmd is not None:
            with contextlib.suppress(OSError, subprocess.SubprocessError):  # the broker may be gone: nothing to stop
                self._stop_recording(check=False)
            self._jfr = None

    def _stop_recording(self, check: bool) -> None:
        """Ends the broker's recording; JFR writes it to its file then."""
        assert self._jcmd is not None
        subprocess.run([self._jcmd, str(self.broker), "JFR.stop", f"name={_RECORDING}"], capture_output=True,
                       check=check, timeout=120)


def _file(label: str) -> str:
    return label.replace("#", "-")


def _said(exc: BaseException) -> str:
    """What a failed tool said (its standard error, else the exception), briefly."""
    stderr = getattr(exc, "stderr", None)
    text = (stderr.decode(errors="replace") if isinstance(stderr, bytes) else str(stderr or "")).strip() or str(exc)
    return text[-300:]


# -- threads (Linux /proc) ------------------------------------------------------------------
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def thread_times(pid: int, proc: Path = Path("/proc")) -> dict[int, tuple[str, float]]:
    """Each thread of a process: its name and the CPU seconds (user + system) it has used so far.
    Empty where /proc is not there (not Linux) or the process is gone."""
    times: dict[int, tuple[str, float]] = {}
    try:
        tasks = list((proc / str(pid) / "task").iterdir())
    except OSError:
        return times
    for task in tasks:
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue
        # "tid (name) state ppid ...": the name may hold spaces and parentheses, so split at the last ")"
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        times[int(task.name)] = (name, (int(fields[11]) + int(fields[12])) / _TICKS)
    return times


def thread_cpu(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> list[dict[str, Any]]:
    """CPU seconds each pool of threads used between two readings (a pool: a thread name with its
    numbers taken out, so every request handler is one), with its share of the process's, busiest first."""
    pools: dict[str, float] = {}
    for tid, (name, seconds) in after.items():
        pool = _DIGITS.sub("N", name)
        pools[pool] = pools.get(pool, 0.0) + seconds - before.get(tid, (name, 0.0))[1]
    total = sum(pools.values())
    busiest = sorted(pools.items(), key=lambda kv: -kv[1])[:TOP]
    return [{"thread": t, "cpu_seconds": round(v, 2), "percent": _share(v, total)} for t, v in busiest if v > 0]


def _share(part: float, total: float) -> float:
    """``part`` in percent of ``total``, to a tenth; 0 of nothing."""
    return round(100 * part / total, 1) if total else 0.0


# -- py-spy -----------------------------------------------------------------------------------
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*)\)$")
_SITE = re.compile(r"(?:site|dist)-packages/([^/]+)")
_STDLIB = re.compile(r"/lib/python3\.\d+/([^/]+)")


def package_of(file: str) -> str:
    """Where a sampled function's code lives: an installed package (``aiokafka``, ``fastavro``), a
    module of the standard library (``asyncio``, ``selectors``), or this project (``liandong``,
    ``services``, ``liandong_sdk``). py-spy gives paths from the package on (``aiokafka/conn.py``)."""
    path = _short(file)
    if path.startswith("<"):
        return path
    return path.split("/", 1)[0].removesuffix(".py")


def collapsed_summary(lines: Iterable[str]) -> dict[str, Any]:
    """Sums py-spy's collapsed stacks (``frame;frame;... count``, outermost frame first) by the frame on
    top (self): the top functions and packages, each with its share of all samples."""
    functions: Counter[tuple[str, str]] = Counter()
    total = 0
    for line in lines:
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        leaf = stack.rsplit(";", 1)[-1]
        m = _FRAME.match(leaf)
        functions[(m.group("function"), m.group("file")) if m else (leaf, "")] += n
    packages: Counter[str] = Counter()
    for (_, file), n in functions.items():
        packages[package_of(file)] += n
    return {
        "samples": total,
        "functions": [{"function": f, "file": _short(file), "package": package_of(file), "percent": _share(n, total)}
                      for (f, file), n in functions.most_common(TOP)],
        "packages": [{"package": p, "percent": _share(n, total)} for p, n in packages.most_common(TOP)],
    }


def _short(file: str) -> str:
    """A file's path from its package on (``aiokafka/conn.py``), not the machine's."""
    if (m := _SITE.search(file)) or (m := _STDLIB.search(file)):
        return file[m.start(1):]
    parts = Path(file).parts
    for root in ("liandong_sdk", "liandong", "services"):
        if root in parts:
            return "/".join(parts[parts.index(root):])
    return file


# -- JFR --------------------------------------------------------------------------------------
def _jfr_samples(jfr: str, path: Path) -> list[dict[str, Any]]:
    """The execution samples of a JFR recording, as ``jfr print --json`` gives them (stacks of up to
    128 frames: a request handler's are about 40 deep)."""
    out = subprocess.run([jfr, "print", "--json", "--stack-depth", "128", "--events", "jdk.ExecutionSample", str(path)],
                         capture_output=True, text=True, check=True, timeout=300).stdout
    return list(json.loads(out)["recording"]["events"])


#: Threads of the recorder itself (JFR, and the attach listener that jcmd talks to), not the broker's work.
_RECORDER_THREADS = re.compile(r"^(Attach Listener|JFR .*)$")
_HANDLER = re.compile(r"^kafka\.server\.KafkaApis\.(handle\w+)$")


def jfr_summary(events: Iterable[dict[str, Any]], since: datetime | None = None,
                until: datetime | None = None) -> dict[str, Any]:
    """Sums JFR execution samples (stacks innermost frame first; those taken from ``since`` until
    ``until``) by the method on top, by its package, by thread pool (a thread's name with its numbers taken out: every
    request handler is one pool) and by the request being handled (a ``KafkaApis.handle…`` frame
    anywhere on the stack)."""
    methods: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    requests: Counter[str] = Counter()
    total = 0
    for event in events:
        values = event.get("values", {})
        frames = (values.get("stackTrace") or {}).get("frames") or []
        thread = values.get("sampledThread") or {}
        name = thread.get("javaName") or thread.get("osName") or "?"
        if not frames or _RECORDER_THREADS.match(name):
            continue
        if since is not None or until is not None:
            at = _instant(values.get("startTime"))
            if (since is not None and at < since) or (until is not None and at > until):
                continue
        total += 1
        names = [_method(f) for f in frames]
        methods[names[0]] += 1
        threads[_DIGITS.sub("N", name)] += 1
        handled = [m.group(1) for m in map(_HANDLER.match, names) if m]
        requests[handled[-1] if handled else "(no request)"] += 1
    packages: Counter[str] = Counter()
    for m, n in methods.items():
        packages[_java_package(m)] += n
    return {
        "samples": total,
        "functions": [{"function": m, "package": _java_package(m), "percent": _share(n, total)}
                      for m, n in methods.most_common(TOP)],
        "packages": [{"package": p, "percent": _share(n, total)} for p, n in packages.most_common(TOP)],
        "sampled_threads": [{"thread": t, "percent": _share(n, total)} for t, n in threads.most_common(TOP)],
        "requests": [{"request": r, "percent": _share(n, total)} for r, n in requests.most_common(TOP)],
    }


_TIME = re.compile(r"^(?P<whole>[^.Z+]+T[\d:]+)(?:\.(?P<fraction>\d+))?(?P<zone>Z|[+-]\d\d:?\d\d)?$")


def _instant(text: str | None) -> datetime:
    """A JFR time as a datetime (microseconds): ``jfr print`` writes nanoseconds and the zone of the
    machine it runs on (``2026-12-06T01:15:40.681334468Z``, ``…T09:15:40.681334468+08:00``)."""
    m = _TIME.match(text or "")
    if m is None:
        return datetime.min.replace(tzinfo=UTC)
    zone = m.group("zone") or "Z"
    at = datetime.fromisoformat(m.group("whole") + ("+00:00" if zone == "Z" else zone))
    return at + timedelta(microseconds=int((m.group("fraction") or "0")[:6].ljust(6, "0")))


def _method(frame: dict[str, Any]) -> str:
    """``package.Class.method`` of a JFR frame (JFR writes class names with slashes)."""
    method = frame.get("method") or {}
    owner = ((method.get("type") or {}).get("name") or "?").replace("/", ".")
    return f"{owner}.{method.get('name', '?')}"


def _java_package(method: str) -> str:
    """The first three parts of a method's package (``org.apache.kafka``, ``kafka.log``, ``java.util.zip``)."""
    return ".".join(method.split(".")[:-2][:3]) or method
