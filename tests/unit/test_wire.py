"""The wire format: Avro single-object encoding, CloudEvents headers, evolution and rejects."""

from __future__ import annotations

import io
import json
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import fastavro
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liandong import (
    EVENT_TYPES,
    Bus,
    Codec,
    InvalidEvent,
    SchemaCatalogue,
    UndecodableMessage,
    UnknownSchema,
    get_settings,
)
from liandong.examples import example_record
from tests.strategies import from_schema

SCHEMAS = get_settings().schemas_dir
CATALOGUE = SchemaCatalogue(SCHEMAS)
CODEC = Codec(CATALOGUE)


@pytest.mark.parametrize("fullname", CATALOGUE.event_schemas)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_schema_round_trips_generated_records(fullname: str, data: st.DataObject) -> None:
    record = data.draw(from_schema(CATALOGUE.current(fullname).parsed))
    value = CODEC.encode_value(fullname, record)
    assert CODEC.decode_value(value) == (fullname, record)


# -- a reader that knows only the Avro specification -------------------------------------
def _spec_crc64_avro(data: bytes) -> int:
    """CRC-64-AVRO as printed in the Avro specification ("Schema Fingerprints")."""
    empty = 0xC15D213AA4D7A795
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (empty & -(fp & 1))
        table.append(fp)
    fp = empty
    for b in data:
        fp = (fp >> 8) ^ table[(fp ^ b) & 0xFF]
    return fp


_PRIMITIVE_NAMES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}


def _spec_canonical(node) -> str:
    """Parsing Canonical Form per the specification: PRIMITIVES, FULLNAMES, STRIP, ORDER, no whitespace.
    (The schemas are already expanded with full names.)"""
    if isinstance(node, str):
        return json.dumps(node)
    if isinstance(node, list):
        return "[" + ",".join(_spec_canonical(n) for n in node) + "]"
    if node["type"] in _PRIMITIVE_NAMES or isinstance(node["type"], (dict, list)):
        return _spec_canonical(node["type"])
    parts = []
    for key in ("name", "type", "fields", "symbols", "items", "values", "size"):
        if key not in node:
            continue
        value = node[key]
        if key == "fields":
            rendered = "[" + ",".join(
                '{"name":' + json.dumps(f["name"]) + ',"type":' + _spec_canonical(f["type"]) + "}" for f in value) + "]"
        elif key in ("items", "values"):
            rendered = _spec_canonical(value)
        else:
            rendered = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        parts.append(json.dumps(key) + ":" + rendered)
    return "{" + ",".join(parts) + "}"


@pytest.mark.parametrize("event", sorted(EVENT_TYPES))
def test_a_spec_only_reader_decodes_the_value(event: str) -> None:
    record = example_record(CATALOGUE, event)
    msg = CODEC.encode(event, record, source="/test")
    schema_json = json.dumps(CATALOGUE.expanded(EVENT_TYPES[event].schema))
    canonical = _spec_canonical(json.loads(schema_json)).encode()
    assert msg.value[:2] == b"\xc3\x01"
    (fp,) = struct.unpack("<Q", msg.value[2:10])
    assert fp == _spec_crc64_avro(canonical)
    body = fastavro.schemaless_reader(io.BytesIO(msg.value[10:]), fastavro.parse_schema(json.loads(schema_json)), None)
    assert body == record


def test_headers_follow_the_cloudevents_kafka_binding() -> None:
    record = example_record(CATALOGUE, "case.handoff.requested", case_number="140214-2026-000042", unit="HOUSING")
    msg = CODEC.encode("case.handoff.requested", record, source="/liandong/triage")
    headers = dict(msg.headers)
    assert msg.key == b"140214-2026-000042"
    assert msg.topic == "liandong.unit.housing.inbox"
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_id"] == str(record["event_id"]).encode()
    assert headers["ce_source"] == b"/liandong/triage"
    assert headers["ce_type"] == b"liandong.case.handoff.requested"
    assert headers["ce_subject"] == b"140214-2026-000042"
    assert headers["ce_time"].endswith(b"Z")
    assert headers["content-type"] == b"application/avro"
    event = CODEC.decode(msg.topic, msg.key, msg.value, msg.headers)
    assert event.type == "case.handoff.requested" and event.data == record


# -- rejects --------------------------------------------------------------------------
def _msg(event: str = "case.progress"):
    record = example_record(CATALOGUE, event, case_number="140214-2026-000007")
    return record, CODEC.encode(event, record, source="/test")


def test_garbage_is_undecodable() -> None:
    with pytest.raises(UndecodableMessage, match="C3 01"):
        CODEC.decode_value(b"{\"json\": true}")


def test_a_truncated_body_is_undecodable() -> None:
    _, msg = _msg()
    with pytest.raises(UndecodableMessage):
        CODEC.decode_value(msg.value[:-5])


def test_an_unknown_fingerprint_is_an_unknown_schema() -> None:
    _, msg = _msg()
    with pytest.raises(UnknownSchema, match="fingerprint"):
        CODEC.decode_value(msg.value[:2] + b"\x00" * 8 + msg.value[10:])


def test_a_payload_of_another_schema_than_its_type_is_invalid() -> None:
    _, progress = _msg("case.progress")
    _, accepted = _msg("case.accepted")
    with pytest.raises(InvalidEvent, match="wrong schema"):
        CODEC.decode(progress.topic, progress.key, accepted.value, progress.headers)


def test_a_key_that_is_not_the_case_number_is_invalid() -> None:
    _, msg = _msg()
    with pytest.raises(InvalidEvent, match="key"):
        CODEC.decode(msg.topic, b"someone-else", msg.value, msg.headers)


def test_an_event_on_a_foreign_topic_is_invalid() -> None:
    _, msg = _msg()
    with pytest.raises(InvalidEvent, match="does not belong"):
        CODEC.decode("liandong.bureau.petitions", msg.key, msg.value, msg.headers)


def test_missing_headers_are_invalid() -> None:
    _, msg = _msg()
    with pytest.raises(InvalidEvent, match="missing header ce_type"):
        CODEC.decode(msg.topic, msg.key, msg.value, [h for h in msg.headers if h[0] != "ce_type"])


# -- evolution --------------------------------------------------------------------------
def _evolve(tmp_path: Path, change) -> Path:
    """A copy of schemas/ where CaseProgressReported was changed by ``change``."""
    root = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, root)
    path = root / "liandong.events.CaseProgressReported.avsc"
    raw = json.loads(path.read_text())
    change(raw)
    path.write_text(json.dumps(raw, indent=2))
    return root


def test_an_old_writer_is_read_by_the_new_reader(tmp_path: Path) -> None:
    def add_attachments(raw: dict) -> None:
        raw["fields"].append({"name": "attachments", "type": {"type": "array", "items": "string"}, "default": [],
                              "doc": "Names of attached documents."})

    new = SchemaCatalogue(_evolve(tmp_path, add_attachments))
    old_record, old_msg = _msg()  # written with the released (current repository) schema
    fullname, record = Codec(new).decode_value(old_msg.value)
    assert fullname == "liandong.events.CaseProgressReported"
    assert record == {**old_record, "attachments": []}
    assert new.current(fullname).fingerprint != CATALOGUE.current(fullname).fingerprint


def _check(schemas: Path) -> subprocess.CompletedProcess[str]:
    env = {"LIANDONG_SCHEMAS_DIR": str(schemas), "PATH": "/usr/bin:/bin", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "liandong.cli", "schemas", "check"], capture_output=True,
                          text=True, env=env, check=False)


def test_schemas_check_accepts_a_compatible_change(tmp_path: Path) -> None:
    def add_optional(raw: dict) -> None:
        raw["fields"].append({"name": "remark", "type": ["null", "string"], "default": None, "doc": "A remark."})

    result = _check(_evolve(tmp_path, add_optional))
    assert result.returncode == 0, result.stdout + result.stderr


def test_schemas_check_rejects_an_incompatible_change_and_names_the_field(tmp_path: Path) -> None:
    def break_percent(raw: dict) -> None:
        for f in raw["fields"]:
            if f["name"] == "percent":
                f["type"] = "string"
        raw["fields"].append({"name": "inspector", "type": "string", "doc": "Required, no default: breaks old data."})

    result = _check(_evolve(tmp_path, break_percent))
    assert result.returncode == 1
    out = " ".join(result.stdout.split())
    assert "liandong.events.CaseProgressReported: not backward compatible" in out
    assert "/fields/5/type" in out  # percent changed type
    assert "inspector" in out  # new field without a default


def test_the_codec_bus_object_is_wired_from_settings(schemas_bus: Bus) -> None:
    assert schemas_bus.codec.schemas.directory == SCHEMAS
