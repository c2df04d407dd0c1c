"""The deployment files: docker-compose.yml, the Prometheus configuration and alerts, the Grafana
provisioning and dashboards. No Docker engine is needed: the compose file is validated against the
official Compose Specification schema (vendored in tests/data/compose-spec) and checked against the
service registry; Prometheus files with `promtool` (installed by `make test`); dashboards against the
metric definitions and their generator, tools/dashboards.py."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import string
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.utils import floatToGoString

from liandong import Settings, metrics
from services import registry

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
COMPOSE_SCHEMA = ROOT / "tests" / "data" / "compose-spec" / "compose-spec.json"
PROMETHEUS = ROOT / "deploy" / "prometheus"
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARDS = GRAFANA / "dashboards"
LOCAL_KAFKA = ROOT / "deploy" / "kafka" / "server.properties"
#: The one mounted file that is not in the repository: created by the user, git-ignored (docs/operators.md, "docker-compose").
SECRETS_FILE = "./secrets/liandong.json"
SECRETS_TARGET = "/run/secrets/liandong.json"
#: Its folder, mounted whole where the HTTP APIs' tokens file must be (created by `liandong tokens issue`).
SECRETS_DIR = "./secrets"


def _ignored() -> bool:
    ignored = {line.strip() for line in (ROOT / ".gitignore").read_text().splitlines()}
    return bool(ignored & {"secrets/", "/secrets/", "secrets"})

#: Every service `liandong run` knows, plus the consumer-lag exporter.
LIANDONG_SERVICES = sorted({*registry.SERVICES, "monitor"})
METRICS_PORTS = {"intake": 9401, "triage": 9402, "ledger": 9403, "monitor": 9404, "coordination": 9405,
                 "supervision": 9406, "notices": 9407, "console": 9408,
                 "justice": 9411, "hrss": 9412, "housing": 9413, "police": 9414, "street": 9415}
API_PORTS = {"intake": {8081}, "ledger": {8082}, "console": {8083}}
#: What each compose service publishes (on 127.0.0.1, host port = container port).
PUBLISHED = {**{s: {p} | API_PORTS.get(s, set()) for s, p in METRICS_PORTS.items()},
             "kafka": {19092}, "prometheus": {9090}, "grafana": {3000}, "init": set()}
PRINCIPALS = {"intake": "svc-intake", "triage": "svc-triage", "ledger": "svc-ledger", "monitor": "svc-monitor",
              "coordination": "svc-coordination", "supervision": "svc-supervision", "notices": "svc-notices",
              **{s: f"unit-{s}" for s in ("justice", "hrss", "housing", "police", "street")},
              # none fixed: the console reads as its own and acts as each signed-in account's principal
              "console": None}
DASHBOARD_UIDS = {"liandong-bus", "liandong-unit-sla", "liandong-supervision", "liandong-coordination"}
PANEL_UNITS = {"s", "percentunit", "short"}


# -- fixtures -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = compose["services"]
    return out


def _promtool() -> str:
    """promtool, or a failure (not a skip) that says how to get it."""
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is not installed: run `make test`, which installs it (Debian package `prometheus`)",
                    pytrace=False)
    return path


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("liandong_tools_dashboards", ROOT / "tools" / "dashboards.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except ModuleNotFoundError as exc:
        pytest.fail(f"tools/dashboards.py cannot run ({exc}): run `make test`, which installs the test extra "
                    "(grafana-foundation-sdk)", pytrace=False)
    return module


@pytest.fixture(scope="module")
def dashboards() -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(DASHBOARDS.glob("*.json"))}


def _run(promtool: str, *args: str) -> None:
    result = subprocess.run([promtool, *args], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, f"promtool {' '.join(args)} failed:\n{result.stdout}{result.stderr}"


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def _published(service: dict[str, Any]) -> list[tuple[str, int, int]]:
    """(host ip, host port, container port) of each published port."""
    out = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            out.append((str(port.get("host_ip", "")), int(port["published"]), int(port["target"])))
            continue
        parts = str(port).split("/")[0].split(":")
        assert len(parts) == 3, f"{port!r}: publish as HOST_IP:HOST_PORT:CONTAINER_PORT"
        out.append((parts[0], int(parts[1]), int(parts[2])))
    return out


def _properties(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#"))
    return {k.strip(): v.strip() for k, v in pairs}


# -- docker-compose.yml -----------------------------------------------------------------------------
def test_compose_file_is_valid_against_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = json.loads(COMPOSE_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(compose), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)


def test_the_schema_rejects_what_compose_rejects() -> None:
    validator = jsonschema.Draft7Validator(json.loads(COMPOSE_SCHEMA.read_text(encoding="utf-8")))
    assert not validator.is_valid({"services": {"a": {"image": "x:1", "depends_on": {"b": {"condition": "started"}}}}})
    assert not validator.is_valid({"services": {"a": {"image": "x:1", "healthcheck": {"test": "x", "every": "5s"}}}})
    assert not validator.is_valid({"servces": {}})


def test_compose_file_has_no_version_key(compose: dict[str, Any]) -> None:
    assert "version" not in compose, "the `version` key is obsolete in the Compose Specification: remove it"


def test_every_image_is_pinned(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        image = service.get("image")
        assert image, f"{name}: name the image (with a tag), also when it is built"
        repository, _, tag = image.rpartition(":")
        assert repository and "/" not in tag and tag, f"{name}: image {image!r} has no tag"
        assert tag != "latest", f"{name}: image {image!r} is not pinned"


def test_everything_mounted_or_built_exists(compose: dict[str, Any], services: dict[str, dict[str, Any]]) -> None:
    missing = []
    named_volumes = set(compose.get("volumes") or {})
    for name, service in services.items():
        build = service.get("build")
        if build is not None:
            context = ROOT / (build if isinstance(build, str) else build.get("context", "."))
            dockerfile = context / ("Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile"))
            missing += [f"{name}: build {p}" for p in (context, dockerfile) if not p.exists()]
        for volume in service.get("volumes", []):
            source = volume.get("source", "") if isinstance(volume, dict) else str(volume).split(":")[0]
            if source == SECRETS_DIR:
                assert _ignored(), f"{SECRETS_DIR} must stay git-ignored"
            elif source.startswith((".", "/", "~")):
                if not (ROOT / source).exists():
                    missing.append(f"{name}: volume {source}")
            else:
                assert source in named_volumes, f"{name}: named volume {source!r} is not declared"
    for section in ("configs", "secrets"):
        for key, entry in (compose.get(section) or {}).items():
            source = entry.get("file")
            if source is None:
                assert "content" in entry or "environment" in entry or "external" in entry, f"{section}.{key}: no source"
            elif source == SECRETS_FILE:
                assert _ignored(), f"{SECRETS_FILE} must stay git-ignored"
            elif not (ROOT / source).exists():
                missing.append(f"{section}.{key}: {source}")
    assert not missing, f"not in the repository: {missing}"


def test_the_http_apis_read_a_tokens_file_the_host_can_change(services: dict[str, dict[str, Any]]) -> None:
    for name in ("intake", "ledger"):
        service = services[name]
        tokens = Path(_environment(service)["LIANDONG_TOKENS_FILE"])
        mounts = dict(str(v).split(":")[:2] for v in service.get("volumes", []))
        # A folder, not the file: the CLI replaces the file (rename), which a file mount would not show.
        assert mounts.get(SECRETS_DIR) == str(tokens.parent), f"{name}: mount {SECRETS_DIR} at {tokens.parent}"


def test_compose_runs_every_liandong_service(services: dict[str, dict[str, Any]]) -> None:
    assert set(LIANDONG_SERVICES) == set(METRICS_PORTS), "a new service needs a /metrics port here and in deploy/"
    for name in LIANDONG_SERVICES:
        assert name in services, f"docker-compose.yml has no service {name!r}"
        service = services[name]
        env = _environment(service)
        assert service.get("command") == ["run", name]
        assert env.get("LIANDONG_PRINCIPAL") == PRINCIPALS[name]
        assert env.get("LIANDONG_BOOTSTRAP_SERVERS") == "kafka:9092"
        assert env.get("LIANDONG_BIND_HOST") == "0.0.0.0"
        assert env.get("LIANDONG_SECRETS_FILE") == SECRETS_TARGET
        assert {"source": "liandong", "target": Path(SECRETS_TARGET).name} in service.get("secrets", [])
        assert service.get("depends_on", {}).get("kafka", {}).get("condition") == "service_healthy"
        assert service.get("depends_on", {}).get("init", {}).get("condition") == "service_completed_successfully"
        test = " ".join(service.get("healthcheck", {}).get("test", []))
        assert f"http://127.0.0.1:{METRICS_PORTS[name]}/metrics" in test, f"{name}: healthcheck must GET its /metrics"
    runs = {s.get("command", [None, None])[1] for s in services.values() if (s.get("command") or [""])[0] == "run"}
    assert runs == set(LIANDONG_SERVICES), f"compose runs services the registry does not know: {runs - set(LIANDONG_SERVICES)}"


def _registry_metrics_port(spec: Any) -> int | None:
    if hasattr(spec, "metrics_port"):
        return int(spec.metrics_port)
    base = Settings.model_fields.get("metrics_port_base")
    if hasattr(spec, "metrics_offset") and base is not None:
        return int(base.default) + int(spec.metrics_offset)
    return None


def test_compose_matches_the_service_registry_where_it_says_so(services: dict[str, dict[str, Any]]) -> None:
    for name, spec in registry.SPECS.items():
        assert _environment(services[name]).get("LIANDONG_PRINCIPAL") == PRINCIPALS[name]
        assert PRINCIPALS[name] in (spec.principal, None)
        port = _registry_metrics_port(spec)
        assert port in (None, METRICS_PORTS[name]), f"{name}: /metrics on {port} by default, {METRICS_PORTS[name]} in deploy/"


def test_ports_are_published_on_loopback_only(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) == set(PUBLISHED), f"unexpected compose services: {set(services) ^ set(PUBLISHED)}"
    for name, service in services.items():
        published = _published(service)
        assert all(ip == "127.0.0.1" for ip, _, _ in published), f"{name}: publish on 127.0.0.1 only"
        assert all(host == container for _, host, container in published), f"{name}: host port must equal container port"
        assert {host for _, host, _ in published} == PUBLISHED[name], f"{name}: published {published}"


def test_init_provisions_topics_and_principals_as_admin(services: dict[str, dict[str, Any]]) -> None:
    init = services["init"]
    script = " ".join(init.get("command", []))
    assert "liandong topics create" in script and "liandong principals create" in script
    assert script.index("topics create") < script.index("principals create")
    assert init.get("restart") == "no"
    assert _environment(init).get("LIANDONG_PRINCIPAL") == "admin"
    assert init.get("depends_on") == {"kafka": {"condition": "service_healthy"}}


def test_dependencies_wait_for_health_or_completion(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for target, dependency in (service.get("depends_on") or {}).items():
            assert target in services, f"{name} depends on unknown {target}"
            condition = dependency["condition"]
            assert condition in {"service_healthy", "service_completed_successfully"}, f"{name} -> {target}: {condition}"
            if condition == "service_healthy":
                assert "healthcheck" in services[target], f"{name} waits for {target} to be healthy; it has no healthcheck"
            else:
                assert services[target].get("restart") == "no", f"{target} must be one-shot"
    checks = {name: " ".join(s.get("healthcheck", {}).get("test", [])) for name, s in services.items()}
    assert "kafka-broker-api-versions.sh" in checks["kafka"]
    assert "/-/healthy" in checks["prometheus"]
    assert "/api/health" in checks["grafana"]
    assert services["grafana"]["depends_on"] == {"prometheus": {"condition": "service_healthy"}}


def test_compose_kafka_mirrors_the_local_broker_configuration(compose: dict[str, Any]) -> None:
    """The same security and one-node settings as deploy/kafka/server.properties; only where it listens differs."""
    # as `liandong broker start` fills it for its one node
    one_node = string.Template(LOCAL_KAFKA.read_text(encoding="utf-8")).safe_substitute(node_id=1, replication=1, min_isr=1)
    local = _properties(one_node)
    container = _properties(compose["configs"]["kafka-server-properties"]["content"])
    start = compose["configs"]["kafka-start"]["content"]
    networking = {"listeners", "advertised.listeners", "controller.quorum.voters", "listener.security.protocol.map",
                  "log.dirs"}
    for key, value in local.items():
        if "jaas.config" in key:
            assert f"{key}=" in start, f"kafka-start must write {key} (it holds the admin password)"
        elif key not in networking:
            assert container.get(key) == value, f"{key}: {container.get(key)!r} in docker-compose.yml, {value!r} locally"
    local_protocols = {p.split(":")[1] for p in local["listener.security.protocol.map"].split(",")}
    container_protocols = {p.split(":")[1] for p in container["listener.security.protocol.map"].split(",")}
    assert container_protocols == local_protocols
    assert "--add-scram" in start and "SCRAM-SHA-256=[name=admin," in start


# -- Prometheus ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("config", "host"), [("prometheus.yml", None), ("prometheus.local.yml", "127.0.0.1")])
def test_prometheus_scrapes_every_service_as_its_own_job(config: str, host: str | None) -> None:
    data = yaml.safe_load((PROMETHEUS / config).read_text(encoding="utf-8"))
    interval = data["global"]["scrape_interval"]
    assert 5 <= int(interval.rstrip("s")) <= 15, interval
    assert data["rule_files"] == ["alerts.yml"]
    jobs = {job["job_name"]: [t for sc in job["static_configs"] for t in sc["targets"]] for job in data["scrape_configs"]}
    assert jobs == {name: [f"{host or name}:{port}"] for name, port in METRICS_PORTS.items()}
    assert all(job.get("metrics_path", "/metrics") == "/metrics" for job in data["scrape_configs"])


def test_prometheus_configs_pass_promtool() -> None:
    promtool = _promtool()
    for config in ("prometheus.yml", "prometheus.local.yml"):
        _run(promtool, "check", "config", str(PROMETHEUS / config))


def test_alert_rules_pass_promtool_and_their_unit_tests() -> None:
    promtool = _promtool()
    _run(promtool, "check", "rules", str(PROMETHEUS / "alerts.yml"))
    _run(promtool, "test", "rules", str(PROMETHEUS / "alerts.test.yml"))


def test_every_alert_has_a_severity_summary_and_description() -> None:
    rules = [r for g in yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"] for r in g["rules"]]
    names = {r["alert"] for r in rules}
    assert {"LiandongServiceDown", "LiandongConsumerLagHigh", "LiandongDeadLetters", "LiandongOverdueCasesGrowing",
            "LiandongAuthorizationDenied", "LiandongWorkerNotReady"} <= names
    tested = (PROMETHEUS / "alerts.test.yml").read_text()
    for rule in rules:
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]
        assert f"alertname: {rule['alert']}" in tested, f"{rule['alert']} has no test in alerts.test.yml"
        assert _metric_names(rule["expr"]) <= _defined_metrics(), rule["expr"]


# -- Grafana ---------------------------------------------------------------------------------------------
def test_grafana_provisioning_matches_compose(services: dict[str, dict[str, Any]]) -> None:
    datasources = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())["datasources"]
    assert [(d["uid"], d["type"], d["url"]) for d in datasources] == [("prometheus", "prometheus", "http://prometheus:9090")]
    scrape = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())["global"]["scrape_interval"]
    assert datasources[0]["jsonData"]["timeInterval"] == scrape, "$__rate_interval needs the scrape interval"
    providers = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "liandong.yml").read_text())["providers"]
    assert [p["type"] for p in providers] == ["file"]
    mounts = dict(v.split(":")[:2] for v in services["grafana"]["volumes"])
    assert mounts["./deploy/grafana/dashboards"] == providers[0]["options"]["path"] == "/var/lib/grafana/dashboards"
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"


def test_committed_dashboards_are_what_the_generator_writes(generator: ModuleType) -> None:
    expected = generator.rendered()
    committed = {p: p.read_text(encoding="utf-8") for p in DASHBOARDS.glob("*.json")}
    assert set(committed) == set(expected), "run `.venv/bin/python tools/dashboards.py` and commit the JSON"
    stale = [p.name for p, text in expected.items() if committed[p] != text]
    assert not stale, f"out of date: {stale}; run `.venv/bin/python tools/dashboards.py` and commit the JSON"
    assert generator.rendered() == expected, "the generator's output must be deterministic"


def _panels(model: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in model["panels"]:
        if panel["type"] == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


def test_every_dashboard_has_a_fixed_uid_and_the_datasource_and_unit_variables(dashboards: dict[str, Any]) -> None:
    assert set(dashboards) == DASHBOARD_UIDS
    for stem, model in dashboards.items():
        assert model["uid"] == stem
        variables = {v["name"]: v for v in model["templating"]["list"]}
        ds, unit = variables["datasource"], variables["unit"]
        assert (ds["type"], ds["query"]) == ("datasource", "prometheus")
        assert (unit["type"], unit["query"]) == ("query", "label_values(liandong_open_cases, unit)")
        assert unit["multi"] and unit["includeAll"] and unit["datasource"]["uid"] == "${datasource}"


def test_every_panel_uses_the_datasource_variable_and_a_sensible_unit(dashboards: dict[str, Any]) -> None:
    for uid, model in dashboards.items():
        for panel in _panels(model):
            where = f"{uid} / {panel['title']}"
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, where
            assert panel["targets"], where
            assert all(t["datasource"]["uid"] == "${datasource}" for t in panel["targets"]), where
            unit = panel["fieldConfig"]["defaults"].get("unit")
            assert unit in PANEL_UNITS, f"{where}: unit {unit!r}"
            exprs = [t["expr"] for t in panel["targets"]]
            if any(re.search(r"histogram_quantile\([^,]+,.*_seconds_bucket", e) for e in exprs):
                assert unit == "s", f"{where}: latency in seconds"
            if any(" / " in e or "_ratio" in e for e in exprs):
                assert unit == "percentunit", f"{where}: a ratio"


def test_panel_queries_lists_every_committed_query(generator: ModuleType, dashboards: dict[str, Any]) -> None:
    committed = [(uid, p["title"], t["expr"]) for uid, model in dashboards.items() for p in _panels(model) for t in p["targets"]]
    assert sorted(generator.panel_queries()) == sorted(committed)


def test_every_query_uses_rate_interval_defined_metrics_and_the_unit_filter(dashboards: dict[str, Any]) -> None:
    queries = [(uid, p["title"], t["expr"]) for uid, model in dashboards.items() for p in _panels(model) for t in p["targets"]]
    assert {uid for uid, _, _ in queries} == DASHBOARD_UIDS
    defined, with_unit = _defined_metrics(), _metrics_with_unit_label()
    bucket_labels = {floatToGoString(b) for b in metrics.SIGNFOR_BUCKETS}
    for uid, title, expr in queries:
        where = f"{uid} / {title}: {expr}"
        assert all(r == "$__rate_interval" for r in re.findall(r"\[([^\]]*)\]", expr)), where
        for function in re.findall(r"\b(rate|increase|irate|delta|deriv)\(", expr):
            assert re.search(rf"\b{function}\([^\[]*\[\$__rate_interval\]\)", expr), where
        names = _metric_names(expr)
        assert names, where
        assert names <= defined, f"{where}: not in liandong/metrics.py: {names - defined}"
        for name in names & with_unit:
            assert re.search(rf'{name}\{{[^}}]*unit=~"\$unit"', expr), f"{where}: filter {name} on unit=~\"$unit\""
        assert set(re.findall(r'le="([^"]*)"', expr)) <= bucket_labels, f"{where}: not a sign-for bucket"


def test_every_query_is_valid_promql(generator: ModuleType, tmp_path: Path) -> None:
    promtool = _promtool()
    rules = [{"record": f"liandong:dashboard_query:{i}", "expr": generator.concrete(expr)}
             for i, (_, _, expr) in enumerate(generator.panel_queries())]
    assert all("$" not in r["expr"] for r in rules)
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard-queries", "rules": rules}]}))
    _run(promtool, "check", "rules", str(path))


def test_concrete_replaces_grafana_variables(generator: ModuleType) -> None:
    expr = 'sum by (unit) (rate(liandong_objections_total{unit=~"$unit", service=~"${service}"}[$__rate_interval]))'
    assert generator.concrete(expr, "1m", {"unit": "HRSS|POLICE"}) == (
        'sum by (unit) (rate(liandong_objections_total{unit=~"HRSS|POLICE", service=~".*"}[1m]))')
    with pytest.raises(KeyError):
        generator.concrete("up{job=~\"$nope\"}")


# -- metric names -----------------------------------------------------------------------------------------
_PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "and", "or",
                 "unless", "inf", "nan"}


def _metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (identifiers that are not functions, keywords or labels)."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"|`[^`]*`', '""', expr)
    s = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", s)
    s = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    names = set()
    for match in re.finditer(r"(?<![\w.$])[a-zA-Z_:][a-zA-Z0-9_:]*", s):
        if s[match.end():].lstrip().startswith("(") or match.group(0).lower() in _PROMQL_WORDS:
            continue
        names.add(match.group(0))
    return names


def _series_names(name: str, kind: str) -> set[str]:
    return {"counter": {f"{name}_total"}, "gauge": {name}, "histogram": {f"{name}_bucket", f"{name}_sum", f"{name}_count"},
            "summary": {name, f"{name}_sum", f"{name}_count"}}.get(kind, {name})


def _defined_metrics() -> set[str]:
    """Every series name the REGISTRY of liandong/metrics.py exposes, and Prometheus's own `up`."""
    names = {"up"}
    for family in metrics.REGISTRY.collect():
        names |= _series_names(family.name, family.type)
    return names


def _metrics_with_unit_label() -> set[str]:
    out: set[str] = set()
    for metric in vars(metrics).values():
        if isinstance(metric, MetricWrapperBase) and "unit" in metric._labelnames:
            out |= _series_names(metric._name, metric._type)
    assert out, "liandong/metrics.py defines no metric with a unit label"
    return out


def test_metric_name_parser() -> None:
    expr = ('histogram_quantile(0.9, sum by (unit, le) (rate(a_bucket{unit=~"$unit", le="1e+06"}[5m]))) / '
            "sum without (job) (b_total) > 1e-9 and on (unit) c or up")
    assert _metric_names(expr) == {"a_bucket", "b_total", "c", "up"}
    assert {"liandong_open_cases", "liandong_objections_total", "liandong_processing_duration_seconds_bucket"} <= (
        _defined_metrics())
    assert "liandong_objections_total" in _metrics_with_unit_label()
