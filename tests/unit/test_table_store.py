"""The table store is a setting: memory (the default) or RocksDB on disk under the run directory;
a service whose tables act on entries under another key than the event's refuses RocksDB at start."""

from __future__ import annotations

from pathlib import Path

import pytest
from liandong_sdk import StartupError

from liandong import Bus, Settings, get_settings
from liandong.streams import create_app
from services.ledger.app import build as build_ledger
from services.supervision.app import build as build_supervision


def bus_with(tmp_path: Path, store: str) -> Bus:
    settings = Settings(table_store=store, run_dir=tmp_path, security_protocol="PLAINTEXT")
    return Bus.from_settings("127.0.0.1:9", settings=settings)


def test_the_default_store_is_memory_and_rocksdb_keeps_its_tables_under_the_run_directory(tmp_path: Path) -> None:
    assert get_settings().table_store == "memory://"
    run_dir = tmp_path / "not" / "there" / "yet"  # a fresh clone: no run directory
    app = create_app("store-test", bus_with(run_dir, "rocksdb://"))
    assert str(app.conf.store) == "rocksdb:"
    assert Path(app.conf.datadir).is_relative_to(run_dir / "tables")
    app._create_directories()  # what faust does as the app starts: only the last directory of each path
    assert Path(app.conf.tabledir).is_dir()


def test_supervision_refuses_rocksdb_naming_the_setting_and_the_ledger_takes_it(tmp_path: Path) -> None:
    with pytest.raises(StartupError, match="LIANDONG_TABLE_STORE=memory://"):
        build_supervision(bus_with(tmp_path, "rocksdb://"))
    runtime = build_ledger(bus_with(tmp_path, "rocksdb://"), port=0)
    assert runtime.faust_apps and str(runtime.faust_apps[0].conf.store) == "rocksdb:"


def test_an_unknown_store_is_a_bad_setting() -> None:
    with pytest.raises(ValueError, match="table_store"):
        Settings(table_store="disk://")
