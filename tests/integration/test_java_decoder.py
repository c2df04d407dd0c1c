"""Java's Apache Avro decodes Liandong's message values.

`tests/java/DecodeLiandong.java` hands each value to ``org.apache.avro.message.BinaryMessageDecoder``
(``GenericData.get()`` and the expanded writer schema) and prints the record as JSON. The decoder
computes the schema's CRC-64-AVRO fingerprint itself and reads the 8 fingerprint bytes as a
little-endian long, so a decoded record shows that Liandong's single-object encoding is the one
the specification (and Java) means; a value whose fingerprint was altered must be rejected.

The Avro jars come from Maven Central once (``tests/java/pom.xml``) into
``<cache dir>/java-avro/``, like the Kafka broker's jars; one JVM decodes every good value and one
more checks the rejections.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from liandong import EVENT_TYPES, HEADER_LEN, MAGIC, Codec, SchemaCatalogue, get_settings
from liandong.examples import example_record

JAVA_DIR = Path(__file__).resolve().parent.parent / "java"
POM = JAVA_DIR / "pom.xml"
PROGRAM = JAVA_DIR / "DecodeLiandong.java"
NOW = datetime(2026, 3, 14, 9, 30, 15, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: Event type -> (case number, unit, fields set over the example record). The values differ from
#: the examples' defaults (first enum symbol, "示例"), so finding them in Java's output means they
#: were decoded, not guessed.
CASES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "petition.registered": ("140214-2026-000101", "JUSTICE", {
        "channel": "HOTLINE_12345", "category_hint": "HEATING", "summary": "供暖不达标, 室温 12°C (via 12345)"}),
    "case.handoff.requested": ("140214-2026-000102", "HOUSING", {
        "role": "CO", "mode": "ASSIGN", "category": "PROPERTY_MANAGEMENT", "summary": "物业费争议 \"quoted\" \\ backslash", "attempt": 3}),
    "case.resolved": ("140214-2026-000103", "POLICE", {
        "outcome": "NOT_SUPPORTED", "tag": "HANDLED_BY_LAW", "opinion": "依法不予支持; 已告知复查途径"}),
    "deadletter": ("140214-2026-000104", "JUSTICE", {
        "reason": "UNKNOWN_SCHEMA", "error": "no known schema has fingerprint 0011223344556677", "service": "triage",
        "source_partition": 7, "source_offset": 123456789012,
        "key": b"140214-2026-000104", "value": b"\xc3\x01\x00\x11\x22\x33\x44\x55\x66\x77\xe6\x00",
        "headers": {"ce_type": b"liandong.case.resolved"}}),
}

#: Per event type: (field path, value) pairs Java's output must hold. The case number for the case
#: events, an enum symbol, a string field.
DISTINCTIVE: dict[str, list[tuple[str, Any]]] = {
    "petition.registered": [("case.case_number", "140214-2026-000101"), ("channel", "HOTLINE_12345"),
                            ("summary", "供暖不达标, 室温 12°C (via 12345)")],
    "case.handoff.requested": [("case.case_number", "140214-2026-000102"), ("unit", "HOUSING"), ("role", "CO"),
                               ("summary", "物业费争议 \"quoted\" \\ backslash")],
    "case.resolved": [("case.case_number", "140214-2026-000103"), ("outcome", "NOT_SUPPORTED"), ("tag", "HANDLED_BY_LAW"),
                      ("opinion", "依法不予支持; 已告知复查途径")],
    "deadletter": [("reason", "UNKNOWN_SCHEMA"), ("source_topic", "liandong.bureau.petitions"), ("key", "140214-2026-000104"),
                   ("error", "no known schema has fingerprint 0011223344556677")],
}


# -- fixtures -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def avro_classpath() -> str:
    """The Avro jars, fetched with Maven once into the cache folder; a changed pom fetches again."""
    lib = get_settings().cache_dir / "java-avro"
    marker = lib / ".complete"
    stamp = hashlib.sha256(POM.read_bytes()).hexdigest()
    if not (marker.is_file() and marker.read_text().strip() == stamp):
        mvn = shutil.which("mvn")
        if mvn is None:
            pytest.fail("Maven (mvn) is needed to fetch the Avro jars; install it (apt-get install maven)")
        staging = lib.with_name(f"java-avro.partial-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        cmd = [mvn, "-q", "-B", "-f", str(POM), "dependency:copy-dependencies", f"-DoutputDirectory={staging}"]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=600)
        if result.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            pytest.fail(f"fetching the Avro jars failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
        (staging / ".complete").write_text(stamp + "\n")
        shutil.rmtree(lib, ignore_errors=True)
        try:
            staging.rename(lib)
        except OSError:  # another test run put them there first
            shutil.rmtree(staging, ignore_errors=True)
    assert (lib / ".complete").read_text().strip() == stamp
    assert list(lib.glob("avro-1.12.*.jar")), f"no avro jar in {lib}"
    return f"{lib}/*"


@pytest.fixture(scope="module")
def catalogue() -> SchemaCatalogue:
    return SchemaCatalogue(get_settings().schemas_dir)


@pytest.fixture(scope="module")
def encoded(catalogue: SchemaCatalogue, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[dict[str, Any], Path, Path]]:
    """Event type -> (record, schema file, value file)."""
    folder = tmp_path_factory.mktemp("java-decoder")
    codec = Codec(catalogue)
    out = {}
    for name, (case_number, unit, fields) in CASES.items():
        record = example_record(catalogue, name, case_number=case_number, unit=unit, now=NOW)
        record.update(fields)
        message = codec.encode(name, record, source="/test")
        assert message.value[:2] == MAGIC
        schema_file = folder / f"{name}.avsc"
        schema_file.write_text(json.dumps(catalogue.expanded(EVENT_TYPES[name].schema), ensure_ascii=False), encoding="utf-8")
        value_file = folder / f"{name}.bin"
        value_file.write_bytes(message.value)
        out[name] = (record, schema_file, value_file)
    return out


def run_java(classpath: str, *args: Path) -> subprocess.CompletedProcess[str]:
    java = shutil.which("java")
    if java is None:
        pytest.fail("Java 17+ is needed (the same JDK that runs the local Kafka broker)")
    return subprocess.run([java, "-cp", classpath, str(PROGRAM), *map(str, args)],
                          capture_output=True, text=True, encoding="utf-8", check=False, timeout=180)


# -- tests ----------------------------------------------------------------------------------
def test_java_binary_message_decoder_reads_every_value(avro_classpath: str, encoded: dict[str, tuple[dict[str, Any], Path, Path]]) -> None:
    names = list(encoded)
    args = [f for name in names for f in encoded[name][1:]]
    result = run_java(avro_classpath, *args)
    assert result.returncode == 0, f"Java rejected a Liandong value:\n{result.stderr}"
    lines = result.stdout.splitlines()
    assert len(lines) == len(names), result.stdout
    for name, line in zip(names, lines, strict=True):
        decoded = json.loads(line)
        record = encoded[name][0]
        for path, expected in DISTINCTIVE[name]:
            assert _at(decoded, path) == expected, f"{name}: {path}"
        assert decoded["event_id"] == str(record["event_id"])
        assert decoded["occurred_at"] == (NOW - EPOCH) // timedelta(milliseconds=1)
        # The whole record, field by field, as GenericData prints it.
        assert decoded == _as_generic_json(record), name


def test_java_rejects_an_altered_fingerprint(avro_classpath: str, encoded: dict[str, tuple[dict[str, Any], Path, Path]],
                                             tmp_path: Path) -> None:
    _, schema_file, value_file = encoded["case.resolved"]
    value = value_file.read_bytes()
    fp = value[2:HEADER_LEN]
    altered = {
        # The same 8 bytes in big-endian order: were Java to read the fingerprint the other way, this one would decode.
        "reversed": fp[::-1],
        "one-bit": bytes([fp[0] ^ 0x01]) + fp[1:],
    }
    args: list[Path] = []
    for label, bad_fp in altered.items():
        assert bad_fp != fp
        bad = tmp_path / f"{label}.bin"
        bad.write_bytes(MAGIC + bad_fp + value[HEADER_LEN:])
        args += [schema_file, bad]
    result = run_java(avro_classpath, *args)
    assert result.returncode != 0
    assert result.stdout == ""
    errors = result.stderr.splitlines()
    assert len(errors) == len(altered), result.stderr
    for (label, bad_fp), error in zip(altered.items(), errors, strict=True):
        assert f"{label}.bin" in error
        assert "MissingSchemaException" in error and "Cannot resolve schema for fingerprint" in error, error
        # Java names the fingerprint it looked for: the 8 bytes read as a little-endian long.
        assert error.endswith(f": {int.from_bytes(bad_fp, 'little', signed=True)}"), error


# -- helpers --------------------------------------------------------------------------------
def _at(node: Any, path: str) -> Any:
    for part in path.split("."):
        node = node[part]
    return node


def _as_generic_json(value: Any) -> Any:
    """A Python record as GenericData.toString() shows its decoded counterpart: no logical type
    conversions (uuid as its string, timestamp-millis as the long, date as days), bytes as
    ISO-8859-1 characters."""
    if isinstance(value, dict):
        return {k: _as_generic_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_generic_json(v) for v in value]
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return (value - EPOCH) // timedelta(milliseconds=1)
    if isinstance(value, date):
        return (value - date(1970, 1, 1)).days
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return value
