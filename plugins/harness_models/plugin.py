"""Registers the ``python-model`` submission kind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.hookspecs import hookimpl
from harness.types import SubmissionKind

RUNNER = Path(__file__).with_name("runner.py")

_COMMON: dict[str, Any] = {
    "load": {"enum": ["always", "if-defined", "never"]},
    "output_shape": {"type": "array", "items": {"type": "integer", "minimum": 1}},
    "dtype": {"enum": ["float16", "float32", "float64"]},
}

# What the runner understands of each protocol; a challenge file is checked
# against these when it is loaded, so a host's typo fails there, not later in
# a participant's run.
OPTIONS_SCHEMAS: dict[str, dict[str, Any]] = {
    "batch": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            **_COMMON,
            "standardise": {
                "type": "object",
                "additionalProperties": False,
                "required": ["axis"],
                "properties": {"axis": {"type": "integer"}},
            },
            "transpose": {
                "type": "array",
                "items": {"type": "integer", "minimum": 0},
                "uniqueItems": True,
            },
        },
    },
    "per-item": {
        "type": "object",
        "additionalProperties": False,
        "properties": {**_COMMON, "loader": {"enum": ["pillow", "npy", "bytes"]}},
    },
    "sequential": {
        "type": "object",
        "additionalProperties": False,
        "properties": dict(_COMMON),
    },
}


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
            options_schemas=OPTIONS_SCHEMAS,
        )
    ]
