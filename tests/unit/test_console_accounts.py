"""The console's accounts: argon2-hashed passwords in a 0600 file, one principal each, managed by
``liandong console account``; sign-in failures throttled per name within a window (injected clock)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from liandong import get_settings
from liandong.cli import app as cli
from services.console.accounts import AccountError, AccountStore, Throttle


def test_an_account_keeps_a_hash_not_the_password_and_maps_to_one_principal(tmp_path: Path) -> None:
    store = AccountStore(tmp_path / "console-accounts.json")
    store.add("李四", "unit-hrss", "s3cret-password", note="人社局信访科")
    raw = (tmp_path / "console-accounts.json").read_text()
    assert "s3cret-password" not in raw and json.loads(raw)["李四"]["hash"].startswith("$argon2")
    assert stat.S_IMODE((tmp_path / "console-accounts.json").stat().st_mode) == 0o600
    account = store.verify("李四", "s3cret-password")
    assert account is not None and account.principal == "unit-hrss" and account.unit == "HRSS"
    assert store.verify("李四", "wrong password") is None and store.verify("nobody", "s3cret-password") is None
    with pytest.raises(AccountError, match="none of"):
        store.add("x", "admin", "long enough password")
    with pytest.raises(AccountError, match="at least 8"):
        store.add("x", "svc-bureau", "short")
    assert store.remove("李四") and store.verify("李四", "s3cret-password") is None and not store.remove("李四")


def test_sign_ins_are_throttled_per_name_for_the_window() -> None:
    t = [0.0]
    throttle = Throttle(limit=3, window=600.0, clock=lambda: t[0])
    for _ in range(3):
        assert throttle.wait("name:a") == 0
        throttle.failed("name:a")
    assert throttle.wait("name:a") == 600.0 and throttle.wait("name:b") == 0
    t[0] = 599.0
    assert throttle.wait("name:a") == 1.0
    t[0] = 600.0
    assert throttle.wait("name:a") == 0  # the oldest failure left the window
    throttle.failed("name:a")
    throttle.succeeded("name:a")
    assert throttle.wait("name:a") == 0


def test_the_cli_adds_lists_and_removes_accounts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIANDONG_SECRETS_FILE", str(tmp_path / "secrets.json"))
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        added = runner.invoke(cli, ["console", "account", "add", "王五", "--principal", "svc-bureau", "--password-stdin"],
                              input="a long password\n")
        assert added.exit_code == 0, added.output
        assert AccountStore(tmp_path / "console-accounts.json").verify("王五", "a long password") is not None
        listed = runner.invoke(cli, ["console", "account", "list"])
        assert "王五" in listed.output and "svc-bureau" in listed.output and "password" not in listed.output
        refused = runner.invoke(cli, ["console", "account", "add", "x", "--principal", "unit-nobody", "--password-stdin"],
                                input="a long password\n")
        assert refused.exit_code == 2 and "none of" in refused.output
        group = runner.invoke(cli, ["console", "account", "add", "赵六", "--group", "heating/supply", "--password-stdin"],
                              input="a long password\n")
        assert group.exit_code == 0, group.output
        member = AccountStore(tmp_path / "console-accounts.json").verify("赵六", "a long password")
        assert member is not None and member.group == "heating/supply" and member.principal == "unit-housing"
        unknown = runner.invoke(cli, ["console", "account", "add", "x", "--group", "heating/nobody", "--password-stdin"],
                                input="a long password\n")
        assert unknown.exit_code == 2 and "heating/supply" in unknown.output
        assert runner.invoke(cli, ["console", "account", "remove", "王五"]).exit_code == 0
        assert runner.invoke(cli, ["console", "account", "remove", "王五"]).exit_code == 1
    finally:
        get_settings.cache_clear()
