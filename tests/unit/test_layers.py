"""The direction of dependencies, read from the import graph (grimp), function-level imports included.

Layers, top to bottom: entrypoints (the CLI, demo, bench, smoke, the services' CLI modules) ->
services -> the core (``liandong``) -> the domain (``liandong.domain``) -> the department SDK
(``liandong_sdk``, whose ``rules``, ``events`` and ``records`` modules are all the domain may use). No import cycles; a module
whose name starts with ``_`` is used only inside its own package.
"""

from __future__ import annotations

import sys
from functools import cache
from graphlib import CycleError, TopologicalSorter

import grimp
import pytest

OURS = ("liandong", "services", "liandong_sdk")
ENTRYPOINTS = ("liandong.cli", "liandong.sim", "liandong.bench", "liandong.bench_scale", "liandong.smoke")
#: What the SDK may need besides the standard library: a department installs nothing else.
SDK_DEPENDENCIES = {"kafka", "fastavro", "crc32c", "nacl"}
#: Infrastructure the domain must not touch.
INFRASTRUCTURE = {"kafka", "aiokafka", "faust", "mode", "aiohttp", "fastavro", "prometheus_client", "yaml",
                  "pydantic", "pydantic_settings", "structlog", "typer", "rich"}


@cache
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*OURS, include_external_packages=True, cache_dir=None)


@cache
def graph_with_tests() -> grimp.ImportGraph:
    return grimp.build_graph(*OURS, "tests", include_external_packages=True, cache_dir=None)


def ours(module: str) -> bool:
    return module.split(".")[0] in OURS


def within(module: str, *packages: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def entrypoint(module: str) -> bool:
    return within(module, *ENTRYPOINTS) or (module.startswith("services.") and module.endswith(".cli"))


def layer(module: str) -> int:
    if entrypoint(module):
        return 4
    if within(module, "services"):
        return 3
    if within(module, "liandong.domain"):
        return 1
    if within(module, "liandong"):
        return 2
    return 0  # liandong_sdk


def imports(module: str) -> set[str]:
    return set(graph().find_modules_directly_imported_by(module))


def modules() -> list[str]:
    return sorted(m for m in graph().modules if ours(m))


def test_there_are_no_import_cycles() -> None:
    deps = {m: {d for d in imports(m) if ours(d)} for m in modules()}
    try:
        tuple(TopologicalSorter(deps).static_order())
    except CycleError as exc:
        pytest.fail(f"import cycle: {' -> '.join(exc.args[1])}")


def test_every_import_points_down_the_layers() -> None:
    upward = [f"{m} -> {d}" for m in modules() for d in imports(m) if ours(d) and layer(d) > layer(m)]
    assert not upward, "imports against the layers:\n" + "\n".join(upward)


def test_private_modules_stay_in_their_package() -> None:
    def private_of(module: str) -> str | None:
        parts = module.split(".")
        for i, part in enumerate(parts):
            if part.startswith("_") and not part.startswith("__"):
                return ".".join(parts[:i])  # the package the private module belongs to
        return None

    g = graph_with_tests()
    leaks = []
    for m in sorted(m for m in g.modules if ours(m) or within(m, "tests")):
        for d in g.find_modules_directly_imported_by(m):
            owner = private_of(d) if ours(d) else None
            if owner is not None and not within(m, owner):
                leaks.append(f"{m} -> {d}")
    assert not leaks, "private modules used from outside their package:\n" + "\n".join(leaks)


def test_the_sdk_needs_only_kafka_python_fastavro_crc32c_and_pynacl() -> None:
    needed = {d.split(".")[0] for m in modules() if within(m, "liandong_sdk") for d in imports(m)}
    outside = needed - set(sys.stdlib_module_names) - SDK_DEPENDENCIES - {"liandong_sdk"}
    assert not outside, f"liandong_sdk imports {sorted(outside)}: a department would have to install them"


def test_the_domain_uses_no_infrastructure_and_only_the_sdk_rules() -> None:
    bad = []
    for m in modules():
        if not within(m, "liandong.domain"):
            continue
        for d in imports(m):
            infrastructure = d.split(".")[0] in INFRASTRUCTURE
            beyond_rules = within(d, "liandong_sdk") and d not in ("liandong_sdk.rules", "liandong_sdk.events", "liandong_sdk.records")
            above = within(d, "liandong", "services") and not within(d, "liandong.domain")
            if infrastructure or beyond_rules or above:
                bad.append(f"{m} -> {d}")
    assert not bad, "the domain reaches into infrastructure:\n" + "\n".join(bad)


def test_the_rules_and_events_are_plain_python() -> None:
    rules = {"liandong_sdk.rules", "liandong_sdk._calendar", "liandong_sdk._catalogue", "liandong_sdk._clocks", "liandong_sdk._handoff",
             "liandong_sdk._errors", "liandong_sdk.events", "liandong_sdk._typed", "liandong_sdk.records"}
    for m in rules:
        outside = {d for d in imports(m) if not (d in rules or d.split(".")[0] in sys.stdlib_module_names)}
        assert not outside, f"{m} imports {sorted(outside)}"
