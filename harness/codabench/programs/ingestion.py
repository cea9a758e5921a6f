"""Ingestion step of a bundle exported by the harness.

Copied into the bundle's ``ingestion_program`` folder next to ``runner.py``
(the harness's ``python-model`` runner) and ``challenge.json``. Standard
library only: it runs in the platform's container before anything else.

- A **code submission** (``model.py`` at its root) is run by ``runner.py``
  in a child process with the challenge's calling protocol; the runner
  writes ``predictions.json`` and ``runner.json`` to the output folder.
- A **result submission** (``predictions.json`` at its root, no
  ``model.py``) is not run: its predictions are passed to scoring as they
  are.

Exit status 0 when predictions were written, 1 when the submission failed
(the message says where and why), 2 when the program folder is incomplete.
Paths default to the platform's and can be changed with arguments or with
``HARNESS_CODABENCH_INPUT``, ``HARNESS_CODABENCH_SUBMISSION`` and
``HARNESS_CODABENCH_OUTPUT``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
PREDICTIONS = "predictions.json"
MAX_SHOWN_TRACEBACK = 3000


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(description="Run a harness submission.")
    parser.add_argument(
        "--input", default=env("HARNESS_CODABENCH_INPUT", "/app/input_data")
    )
    parser.add_argument(
        "--submission",
        default=env("HARNESS_CODABENCH_SUBMISSION", "/app/ingested_program"),
    )
    parser.add_argument(
        "--output", default=env("HARNESS_CODABENCH_OUTPUT", "/app/output")
    )
    parser.add_argument("--program", default=HERE)
    args = parser.parse_args(argv)
    # The runner changes into the submission folder, so relative paths would
    # point elsewhere once it runs.
    for name in ("input", "submission", "output", "program"):
        setattr(args, name, os.path.abspath(getattr(args, name)))
    return args


def say(message: str) -> None:
    sys.stdout.write(f"ingestion: {message}\n")
    sys.stdout.flush()


def fail(message: str, code: int = 1) -> int:
    sys.stderr.write(f"ingestion failed: {message}\n")
    sys.stderr.flush()
    return code


def find_deeper(root: str, name: str) -> str | None:
    for dirpath, _dirnames, filenames in os.walk(root):
        if name in filenames and dirpath != root:
            return os.path.relpath(os.path.join(dirpath, name), root)
    return None


def pass_results(submission: str, output: str) -> int:
    """Hand a result submission's predictions to scoring unchanged."""
    source = os.path.join(submission, PREDICTIONS)
    target = os.path.join(output, PREDICTIONS)
    # The platform already copies a submission without a metadata file into
    # the output folder; copy only when that did not happen.
    if not os.path.isfile(target):
        shutil.copyfile(source, target)
    say(f"result submission: {PREDICTIONS} passed to scoring unchanged")
    return 0


def describe_error(report: dict[str, Any]) -> str:
    error = report.get("error") or {}
    parts = [f"stage {report.get('stage', '?')}: {error.get('message', '?')}"]
    if error.get("call"):
        parts.append(f"call: {error['call']}")
    if error.get("traceback"):
        parts.append(error["traceback"][-MAX_SHOWN_TRACEBACK:].rstrip())
    return "\n".join(parts)


def run_model(args: argparse.Namespace, protocol: dict[str, Any]) -> int:
    runner = os.path.join(args.program, "runner.py")
    if not os.path.isfile(runner):
        return fail("runner.py is missing from the ingestion program", 2)
    for stale in (PREDICTIONS, "runner.json"):
        # A code submission may carry its own copy, which the platform copied
        # into the output folder; only what the runner writes may be scored.
        path = os.path.join(args.output, stale)
        if os.path.isfile(path):
            os.remove(path)
    command = [
        sys.executable,
        runner,
        "--submission",
        args.submission,
        "--inputs",
        args.input,
        "--output",
        args.output,
        "--protocol",
        json.dumps(protocol),
    ]
    say(f"running the submission with protocol {protocol.get('name')}")
    code = subprocess.call(command)
    report_path = os.path.join(args.output, "runner.json")
    try:
        with open(report_path, encoding="utf-8") as fh:
            report = json.load(fh)
    except (OSError, ValueError):
        report = None
    if not isinstance(report, dict):
        return fail(f"the runner exited with code {code} without a readable report")
    if report.get("status") != "ok" or code != 0:
        return fail(describe_error(report))
    total = report.get("timings", {}).get("total", 0.0)
    say(f"{report.get('calls', 0)} call(s), {total:.2f} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        with open(os.path.join(args.program, "challenge.json"), encoding="utf-8") as fh:
            challenge = json.load(fh)
        protocol = challenge["protocol"]
        required = list(challenge.get("required_files", ["model.py"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return fail(f"challenge.json of the ingestion program is unusable: {exc}", 2)
    if not os.path.isdir(args.output):
        os.makedirs(args.output)
    present = [os.path.isfile(os.path.join(args.submission, f)) for f in required]
    if required and all(present):
        return run_model(args, protocol)
    if any(present):
        missing = [
            f for f in required if not os.path.isfile(os.path.join(args.submission, f))
        ]
        return fail(
            f"a code submission needs {', '.join(required)} at its root; "
            f"missing: {', '.join(missing)}"
        )
    if os.path.isfile(os.path.join(args.submission, PREDICTIONS)):
        return pass_results(args.submission, args.output)
    found = []
    if os.path.isdir(args.submission):
        found = sorted(os.listdir(args.submission))
    message = (
        f"the submission holds neither {' and '.join(required)} (code) nor "
        f"{PREDICTIONS} (results) at its root; it holds: "
        f"{', '.join(found[:10]) or 'nothing'}"
    )
    deeper = find_deeper(args.submission, "model.py") or find_deeper(
        args.submission, PREDICTIONS
    )
    if deeper:
        message += (
            f"; {deeper} was found inside a folder: zip the files themselves, not "
            "the folder around them"
        )
    return fail(message)


if __name__ == "__main__":
    sys.exit(main())
