"""The libraries' logs come out as ours: the same renderer (JSON lines here), with their logger's
name, WARNING and above only."""

from __future__ import annotations

import json
import subprocess
import sys


def test_a_library_warning_is_a_structured_line_and_its_info_is_quiet() -> None:
    script = """
import logging
from liandong._logging import configure_logging, get_logger
configure_logging(json=True)
configure_logging(json=True)  # again (a test, a second service in the process): still one line each
logging.getLogger("kafka.coordinator.consumer").warning("group_id is %s: disabling auto-commit.", None)
logging.getLogger("aiokafka.consumer").info("joined the group")
get_logger("liandong.test").warning("ours", case_number="140214-2026-000001")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert [(line["level"], line["event"]) for line in lines] == [
        ("warning", "group_id is None: disabling auto-commit."), ("warning", "ours")]
    assert lines[0]["logger"] == "kafka.coordinator.consumer" and "timestamp" in lines[0]
    assert lines[1]["case_number"] == "140214-2026-000001"
