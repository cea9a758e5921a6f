"""Registers the ``python-model`` submission kind."""

from __future__ import annotations

from pathlib import Path

from harness.hookspecs import hookimpl
from harness.types import SubmissionKind

RUNNER = Path(__file__).with_name("runner.py")


@hookimpl
def harness_register_submission_kinds() -> list[SubmissionKind]:
    return [
        SubmissionKind(
            name="python-model",
            runner=RUNNER,
            protocols=("batch", "per-item", "sequential"),
            version="1",
            description=(
                "model.py at the submission root defining class Model with "
                "predict() and optionally load()"
            ),
            required_files=("model.py",),
        )
    ]
