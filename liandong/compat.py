"""`liandong schemas check`: parse, name, document and evolution rules for schemas/.

Backward compatibility is decided by the `avro` package's reader/writer checker: the current
schema (reader) must read everything each released version (writer) wrote.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import avro.schema
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType
from liandong_sdk import SchemaCatalogue, SchemaError


@dataclass
class CheckReport:
    problems: list[str] = field(default_factory=list)
    checked_pairs: int = 0
    schemas: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def check_schemas(directory: Path) -> CheckReport:
    report = CheckReport()
    try:
        catalogue = SchemaCatalogue(directory)
    except SchemaError as exc:
        report.problems.append(str(exc))
        return report
    report.schemas = len(catalogue.raw)
    for fullname, raw in catalogue.raw.items():
        report.problems += [f"{fullname}: {p}" for p in _lint(raw)]
        try:
            catalogue.parse(fullname)
        except SchemaError as exc:
            report.problems.append(str(exc))
    checker = ReaderWriterCompatibilityChecker()  # type: ignore[no-untyped-call]
    for fullname, path in catalogue.released_files():
        if fullname not in catalogue.raw:
            report.problems.append(f"{fullname}: released but its schema file is gone (deleting a released type breaks readers)")
            continue
        reader = avro.schema.parse(json.dumps(catalogue.expanded(fullname)))
        writer = avro.schema.parse(path.read_text(encoding="utf-8"))
        result = checker.get_compatibility(reader, writer)
        report.checked_pairs += 1
        if result.compatibility is not SchemaCompatibilityType.compatible:
            paths = ", ".join(sorted(result.locations))
            why = "; ".join(sorted(result.messages))
            report.problems.append(
                f"{fullname}: not backward compatible with released {path.stem} at {paths}: {why}"
            )
    return report


def _lint(node: Any, where: str = "") -> list[str]:
    """A doc on every named type and field; a default symbol on every enum."""
    problems: list[str] = []
    if isinstance(node, list):
        for n in node:
            problems += _lint(n, where)
    elif isinstance(node, dict):
        kind = node.get("type")
        if kind in ("record", "enum", "fixed") and not node.get("doc"):
            problems.append(f"{where or '/'}: {kind} {node['name']} has no doc")
        if kind == "enum" and node.get("default") not in node.get("symbols", []):
            problems.append(f"{where or '/'}: enum {node['name']} has no default symbol")
        if kind == "record":
            for f in node.get("fields", []):
                path = f"{where}/{f['name']}"
                if not f.get("doc"):
                    problems.append(f"{path}: field has no doc")
                problems += _lint(f["type"], path)
        elif kind == "array":
            problems += _lint(node["items"], where)
        elif kind == "map":
            problems += _lint(node["values"], where)
    return problems
