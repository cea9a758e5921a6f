"""Run records: what went in, what happened, what came out.

A record is a JSON document validated against
``schemas/run-record.schema.json``. Records are written once, under a fresh
folder per run, and never overwritten, so no earlier result is lost.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.errors import InvalidInputError
from harness.schemas import validate

__all__ = ["RunRecord", "new_record", "write_record", "read_record", "file_sha256"]

RunRecord = dict[str, Any]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def new_record(*, challenge: Mapping[str, Any], submission: str) -> RunRecord:
    """Start a record in the failed state; the pipeline fills it in."""
    now = _dt.datetime.now(_dt.timezone.utc)
    return {
        "record_version": 1,
        "run_id": now.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:10],
        "created": now.isoformat(timespec="seconds"),
        "status": "failed",
        "failure": {
            "stage": "internal",
            "kind": "incomplete",
            "message": "the run did not finish",
        },
        "challenge": dict(challenge),
        "submission": {"source": submission, "notes": []},
        "data": {"dataset": str(challenge.get("dataset", ""))},
        "sandbox": {"name": None, "notes": []},
        "scores": {},
        "primary": None,
        "timings": {},
        "versions": {
            "harness": "",
            "python": platform.python_version(),
            "plugins": {},
        },
        "artifacts": {},
    }


def check_record(record: Mapping[str, Any]) -> None:
    validate(dict(record), "run-record", source=f"run record {record.get('run_id')}")


def write_record(record: RunRecord, folder: Path) -> Path:
    """Validate ``record`` and write it to ``folder/record.json`` atomically."""
    check_record(record)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "record.json"
    if target.exists():
        raise FileExistsError(f"{target} exists; records are never overwritten")
    tmp = folder / ".record.json.part"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(record, fh, indent=2, allow_nan=False)
        fh.write("\n")
    os.replace(tmp, target)
    return target


def read_record(path: Path) -> RunRecord:
    """Load and validate a stored record (a ``record.json`` or its folder)."""
    path = Path(path)
    if path.is_dir():
        path = path / "record.json"
    try:
        with open(path, encoding="utf-8") as fh:
            record: RunRecord = json.load(fh)
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidInputError(f"cannot read run record {path}: {exc}") from exc
    validate(record, "run-record", source=str(path))
    return record
