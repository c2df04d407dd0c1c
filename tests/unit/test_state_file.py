"""What a department client keeps on disk (``liandong_sdk.statefile.StateFile``): each write
appends only what changed; the snapshot is written again only once the journal has outgrown it;
what is read back is always what was written last, a journal line cut short by a crash and a
journal left behind by a crash after a new snapshot included."""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from liandong_sdk import DepartmentClient, HandoffStatus
from liandong_sdk.statefile import MIN_JOURNAL, StateFile


def _entry(i: int, version: int) -> dict[str, Any]:
    return {"status": "SIGNED" if version % 2 else "REQUESTED", "summary": f"案件 {i} " + "x" * 200, "v": version}


def test_a_write_appends_what_changed_and_the_snapshot_is_written_again_once_the_journal_outgrows_it(
        tmp_path: Path) -> None:
    store = StateFile(tmp_path / "state.json")
    model: dict[str, dict[str, Any]] = {"cases": {}}
    rng = random.Random(7)
    snapshots, appended = 0, []
    for step in range(3000):
        keys = {str(rng.randrange(500)) for _ in range(rng.randrange(1, 4))}
        changed = {"cases": {k: _entry(int(k), step) for k in keys}}
        model["cases"].update(changed["cases"])
        before = store.journal.stat().st_size if store.journal.exists() else 0
        generation = store.generation
        store.write(changed, lambda: json.loads(json.dumps(model)))
        if store.generation != generation:
            snapshots += 1
            assert not store.journal.exists()
            assert before + len(json.dumps(changed, ensure_ascii=False).encode()) > max(
                store.path.stat().st_size / 2, MIN_JOURNAL / 2)  # it had grown about as large as the snapshot
        else:
            appended.append(store.journal.stat().st_size - before)
        if step % 300 == 0 or step == 2999:
            assert StateFile(store.path).load() == model  # read back: exactly what was written last
    assert 1 <= snapshots <= 20
    assert max(appended) < 4 * 300  # a line holds the few entries changed, not the 500 kept


def test_a_line_cut_short_and_a_journal_older_than_the_snapshot_are_not_applied(tmp_path: Path) -> None:
    store = StateFile(tmp_path / "state.json")
    store.write({"cases": {"a": {"v": 1}}}, lambda: {})
    with open(store.journal, "ab") as f:
        f.write(b'{"g": 0, "parts": {"cases": {"a": {"v": 2')  # a crash in the middle of the write
    store = StateFile(store.path)
    assert store.load() == {"cases": {"a": {"v": 1}}}
    store.write({"cases": {"c": {"v": 1}}}, lambda: {})  # the next run appends where the crash cut it
    assert StateFile(store.path).load() == {"cases": {"a": {"v": 1}, "c": {"v": 1}}}

    # A crash right after a new snapshot replaced the old one, before the old journal was removed.
    stale = store.journal.read_bytes()
    store._snapshot({"cases": {"a": {"v": 3}}})
    store.journal.write_bytes(stale)
    store = StateFile(store.path)
    assert store.load() == {"cases": {"a": {"v": 3}}}
    store.write({"cases": {"b": {"v": 1}}}, lambda: {})
    assert StateFile(store.path).load() == {"cases": {"a": {"v": 3}, "b": {"v": 1}}}


def test_a_file_of_the_first_format_is_read_and_changes_apply_on_top(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"140214-2026-000001": {"v": 1}}))  # handoffs only, by case number
    store = StateFile(path)

    def upgrade(d: dict[str, Any]) -> dict[str, Any]:
        return d if "cases" in d else {"cases": d}

    assert store.load(upgrade) == {"cases": {"140214-2026-000001": {"v": 1}}}
    store.write({"cases": {"140214-2026-000002": {"v": 1}}}, lambda: {})
    assert StateFile(path).load(upgrade) == {"cases": {"140214-2026-000001": {"v": 1}, "140214-2026-000002": {"v": 1}}}


def test_a_client_writes_the_cases_it_changed_and_reads_them_back_after_a_restart(tmp_path: Path) -> None:
    from liandong_sdk import Handoff

    at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    first = _client(tmp_path / "department-hrss.json")
    for i in range(200):
        number = f"140214-2026-{i:06d}"
        first.cases[number] = Handoff(number, "LEAD", "HANDOFF", "WAGE_ARREARS", "欠薪", None, at, at + timedelta(days=15),
                                      {"case_number": number})
        first._changed.add(number)
    first._write_state()
    size = first._store.journal.stat().st_size if first._store.journal.exists() else 0
    first.cases["140214-2026-000007"].status = HandoffStatus.SIGNED
    first._changed.add("140214-2026-000007")
    first._write_state()
    assert first._store.journal.stat().st_size - size < 1000  # one case's line, not the 200
    again = _client(tmp_path / "department-hrss.json")
    assert again.cases == first.cases and again.cases["140214-2026-000007"].status is HandoffStatus.SIGNED


def _client(state_file: Path) -> DepartmentClient:
    """A client with no broker: only what its state file holds."""
    c = object.__new__(DepartmentClient)
    c.state_file = state_file
    c.cases = {}
    c._init_coordination()
    c._init_changes()
    c._load()
    return c


def test_the_state_file_keeps_mediations_packages_and_tasks_across_a_restart(tmp_path: Path) -> None:
    from liandong_sdk import Mediation, Package, Task

    case = {"case_number": "140214-2026-000001", "district_code": "140214", "petition_id": "p-1"}
    due = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    before = _client(tmp_path / "department-justice.json")
    before.mediations["m-1"] = Mediation("m-1", case["case_number"], case, "HRSS", ["JUSTICE"], ["刘律师"], "工资纠纷",
                                         due, answer="JOINED", reminders=1)
    before.packages["p-1"] = Package("p-1", case["case_number"], case, [case["case_number"]],
                                     [{"role": "leading_official", "person": "张副区长", "unit": "BUREAU"}],
                                     "五包一化解", 7, date(2026, 4, 1), True, reports=2)
    before.tasks["HEAT-2026-001"] = Task("HEAT-2026-001", "heating", "排查组", "冬季供暖", "排查小区", None,
                                         status="ACKNOWLEDGED", answered={"acknowledged": 1})
    before._coordination_changed = True
    before._write_state()

    after = _client(tmp_path / "department-justice.json")
    assert after.mediations == before.mediations
    assert after.packages == before.packages
    assert after.tasks == before.tasks
