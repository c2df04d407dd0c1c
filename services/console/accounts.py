"""The console's accounts: one per person, each mapped to one principal (the bureau's ``svc-bureau``,
a unit's ``unit-<slug>``), or to a joint task team's working group (``<team>/<group>`` of
``teams.yaml``: its members act as the group's unit on the bus and see only the group's tasks);
passwords hashed with argon2; sign-in attempts throttled.

The accounts file (JSON ``{name: {principal, hash, note}}``, mode 0600, beside the secrets file)
is managed with ``liandong console account add|remove|list``.
"""

from __future__ import annotations

import json
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from liandong_sdk import HANDLING_UNITS, LiandongError

BUREAU = "svc-bureau"
#: The principals an account may map to: the bureau's staff, or one unit's.
PRINCIPALS = (BUREAU, *(f"unit-{slug}" for slug in HANDLING_UNITS.values()))


def accounts_file(secrets: Path) -> Path:
    """The accounts file beside the secrets file ``secrets``."""
    return secrets.with_name("console-accounts.json")


class AccountError(LiandongError):
    """An account that cannot be added (unknown principal, a password too short)."""


@dataclass(frozen=True)
class Account:
    name: str
    principal: str
    note: str = ""
    #: A task team's working group, ``<team>/<group>`` (the principal is the group's unit's).
    group: str | None = None

    @property
    def unit(self) -> str | None:
        """The unit this account answers for (None: the bureau)."""
        return next((u for u, slug in HANDLING_UNITS.items() if self.principal == f"unit-{slug}"), None)


class AccountStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._hasher = PasswordHasher()

    def _load(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        return data if isinstance(data, dict) else {}

    def _save(self, data: dict[str, dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False))
        os.chmod(tmp, 0o600)
        tmp.replace(self.path)

    def add(self, name: str, principal: str, password: str, note: str = "", group: str | None = None) -> Account:
        """Adds the account, or sets a new password and principal for an existing one."""
        if principal not in PRINCIPALS:
            raise AccountError(f"principal {principal!r} is none of {', '.join(PRINCIPALS)}")
        if len(password) < 8:
            raise AccountError("a password has at least 8 characters")
        data = self._load()
        data[name] = {"principal": principal, "hash": self._hasher.hash(password), "note": note, "group": group}
        self._save(data)
        return Account(name, principal, note, group)

    def remove(self, name: str) -> bool:
        data = self._load()
        if data.pop(name, None) is None:
            return False
        self._save(data)
        return True

    def accounts(self) -> list[Account]:
        return [Account(n, a["principal"], a.get("note", ""), a.get("group")) for n, a in sorted(self._load().items())]

    def verify(self, name: str, password: str) -> Account | None:
        """The account, when the password is its own; None otherwise (an unknown name costs a hash too)."""
        entry = self._load().get(name)
        stored = entry["hash"] if entry else _DUMMY
        try:
            self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        return Account(name, entry["principal"], entry.get("note", ""), entry.get("group")) if entry else None


_DUMMY = PasswordHasher().hash("not an account's password")


@dataclass
class Throttle:
    """At most ``limit`` failed sign-ins per name and per client address within ``window`` seconds;
    past that, refused until the oldest failure leaves the window."""

    limit: int = 5
    window: float = 900.0
    clock: Callable[[], float] = time.monotonic
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    def wait(self, key: str) -> float:
        """Seconds until a sign-in for ``key`` is allowed again (0: now)."""
        now = self.clock()
        failures = self._failures.get(key)
        while failures and now - failures[0] >= self.window:
            failures.popleft()
        return self.window - (now - failures[0]) if failures and len(failures) >= self.limit else 0.0

    def failed(self, key: str) -> None:
        self._failures.setdefault(key, deque()).append(self.clock())

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)
