"""Who calls the HTTP APIs: bearer tokens mapped to principals, and what each principal may ask.

A token is ``ld_<id>_<secret>``; the tokens file (``LIANDONG_TOKENS_FILE``, default
``<run dir>/tokens.json``, mode 0600) keeps for each id its principal and an argon2id hash of the
secret, never the secret itself. ``liandong tokens issue|revoke|list`` manage it; every worker
reads the same file and sees a change on its next request (the file's mtime is checked).

The principal's name says its role (``role_of``), one rule for the CLI and the APIs:

=================  ===========  ==================================================================
principal          role         may
=================  ===========  ==================================================================
``svc-bureau``     BUREAU       register petitions; read every case
``operator[-…]``   OPERATOR     read every case (dashboards, reports)
``unit-<slug>``    UNIT         read the cases handed to that unit (e.g. ``unit-hrss``: HRSS)
``channel-<name>`` CHANNEL      register petitions (the online platform, the 12345 hotline bridge)
=================  ===========  ==================================================================

The file also holds a random key the workers of a service use among themselves (``peer_key``:
``View.everywhere`` and ``forward`` present it, ``X-Liandong-Peer``), so that only a worker may
ask another for its raw table entries.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from liandong_sdk import BUS_UNITS, CredentialsError, StartupError

__all__ = ["PEER_HEADER", "Caller", "Role", "TokenInfo", "TokenStore", "local_token", "role_of", "tool_token"]

#: The header a worker presents to another worker of its service (the peer key).
PEER_HEADER = "X-Liandong-Peer"
_PREFIX = "ld_"
_UNITS_BY_SLUG = {slug: unit for unit, slug in BUS_UNITS.items()}  # the units and the reviewing bodies


class Role(StrEnum):
    BUREAU = "BUREAU"
    OPERATOR = "OPERATOR"
    UNIT = "UNIT"
    CHANNEL = "CHANNEL"


@dataclass(frozen=True)
class Caller:
    """The principal behind a request, its role, and its unit if it is one."""

    principal: str
    role: Role
    unit: str | None = None

    @property
    def sees_every_case(self) -> bool:
        return self.role in (Role.BUREAU, Role.OPERATOR)


def role_of(principal: str) -> Caller:
    """The caller a principal's name makes (raises CredentialsError for a name of no role)."""
    if principal == "svc-bureau":
        return Caller(principal, Role.BUREAU)
    if principal == "operator" or principal.startswith("operator-"):
        return Caller(principal, Role.OPERATOR)
    if principal.startswith("unit-"):
        unit = _UNITS_BY_SLUG.get(principal.removeprefix("unit-"))
        if unit is None:
            raise CredentialsError(f"{principal}: no such unit; units are "
                                   f"{', '.join(f'unit-{s}' for s in sorted(_UNITS_BY_SLUG))}")
        return Caller(principal, Role.UNIT, unit)
    if principal.startswith("channel-") and len(principal) > len("channel-"):
        return Caller(principal, Role.CHANNEL)
    raise CredentialsError(f"{principal}: a token is for svc-bureau, operator[-name], unit-<unit> or channel-<name>")


@dataclass(frozen=True)
class TokenInfo:
    id: str
    principal: str
    created_at: str
    note: str = ""
    revoked_at: str | None = None


class TokenStore:
    """The tokens file: issue, revoke, list, and check a presented token (verified ones cached)."""

    # Cheaper than argon2's default (64 MiB, 3 passes): a token secret is 32 random bytes, not a
    # password a person chose, so the hash guards against a stolen file, not against guessing.
    _hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._data: dict[str, Any] = {}
        self._verified: dict[bytes, str] = {}  # sha256 of a presented token -> its id

    # -- the file ---------------------------------------------------------------------------
    def _load(self) -> dict[str, Any]:
        with self._lock:
            try:
                st = self.path.stat()
            except FileNotFoundError:
                self._create()
                st = self.path.stat()
            stamp = (st.st_mtime_ns, st.st_size)
            if stamp != self._stamp:
                self._data = json.loads(self.path.read_text())
                self._stamp = stamp
                self._verified.clear()  # a revocation takes effect at once
            return self._data

    def _create(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Several workers may start at once: each writes its own file whole, and the first to link it
        # in place wins (a reader never sees a half-written one).
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"peer_key": secrets.token_hex(32), "tokens": {}}, f)
        try:
            os.link(tmp, self.path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()

    @contextlib.contextmanager
    def _changing(self) -> Iterator[dict[str, Any]]:
        """The file's data to change, then written whole; two commands changing it at once take turns."""
        self._load()  # creates it if need be
        with open(self.path.with_name(f".{self.path.name}.lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self._stamp = None  # read afresh under the lock
            data = json.loads(json.dumps(self._load()))
            yield data
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.fchmod(fd, stat.S_IMODE(self.path.stat().st_mode))  # as the operator left it (0600 when created)
            with os.fdopen(fd, "w") as f:
                json.dump(data, f, indent=1)
            tmp.replace(self.path)

    def check(self, service: str) -> None:
        """At a service's start: the file can be read (created if absent), or StartupError says why."""
        try:
            data = self._load()
            if not isinstance(data.get("tokens"), dict) or not data.get("peer_key"):
                raise ValueError("it has no 'tokens' or no 'peer_key'")
        except (OSError, ValueError) as exc:
            raise StartupError(f"{service}: cannot use the HTTP tokens file {self.path}: {exc}; point "
                               f"LIANDONG_TOKENS_FILE at a writable place, or issue a token there first "
                               f"(liandong tokens issue)") from None

    @property
    def peer_key(self) -> str:
        return str(self._load()["peer_key"])

    def peer(self, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(presented, self.peer_key)

    # -- managing ---------------------------------------------------------------------------
    def issue(self, principal: str, note: str = "") -> str:
        """A new token for ``principal`` (shown once: only its hash is kept)."""
        role_of(principal)
        token_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        with self._changing() as data:
            data["tokens"][token_id] = {
                "principal": principal, "hash": self._hasher.hash(secret), "note": note,
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"), "revoked_at": None}
        return f"{_PREFIX}{token_id}_{secret}"

    def revoke(self, token_id: str) -> TokenInfo:
        with self._changing() as data:
            entry = data["tokens"].get(token_id)
            if entry is None:
                raise CredentialsError(f"no token {token_id} (liandong tokens list shows them)")
            entry["revoked_at"] = entry["revoked_at"] or datetime.now(UTC).isoformat(timespec="seconds")
        return self._info(token_id, entry)

    def list(self) -> list[TokenInfo]:
        return [self._info(i, e) for i, e in sorted(self._load()["tokens"].items(), key=lambda t: t[1]["created_at"])]

    @staticmethod
    def _info(token_id: str, entry: dict[str, Any]) -> TokenInfo:
        return TokenInfo(token_id, entry["principal"], entry["created_at"], entry.get("note", ""), entry["revoked_at"])

    # -- checking ---------------------------------------------------------------------------
    def caller(self, token: str) -> Caller | None:
        """The caller a presented token stands for; None if it is unknown, wrong or revoked."""
        tokens = self._load()["tokens"]
        digest = hashlib.sha256(token.encode()).digest()
        token_id = self._verified.get(digest)
        if token_id is None:
            token_id = self._verify(tokens, token)
            if token_id is None:
                return None
            self._verified[digest] = token_id
        entry = tokens.get(token_id)
        if entry is None or entry["revoked_at"] is not None:
            return None
        return role_of(entry["principal"])

    def _verify(self, tokens: dict[str, Any], token: str) -> str | None:
        token_id, _, secret = token.removeprefix(_PREFIX).partition("_")
        entry = tokens.get(token_id) if token.startswith(_PREFIX) else None
        if entry is None or not secret:
            return None
        try:
            self._hasher.verify(entry["hash"], secret)
        except (VerificationError, InvalidHashError):
            return None
        return token_id


def local_token(tokens_path: Path, principal: str = "svc-bureau") -> str:
    """The token the bureau's own tools on this machine use (the demo, the CLI, the tests): kept in
    ``<principal>.token`` beside the tokens file (mode 0600, like the secrets file), issued once and
    issued again if it was revoked."""
    path = tokens_path.with_name(f"{principal}.token")
    store = TokenStore(tokens_path)
    if path.exists():
        token = path.read_text().strip()
        if store.caller(token) is not None:
            return token
    token = store.issue(principal, note="local tools")
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    tmp.replace(path)
    return token


def tool_token(settings: Any) -> str:
    """What a local tool presents: ``LIANDONG_API_TOKEN`` if set, else the local bureau token."""
    return settings.api_token or local_token(settings.tokens_path)
