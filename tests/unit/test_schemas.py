"""The schema catalogue: every event of the catalogue has a documented schema, one type per file."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from liandong import EVENT_TYPES, SchemaCatalogue, SchemaError, get_settings
from liandong.compat import check_schemas

SCHEMAS = get_settings().schemas_dir

REQUIRED = [
    "petition.registered", "petition.triaged", "petition.diverted", "petition.repeat.detected",
    "case.handoff.requested", "case.handoff.accepted", "case.handoff.rejected",
    "case.accepted", "case.not_accepted", "case.progress", "case.extension.approved", "case.resolved",
    "mediation.requested", "mediation.joined", "mediation.declined", "mediation.concluded",
    "package.assigned", "package.progress", "package.closed", "team.task.assigned",
    "supervision.reminder", "supervision.notice", "supervision.listed", "supervision.recommendation",
    "supervision.feedback", "deadletter",
]


def test_every_required_event_has_a_schema_that_parses() -> None:
    catalogue = SchemaCatalogue(SCHEMAS)
    for name in REQUIRED:
        assert name in EVENT_TYPES, name
        assert catalogue.current(EVENT_TYPES[name].schema).fingerprint


def test_shared_types_live_in_their_own_files() -> None:
    for shared in ("Unit", "MatterCategory", "CaseRef", "Deadline", "Channel"):
        assert (SCHEMAS / f"liandong.types.{shared}.avsc").exists()


def test_event_schemas_use_logical_types_for_times_and_ids() -> None:
    raw = json.loads((SCHEMAS / "liandong.events.PetitionRegistered.avsc").read_text())
    fields = {f["name"]: f["type"] for f in raw["fields"]}
    assert fields["event_id"] == {"type": "string", "logicalType": "uuid"}
    assert fields["occurred_at"] == {"type": "long", "logicalType": "timestamp-millis"}


def test_repository_schemas_pass_the_check() -> None:
    report = check_schemas(SCHEMAS)
    assert report.problems == []
    assert report.checked_pairs >= len(REQUIRED)


def test_a_misnamed_file_is_refused(tmp_path: Path) -> None:
    shutil.copytree(SCHEMAS, tmp_path / "s")
    (tmp_path / "s" / "liandong.types.Unit.avsc").rename(tmp_path / "s" / "Unit.avsc")
    with pytest.raises(SchemaError, match=re.escape("must be named liandong.types.Unit.avsc")):
        SchemaCatalogue(tmp_path / "s")


def test_missing_docs_and_enum_defaults_are_reported(tmp_path: Path) -> None:
    shutil.copytree(SCHEMAS, tmp_path / "s")
    path = tmp_path / "s" / "liandong.types.Channel.avsc"
    raw = json.loads(path.read_text())
    del raw["default"]
    path.write_text(json.dumps(raw))
    rec = tmp_path / "s" / "liandong.events.CaseAccepted.avsc"
    raw = json.loads(rec.read_text())
    del raw["fields"][-1]["doc"]
    rec.write_text(json.dumps(raw))
    problems = check_schemas(tmp_path / "s").problems
    assert any("enum Channel has no default symbol" in p for p in problems)
    assert any("liandong.events.CaseAccepted: /notice_no: field has no doc" in p for p in problems)
