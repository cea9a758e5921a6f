"""The process sandbox tells its own set-up failures from the submission's.

Bubblewrap binds the host's root with every mount below it; when a mount
vanishes meanwhile (a container engine removing a container), it exits
before the runner starts. Such a run is started again, and if bubblewrap
never gets going the record blames the sandbox, not the submission.
"""

from __future__ import annotations

from typing import Any

import pytest
from hostile_support import GOOD_MODEL, Arena

from harness_sandboxes import process
from harness_sandboxes.process import ProcessSandbox, bwrap_works

pytestmark = [
    pytest.mark.parametrize("sandbox_name", ["process"]),
    pytest.mark.skipif(bwrap_works() is not None, reason="needs bubblewrap"),
]


def _failing_set_up(
    monkeypatch: pytest.MonkeyPatch, arena: Arena, failures: int
) -> list[list[str]]:
    """Make bubblewrap fail to set up on the first ``failures`` starts."""
    original = ProcessSandbox._execute
    calls: list[list[str]] = []

    def execute(self: Any, job: Any, command: list[str], *args: Any, **kw: Any) -> Any:
        calls.append(command)
        if len(calls) <= failures:
            # A bind whose source is missing fails inside bubblewrap's set-up.
            missing = str(arena.tmp_path / f"vanished-{arena.marker}")
            command = [*command[:3], "--ro-bind", missing, "/vanished", *command[3:]]
        return original(self, job, command, *args, **kw)

    monkeypatch.setattr(ProcessSandbox, "_execute", execute)
    monkeypatch.setattr(process.time, "sleep", lambda seconds: None)
    return calls


def test_set_up_failure_is_retried(
    arena: Arena, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _failing_set_up(monkeypatch, arena, failures=1)
    submission = arena.tmp_path / "good"
    submission.mkdir()
    (submission / "model.py").write_text(GOOD_MODEL)

    outcome = arena.run(submission)

    assert outcome.status == "succeeded", outcome.describe()
    assert outcome.record["primary"]["value"] == pytest.approx(5.0)
    assert len(calls) == 2
    assert calls[0][1] == "--json-status-fd"


def test_set_up_that_never_works_blames_the_sandbox(
    arena: Arena, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _failing_set_up(monkeypatch, arena, failures=99)
    submission = arena.tmp_path / "good"
    submission.mkdir()
    (submission / "model.py").write_text(GOOD_MODEL)

    outcome = arena.run(submission)

    assert outcome.status == "failed"
    assert outcome.failure["kind"] == "SandboxUnavailableError"
    assert "bubblewrap failed to set up the sandbox 3 times" in outcome.message
    assert "Can't find source path" in outcome.message
    assert len(calls) == 3


def test_runner_exit_code_one_is_not_retried(
    arena: Arena, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _failing_set_up(monkeypatch, arena, failures=0)
    submission = arena.tmp_path / "exits"
    submission.mkdir()
    (submission / "model.py").write_text(
        "import os, sys\n"
        "sys.stderr.write('bwrap: pretending to be the sandbox\\n')\n"
        "os._exit(1)\n"
    )

    outcome = arena.run(submission)

    assert outcome.failure["kind"] == "crashed", outcome.describe()
    assert "exited with code 1" in outcome.message
    assert len(calls) == 1
