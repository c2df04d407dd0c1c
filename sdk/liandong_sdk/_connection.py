"""How a process reaches the bus: bootstrap servers, its principal and password, and the clients
built from them.

A department needs nothing but environment variables (or the same values as arguments):

========================== ================================================================
``LIANDONG_BOOTSTRAP_SERVERS`` the brokers, ``host:port[,host:port…]`` (default 127.0.0.1:19092)
``LIANDONG_PRINCIPAL``          who this process is (a unit's principal is ``unit-<slug>``)
``LIANDONG_PASSWORD``           its SCRAM-SHA-256 password, or …
``LIANDONG_SECRETS_FILE``       … a JSON file ``{principal: password}`` to look it up in
``LIANDONG_SECURITY_PROTOCOL``  ``SASL_PLAINTEXT`` (default) or ``PLAINTEXT`` (no authentication)
``LIANDONG_SIGNING_KEY``        its Ed25519 signing key (base64 seed), or …
``LIANDONG_SIGNING_KEYS_FILE``  … a JSON file ``{principal: seed}`` (default: signing-keys.json
                                beside the secrets file)
``LIANDONG_PRINCIPALS_FILE``    the principals directory, to verify what it reads (default:
                                principals.json beside the secrets file; none: not verified)
========================== ================================================================
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer

from ._clients import Observer, Publisher, Subscriber
from ._errors import CredentialsError
from ._schemas import SchemaCatalogue, packaged_schemas
from ._signing import Signer, Verifier, load_directory, load_signing_key
from ._wire import Codec

MECHANISM = "SCRAM-SHA-256"
DEFAULT_BOOTSTRAP = "127.0.0.1:19092"


def load_secrets(path: Path) -> dict[str, str]:
    """The secrets file's ``{principal: password}``; empty when there is no file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except ValueError as exc:
        raise CredentialsError(f"secrets file {path} is not JSON: {exc}") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise CredentialsError(f"secrets file {path} must be a JSON object of principal -> password")
    return data


def password_for(principal: str, path: Path | None, explicit: str | None = None) -> str:
    if explicit:
        return explicit
    found = load_secrets(path).get(principal) if path is not None else None
    if not found:
        where = f" or add it to {path}" if path is not None else " or LIANDONG_SECRETS_FILE"
        raise CredentialsError(f"no password for principal {principal!r}: set LIANDONG_PASSWORD{where}")
    return found


@dataclass
class Connection:
    """The bus as one principal sees it; ``publisher()`` and ``subscriber()`` speak the wire format."""

    bootstrap_servers: str = DEFAULT_BOOTSTRAP
    principal: str = "anonymous"
    explicit_password: str | None = None
    secrets_file: Path | None = None
    security_protocol: str = "SASL_PLAINTEXT"
    #: A principal fixed by the environment wins over the one a client asks for (``as_principal``).
    principal_fixed: bool = False
    schemas_dir: Path | None = None
    observer: Observer | None = None
    #: The fixed principal's signing key (base64 Ed25519 seed); else looked up in ``signing_keys_file``.
    explicit_signing_key: str | None = None
    signing_keys_file: Path | None = None
    principals_file: Path | None = None

    @classmethod
    def from_env(cls, **overrides: Any) -> Connection:
        env = os.environ
        secrets = env.get("LIANDONG_SECRETS_FILE")
        values: dict[str, Any] = {
            "bootstrap_servers": env.get("LIANDONG_BOOTSTRAP_SERVERS") or DEFAULT_BOOTSTRAP,
            "principal": env.get("LIANDONG_PRINCIPAL") or "anonymous",
            "principal_fixed": bool(env.get("LIANDONG_PRINCIPAL")),
            "explicit_password": env.get("LIANDONG_PASSWORD") or None,
            "secrets_file": Path(secrets) if secrets else None,
            "security_protocol": env.get("LIANDONG_SECURITY_PROTOCOL") or "SASL_PLAINTEXT",
            "explicit_signing_key": env.get("LIANDONG_SIGNING_KEY") or None,
            "signing_keys_file": Path(env["LIANDONG_SIGNING_KEYS_FILE"]) if env.get("LIANDONG_SIGNING_KEYS_FILE") else None,
            "principals_file": Path(env["LIANDONG_PRINCIPALS_FILE"]) if env.get("LIANDONG_PRINCIPALS_FILE") else None,
        }
        return cls(**{**values, **overrides})

    def as_principal(self, principal: str) -> Connection:
        """The same bus, authenticated as another principal (one fixed by the environment wins)."""
        return self if self.principal_fixed else replace(self, principal=principal)

    @cached_property
    def schemas(self) -> SchemaCatalogue:
        return SchemaCatalogue(self.schemas_dir or packaged_schemas())

    @cached_property
    def codec(self) -> Codec:
        return Codec(self.schemas, signer=self.signer, verifier=self.verifier)

    @cached_property
    def signer(self) -> Signer | None:
        """What signs this principal's events: its key, or None when it has none (its events then
        reach no one who verifies)."""
        explicit = self.explicit_signing_key if self.principal_fixed or self.signing_keys_file is None else None
        return load_signing_key(self.principal, self._beside_secrets(self.signing_keys_file, "signing-keys.json"),
                                explicit)

    def require_signer(self) -> None:
        """Raises ``CredentialsError`` when this principal would speak unsigned on a secured bus
        (every reader there refuses what is unsigned: better said at start than on each answer)."""
        if self.secured and self.signer is None:
            where = self._beside_secrets(self.signing_keys_file, "signing-keys.json")
            raise CredentialsError(f"no signing key for principal {self.principal!r}: set LIANDONG_SIGNING_KEY"
                                   + (f" or add it to {where}" if where else " or LIANDONG_SIGNING_KEYS_FILE")
                                   + " (liandong principals create makes it)")

    @cached_property
    def verifier(self) -> Verifier | None:
        """What checks the signatures of what this process reads (None: no principals directory)."""
        return load_directory(self._beside_secrets(self.principals_file, "principals.json"))

    def _beside_secrets(self, path: Path | None, name: str) -> Path | None:
        return path or (self.secrets_file.with_name(name) if self.secrets_file is not None else None)

    # -- identity -----------------------------------------------------------------------
    @property
    def secured(self) -> bool:
        return self.security_protocol != "PLAINTEXT"

    def password(self) -> str:
        # A password given for the fixed principal is not another principal's.
        explicit = self.explicit_password if self.principal_fixed or self.secrets_file is None else None
        return password_for(self.principal, self.secrets_file, explicit)

    def client_config(self) -> dict[str, Any]:
        """kafka-python keyword arguments that authenticate as this principal."""
        if not self.secured:
            return {}
        return {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": MECHANISM,
                "sasl_plain_username": self.principal, "sasl_plain_password": self.password()}

    # -- clients -------------------------------------------------------------------------
    def publisher(self, source: str, **producer: Any) -> Publisher:
        return Publisher(self.bootstrap_servers, source=f"/liandong/{source}", codec=self.codec,
                         observer=self.observer, **{**self.client_config(), **producer})

    def subscriber(self, topics: list[str], *, group_id: str | None, service: str, **consumer: Any) -> Subscriber:
        return Subscriber(self.bootstrap_servers, topics, group_id=group_id, service=service, codec=self.codec,
                          dead_letters=self.publisher(service), observer=self.observer,
                          **{**self.client_config(), **consumer})

    def consumer(self, *topics: str, **consumer: Any) -> KafkaConsumer:
        """A raw kafka-python consumer (bytes in, no decoding) with this principal's identity."""
        if consumer.get("group_id") is None:  # no group, nothing to commit (kafka-python warns each time otherwise)
            consumer.setdefault("enable_auto_commit", False)
        return KafkaConsumer(*topics, bootstrap_servers=self.bootstrap_servers, **{**self.client_config(), **consumer})
