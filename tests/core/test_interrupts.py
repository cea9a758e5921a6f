"""A run stopped from outside cleans up and leaves a record saying so."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SLEEPER = """
import time

class Model:
    def load(self):
        pass

    def predict(self, X):
        print("sleeping now", flush=True)
        time.sleep(120)
"""


def _pids_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline:
            found.append(int(entry.name))
    return found


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)]
)
def test_signal_during_run(tmp_path, signum, code):
    submission = tmp_path / f"sleeper-{signum}"
    submission.mkdir()
    (submission / "model.py").write_text(SLEEPER)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    results = tmp_path / "results"
    env = {
        **os.environ,
        "TMPDIR": str(scratch),
        "HARNESS_CACHE": str(tmp_path / "cache"),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "run",
            "gw-anomaly",
            str(submission),
            "--sandbox",
            "process",
            "--results-dir",
            str(results),
            "--bootstrap",
            "0",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not _pids_with(str(submission)) or not list(scratch.glob("harness-run-*")):
        assert time.monotonic() < deadline, "the run never started"
        time.sleep(0.2)
    time.sleep(1.0)
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=60)

    assert proc.returncode == code
    (folder,) = list(results.iterdir())
    record = json.loads((folder / "record.json").read_text())
    assert record["status"] == "failed"
    assert record["failure"]["kind"] == "interrupted"
    name = signal.Signals(signum).name
    assert f"({name}" in record["failure"]["message"]
    assert f"interrupted ({name}); record: " in stderr.decode()
    assert str(folder / "record.json") in stderr.decode()
    assert list(scratch.iterdir()) == []
    time.sleep(0.5)
    assert _pids_with(str(submission)) == []
