"""`liandong bench --profile`'s summaries: py-spy's collapsed stacks and JFR's execution samples
summed by function, package, thread pool and request, and printed in 80 columns."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from liandong import bench_profile
from liandong.bench import profile_table
from liandong.bench_profile import ProfilerMissing, collapsed_summary, jfr_summary, package_of
from tests.conftest import wait_for

LOOP = "Thread._bootstrap (threading.py);BaseEventLoop._run_once (asyncio/base_events.py)"


def test_each_sample_is_charged_to_the_function_on_top_of_its_stack() -> None:
    summary = collapsed_summary([
        f"{LOOP};Ledger.apply (services/ledger/handlers.py);Codec.decode_value (liandong_sdk/codec.py) 30",
        f"{LOOP};Ledger.apply (services/ledger/handlers.py);verify (nacl/bindings/crypto_sign.py) 50",
        f"{LOOP};Ledger.apply (services/ledger/handlers.py);Codec.decode_value (liandong_sdk/codec.py) 10",
        f"{LOOP};AIOKafkaConsumer.getmany (aiokafka/consumer/consumer.py) 10",
        "not a stack line",
        "",
    ])
    assert summary["samples"] == 100
    assert summary["functions"][0] == {"function": "verify", "file": "nacl/bindings/crypto_sign.py", "package": "nacl",
                                       "percent": 50.0}
    assert summary["functions"][1]["function"] == "Codec.decode_value" and summary["functions"][1]["percent"] == 40.0
    # a caller is not charged for its callees' samples
    assert "Ledger.apply" not in {f["function"] for f in summary["functions"]}
    assert summary["packages"] == [{"package": "nacl", "percent": 50.0}, {"package": "liandong_sdk", "percent": 40.0},
                                   {"package": "aiokafka", "percent": 10.0}]


def test_no_samples_is_an_empty_summary_not_a_division_by_zero() -> None:
    assert collapsed_summary([]) == {"samples": 0, "functions": [], "packages": []}


@pytest.mark.parametrize(("file", "package"), [
    ("aiokafka/conn.py", "aiokafka"),
    ("/work/.venv/lib/python3.11/site-packages/fastavro/_read_py.py", "fastavro"),
    ("/root/.pyenv/versions/3.11.7/lib/python3.11/asyncio/base_events.py", "asyncio"),
    ("selectors.py", "selectors"),
    ("/work/main/services/ledger/api.py", "services"),
    ("/work/main/sdk/liandong_sdk/codec.py", "liandong_sdk"),
    ("liandong/streams.py", "liandong"),
    ("<frozen runpy>", "<frozen runpy>"),
])
def test_a_function_s_package_is_where_its_code_lives(file: str, package: str) -> None:
    assert package_of(file) == package


def _sample(thread: str, *methods: str, at: str = "2026-12-06T01:15:40.681334468Z") -> dict[str, Any]:
    """A JFR execution sample as ``jfr print --json`` writes it: innermost frame first, class names
    with slashes, its time in nanoseconds."""
    frames = [{"method": {"type": {"name": m.rsplit(".", 1)[0].replace(".", "/")}, "name": m.rsplit(".", 1)[1]}}
              for m in methods]
    return {"type": "jdk.ExecutionSample", "values": {"startTime": at, "sampledThread": {"javaName": thread},
                                                      "stackTrace": {"frames": frames}}}


def test_only_the_broker_samples_taken_since_the_burst_began_count() -> None:
    events = [_sample("data-plane-kafka-request-handler-0", "kafka.log.UnifiedLog.append", at="2026-12-06T01:15:40.000001999Z"),
              _sample("data-plane-kafka-request-handler-0", "kafka.log.UnifiedLog.read", at="2026-12-06T01:15:40.000002Z"),
              _sample("data-plane-kafka-request-handler-0", "kafka.log.UnifiedLog.read", at="2026-12-06T01:15:41Z")]
    since = datetime(2026, 12, 6, 1, 15, 40, 2, tzinfo=UTC)
    assert jfr_summary(events, since=since)["functions"] == [
        {"function": "kafka.log.UnifiedLog.read", "package": "kafka.log", "percent": 100.0}]
    assert jfr_summary(events)["samples"] == 3
    assert jfr_summary(events, since=since, until=datetime(2026, 12, 6, 1, 15, 40, 500000, tzinfo=UTC))["samples"] == 1
    # jfr prints the zone of the machine it runs on: 09:15:40.5 at +08:00 is 01:15:40.5 UTC
    east = [_sample("data-plane-kafka-request-handler-0", "kafka.log.UnifiedLog.read", at="2026-12-06T09:15:40.5+08:00")]
    assert jfr_summary(east, since=datetime(2026, 12, 6, 1, 15, 40, 400000, tzinfo=UTC))["samples"] == 1
    assert jfr_summary(east, since=datetime(2026, 12, 6, 1, 15, 40, 600000, tzinfo=UTC))["samples"] == 0


def test_broker_samples_are_summed_by_method_thread_pool_and_request() -> None:
    produce = ("kafka.log.UnifiedLog.append", "kafka.server.KafkaApis.handleProduceRequest", "kafka.server.KafkaApis.handle",
               "kafka.server.KafkaRequestHandler.run")
    fetch = ("java.util.zip.CRC32C.update", "kafka.server.KafkaApis.handleFetchRequest", "kafka.server.KafkaApis.handle")
    events = ([_sample("data-plane-kafka-request-handler-0", *produce)] * 3
              + [_sample("data-plane-kafka-request-handler-1", *fetch)] * 2
              + [_sample("data-plane-kafka-network-thread-1-ListenerName(PLAINTEXT)-PLAINTEXT-0",
                         "sun.nio.ch.SocketDispatcher.write0")] * 1
              # the recorder's own work is not the broker's
              + [_sample("Attach Listener", "jdk.jfr.internal.EventWriter.putUncheckedLong")] * 4
              + [_sample("JFR Periodic Tasks", "jdk.jfr.internal.PlatformRecorder.periodicTask")] * 4
              + [{"type": "jdk.ExecutionSample", "values": {"sampledThread": {"javaName": "x"}, "stackTrace": None}}])
    summary = jfr_summary(events)
    assert summary["samples"] == 6
    assert summary["functions"][0] == {"function": "kafka.log.UnifiedLog.append", "package": "kafka.log", "percent": 50.0}
    assert {f["function"] for f in summary["functions"]} == {"kafka.log.UnifiedLog.append", "java.util.zip.CRC32C.update",
                                                             "sun.nio.ch.SocketDispatcher.write0"}
    assert summary["sampled_threads"][:2] == [{"thread": "data-plane-kafka-request-handler-N", "percent": 83.3},
                                      {"thread": "data-plane-kafka-network-thread-N-ListenerName(PLAINTEXT)-PLAINTEXT-N",
                                       "percent": 16.7}]
    assert summary["requests"] == [{"request": "handleProduceRequest", "percent": 50.0},
                                   {"request": "handleFetchRequest", "percent": 33.3},
                                   {"request": "(no request)", "percent": 16.7}]


def test_the_profile_prints_one_row_per_process_in_80_columns() -> None:
    ledger = collapsed_summary([f"{LOOP};Codec.decode_value (liandong_sdk/codec.py) 7",
                                f"{LOOP};AIOKafkaConsumer.getmany (aiokafka/consumer/consumer.py) 3"])
    broker = jfr_summary([_sample("data-plane-kafka-request-handler-0", "kafka.log.UnifiedLog.append")])
    run = {"workers": 1, "profile": {
        "ledger": {**ledger, "cpu_seconds": {"user": 9.5, "system": 1.25},
                   "threads": [{"thread": "python", "cpu_seconds": 10.75, "percent": 100.0}]},
        "broker": {**broker, "cpu_seconds": {"user": 8.0, "system": 3.0},
                   "threads": [{"thread": "data-plane-kafk", "cpu_seconds": 6.0, "percent": 55.0},
                               {"thread": "C2 CompilerThre", "cpu_seconds": 5.0, "percent": 45.0}]},
        "police": {**collapsed_summary([]), "cpu_seconds": {"user": 0.1, "system": 0.0}},
    }}
    console = Console(width=80, record=True, color_system=None)
    console.print(profile_table(run))
    text = console.export_text()
    assert max(map(len, text.splitlines())) <= 80 and "…" not in text
    rows = [line for line in text.splitlines() if line.startswith("│ ") and line[2] != " "]
    assert [r.split()[1] for r in rows] == ["broker", "ledger", "police"]  # the busiest first
    assert "11.0" in rows[0] and "UnifiedLog.append 100%" in text and "kafka.log 100%" in text
    assert "10.8" in rows[1] and "liandong_sdk 70%" in text and "Codec.decode_value 70%" in text
    assert "no samples" in rows[2]
    # a JVM's thread pools are named: shown; a Python process's threads all say "python": not
    wide = Console(width=200, record=True, color_system=None)
    wide.print(profile_table(run))
    whole = wide.export_text()
    assert "threads: data-plane-kafk 55%, C2 CompilerThre 45%" in whole and "python" not in whole


def test_profiling_without_py_spy_is_refused_before_anything_starts(monkeypatch: pytest.MonkeyPatch,
                                                                     tmp_path: Path) -> None:
    monkeypatch.setattr(bench_profile.sys, "executable", str(tmp_path / "python"))
    monkeypatch.setattr(bench_profile.shutil, "which", lambda name: None)
    with pytest.raises(ProfilerMissing, match="py-spy"):
        bench_profile.Profiler(tmp_path, {"ledger": 1})


def _task(proc: Path, pid: int, tid: int, name: str, utime: int, stime: int) -> None:
    task = proc / str(pid) / "task" / str(tid)
    task.mkdir(parents=True, exist_ok=True)
    # the fields after the name: state, ppid, ... utime is the 14th field of the line, stime the 15th
    (task / "stat").write_text(f"{tid} ({name}) S 1 1 1 0 -1 4194560 100 0 0 0 {utime} {stime} 0 0 20 0 1 0\n")


def test_a_process_s_cpu_is_split_by_thread_pool_between_two_readings(tmp_path: Path) -> None:
    ticks = bench_profile._TICKS
    _task(tmp_path, 7, 7, "java", 10 * ticks, 0)
    _task(tmp_path, 7, 8, "data-plane-kafk", 1 * ticks, 1 * ticks)
    _task(tmp_path, 7, 9, "data-plane-kafk", 0, 0)
    _task(tmp_path, 7, 10, "C2 CompilerThre", 0, 0)
    before = bench_profile.thread_times(7, proc=tmp_path)
    assert before[8] == ("data-plane-kafk", 2.0)
    _task(tmp_path, 7, 8, "data-plane-kafk", 3 * ticks, 2 * ticks)  # +3 s
    _task(tmp_path, 7, 9, "data-plane-kafk", 2 * ticks, 0)  # +2 s
    _task(tmp_path, 7, 10, "C2 CompilerThre", 4 * ticks, 1 * ticks)  # +5 s
    _task(tmp_path, 7, 11, "GC Thread#0", 0, 0)  # started since: counted from zero, used nothing
    _task(tmp_path, 7, 12, "Weird (name) 2", 0, ticks)  # a name with parentheses and spaces: +1 s
    pools = bench_profile.thread_cpu(before, bench_profile.thread_times(7, proc=tmp_path))
    assert pools == [{"thread": "data-plane-kafk", "cpu_seconds": 5.0, "percent": 45.5},
                     {"thread": "C2 CompilerThre", "cpu_seconds": 5.0, "percent": 45.5},
                     {"thread": "Weird (name) N", "cpu_seconds": 1.0, "percent": 9.1}]
    assert bench_profile.thread_times(99, proc=tmp_path) == {}  # a process gone: nothing, not an error


def test_a_process_py_spy_cannot_sample_is_reported_with_what_py_spy_said(monkeypatch: pytest.MonkeyPatch,
                                                                         tmp_path: Path) -> None:
    fake = tmp_path / "bin" / "py-spy"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'Permission Denied: try running as root' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setattr(bench_profile.sys, "executable", str(fake.parent / "python"))
    profiler = bench_profile.Profiler(tmp_path / "profile", {"ledger": os.getpid()})
    profiler.start()
    wait_for(lambda: "Permission" in (tmp_path / "profile" / "ledger.py-spy.log").read_text(), timeout=30,
             message="the stand-in py-spy to fail")
    summary = profiler.stop({"ledger": {"user": 1.0, "system": 0.5}})
    assert summary["ledger"]["samples"] == 0 and "Permission Denied" in summary["ledger"]["error"]
    assert summary["ledger"]["cpu_seconds"] == {"user": 1.0, "system": 0.5}
    console = Console(width=80, record=True, color_system=None)
    console.print(profile_table({"workers": 1, "profile": summary}))
    assert "no samples Permission Denied" in " ".join(console.export_text().split())


def _fake_py_spy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "venv" / "py-spy"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setattr(bench_profile.sys, "executable", str(fake.parent / "python"))


def test_py_spy_that_may_not_attach_is_refused_with_the_setting_to_change(monkeypatch: pytest.MonkeyPatch,
                                                                        tmp_path: Path) -> None:
    _fake_py_spy(monkeypatch, tmp_path)
    scope = tmp_path / "ptrace_scope"
    scope.write_text("0\n")
    assert bench_profile.py_spy(scope).endswith("py-spy")
    scope.write_text("3\n")  # no ptrace for anyone
    with pytest.raises(ProfilerMissing, match="ptrace_scope is 3"):
        bench_profile.py_spy(scope)
    scope.write_text("1\n")  # only a process's own children, unless root
    monkeypatch.setattr(bench_profile.os, "geteuid", lambda: 1000)
    with pytest.raises(ProfilerMissing, match="run as root, or set it to 0"):
        bench_profile.py_spy(scope)
    monkeypatch.setattr(bench_profile.os, "geteuid", lambda: 0)
    assert bench_profile.py_spy(scope).endswith("py-spy")


def test_a_broker_that_cannot_be_recorded_is_said_in_its_summary_and_the_run_goes_on(monkeypatch: pytest.MonkeyPatch,
                                                                                   tmp_path: Path) -> None:
    _fake_py_spy(monkeypatch, tmp_path)
    monkeypatch.setattr(bench_profile.shutil, "which", lambda name: None)  # no JDK tools
    profiler = bench_profile.Profiler(tmp_path / "profile", {}, broker=os.getpid())
    profiler.prepare()
    profiler.start()
    summary = profiler.stop({"broker": {"user": 2.0, "system": 1.0}})
    assert summary["broker"]["samples"] == 0 and "jcmd and jfr are needed" in summary["broker"]["error"]
    assert summary["broker"]["cpu_seconds"] == {"user": 2.0, "system": 1.0}
