"""The local Kafka broker: Apache Kafka jars from Maven Central, one KRaft node on 127.0.0.1.

``LocalBroker.start()`` fetches the jars once into the cache folder, formats storage, starts
the JVM in its own process group, waits until the broker answers a metadata request and
records ``broker.json`` in the run folder; ``stop()`` ends the process group and waits for it.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import socket
import string
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from liandong_sdk import BrokerError

from ._settings import Settings, get_settings
from .security import ADMIN, MECHANISM, ensure_secrets

KAFKA_VERSION = "4.1.1"
STATE_FILE = "broker.json"


@dataclass(frozen=True)
class BrokerInfo:
    pid: int
    bootstrap_servers: str
    run_dir: str
    log_file: str

    def alive(self) -> bool:
        return _pid_alive(self.pid)


class LocalBroker:
    """One KRaft node (broker and controller in one JVM) on loopback: the single local broker, or
    one node of a ``LocalCluster`` (``node_id``, the quorum's ``voters``, a shared ``cluster_id``,
    the cluster's ``replication`` and ``min_isr``)."""

    def __init__(self, run_dir: Path | None = None, *, port: int | None = None, controller_port: int | None = None,
                 settings: Settings | None = None, secrets_file: Path | None = None, node_id: int = 1,
                 voters: str | None = None, cluster_id: str | None = None, replication: int = 1,
                 min_isr: int = 1) -> None:
        self.settings = settings or get_settings()
        self.secrets_file = secrets_file or self.settings.secrets_path
        self.run_dir = Path(run_dir or self.settings.run_dir / "broker")
        self.port = port or self.settings.broker_port
        self.controller_port = controller_port or self.settings.controller_port
        self.node_id, self.cluster_id = node_id, cluster_id
        self.voters = voters or f"{node_id}@127.0.0.1:{self.controller_port}"
        self.replication, self.min_isr = replication, min_isr
        self.lib_dir = self.settings.cache_dir / f"kafka-{KAFKA_VERSION}" / "lib"

    # -- jars ---------------------------------------------------------------------------
    def ensure_jars(self) -> Path:
        """Copies the broker jars from Maven Central (through ~/.m2) into the cache, once."""
        marker = self.lib_dir / ".complete"
        if marker.exists():
            return self.lib_dir
        mvn = shutil.which("mvn")
        if mvn is None:
            raise BrokerError("Maven (mvn) is needed to fetch the Kafka jars; install it (apt-get install maven)")
        staging = self.lib_dir.with_name("lib.partial")
        shutil.rmtree(staging, ignore_errors=True)
        pom = self.settings.deploy_dir / "kafka" / "pom.xml"
        cmd = [mvn, "-q", "-B", "-f", str(pom), "dependency:copy-dependencies",
               f"-DoutputDirectory={staging}", "-DincludeScope=runtime"]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise BrokerError(f"fetching Kafka jars failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
        shutil.rmtree(self.lib_dir, ignore_errors=True)
        staging.rename(self.lib_dir)
        marker.touch()
        return self.lib_dir

    # -- state --------------------------------------------------------------------------
    @property
    def state_file(self) -> Path:
        return self.run_dir / STATE_FILE

    def info(self) -> BrokerInfo | None:
        try:
            return BrokerInfo(**json.loads(self.state_file.read_text()))
        except (OSError, ValueError, TypeError):
            return None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    # -- lifecycle ----------------------------------------------------------------------
    def start(self, timeout: float = 90.0, *, wait: bool = True) -> BrokerInfo:
        """Starts the node (formatting its storage the first time); ``wait``: until it answers
        (a cluster's node cannot answer before a quorum of its voters runs)."""
        running = self.info()
        if running and running.alive():
            return running
        lib = self.ensure_jars()
        java = shutil.which("java")
        if java is None:
            raise BrokerError("Java 17+ is needed to run the broker")
        for p in (self.port, self.controller_port):
            if not _port_free(p):
                raise BrokerError(f"port {p} on 127.0.0.1 is in use; set LIANDONG_BROKER_PORT / LIANDONG_CONTROLLER_PORT")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        data_dir = self.run_dir / "data"
        config = self.run_dir / "server.properties"
        template = (self.settings.deploy_dir / "kafka" / "server.properties").read_text()
        admin_password = ensure_secrets(self.secrets_file, [ADMIN])[ADMIN]
        config.write_text(string.Template(template).substitute(
            node_id=self.node_id, voters=self.voters, broker_port=self.port, controller_port=self.controller_port,
            data_dir=data_dir, admin_password=admin_password, replication=self.replication, min_isr=self.min_isr))
        config.chmod(0o600)
        classpath = f"{lib}/*"
        log4j = self.settings.deploy_dir / "kafka" / "log4j2.yaml"
        jvm = [java, f"-Xmx{self.settings.broker_heap}", "-Xms128m", "-XX:+UseG1GC", "-Djava.awt.headless=true",
               f"-Dlog4j2.configurationFile={log4j}", "-cp", classpath]
        if not (data_dir / "meta.properties").exists():
            scram = f"SCRAM-SHA-256=[name={ADMIN},password={admin_password}]"
            fmt = subprocess.run(jvm + ["kafka.tools.StorageTool", "format", "--config", str(config),
                                        f"--cluster-id={self.cluster_id or _cluster_id()}", "--ignore-formatted",
                                        "--add-scram", scram],
                                 capture_output=True, text=True, check=False)
            if fmt.returncode != 0:
                raise BrokerError(f"formatting KRaft storage failed:\n{fmt.stdout[-2000:]}{fmt.stderr[-2000:]}")
        log_file = self.run_dir / "broker.log"
        with open(log_file, "ab") as log:
            proc = subprocess.Popen(jvm + ["kafka.Kafka", str(config)], stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        info = BrokerInfo(proc.pid, self.bootstrap_servers, str(self.run_dir), str(log_file))
        self.state_file.write_text(json.dumps(info.__dict__))
        if not wait:
            return info
        try:
            wait_until_ready(self.bootstrap_servers, timeout, proc=proc, client=self.admin_client_config())
        except BrokerError:
            self.stop()
            raise BrokerError(f"broker did not become ready in {timeout:.0f}s; see {log_file}") from None
        return info

    def admin_client_config(self) -> dict[str, str]:
        password = ensure_secrets(self.secrets_file, [ADMIN])[ADMIN]
        return {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": MECHANISM,
                "sasl_plain_username": ADMIN, "sasl_plain_password": password}

    def stop(self, timeout: float = 30.0) -> bool:
        """Stops the broker (SIGTERM, then SIGKILL after `timeout`); True if one was running."""
        info = self.info()
        if info is None:
            return False
        was_running = info.alive()
        if was_running:
            _signal_group(info.pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while _pid_alive(info.pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _pid_alive(info.pid):
                _signal_group(info.pid, signal.SIGKILL)
                while _pid_alive(info.pid):
                    time.sleep(0.05)
        self.state_file.unlink(missing_ok=True)
        return was_running


class LocalCluster:
    """Three KRaft nodes on loopback, each broker and controller, one quorum: what the cluster tests
    run and ``liandong cluster start`` starts. Every topic has 3 replicas and needs 2 in sync
    (``LIANDONG_REPLICATION_FACTOR`` / ``LIANDONG_MIN_INSYNC_REPLICAS`` say so to the services)."""

    def __init__(self, run_dir: Path | None = None, *, nodes: int = 3, settings: Settings | None = None,
                 secrets_file: Path | None = None, ports: list[tuple[int, int]] | None = None) -> None:
        self.settings = settings or get_settings()
        self.run_dir = Path(run_dir or self.settings.run_dir / "cluster")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        layout = self.run_dir / "cluster.json"
        if layout.exists():  # the same ports and cluster id as when it was made: its storage is formatted so
            saved = json.loads(layout.read_text())
            ports, cluster_id = [tuple(p) for p in saved["ports"]], saved["cluster_id"]
        else:
            ports = ports or [(free_port(), free_port()) for _ in range(nodes)]
            cluster_id = _cluster_id()
            layout.write_text(json.dumps({"ports": ports, "cluster_id": cluster_id}))
        voters = ",".join(f"{i + 1}@127.0.0.1:{c}" for i, (_, c) in enumerate(ports))
        self.replication = min(3, len(ports))
        self.min_isr = 2 if len(ports) >= 3 else 1
        self.nodes = [LocalBroker(self.run_dir / f"node{i + 1}", port=b, controller_port=c, settings=self.settings,
                                  secrets_file=secrets_file, node_id=i + 1, voters=voters, cluster_id=cluster_id,
                                  replication=self.replication, min_isr=self.min_isr)
                      for i, (b, c) in enumerate(ports)]

    @staticmethod
    def made(run_dir: Path | None = None, settings: Settings | None = None) -> bool:
        """Whether a cluster was started in ``run_dir`` before (its layout is kept there)."""
        return (Path(run_dir or (settings or get_settings()).run_dir / "cluster") / "cluster.json").exists()

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(n.bootstrap_servers for n in self.nodes)

    def start(self, timeout: float = 120.0) -> str:
        """Starts every node, then waits until the cluster answers with all of them; the bootstrap list."""
        for node in self.nodes:
            node.start(wait=False)
        try:
            wait_for_brokers(self.bootstrap_servers, len(self.nodes), timeout, self.nodes[0].admin_client_config())
        except BrokerError:
            self.stop()
            raise
        return self.bootstrap_servers

    def stop(self) -> int:
        """Stops every node at once (one by one, the last would wait for a quorum that is gone); how
        many were running."""
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(len(self.nodes)) as pool:
            return sum(pool.map(lambda n: n.stop(), self.nodes))

    def status(self) -> list[tuple[int, str, bool]]:
        """(node id, address, running) per node."""
        return [(n.node_id, n.bootstrap_servers, bool((i := n.info()) and i.alive())) for n in self.nodes]


def wait_for_brokers(bootstrap: str, count: int, timeout: float, client: dict[str, str]) -> None:
    """Waits until the cluster's metadata lists ``count`` brokers that serve: not fenced, and
    accepting connections (a broker registers with the controllers before its listener opens)."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    deadline = time.monotonic() + timeout
    seen = 0
    while time.monotonic() < deadline:
        try:
            admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000, **client)
            try:
                brokers = admin.describe_cluster().get("brokers") or ()
            finally:
                admin.close()
            seen = sum(1 for b in brokers if not b.get("is_fenced") and accepts(b["host"], int(b["port"])))
            if seen >= count:
                return
        except (KafkaError, OSError):
            pass
        time.sleep(0.5)
    raise BrokerError(f"the cluster at {bootstrap} did not show {count} serving brokers within {timeout:.0f}s "
                      f"(saw {seen})")


def wait_until_ready(bootstrap: str, timeout: float, proc: subprocess.Popen[bytes] | None = None,
                     client: dict[str, str] | None = None) -> None:
    """Waits until the cluster answers a metadata request (or the process dies)."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaConfigurationError, KafkaError

    deadline = time.monotonic() + timeout
    last: Exception | None = None
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise BrokerError(f"broker exited with code {proc.returncode}")
        # Wait for the listener first: kafka-python backs off for seconds after a refused connection.
        if not accepts(host, int(port)):
            time.sleep(0.1)
            continue
        try:
            admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000, **(client or {}))
            try:
                if admin.describe_cluster().get("brokers"):
                    return
            finally:
                admin.close()
        except KafkaConfigurationError:
            raise
        except (KafkaError, OSError) as exc:
            last = exc
        time.sleep(0.25)
    raise BrokerError(f"no metadata answer from {bootstrap} within {timeout:.0f}s: {last}")


def accepts(host: str, port: int) -> bool:
    """Something accepts connections there (the Kafka handshake is the client's to try)."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _cluster_id() -> str:
    """Kafka's own format (URL-safe base64 of a UUID). It starts with "-" one time in 64, hence
    ``--cluster-id=<id>`` above: as a separate argument the tool would take it for an option."""
    import base64

    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the JVM does: TIME_WAIT is no conflict
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


_GIVEN: set[int] = set()  # ports this process handed out already


def _ephemeral_low() -> int:
    """The first port of the kernel's ephemeral range (what port 0 and client sockets get)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A loopback port for a process that cannot bind port 0 itself and report it (a Kafka broker:
    its quorum and listeners are named before it starts). Chosen below the ephemeral range, so that
    no client socket of any process takes it by accident between now and the bind (the kernel gives
    ephemeral ports to connecting sockets at any moment), free now, and never handed out twice by
    this process. Our own services bind port 0 instead and report the port they got."""
    low = _ephemeral_low()
    for _ in range(500):
        port = random.randrange(10000, max(low, 10001))
        if port in _GIVEN:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _GIVEN.add(port)
        return port
    raise OSError(f"no free loopback port below {low}")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child (exited, not yet reaped) counts as gone.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return True


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


# -- which broker a command uses ------------------------------------------------------------
def configured_bootstrap() -> str:
    """LIANDONG_BOOTSTRAP_SERVERS when set, else the running local broker; BrokerError when neither."""
    external = get_settings().bootstrap_servers
    if external:
        return external
    info = LocalBroker().info()
    if info is None or not info.alive():
        raise BrokerError("no broker: start one with `liandong broker start` or set LIANDONG_BOOTSTRAP_SERVERS")
    return info.bootstrap_servers


@contextlib.contextmanager
def broker_for(broker: LocalBroker | None = None, *, keep: bool = False,
               announce: Callable[[str], None] | None = None) -> Iterator[str]:
    """The bootstrap servers for a block: LIANDONG_BOOTSTRAP_SERVERS when set; else ``broker``
    (default: the local one, reused if it is already running), started for the block and stopped
    after it unless ``keep``."""
    external = get_settings().bootstrap_servers
    if external:
        yield external
        return
    shared = broker is None
    broker = broker or LocalBroker()
    already = broker.info() if shared else None
    if already and already.alive():
        yield already.bootstrap_servers
        return
    if announce:
        announce("starting the local Kafka broker (first run fetches its jars from Maven Central) …")
    info = broker.start()
    try:
        yield info.bootstrap_servers
    finally:
        if not keep:
            broker.stop()
            if announce:
                announce("local broker stopped")
