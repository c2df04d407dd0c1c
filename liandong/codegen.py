"""Writes ``sdk/liandong_sdk/events.py``: one Python class per event type of the catalogue, and
one per named type it uses, from the Avro schemas (``liandong schemas codegen``).

The schemas stay the single source: enums become ``StrEnum`` classes with the schema's symbols,
records frozen dataclasses with the schema's field order, types, defaults and docs. The committed
module is checked against a fresh generation by ``tests/unit/test_events.py``.
"""

from __future__ import annotations

import keyword
import textwrap
from pathlib import Path
from typing import Any

from liandong_sdk import EVENT_TYPES, SchemaCatalogue

#: Where the generated module lives, relative to the repository root.
TARGET = Path("sdk") / "liandong_sdk" / "events.py"

_PRIMITIVE = {"string": "str", "int": "int", "long": "int", "boolean": "bool", "bytes": "bytes", "double": "float",
              "float": "float", "null": "None"}
_LOGICAL = {"uuid": "uuid.UUID", "timestamp-millis": "datetime", "timestamp-micros": "datetime", "date": "date"}

HEADER = '''"""Typed events: one class per event type of the catalogue and one per named type it uses,
generated from the Avro schemas (``schemas/*.avsc``) by ``liandong schemas codegen``. Do not edit:
change the schema and generate again (``tests/unit/test_events.py`` checks this file is current).

``Event.payload`` decodes a consumed event to its class; ``Publisher.publish(event)`` encodes one.
Enums are ``StrEnum``: a member equals its symbol, so ``Unit.POLICE == "POLICE"``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import ClassVar

from ._typed import EventRecord, Record, known
'''


def _short(fullname: str) -> str:
    return fullname.rpartition(".")[2]


def _doc(text: str, indent: str) -> str:
    text = " ".join(text.split()).replace('"""', "'''")
    one = f'{indent}"""{text}"""'
    if len(one) <= 120:
        return one + "\n"
    lines = textwrap.wrap(text, 116 - len(indent))
    return f'{indent}"""' + f"\n{indent}".join(lines) + f'\n{indent}"""\n'


class _Writer:
    def __init__(self, schemas: SchemaCatalogue) -> None:
        self.schemas = schemas
        self.order: list[str] = []  # named types, dependencies first

    def visit(self, fullname: str) -> None:
        if fullname in self.order:
            return
        raw = self.schemas.raw[fullname]
        if raw["type"] == "record":
            for f in raw["fields"]:
                for ref in self._refs(f["type"]):
                    self.visit(ref)
        self.order.append(fullname)

    def _refs(self, node: Any) -> list[str]:
        if isinstance(node, str):
            return [node] if node in self.schemas.raw else []
        if isinstance(node, list):
            return [r for n in node for r in self._refs(n)]
        if node.get("type") == "array":
            return self._refs(node["items"])
        if node.get("type") == "map":
            return self._refs(node["values"])
        if isinstance(node.get("type"), (list, dict)):
            return self._refs(node["type"])
        if node.get("type") in ("record", "enum"):
            raise ValueError(f"inline named type {node.get('name')}: give it a file of its own")
        return []

    def annotation(self, node: Any) -> str:
        if isinstance(node, str):
            if node in _PRIMITIVE:
                return _PRIMITIVE[node]
            return _short(node)
        if isinstance(node, list):
            branches = [self.annotation(n) for n in node if n != "null"]
            if len(branches) != 1:
                raise ValueError(f"unions other than [null, T] are not generated: {node}")
            return f"{branches[0]} | None" if "null" in node else branches[0]
        kind = node.get("type")
        if "logicalType" in node and node["logicalType"] in _LOGICAL:
            return _LOGICAL[node["logicalType"]]
        if kind == "array":
            return f"list[{self.annotation(node['items'])}]"
        if kind == "map":
            return f"dict[str, {self.annotation(node['values'])}]"
        return self.annotation(kind)

    def default(self, field_: dict[str, Any]) -> str | None:
        if "default" not in field_:
            return None
        value, node = field_["default"], field_["type"]
        if value is None:
            return "None"
        if isinstance(node, str) and node in self.schemas.raw and self.schemas.raw[node]["type"] == "enum":
            return f"{_short(node)}.{value}"
        kind = node.get("type") if isinstance(node, dict) else node
        if kind == "array":
            return "field(default_factory=list)"
        if kind == "map":
            return "field(default_factory=dict)"
        return repr(value)

    def type_source(self, fullname: str, event_type: str | None) -> str:
        raw = self.schemas.raw[fullname]
        name = _short(fullname)
        if raw["type"] == "enum":
            out = f"class {name}(StrEnum):\n" + _doc(raw.get("doc", name), "    ") + "\n"
            out += "".join(f'    {s} = "{s}"\n' for s in raw["symbols"])
            return out
        base = "EventRecord" if event_type else "Record"
        out = f"@dataclass(frozen=True, slots=True, kw_only=True)\nclass {name}({base}):\n"
        out += _doc(raw.get("doc", name), "    ") + "\n"
        if event_type:
            out += f'    TYPE: ClassVar[str] = "{event_type}"\n'
        out += f'    SCHEMA: ClassVar[str] = "{fullname}"\n'
        for f in raw["fields"]:
            if keyword.iskeyword(f["name"]):
                raise ValueError(f"{fullname}.{f['name']}: a Python keyword cannot be a field name")
            default = self.default(f)
            out += f"\n    {f['name']}: {self.annotation(f['type'])}" + (f" = {default}" if default else "") + "\n"
            out += _doc(f.get("doc", ""), "    ")
        return out


def events_module(schemas: SchemaCatalogue) -> str:
    """The source of ``liandong_sdk/events.py`` for these schemas."""
    writer = _Writer(schemas)
    by_schema = {et.schema: et.name for et in EVENT_TYPES.values()}
    for et in EVENT_TYPES.values():
        writer.visit(et.schema)
    shorts = [_short(n) for n in writer.order]
    clash = {s for s in shorts if shorts.count(s) > 1}
    if clash:
        raise ValueError(f"named types share a short name: {', '.join(sorted(clash))}")
    body = [writer.type_source(fullname, by_schema.get(fullname)) for fullname in writer.order]
    header = HEADER if any("field(default_factory" in b for b in body) else HEADER.replace(
        "from dataclasses import dataclass, field", "from dataclasses import dataclass")
    parts = [header, *("\n\n" + b for b in body)]
    mapping = "".join(f'    "{et.name}": {_short(et.schema)},\n' for et in EVENT_TYPES.values())
    parts.append(f"\n\n#: The class of each event type, by its name in the catalogue.\n"
                 f"EVENT_CLASSES: dict[str, type[EventRecord]] = {{\n{mapping}}}\n")
    names = sorted(shorts) + ["EVENT_CLASSES", "EventRecord", "Record", "known"]
    parts.append("\n__all__ = [\n" + "".join(f'    "{n}",\n' for n in sorted(names, key=lambda n: (not n.isupper(), n)))
                 + "]\n")
    return "".join(parts)
