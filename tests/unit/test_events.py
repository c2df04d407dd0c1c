"""Typed events: the generated classes are current with the schemas, say what the schemas say, and
travel through the codec byte for byte as the plain records do."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liandong import EVENT_TYPES, Codec, EventRecord, SchemaCatalogue, event_type, events, get_settings
from liandong.codegen import TARGET, events_module
from tests.strategies import from_schema

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = SchemaCatalogue(get_settings().schemas_dir)
CODEC = Codec(CATALOGUE)


def test_the_committed_module_is_generated_from_the_current_schemas() -> None:
    assert (ROOT / TARGET).read_text(encoding="utf-8") == events_module(CATALOGUE), (
        f"{TARGET} is out of date with schemas/: run `liandong schemas codegen` and commit it")


def test_every_event_type_has_its_class() -> None:
    assert set(events.EVENT_CLASSES) == set(EVENT_TYPES)
    for name, cls in events.EVENT_CLASSES.items():
        assert issubclass(cls, EventRecord)
        assert name == cls.TYPE
        assert event_type(name).schema == cls.SCHEMA


@pytest.mark.parametrize("fullname", sorted(CATALOGUE.raw))
def test_each_class_has_the_schema_fields_or_symbols_in_order(fullname: str) -> None:
    raw = CATALOGUE.raw[fullname]
    cls = getattr(events, fullname.rpartition(".")[2])
    if raw["type"] == "enum":
        assert issubclass(cls, StrEnum)
        assert [m.value for m in cls] == raw["symbols"]
        return
    fields = dataclasses.fields(cls)
    assert [f.name for f in fields] == [f["name"] for f in raw["fields"]]
    for f, spec in zip(fields, raw["fields"], strict=True):
        has_default = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        assert has_default == ("default" in spec), f"{fullname}.{f.name}: default differs from the schema"


@pytest.mark.parametrize("name", sorted(EVENT_TYPES))
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_typed_events_encode_to_the_same_bytes(name: str, data: st.DataObject) -> None:
    fullname = event_type(name).schema
    record = data.draw(from_schema(CATALOGUE.current(fullname).parsed))
    value = CODEC.encode_value(fullname, record)
    _, decoded = CODEC.decode_value(value)
    typed = events.EVENT_CLASSES[name].from_record(decoded)
    assert CODEC.encode_value(fullname, typed.to_record()) == value
    assert events.EVENT_CLASSES[name].from_record(typed.to_record()) == typed


def test_a_consumed_event_decodes_to_its_class_and_back() -> None:
    rejected = events.CaseHandoffRejected(
        event_id=uuid.uuid4(), occurred_at=datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
        case=events.CaseRef(case_number="140214-2026-000001", petition_id=uuid.uuid4(), district_code="140214"),
        unit=events.Unit.POLICE, reason="不属于本单位职责")
    msg = CODEC.encode_event(rejected, source="/liandong/test")
    assert msg.topic == "liandong.unit.police.replies"
    assert dict(msg.headers)["ce_type"] == b"liandong.case.handoff.rejected"
    ev = CODEC.decode(msg.topic, msg.key, msg.value, msg.headers)
    assert ev.payload == rejected
    assert ev.payload.suggested_unit is events.Unit.UNKNOWN  # the schema's default
    assert ev.data["unit"] == "POLICE"  # the plain record stays as it was


def test_a_record_with_an_unknown_field_or_symbol_is_refused() -> None:
    with pytest.raises(TypeError, match="no field"):
        events.CaseRef.from_record({"case_number": "x", "petition_id": str(uuid.uuid4()), "district_code": "1",
                                    "petitioner": "张三"})
    with pytest.raises(ValueError):
        events.Deadline.from_record({"clock": "TOMORROW", "due_at": datetime.now(UTC), "days": 1,
                                     "day_basis": "CALENDAR"})


def test_code_names_an_event_type_by_its_class_not_by_a_string() -> None:
    """Outside the catalogue (the type names' one home) and the transition table of the rules, an
    event type is ``SomeEvent.TYPE``: a typo is then an AttributeError at import, not a silent miss."""
    import ast
    from pathlib import Path

    from liandong_sdk.events import EVENT_CLASSES

    root = Path(__file__).resolve().parents[2]
    homes = {"sdk/liandong_sdk/_catalogue.py", "sdk/liandong_sdk/events.py", "sdk/liandong_sdk/_handoff.py"}
    found = []
    for path in [*root.glob("liandong/**/*.py"), *root.glob("services/**/*.py"), *root.glob("sdk/liandong_sdk/**/*.py")]:
        rel = str(path.relative_to(root))
        if rel in homes:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value in EVENT_CLASSES and "." in str(node.value):
                found.append(f"{rel}:{node.lineno} {node.value!r}")
    assert not found, "name these by their class (.TYPE):\n" + "\n".join(found)
