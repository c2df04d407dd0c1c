"""The AsyncAPI document for non-Python departments: current, valid against the official 3.0.0 schema,
and complete with respect to the topic catalogue."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from liandong import EVENT_TYPES, all_topics
from liandong.asyncapi import build_asyncapi, render_asyncapi

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "docs" / "asyncapi.yaml"
OFFICIAL_SCHEMA = ROOT / "tests" / "data" / "asyncapi" / "3.0.0.json"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return build_asyncapi()


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(json.loads(OFFICIAL_SCHEMA.read_text(encoding="utf-8")))


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def test_committed_document_is_current() -> None:
    assert COMMITTED.exists(), "docs/asyncapi.yaml is missing: run `liandong asyncapi`"
    assert COMMITTED.read_text(encoding="utf-8") == render_asyncapi(), (
        "docs/asyncapi.yaml is out of date with the topic catalogue: run `liandong asyncapi` and commit it"
    )


def test_rendering_is_deterministic_plain_yaml(document: dict[str, Any]) -> None:
    text = render_asyncapi()
    assert text == render_asyncapi()
    assert yaml.safe_load(text) == document
    assert "&id" not in text and "*id" not in text


def test_document_validates_against_the_official_asyncapi_3_schema(
    document: dict[str, Any], validator: jsonschema.Draft7Validator
) -> None:
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}" for e in errors)


def test_the_official_schema_rejects_a_broken_document(document: dict[str, Any], validator: jsonschema.Draft7Validator) -> None:
    broken = copy.deepcopy(document)
    channel = next(iter(broken["channels"].values()))
    channel["bindings"]["kafka"]["partitions"] = 0
    next(iter(broken["operations"].values()))["action"] = "publish"
    assert len(list(validator.iter_errors(broken))) == 2


def test_every_event_type_is_a_message_with_its_schema_file(document: dict[str, Any]) -> None:
    messages = document["components"]["messages"]
    assert set(messages) == set(EVENT_TYPES)
    for name, et in EVENT_TYPES.items():
        message = messages[name]
        assert message["headers"]["properties"]["ce_type"]["const"] == et.ce_type
        assert message["payload"]["schemaFormat"] == "application/vnd.apache.avro;version=1.9.0"
        assert message["payload"]["schema"] == {"$ref": f"../schemas/{et.schema}.avsc"}
        assert message["bindings"]["kafka"]["key"]["type"] == "string"


def test_every_referenced_file_exists_relative_to_docs(document: dict[str, Any]) -> None:
    files = [ref for ref in _refs(document) if not ref.startswith("#")]
    assert len(files) == len(EVENT_TYPES)
    for ref in files:
        assert (COMMITTED.parent / ref).is_file(), ref


def test_every_internal_reference_resolves(document: dict[str, Any]) -> None:
    for ref in _refs(document):
        if not ref.startswith("#/"):
            continue
        node: Any = document
        for part in ref[2:].split("/"):
            assert isinstance(node, dict) and part in node, f"{ref} points nowhere"
            node = node[part]


def test_every_topic_is_a_channel_with_its_events(document: dict[str, Any]) -> None:
    channels = {channel["address"]: channel for channel in document["channels"].values()}
    assert list(channels) == [spec.name for spec in all_topics()]
    carried = set()
    for spec in all_topics():
        channel = channels[spec.name]
        assert channel["bindings"]["kafka"]["topic"] == spec.name
        assert ("tags" in channel) == spec.pii
        expected = {name for name, et in EVENT_TYPES.items() if re.fullmatch(_pattern(et.topic), spec.name)}
        assert set(channel["messages"]) == expected, spec.name
        carried |= expected
    assert carried == set(EVENT_TYPES)


def test_a_unit_receives_its_inbox_and_sends_its_replies(document: dict[str, Any]) -> None:
    actions = {
        document["channels"][op["channel"]["$ref"].rpartition("/")[2]]["address"]: op["action"]
        for op in document["operations"].values()
    }
    for spec in all_topics():
        if spec.name.endswith(".inbox"):
            assert actions.pop(spec.name) == "receive"
        elif spec.name.endswith(".replies"):
            assert actions.pop(spec.name) == "send"
    assert not actions, f"operations on topics a department must not use: {sorted(actions)}"



def _pattern(template: str) -> str:
    return re.escape(template).replace(re.escape("{unit}"), "[a-z-]+")
