"""The arena of the hostile-submission suite: run an attack, check the aftermath.

Every attack is a small submission: one of the models in ``attacks/`` as its
``model.py``, the shared ``attacks/probe.py`` and a ``params.json`` holding
what the test bakes in (the paths an attacker guessed right, a server's
port, a marker string). It runs through the whole pipeline on the toy
challenge, with small limits, in one sandbox.

:meth:`Arena.run` checks what must hold after any attack, whatever it was:
a record came back and was stored, earlier results are untouched, no
container and no process of the attack is left, and neither the truth's
bytes nor the harness's environment appear in anything the submission could
emit. Each test then checks how its own attack ended.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness.challenge import Challenge
from harness.evaluate import RunOptions, prepare_split, run_submission
from harness.plugins import Plugins
from harness.records import RunRecord, read_record

if TYPE_CHECKING:
    from docker import DockerClient

ATTACKS = Path(__file__).resolve().parent / "attacks"

#: Small limits keep the suite fast: a deadline of a few seconds, 256 MB of
#: memory, 32 processes and 1 MB of output.
LIMITS = "limits: {wall_seconds: 4, memory_mb: 256, processes: 32, output_mb: 1}"
WALL_SECONDS = 4
MEMORY_MB = 256
PROCESSES = 32
OUTPUT_MB = 1

#: Set in the harness's environment during every attack; must never leak.
CANARY_VARIABLE = "HARNESS_HOSTILE_CANARY"

GOOD_MODEL = """\
class Model:
    def predict(self, x):
        return x.mean(axis=1)
"""


@dataclasses.dataclass
class ResultsFolder:
    """A results folder shared by all attacks on one sandbox, and its first run."""

    path: Path
    earlier: Path


@dataclasses.dataclass
class Outcome:
    """What an attack led to: the record and what the attack observed."""

    record: RunRecord
    probe: dict[str, Any] | None
    stdout: str
    stderr: str

    @property
    def status(self) -> str:
        return str(self.record["status"])

    @property
    def failure(self) -> dict[str, Any]:
        return self.record["failure"] or {}

    @property
    def message(self) -> str:
        return str(self.failure.get("message", ""))

    def describe(self) -> str:
        """The record's gist, for assertion messages."""
        return json.dumps(
            {
                "status": self.status,
                "failure": {k: v for k, v in self.failure.items() if k != "traceback"},
                "probe": self.probe,
                "notes": self.record["sandbox"].get("notes"),
                "stderr": self.stderr[-600:],
            },
            indent=1,
            default=str,
        )


def survivors(marker: str) -> list[str]:
    """Live processes whose name, command line or environment holds ``marker``.

    Zombies are dead processes waiting to be reaped and hold nothing, so
    they do not count.
    """
    needle = marker.encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            stat = (entry / "stat").read_bytes()
            if stat.rsplit(b")", 1)[1].split()[0] == b"Z":
                continue
            comm = (entry / "comm").read_bytes()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            environ = b""
        if needle in comm or needle in cmdline or needle in environ:
            shown = cmdline.replace(b"\0", b" ").decode(errors="replace")[:200]
            found.append(f"pid {entry.name} ({comm.decode().strip()}): {shown}")
    return found


def _snapshot(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


class Arena:
    """The toy challenge with small limits, ready for one attack in one sandbox."""

    def __init__(
        self,
        *,
        sandbox: str,
        plugins: Plugins,
        challenge: Challenge,
        options: RunOptions,
        results: ResultsFolder,
        tmp_path: Path,
        outside_tmp: Path,
        marker: str,
        docker_client: DockerClient | None,
    ) -> None:
        self.sandbox = sandbox
        self.plugins = plugins
        self.challenge = challenge
        self.options = options
        self.results = results
        self.tmp_path = tmp_path
        self.outside_tmp = outside_tmp
        self.docker_client = docker_client
        self.marker = marker
        self.canary = os.environ[CANARY_VARIABLE]
        prepared = prepare_split(challenge, plugins, "validation", options)
        self.inputs = prepared.inputs_dir.resolve()
        self.truth = prepared.truth_file.resolve()
        self.truth_sha = hashlib.sha256(self.truth.read_bytes()).hexdigest()
        self.labels = prepared.load_truth().labels.tolist()
        self.cache = Path(options.cache_dir or "").resolve()

    def params(self, **extra: Any) -> dict[str, Any]:
        """What every attack may know: the right guesses of a well-informed one."""
        return {
            "marker": self.marker,
            "canary": self.canary,
            "truth_files": [
                str(self.truth),
                str(self.cache / "datasets" / "toy" / "validation" / "truth.npz"),
            ],
            "truth_dirs": [
                str(self.cache),
                str(self.truth.parent),
                str(self.cache / "datasets"),
            ],
            "results": str(self.results.path),
            "earlier": str(self.results.earlier),
            **extra,
        }

    def submission(self, attack: str, **params: Any) -> Path:
        """A submission folder whose ``model.py`` is ``attacks/<attack>.py``."""
        folder = self.tmp_path / f"submission-{attack}"
        folder.mkdir()
        shutil.copyfile(ATTACKS / f"{attack}.py", folder / "model.py")
        shutil.copyfile(ATTACKS / "probe.py", folder / "probe.py")
        (folder / "params.json").write_text(json.dumps(self.params(**params)))
        return folder

    def run(self, submission: Path) -> Outcome:
        """Run ``submission`` through the pipeline and check what always holds."""
        before = _snapshot(self.results.path)
        record = run_submission(
            self.challenge,
            "development",
            submission,
            plugins=self.plugins,
            options=self.options,
        )
        self._check_nothing_left()
        assert record["status"] in ("succeeded", "failed"), record
        if record["status"] == "failed":
            assert record["failure"]["message"].strip(), record["failure"]
        folder = self.results.path / record["run_id"]
        stored = read_record(folder)
        # The record names its own file only after it was written.
        assert stored["artifacts"] == {
            k: v for k, v in record["artifacts"].items() if k != "record"
        }
        assert {**stored, "artifacts": None} == {**record, "artifacts": None}
        after = _snapshot(self.results.path)
        assert {k: after.get(k) for k in before} == before, "earlier results changed"
        assert "record.json" in {Path(k).name for k in after if k not in before}
        stdout = record["sandbox"].get("stdout") or ""
        stderr = record["sandbox"].get("stderr") or ""
        self._check_truth_unseen(record, folder, stdout, stderr)
        outcome = Outcome(record, _probe(stdout), stdout, stderr)
        if outcome.probe is not None:
            assert outcome.probe["truth"] == "ENOENT", outcome.describe()
        return outcome

    def _check_nothing_left(self) -> None:
        assert survivors(self.marker) == []
        if self.docker_client is not None:
            from harness_sandboxes.docker import LABEL, _owner

            mine = {"label": f"{LABEL}.owner={_owner()}"}
            assert self.docker_client.containers.list(all=True, filters=mine) == []
            assert self.docker_client.volumes.list(filters=mine) == []

    def _check_truth_unseen(
        self, record: RunRecord, folder: Path, stdout: str, stderr: str
    ) -> None:
        # The run staged the split again; its truth file may differ in bytes
        # (archive time stamps) from the one hashed before.
        shas = {self.truth_sha, hashlib.sha256(self.truth.read_bytes()).hexdigest()}
        emitted = [stdout, stderr]
        for name in ("stdout.txt", "stderr.txt", "predictions.json"):
            if (folder / name).is_file():
                emitted.append((folder / name).read_text(errors="replace"))
        for text in emitted:
            assert not any(sha in text for sha in shas), "the truth was read"
            assert self.canary not in text, "the harness's environment leaked"
        if (folder / "predictions.json").is_file():
            values = json.loads((folder / "predictions.json").read_text())["values"]
            assert values != self.labels, "the predictions are the truth"


def _probe(stdout: str) -> dict[str, Any] | None:
    lines = [x for x in stdout.splitlines() if x.startswith("PROBE ")]
    return json.loads(lines[-1][len("PROBE ") :]) if lines else None


def earlier_run(
    challenge: Challenge, plugins: Plugins, sandbox: str, results: Path, tmp: Path
) -> Path:
    """Score a good submission into ``results``; return its run folder."""
    submission = tmp / "earlier"
    submission.mkdir(parents=True, exist_ok=True)
    (submission / "model.py").write_text(GOOD_MODEL)
    options = RunOptions(
        sandbox=sandbox,
        cache_dir=tmp / "earlier-cache",
        results_dir=results,
        bootstrap=0,
    )
    record = run_submission(
        challenge, "development", submission, plugins=plugins, options=options
    )
    assert record["status"] == "succeeded", record["failure"]
    assert record["primary"]["value"] == pytest.approx(5.0)
    return results / record["run_id"]
