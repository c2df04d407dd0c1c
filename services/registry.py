"""Every runnable service: what it reads and writes, its principal and its /metrics port.

This is the one place the ACL matrix comes from: `liandong principals create` grants each
principal exactly the topics its service reads and writes, its consumer groups and the
internal topics of its faust app; `liandong run <service>` starts it as that principal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from liandong_sdk.events import ReviewDecided

from liandong import (
    BUREAU_COORDINATION,
    BUREAU_DELIVERIES,
    BUREAU_NOTICES,
    BUREAU_TRIAGE,
    DEAD_LETTER,
    EVENT_TYPES,
    HANDLING_UNITS,
    REVIEWING_BODIES,
    UNIT_INBOX,
    UNIT_REPLIES,
    Bus,
    concrete_topics,
)
from liandong.api import Api
from liandong.metrics import preset
from liandong.runtime import Runtime
from liandong.security import Grant
from liandong.service import Service

INBOXES = tuple(UNIT_INBOX.format(unit=s) for s in HANDLING_UNITS.values())
REPLIES = tuple(UNIT_REPLIES.format(unit=s) for s in HANDLING_UNITS.values())


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    principal: str
    reads: tuple[str, ...]
    writes: tuple[str, ...]
    metrics_offset: int
    build: Callable[[Bus], Runtime]
    faust_app_id: str | None = None
    group_prefixes: tuple[str, ...] = ()
    #: Sees every topic's and group's offsets, reads no message (the lag exporter).
    describe_everything: bool = False
    #: The service's declaration (liandong.service), where it has one: its topics come from there.
    service: Service | None = None
    #: For a service without a declaration, what it does with each event type it reads (intake's log
    #: follower): event type -> the handler's name, so that ``liandong events`` lists it exactly.
    follows: dict[str, str] | None = None

    @classmethod
    def declared(cls, service: Service, principal: str, metrics_offset: int, build: Callable[[Bus], Runtime],
                 **more: Any) -> ServiceSpec:
        app_id = service.name if service.topics_in else None  # a service that reads nothing has no group
        return cls(service.name, principal, tuple(concrete_topics(*service.topics_in)),
                   tuple(concrete_topics(*service.topics_out)), metrics_offset, build,
                   faust_app_id=app_id, service=service, **more)

    def grant(self) -> Grant:
        owned = (f"{self.faust_app_id}-",) if self.faust_app_id else ()
        groups = self.group_prefixes + ((self.faust_app_id,) if self.faust_app_id else ())
        return Grant(self.principal, self.reads, self.writes + (DEAD_LETTER,), groups, owned, self.describe_everything)

    def runtime(self, bus: Bus) -> Runtime:
        preset(self.name, self.reads, [cls.TYPE for cls in self.service.handlers] if self.service else ())
        runtime = self.build(bus.as_principal(self.principal))
        explicit = bus.settings.metrics_port
        runtime.metrics_port = explicit if explicit is not None else bus.settings.metrics_port_base + self.metrics_offset
        runtime.ports_file = bus.settings.run_dir / "ports.json"
        return runtime


def _intake(bus: Bus) -> Runtime:
    from services.intake.app import build

    return build(bus)


def _triage(bus: Bus) -> Runtime:
    from services.triage.app import build

    return build(bus)


def _ledger(bus: Bus) -> Runtime:
    from services.ledger.app import build

    return build(bus)


def _monitor(bus: Bus) -> Runtime:
    from services.monitor.app import build

    return build(bus)


def _coordination(bus: Bus) -> Runtime:
    from services.coordination.app import build

    return build(bus)


def _supervision(bus: Bus) -> Runtime:
    from services.supervision.app import build

    return build(bus)


def _notices(bus: Bus) -> Runtime:
    from services.notices.app import build

    return build(bus)


def _console(bus: Bus) -> Runtime:
    from services.console.app import build

    return build(bus)


def _department(slug: str) -> Callable[[Bus], Runtime]:
    def build(bus: Bus) -> Runtime:
        from services.departments.app import build as build_department

        return build_department(bus, slug)

    return build


def _specs() -> list[ServiceSpec]:
    from services.console.app import TOPICS_IN as CONSOLE_IN
    from services.coordination.app import COORDINATION
    from services.intake.service import FOLLOWS as INTAKE_FOLLOWS
    from services.intake.service import TOPICS_IN as INTAKE_IN
    from services.intake.service import TOPICS_OUT as INTAKE_OUT
    from services.ledger.app import LEDGER
    from services.monitor.app import MONITOR
    from services.notices.app import NOTICES
    from services.supervision.app import SUPERVISION
    from services.triage.app import TRIAGE

    specs = [
        ServiceSpec("intake", "svc-intake", tuple(INTAKE_IN), tuple(INTAKE_OUT), 1, _intake,
                    follows={cls.TYPE: fn.__qualname__ for cls, fn in INTAKE_FOLLOWS.items() if cls is not None}),
        ServiceSpec.declared(TRIAGE, "svc-triage", 2, _triage),
        ServiceSpec.declared(LEDGER, "svc-ledger", 3, _ledger),
        ServiceSpec.declared(MONITOR, "svc-monitor", 4, _monitor, describe_everything=True),
        ServiceSpec.declared(SUPERVISION, "svc-supervision", 6, _supervision),
        ServiceSpec.declared(COORDINATION, "svc-coordination", 5, _coordination),
        ServiceSpec.declared(NOTICES, "svc-notices", 7, _notices),
        # The console reads what its pages follow; it answers as each unit, and decides as svc-bureau.
        ServiceSpec("console", "svc-console", tuple(CONSOLE_IN), (), 8, _console, group_prefixes=("console",)),
    ]
    for i, slug in enumerate(HANDLING_UNITS.values()):
        specs.append(ServiceSpec(slug, f"unit-{slug}", (UNIT_INBOX.format(unit=slug),), (UNIT_REPLIES.format(unit=slug),),
                                 11 + i, _department(slug), group_prefixes=(f"unit-{slug}",)))
    return specs


SPECS: dict[str, ServiceSpec] = {s.name: s for s in _specs()}
#: The services that carry the cases (the console is a client of them, for people): what a test
#: stack, the benchmark and the demo start first.
PIPELINE: tuple[str, ...] = tuple(name for name in SPECS if name != "console")
SERVICES: dict[str, Callable[[Bus], Runtime]] = {name: spec.runtime for name, spec in SPECS.items()}

#: The bureau's own tools (jurisdiction decisions from the command line).
BUREAU_GRANT = Grant("svc-bureau", (), (BUREAU_TRIAGE, BUREAU_COORDINATION, DEAD_LETTER))
#: The bureau's delivery systems (SMS gateway, post, the online platform): read the notices, confirm deliveries.
DELIVERY_GRANT = Grant("svc-delivery", (BUREAU_NOTICES,), (BUREAU_DELIVERIES, DEAD_LETTER), ("delivery",))


#: The reviewing bodies (复查/复核机关): their own systems, or the SDK's ReviewingBodyClient, read their
#: inbox and answer on their replies topic, like a unit's; the bus runs no service for them.
REVIEWING_GRANTS = [Grant(f"unit-{slug}", (UNIT_INBOX.format(unit=slug),), (UNIT_REPLIES.format(unit=slug), DEAD_LETTER),
                          (f"unit-{slug}",)) for slug in REVIEWING_BODIES.values()]


def grants() -> list[Grant]:
    return [spec.grant() for spec in SPECS.values()] + [BUREAU_GRANT, DELIVERY_GRANT, *REVIEWING_GRANTS]


def provision(bus: Bus) -> None:
    """What a fresh cluster needs before the services start: topics, then principals and ACLs
    (passwords and signing keys missing from their files are generated into them, and the
    principals directory is written)."""
    from liandong.security import apply_grants, ensure_secrets, ensure_signing_keys

    bus.provision_topics()
    all_grants = grants()
    ensure_signing_keys(bus.settings.signing_keys_path, bus.settings.principals_path, all_grants)
    if bus.secured:
        passwords = ensure_secrets(bus.settings.secrets_path, [g.principal for g in all_grants])
        apply_grants(all_grants, passwords, bus.bootstrap_servers, **bus.client_config())


@dataclass(frozen=True)
class EventUse:
    """Who publishes and who consumes one event type, as the services declare it."""

    event_type: str
    topic: str
    #: "service" for a declared emitter; "service (writes the topic)" where only the ACL says so.
    producers: tuple[str, ...]
    #: "service: Handler.name" for a declared handler; "service (reads the topic)" otherwise.
    consumers: tuple[str, ...]
    #: Where the referee publishes the type again once checked (a unit's answer), if anywhere.
    checked_on: str | None = None


def event_map() -> list[EventUse]:
    """Per event type of the catalogue: its topic, producers and consumers (``liandong events``).
    Declared services (``liandong.service``) say exactly which types they handle and emit; the
    others are listed by the topics their ACLs let them read or write."""
    rows = []
    for et in EVENT_TYPES.values():
        topics = set(concrete_topics(et.topic)) | ({et.checked_on} if et.checked_on else set())
        producers, consumers = [], []
        for spec in SPECS.values():
            declared = spec.service
            if declared is not None:
                if any(et.name == cls.TYPE for cls in declared.emits):
                    producers.append(spec.name)
                handled = {cls.TYPE: names for cls, names in declared.handlers.items()}
                consumers += [f"{spec.name}: {name}" for name in handled.get(et.name, ())]
                continue
            if topics & set(spec.writes):
                producers.append(f"{spec.name} (writes the topic)")
            if spec.follows is not None:
                consumers += [f"{spec.name}: {spec.follows[et.name]}"] if et.name in spec.follows and topics & set(spec.reads) else []
            elif topics & set(spec.reads):
                consumers.append(f"{spec.name} (reads the topic)")
        if topics & set(BUREAU_GRANT.writes):
            producers.append("bureau tools (writes the topic)")
        if et.name == ReviewDecided.TYPE:  # the one answer the bodies give (their ACL would match every answer's)
            producers.append("reviewing bodies (write their replies topic)")
        rows.append(EventUse(et.name, et.topic, _fold_units(producers), _fold_units(consumers), et.checked_on))
    return rows


def _fold_units(names: list[str]) -> tuple[str, ...]:
    """The five reference departments as one entry: each unit on its own topic."""
    slugs = set(HANDLING_UNITS.values())
    units = [n for n in names if n.split(" ")[0] in slugs]
    rest = [n for n in names if n not in units]
    if units:
        rest.append("units " + units[0].partition(" ")[2] if " " in units[0] else "units")
    return tuple(rest)


def apis() -> dict[str, Api]:
    """Every service's HTTP API as declared (for ``liandong openapi``: its document, no service run)."""
    from liandong.service import View
    from services.intake.http import make_api as intake_api
    from services.ledger.api import make_api as ledger_api

    return {"intake": intake_api(lambda _: []), "ledger": ledger_api(View({}), lambda: datetime.now(UTC))}
