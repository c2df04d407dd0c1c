"""The Avro schema catalogue on disk: ``schemas/<fullname>.avsc``, one named type per file,
plus released versions under ``schemas/released/<fullname>/<fingerprint>.avsc``.

Readers know every released writer schema by fingerprint, so data written by an older
service version is resolved to the current reader schema.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import fastavro
import fastavro.schema

from ._errors import SchemaError

EVENTS_NAMESPACE = "liandong.events"
RELEASED = "released"


def packaged_schemas() -> Path:
    """The schemas this SDK was released with (package data: the repository's ``schemas/``)."""
    return Path(str(files("liandong_sdk") / "schemas"))


def fingerprint(parsed: Any) -> bytes:
    """CRC-64-AVRO fingerprint of the schema's parsing canonical form, little-endian bytes."""
    canonical = fastavro.schema.to_parsing_canonical_form(parsed)
    return bytes.fromhex(fastavro.schema.fingerprint(canonical, "CRC-64-AVRO"))


@dataclass(frozen=True)
class WriterSchema:
    fullname: str
    parsed: Any
    fingerprint: bytes
    released: bool


class SchemaCatalogue:
    """Every schema file of a folder, parsed once."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise SchemaError(f"schema folder {self.directory} does not exist")
        self.raw: dict[str, dict[str, Any]] = {}
        for path in sorted(self.directory.glob("*.avsc")):
            try:
                raw = json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as exc:
                raise SchemaError(f"{path.name}: not JSON: {exc}") from exc
            if not isinstance(raw, dict) or "name" not in raw:
                raise SchemaError(f"{path.name}: a schema file must hold one named type")
            fullname = _fullname(raw)
            if path.stem != fullname:
                raise SchemaError(f"{path.name}: holds {fullname}, so it must be named {fullname}.avsc")
            self.raw[fullname] = raw
        self._current: dict[str, WriterSchema] = {}
        self._by_fingerprint: dict[bytes, WriterSchema] = {}
        for fullname in self.raw:
            if not fullname.startswith(EVENTS_NAMESPACE + "."):
                continue
            parsed = self.parse(fullname)
            ws = WriterSchema(fullname, parsed, fingerprint(parsed), released=False)
            self._current[fullname] = ws
            self._by_fingerprint[ws.fingerprint] = ws
        for fullname, path in self.released_files():
            parsed = fastavro.parse_schema(json.loads(path.read_text(encoding="utf-8")))
            fp = fingerprint(parsed)
            self._by_fingerprint.setdefault(fp, WriterSchema(fullname, parsed, fp, released=True))

    # -- lookup -------------------------------------------------------------------------
    @property
    def event_schemas(self) -> list[str]:
        return sorted(self._current)

    def current(self, fullname: str) -> WriterSchema:
        try:
            return self._current[fullname]
        except KeyError:
            raise SchemaError(f"no event schema named {fullname}") from None

    def writer(self, fp: bytes) -> WriterSchema | None:
        return self._by_fingerprint.get(fp)

    # -- parsing ------------------------------------------------------------------------
    def parse(self, fullname: str) -> Any:
        try:
            return fastavro.parse_schema(self.expanded(fullname))
        except Exception as exc:  # fastavro raises several types for a bad schema
            raise SchemaError(f"{fullname}: {exc}") from exc

    def expanded(self, fullname: str) -> dict[str, Any]:
        """The schema with every named type it uses defined inline: self-contained JSON."""
        seen: set[str] = set()

        def inline(node: Any, namespace: str | None) -> Any:
            if isinstance(node, str):
                name = node if "." in node or namespace is None else f"{namespace}.{node}"
                if node in _PRIMITIVES:
                    return node
                if name not in self.raw and node in self.raw:
                    name = node
                if name not in self.raw:
                    raise SchemaError(f"{fullname}: refers to {node}, which has no file {name}.avsc")
                if name in seen:
                    return name
                return inline(self.raw[name], None)
            if isinstance(node, list):
                return [inline(n, namespace) for n in node]
            if isinstance(node, dict):
                kind = node.get("type")
                if kind in ("record", "enum", "fixed", "error"):
                    name = _fullname(node, namespace)
                    seen.add(name)
                    out = dict(node, name=name)
                    out.pop("namespace", None)
                    if kind in ("record", "error"):
                        ns = name.rpartition(".")[0] or None
                        out["fields"] = [dict(f, type=inline(f["type"], ns)) for f in node["fields"]]
                    return out
                if kind == "array":
                    return dict(node, items=inline(node["items"], namespace))
                if kind == "map":
                    return dict(node, values=inline(node["values"], namespace))
                return dict(node, type=inline(kind, namespace)) if isinstance(kind, (dict, list)) else node
            raise SchemaError(f"{fullname}: unexpected schema node {node!r}")

        if fullname not in self.raw:
            raise SchemaError(f"no schema named {fullname}")
        return inline(self.raw[fullname], None)  # type: ignore[no-any-return]

    # -- released versions --------------------------------------------------------------
    def released_files(self) -> list[tuple[str, Path]]:
        root = self.directory / RELEASED
        if not root.is_dir():
            return []
        return [(p.parent.name, p) for p in sorted(root.glob("*/*.avsc"))]

    def release(self) -> list[Path]:
        """Keep a copy of every current event schema not yet released; returns the new files."""
        written = []
        for fullname, ws in self._current.items():
            target = self.directory / RELEASED / fullname / f"{ws.fingerprint.hex()}.avsc"
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(json.dumps(self.expanded(fullname), indent=2, ensure_ascii=False) + "\n")
                written.append(target)
        return written


_PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}


def _fullname(node: dict[str, Any], enclosing: str | None = None) -> str:
    name: str = node["name"]
    if "." in name:
        return name
    namespace = node.get("namespace", enclosing)
    return f"{namespace}.{name}" if namespace else name
