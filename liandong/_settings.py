"""Settings from the environment (prefix ``LIANDONG_``), read once per process."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from liandong_sdk import ClockConfig, StartupError
from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: The repository root: schemas/ and deploy/ live here.
ROOT = Path(__file__).resolve().parent.parent
#: The regulation's clocks, escalation ladder and holidays as shipped.
CLOCKS_FILE = Path(__file__).with_name("clocks.yaml")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LIANDONG_", extra="ignore")

    bootstrap_servers: str | None = Field(
        default=None,
        description="An existing Kafka cluster to use; when unset the local broker is used (and started by `make demo`).",
    )
    schemas_dir: Path = ROOT / "schemas"
    deploy_dir: Path = ROOT / "deploy"
    #: Where the broker's jars are kept once fetched (shared by every clone on the machine).
    cache_dir: Path = Field(default_factory=lambda: Path.home() / ".cache" / "liandong")
    #: Where the local broker keeps its data, logs and pid file.
    run_dir: Path = ROOT / ".liandong"
    #: SASL_PLAINTEXT (SCRAM-SHA-256, the default) or PLAINTEXT (a cluster without authentication).
    security_protocol: Literal["SASL_PLAINTEXT", "PLAINTEXT"] = "SASL_PLAINTEXT"
    #: Who this process is on the bus; services default to their own principal (svc-<name>, unit-<unit>).
    principal: str | None = None
    password: str | None = None
    #: JSON {principal: password}, git-ignored; default <run_dir>/secrets.json.
    secrets_file: Path | None = None
    #: This principal's Ed25519 signing key (base64 seed); else its entry in the signing keys file.
    signing_key: str | None = None
    #: JSON {principal: seed}, git-ignored, mode 0600; default signing-keys.json beside the secrets file.
    signing_keys_file: Path | None = None
    #: The principals directory (public keys and the topics each writes); default principals.json
    #: beside the secrets file.
    principals_file: Path | None = None
    #: The token the CLI and the demo present to the HTTP APIs (default: the local bureau token, issued once).
    api_token: str | None = None
    #: The HTTP APIs' tokens (hashed) and the workers' peer key; default tokens.json beside the secrets file.
    tokens_file: Path | None = None
    #: Interface that HTTP endpoints bind to (0.0.0.0 inside containers only).
    bind_host: str = "127.0.0.1"
    #: The host name other workers reach this one's HTTP API at (a ledger worker forwards a question
    #: about a case it does not own to the worker that does); default: bind_host, or this machine's
    #: name when bind_host is 0.0.0.0.
    advertised_host: str | None = None
    broker_port: int = 19092
    controller_port: int = 19093
    broker_heap: str = "512m"
    #: Services serve /metrics on base + their offset (intake 9401, triage 9402, ledger 9403, units 9411…).
    metrics_port_base: int = 9400
    #: This process's /metrics port, overriding base + offset; 0: any free port (reported in
    #: <run_dir>/ports.json and the service_started log line). intake_port and ledger_port take 0 too.
    metrics_port: int | None = None
    intake_port: int = 8081
    #: How long a starting service waits for the broker before it exits naming the cause (seconds).
    startup_timeout: float = 20.0
    ledger_port: int = 8082
    #: The console (the browser workbench); 0: any free port.
    console_port: int = 8083
    #: Where the console reaches intake and the ledger (default: 127.0.0.1 on their ports).
    console_intake_url: str | None = None
    console_ledger_url: str | None = None
    #: The regulation's clocks, escalation ladder and holidays (default liandong/clocks.yaml).
    clocks_file: Path | None = None
    #: The written notices' settings: the bureau's name, seal line, units and reviewers (default services/notices/notices.yaml).
    notices_file: Path | None = None
    #: Who reviews each unit's opinion and who re-checks each review (default services/intake/reviewing.yaml).
    reviewing_file: Path | None = None
    #: Reference departments' simulated time: real seconds per simulated day.
    sim_seconds_per_day: float = 2.0
    #: Reference departments' behaviour: days until they sign for / resolve a case, and how often they object or extend.
    sim_sign_after_days: float = 1.0
    sim_resolve_after_days: float = 40.0
    sim_objection_rate: float = 0.05
    sim_extension_rate: float = 0.05
    #: Each case's answer delays are stretched by a random factor in [1 - jitter, 1 + jitter].
    sim_delay_jitter: float = 0.0
    #: Compressed simulation clock (liandong/clock.py): simulated time at the origin, and the origin's real Unix time.
    sim_epoch: datetime | None = None
    sim_origin: float | None = None
    district_code: str = "140214"
    #: Several intake instances of one district: each gives the numbers of its own stripe (instance i
    #: of n: sequence numbers i+1, i+1+n, …), so no number is given twice; every instance a distinct
    #: index, and n changed only with all of them stopped (docs/scale-out.md).
    intake_instance: int = Field(default=0, ge=0)
    intake_instances: int = Field(default=1, ge=1)
    topic_partitions: int = 4
    #: Stream services fetch in incremental sessions (KIP-227, ``liandong.fetch_sessions``): a fetch
    #: names only the partitions whose offset moved instead of all of them. Off: aiokafka's full fetches.
    fetch_sessions: bool = True
    #: Where the stream services keep their tables: ``memory://`` (rebuilt from the changelogs at
    #: every start) or ``rocksdb://`` (on disk under <run_dir>/tables: memory stays bounded and a
    #: restart after a clean stop reads only what is new). One directory per worker (docs/scale-out.md).
    table_store: str = Field(default="memory://", pattern=r"^(memory|rocksdb)://$")
    #: Replicas of every topic the bus creates (its own and faust's changelogs), and how many must
    #: be in sync for a write (acks=all): 1 and 1 on the single local broker, 3 and 2 on a cluster.
    replication_factor: int = 1
    min_insync_replicas: int = 1
    service_name: str = "liandong"
    log_level: str = "INFO"
    log_json: bool = False

    @model_validator(mode="after")
    def _one_stripe_each(self) -> Settings:
        if self.intake_instance >= self.intake_instances:
            raise ValueError(f"LIANDONG_INTAKE_INSTANCE {self.intake_instance} is not below LIANDONG_INTAKE_INSTANCES "
                             f"{self.intake_instances} (instances are numbered from 0)")
        return self

    @property
    def secrets_path(self) -> Path:
        return self.secrets_file or self.run_dir / "secrets.json"

    @property
    def signing_keys_path(self) -> Path:
        return self.signing_keys_file or self.secrets_path.with_name("signing-keys.json")

    @property
    def principals_path(self) -> Path:
        return self.principals_file or self.secrets_path.with_name("principals.json")

    @property
    def tokens_path(self) -> Path:
        return self.tokens_file or self.secrets_path.with_name("tokens.json")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:  # the environment is the operator's: name the variable, not a traceback
        problems = "; ".join((f"LIANDONG_{'_'.join(str(p) for p in e['loc']).upper()}: " if e["loc"] else "")
                             + e["msg"].removeprefix("Value error, ") for e in exc.errors())
        raise StartupError(f"bad settings: {problems}") from None


T = TypeVar("T")


def load_config_file(path: Path, parse: Callable[[dict[str, Any]], T], what: str) -> T:
    """A YAML configuration file read and parsed, or ``StartupError`` naming the file and what is
    wrong with it (missing, not YAML, not a mapping, a setting the parser refuses): a service
    started with a bad file exits at once saying so."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise StartupError(f"{what} file {path}: cannot be read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise StartupError(f"{what} file {path}: not valid YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict):
        raise StartupError(f"{what} file {path}: must be a mapping of settings, got {type(data).__name__}")
    try:
        return parse(data)
    except (ValueError, KeyError, TypeError) as exc:
        raise StartupError(f"{what} file {path}: {exc}") from None


def load_clocks(path: Path | None = None) -> ClockConfig:
    """The regulation's clocks from a YAML file: ``path``, else ``LIANDONG_CLOCKS_FILE``, else the shipped one."""
    return load_config_file(path or get_settings().clocks_file or CLOCKS_FILE, ClockConfig.from_data, "clocks")
