"""Several intake instances of one district on the real broker: each numbers from its own stripe,
so no case number is ever given twice, also when they register at the same time and after one
restarts."""

from __future__ import annotations

import threading
import uuid

from liandong import Bus, load_clocks
from services.intake.service import IntakeService
from services.triage.app import load_routing
from tests.integration.test_case_lifecycle import submission

INSTANCES = 2


def _intake(bus: Bus, district: str, instance: int) -> IntakeService:
    settings = bus.settings.model_copy(update={"district_code": district, "intake_instance": instance,
                                               "intake_instances": INSTANCES})
    service = IntakeService(Bus.from_settings(bus.bootstrap_servers, settings).as_principal("svc-intake"),
                            load_routing(), load_clocks())
    service.start()
    return service


def _register(service: IntakeService, n: int, out: list[str]) -> None:
    for _ in range(n):
        result = service.submit(submission(petitioner={
            "name": f"李{uuid.uuid4().hex[:6]}", "id_number": f"14021419800101{uuid.uuid4().int % 10000:04d}",
            "phone": f"139{uuid.uuid4().int % 10**8:08d}", "address": "云冈区"}))
        assert result.status == "registered", result
        assert result.case_number is not None
        out.append(result.case_number)


def _seq(number: str) -> int:
    return int(number.rsplit("-", 1)[1])


def test_instances_of_one_district_never_give_the_same_number(bus: Bus) -> None:
    district = f"13{uuid.uuid4().int % 10000:04d}"
    services = [_intake(bus, district, i) for i in range(INSTANCES)]
    try:
        given: list[list[str]] = [[] for _ in services]
        threads = [threading.Thread(target=_register, args=(s, 15, out)) for s, out in zip(services, given, strict=True)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        for i, numbers in enumerate(given):
            assert len(numbers) == 15
            assert all((_seq(n) - 1) % INSTANCES == i for n in numbers), (i, numbers)
        everything = given[0] + given[1]
        assert len(set(everything)) == len(everything)

        # Instance 0 restarts: it reads the log again and goes on after every number given.
        services[0].stop()
        services[0] = _intake(bus, district, 0)
        again: list[str] = []
        _register(services[0], 5, again)
        assert all((_seq(n) - 1) % INSTANCES == 0 for n in again)
        assert min(_seq(n) for n in again) > max(_seq(n) for n in everything)
        assert len(set(everything + again)) == len(everything) + len(again)
    finally:
        for s in services:
            s.stop()
