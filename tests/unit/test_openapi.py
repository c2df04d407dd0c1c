"""The OpenAPI documents: generated from the endpoints' declarations, committed under docs/openapi/,
valid OpenAPI 3.1, every error described; and the token commands that go with them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from liandong.tokens import TokenStore
from services.registry import apis

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = {name: api.document() for name, api in apis().items()}


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_the_committed_document_is_the_one_the_code_serves(name: str) -> None:
    committed = json.loads((ROOT / "docs" / "openapi" / f"{name}.json").read_text(encoding="utf-8"))
    assert committed == DOCUMENTS[name], f"docs/openapi/{name}.json is out of date: run `liandong openapi`"


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_the_document_is_valid_openapi_3_1(name: str) -> None:
    validate(DOCUMENTS[name], cls=OpenAPIV31SpecValidator)


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, item in document["paths"].items() for method, op in item.items()]


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_every_operation_describes_its_errors_and_who_may_call_it(name: str) -> None:
    for path, method, op in _operations(DOCUMENTS[name]):
        where = f"{method.upper()} {path}"
        responses = op["responses"]
        assert "200" in responses, where
        if path == "/healthz":
            assert "security" not in op
            continue
        assert op["security"] == [{"bearer": []}] and op["x-liandong-roles"], where
        assert {"401", "403"} <= set(responses), where
        if op.get("parameters") or op.get("requestBody"):
            assert "400" in responses, where
        for status, answer in responses.items():
            assert answer["description"], (where, status)
            if status.startswith("4") or status.startswith("5"):
                schema = answer["content"]["application/json"]["schema"]["$ref"]
                assert schema in ("#/components/schemas/Problem", "#/components/schemas/Registration"), (where, status)


def test_enumerated_parameters_say_what_is_allowed() -> None:
    (cases,) = [op for path, _, op in _operations(DOCUMENTS["ledger"]) if path == "/cases"]
    unit = next(p for p in cases["parameters"] if p["name"] == "unit")
    assert set(unit["schema"]["enum"]) == {"JUSTICE", "HRSS", "HOUSING", "POLICE", "STREET_OFFICE"}


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LIANDONG_TOKENS_FILE": str(tmp_path / "tokens.json")}
    return subprocess.run([sys.executable, "-m", "liandong.cli", "tokens", *args], env=env, capture_output=True, text=True,
                          timeout=60)


def test_tokens_are_issued_listed_and_revoked_from_the_command_line(tmp_path: Path) -> None:
    issued = _cli(tmp_path, "issue", "unit-justice", "--note", "司法局 case system")
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip()  # alone on stdout (the note is on stderr)
    assert "unit-justice (UNIT, unit JUSTICE)" in issued.stderr
    store = TokenStore(tmp_path / "tokens.json")
    caller = store.caller(token)
    assert caller is not None and caller.unit == "JUSTICE"
    # ld_<id>_<secret>: the secret is URL-safe base64, which may itself hold "_" (even first)
    token_id, secret = token.removeprefix("ld_").split("_", 1)
    listed = _cli(tmp_path, "list")
    assert token_id in listed.stdout and "unit-justice" in listed.stdout and secret not in listed.stdout
    assert _cli(tmp_path, "revoke", token_id).returncode == 0
    assert store.caller(token) is None
    wrong = _cli(tmp_path, "issue", "root")
    assert wrong.returncode != 0 and "root" in wrong.stdout + wrong.stderr and "Traceback" not in wrong.stderr
