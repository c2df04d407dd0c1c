"""Principals, credentials, signing keys and least-privilege ACLs.

Every service and every unit has its own SCRAM-SHA-256 principal. Credentials come from
settings (``LIANDONG_PRINCIPAL`` / ``LIANDONG_PASSWORD``) or from a secrets file (JSON
``{principal: password}``, git-ignored), never from code. The ACL matrix is data: one
``Grant`` per principal, applied idempotently by the admin. Each principal also signs what it
publishes with its own Ed25519 key (a keys file beside the secrets); the principals directory,
public, lists each one's public key and the topics it writes, which is what verifiers check.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient
from kafka.admin import (
    ACL,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    ResourcePattern,
    ResourceType,
)
from kafka.admin._users import ScramMechanism, UserScramCredentialUpsertion
from liandong_sdk import ANY_TOPIC, MECHANISM, LiandongError, directory, load_secrets, load_signing_keys, new_key

ADMIN = "admin"
__all__ = ["ADMIN", "MECHANISM", "Grant", "PrincipalsReport", "apply_grants", "ensure_secrets", "ensure_signing_keys",
           "load_secrets"]


@dataclass(frozen=True)
class Grant:
    """What one principal may do: read and write topics, use consumer groups, own internal topics."""

    principal: str
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    group_prefixes: tuple[str, ...] = ()
    #: Topic name prefixes the principal creates and uses alone (a faust app's changelogs).
    owned_topic_prefixes: tuple[str, ...] = ()
    #: DESCRIBE on every topic and group (offsets and lag), and nothing else.
    describe_everything: bool = False

    def acls(self) -> list[ACL]:
        user = f"User:{self.principal}"
        out: list[ACL] = []

        def allow(op: ACLOperation, rtype: ResourceType, name: str, pattern: ACLResourcePatternType) -> None:
            out.append(ACL(user, "*", op, ACLPermissionType.ALLOW, ResourcePattern(rtype, name, pattern)))

        lit, pre = ACLResourcePatternType.LITERAL, ACLResourcePatternType.PREFIXED
        for t in sorted(set(self.reads)):
            allow(ACLOperation.READ, ResourceType.TOPIC, t, lit)
            allow(ACLOperation.DESCRIBE, ResourceType.TOPIC, t, lit)
        for t in sorted(set(self.writes)):
            allow(ACLOperation.WRITE, ResourceType.TOPIC, t, lit)
            allow(ACLOperation.DESCRIBE, ResourceType.TOPIC, t, lit)
        for g in self.group_prefixes:
            allow(ACLOperation.READ, ResourceType.GROUP, g, pre)
            allow(ACLOperation.DESCRIBE, ResourceType.GROUP, g, pre)
        if self.describe_everything:
            allow(ACLOperation.DESCRIBE, ResourceType.TOPIC, "*", lit)
            allow(ACLOperation.DESCRIBE, ResourceType.GROUP, "*", lit)
        for p in self.owned_topic_prefixes:
            for op in (ACLOperation.CREATE, ACLOperation.READ, ACLOperation.WRITE, ACLOperation.DESCRIBE,
                       ACLOperation.DESCRIBE_CONFIGS, ACLOperation.ALTER_CONFIGS):
                allow(op, ResourceType.TOPIC, p, pre)
        return out

    def may_read(self, topic: str) -> bool:
        return topic in self.reads or any(topic.startswith(p) for p in self.owned_topic_prefixes)

    def may_write(self, topic: str) -> bool:
        return topic in self.writes or any(topic.startswith(p) for p in self.owned_topic_prefixes)


# -- secrets ----------------------------------------------------------------------------------
def ensure_secrets(path: Path, principals: Iterable[str]) -> dict[str, str]:
    """Adds a random password for every principal missing from the secrets file (mode 0600)."""
    current = load_secrets(path)
    missing = [p for p in principals if p not in current]
    if missing:
        current.update({p: secrets.token_urlsafe(24) for p in missing})
        _write(path, current, 0o600)
    return current


def ensure_signing_keys(keys_path: Path, directory_path: Path, grants: Iterable[Grant]) -> dict[str, object]:
    """Adds a signing key for every principal of ``grants`` (and the admin) missing from the keys
    file (mode 0600), and writes the principals directory: each one's public key and the topics its
    grant writes (the admin, the operator: any topic but a unit's replies). Returns the directory."""
    grants = list(grants)
    keys = load_signing_keys(keys_path)
    missing = [p for p in [ADMIN, *(g.principal for g in grants)] if p not in keys]
    if missing:
        keys.update({p: new_key() for p in missing})
        _write(keys_path, keys, 0o600)
    writes: dict[str, set[str]] = {ADMIN: {ANY_TOPIC}}
    for g in grants:
        writes.setdefault(g.principal, set()).update(g.writes)
    listed = directory({p: k for p, k in keys.items() if p in writes}, writes)
    try:
        unchanged = json.loads(directory_path.read_text(encoding="utf-8")) == listed
    except (FileNotFoundError, ValueError):
        unchanged = False
    if not unchanged:  # written only when it changes: a deployment may mount it read-only
        _write(directory_path, listed, 0o644)
    return listed


def _write(path: Path, data: object, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
    os.chmod(tmp, mode)
    tmp.replace(path)


# -- applying --------------------------------------------------------------------------------
@dataclass
class PrincipalsReport:
    users: list[str]
    acls: int


def apply_grants(grants: Iterable[Grant], passwords: dict[str, str], bootstrap: str, **admin_client: Any) -> PrincipalsReport:
    """Creates or updates each principal's SCRAM credential and its ACLs (both idempotent)."""
    grants = list(grants)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, **admin_client)
    try:
        upserts = [UserScramCredentialUpsertion(g.principal, ScramMechanism.SCRAM_SHA_256, passwords[g.principal])
                   for g in grants]
        result = admin.alter_user_scram_credentials(upserts)
        failed = {u: e for u, e in (result or {}).items() if e}
        if failed:
            raise LiandongError(f"could not set credentials: {failed}")
        acls = [a for g in grants for a in g.acls()]
        outcome = admin.create_acls(acls)
        failed_acls = outcome.get("failed", []) if isinstance(outcome, dict) else []
        if failed_acls:
            raise LiandongError(f"could not create ACLs: {failed_acls[:3]}")
    finally:
        admin.close()
    return PrincipalsReport([g.principal for g in grants], len(acls))
