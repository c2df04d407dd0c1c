"""Principals, credentials and least-privilege ACLs.

Every service and every unit has its own SCRAM-SHA-256 principal. Credentials come from
settings (``LIANDONG_PRINCIPAL`` / ``LIANDONG_PASSWORD``) or from a secrets file (JSON
``{principal: password}``, git-ignored), never from code. The ACL matrix is data: one
``Grant`` per principal, applied idempotently by the admin.
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
from liandong_sdk import MECHANISM, LiandongError, load_secrets

ADMIN = "admin"
__all__ = ["ADMIN", "MECHANISM", "Grant", "PrincipalsReport", "apply_grants", "ensure_secrets", "load_secrets"]


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
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(current, indent=2, sort_keys=True))
        os.chmod(tmp, 0o600)
        tmp.replace(path)
    return current


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
