"""A SIGTERM to pytest (a CI's time limit) ends the run with every fixture torn down
(``tests/conftest.py``): what the tests started does not outlive them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, wait_for

CHILD = '''
import signal, subprocess, sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.fixture
def child():
    proc = subprocess.Popen([sys.executable, "-c", "import signal; signal.pause()"])  # until terminated
    (HERE / "child.pid").write_text(str(proc.pid))
    yield proc
    proc.terminate()
    proc.wait()
    (HERE / "torn-down").write_text("yes")


def test_runs_until_stopped(child):
    (HERE / "running").write_text("yes")
    signal.pause()  # a test that runs until a signal stops it
'''


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_sigterm_ends_the_run_and_every_fixture_is_torn_down(tmp_path: Path) -> None:
    (tmp_path / "test_child.py").write_text(CHILD)
    run = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "tests.conftest", "-q", "-p", "no:cacheprovider",
                            "--rootdir", str(tmp_path), str(tmp_path / "test_child.py")], cwd=ROOT,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    pid_file = tmp_path / "child.pid"
    try:
        wait_for(lambda: (tmp_path / "running").exists() or run.poll() is not None, timeout=60,
                 message="the child test running")
        assert run.poll() is None, run.communicate()[0].decode()
        run.send_signal(signal.SIGTERM)
        out = run.communicate(timeout=30)[0].decode()
        assert run.returncode != 0, out  # interrupted, not passed
        assert "KeyboardInterrupt" in out, out
        assert (tmp_path / "torn-down").exists(), out
        assert not _alive(int(pid_file.read_text()))
    finally:  # whatever failed above, nothing of this test outlives it
        if run.poll() is None:
            run.kill()
            run.wait()
        if pid_file.exists() and _alive(pid := int(pid_file.read_text())):
            os.kill(pid, signal.SIGKILL)
