"""Registers the ``python-model`` submission kind."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

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


def check_inputs(protocol: str, options: Mapping[str, Any], inputs: Path) -> list[str]:
    """What in a batch protocol's options the inputs' array cannot take.

    The runner would fail on these inside the sandbox, where the failure
    would look like the submission's; here they are the challenge's.
    """
    if protocol != "batch":
        return []
    manifest = json.loads((inputs / "manifest.json").read_text(encoding="utf-8"))
    if manifest.get("kind") != "array":
        return []
    shape = tuple(np.load(inputs / manifest["array"], mmap_mode="r").shape)
    ndim, problems = len(shape), []
    transpose = options.get("transpose")
    standardise = options.get("standardise")
    if transpose and sorted(transpose) != list(range(ndim)):
        problems.append(
            f"transpose {list(transpose)} must name each axis of the inputs "
            f"(shape {shape}) once, from 0 to {ndim - 1}"
        )
    if standardise and not -ndim <= standardise["axis"] < ndim:
        problems.append(
            f"standardise.axis {standardise['axis']} is not an axis of the inputs "
            f"(shape {shape}: {-ndim} to {ndim - 1})"
        )
    return problems


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
            check_inputs=check_inputs,
        )
    ]
