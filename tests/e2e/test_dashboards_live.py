"""The operators' view, for real: every service against the real broker, a real Prometheus
(Debian's `prometheus`) scraping them, traffic driven through intake and the reference
departments; then every dashboard panel's PromQL and every alert rule is evaluated through
Prometheus' HTTP API. Each must parse, and each panel must return data."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from liandong import Bus
from liandong.broker import free_port
from services.registry import PIPELINE
from tests.conftest import ROOT, wait_for
from tests.e2e.stack import ProcessStack, petitions
from tools.dashboards import concrete, panel_queries

pytestmark = pytest.mark.timeout(900)


@pytest.fixture
def stack(bus: Bus, tmp_path: Path) -> Iterator[ProcessStack]:
    s = ProcessStack(bus.bootstrap_servers, bus.settings.secrets_path, tmp_path / "stack", "140203")
    s.start_all()
    try:
        yield s
    finally:
        s.stop_all()


@pytest.fixture
def prometheus(stack: ProcessStack, tmp_path: Path) -> Iterator[int]:
    binary = shutil.which("prometheus")
    assert binary, "Debian's prometheus is needed: `make test` installs it (apt-get install prometheus)"
    port = free_port()
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(ROOT / "deploy" / "prometheus" / "alerts.yml")],
        "scrape_configs": [
            {"job_name": name, "static_configs": [{"targets": [f"127.0.0.1:{stack.metrics_port(name)}"]}]}
            for name in PIPELINE
        ],
    }
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    proc = subprocess.Popen([binary, f"--config.file={path}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                             f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=open(tmp_path / "prometheus.log", "wb"), stderr=subprocess.STDOUT)  # noqa: SIM115
    try:
        wait_for(lambda: _get(port, "/-/ready") is not None, timeout=60, interval=0.2, message="Prometheus to be ready")
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _get(port: int, path: str) -> Any:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
            body = r.read()
            return json.loads(body) if body.startswith(b"{") else body
    except OSError:
        return None


def _query(port: int, expr: str) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr}),
                                    timeout=10) as r:
            return json.loads(r.read())  # type: ignore[no-any-return]
    except urllib.error.HTTPError as e:
        return json.loads(e.read())  # type: ignore[no-any-return]


def test_every_panel_returns_data_and_every_alert_rule_parses(stack: ProcessStack, prometheus: int) -> None:
    # every target is scraped
    wait_for(lambda: (r := _query(prometheus, "up == 1")) and len(r["data"]["result"]) == len(PIPELINE),
             timeout=60, interval=0.5, message="every service to be up in Prometheus")
    result = stack.submit(petitions(40, "dash"))
    assert result["registered"] == 40
    numbers = [r["case_number"] for r in result["results"]]
    wait_for(lambda: stack.settled(numbers), timeout=240, interval=1.0, message="the cases to settle")

    queries = [(uid, title, concrete(expr, rate_interval="5m")) for uid, title, expr in panel_queries()]
    assert len(queries) >= 20

    def empty_panels() -> list[str] | None:
        empty = []
        for uid, title, expr in queries:
            answer = _query(prometheus, expr)
            assert answer["status"] == "success", f"{uid} / {title}: {expr}: {answer.get('error')}"
            if not answer["data"]["result"]:
                empty.append(f"{uid} / {title}: {expr}")
        return empty or None

    # wait until a full scrape history makes every panel answer (rates need two samples)
    try:
        wait_for(lambda: empty_panels() is None, timeout=120, interval=2.0, message="every panel to return data")
    except AssertionError:
        raise AssertionError("panels without data:\n" + "\n".join(empty_panels() or [])) from None

    rules = yaml.safe_load((ROOT / "deploy" / "prometheus" / "alerts.yml").read_text())
    exprs = [r["expr"] for g in rules["groups"] for r in g["rules"]]
    assert exprs
    for expr in exprs:
        answer = _query(prometheus, expr)
        assert answer["status"] == "success", f"{expr}: {answer.get('error')}"
    loaded = _get(prometheus, "/api/v1/rules")
    assert sum(len(g["rules"]) for g in loaded["data"]["groups"]) == len(exprs)
    assert all(r["health"] in ("ok", "unknown") for g in loaded["data"]["groups"] for r in g["rules"])
