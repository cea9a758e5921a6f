"""Run a submission through a Codabench bundle the way the compute worker does.

:func:`run_bundle` unpacks a bundle and a submission, then for each task of
the chosen phase runs the prediction step and the scoring step in separate
Docker containers with the platform's mounts:

- prediction: the ingestion program at ``/app/program``, the submission at
  ``/app/ingested_program``, the input data at ``/app/input_data`` and an
  empty ``/app/output``. A submission without a ``metadata`` file is first
  copied into that output folder, as the platform does, so that result
  submissions reach scoring; a submission whose metadata has a ``command``
  runs it, with itself at ``/app/program``, before the ingestion program;
- scoring: the scoring program at ``/app/program``, the reference data at
  ``/app/input/ref``, the prediction output at ``/app/input/res``, an empty
  ``/app/shared`` and an empty ``/app/output``.

It is stricter than the platform where the platform is known to mislead: a
step that exits non-zero fails the run even if it wrote scores; a
``scores.json`` with keys that match no column, columns left without a
value, or NaN and infinite values fails it too; a step past the phase's
``execution_time_limit`` is killed and its output so far is kept. Every
container is hardened like the docker sandbox's (no network, read-only root,
no capabilities, resource caps, an unprivileged user), labelled so a later
run sweeps what a crashed one left, and removed in every case, SIGTERM and
SIGHUP included (they are turned into :class:`SystemExit` during a run).

Known limits: images are never pulled (the engine must hold the bundle's
``docker_image``, or pass another); programs and submissions are mounted
read-only, where the platform lets them write; the two containers of a
prediction step run one after the other, not side by side; memory, CPU and
process caps are this emulator's, not the platform's (which has none by
default); ``max_submissions_per_day``, phase dates and ranking among several
submissions are not emulated.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import logging
import shutil
import tempfile
import time
import uuid
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from harness.codabench.bundle import (
    BundleError,
    BundlePhase,
    Column,
    Competition,
    Leaderboard,
    Task,
    read_competition,
    read_program_command,
)
from harness.codabench.checks import ScoresProblem, parse_scores
from harness.codabench.containers import (
    ContainerRunner,
    StepLog,
    check_image,
    connect,
)
from harness.errors import SubmissionError
from harness.interrupts import exit_on_terminate
from harness.submission import SubmissionCaps, stage_submission

if TYPE_CHECKING:
    from docker import DockerClient

__all__ = ["Emulation", "EmulatorOptions", "StepLog", "TaskOutcome", "run_bundle"]

log = logging.getLogger(__name__)

#: The image the platform uses when a bundle names none.
PLATFORM_DEFAULT_IMAGE = "codalab/codalab-legacy:py3"
BUNDLE_CAPS = SubmissionCaps(max_bytes=8 * 1024**3, max_files=200_000)
MAX_SCORES_BYTES = 1024**2
_JUNK = ("__MACOSX", ".DS_Store")


@dataclasses.dataclass(frozen=True)
class EmulatorOptions:
    """How to emulate.

    :param image: run every container in this image instead of the bundle's
        ``docker_image``.
    :param time_limit: seconds per step instead of the phase's
        ``execution_time_limit``.
    :param default_time_limit: seconds per step when the phase sets none.
    :param results_dir: where a folder with logs, scores and a
        ``result.json`` is written for every run; ``None`` writes nothing.
    :param client_factory: returns a connected docker client; defaults to
        ``docker.from_env()``.
    """

    image: str | None = None
    time_limit: float | None = None
    default_time_limit: float = 600.0
    memory_mb: int = 4096
    cpus: float = 1.0
    processes: int = 256
    log_bytes: int = 64 * 1024
    results_dir: Path | None = Path("harness-results")
    client_factory: Callable[[], DockerClient] | None = None


@dataclasses.dataclass
class TaskOutcome:
    """What happened to one task of the phase."""

    index: int
    name: str
    steps: list[StepLog] = dataclasses.field(default_factory=list)
    scores: dict[str, float] | None = None
    detailed_results: str | None = None


@dataclasses.dataclass
class Emulation:
    """The outcome of :func:`run_bundle`.

    :param status: ``succeeded`` or ``failed``.
    :param submission_kind: ``program`` (its metadata has a command),
        ``ingested`` (handed to the task's ingestion program) or ``results``
        (no ingestion program: its files are the results).
    :param failure: ``stage``, ``kind``, ``message`` and the ``task`` index,
        when the run failed.
    :param leaderboards: one row per leaderboard: its title and, per column
        in index order, the key, title, value (``None`` if absent) and the
        value as the leaderboard would print it.
    """

    run_id: str
    bundle: str
    submission: str
    title: str = ""
    phase: str = ""
    image: str = ""
    submission_kind: str = ""
    status: str = "failed"
    notes: list[str] = dataclasses.field(default_factory=list)
    tasks: list[TaskOutcome] = dataclasses.field(default_factory=list)
    leaderboards: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    failure: dict[str, Any] | None = None
    folder: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class _StepFailed(Exception):
    def __init__(self, stage: str, kind: str, message: str, task: int | None) -> None:
        super().__init__(message)
        self.stage = stage
        self.kind = kind
        self.task = task


# -- unpacking -------------------------------------------------------------------------


def _enclosing_folder(archive: Path) -> str | None:
    """The single folder every member of a zip sits in, if there is one."""
    try:
        with zipfile.ZipFile(archive) as zf:
            names = [n for n in zf.namelist() if not n.endswith("/")]
    except (zipfile.BadZipFile, OSError):
        return None
    parts = [PurePosixPath(n).parts for n in names]
    parts = [
        p
        for p in parts
        if p and not any(j in p for j in _JUNK) and not p[-1].startswith("._")
    ]
    tops = {p[0] for p in parts}
    if len(tops) == 1 and all(len(p) > 1 for p in parts):
        return tops.pop()
    return None


def _unpack(
    source: Path,
    dest: Path,
    what: str,
    notes: list[str],
    *,
    caps: SubmissionCaps | None = None,
    required: tuple[str, ...] = (),
) -> Path:
    """Copy or extract a folder or zip, adding its notes prefixed by ``what``."""
    top = _enclosing_folder(source) if source.is_file() else None
    staged = stage_submission(source, dest, caps=caps, required=required)
    notes.extend(f"{what}: {note}" for note in staged.notes)
    if top is not None:
        notes.append(
            f"{what}: the platform does not strip an enclosing folder; there the "
            f"files would sit under {top}/ and not be found"
        )
    return staged.path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _leaks(inputs: Path, reference: Path) -> list[str]:
    """Reference files that also appear, byte for byte, in the input data."""
    truth = {
        _sha256(p): p.relative_to(reference)
        for p in reference.rglob("*")
        if p.is_file()
    }
    found = []
    for path in inputs.rglob("*"):
        if path.is_file() and (digest := _sha256(path)) in truth:
            found.append(
                f"input data {path.relative_to(inputs)} is identical to "
                f"reference file {truth[digest]}: submitted code can read "
                "the truth"
            )
    return found


def _open_writable(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for path in [folder, *folder.rglob("*")]:
        # The containers run as an unprivileged user that must write here.
        path.chmod(0o777 if path.is_dir() else 0o666)
    return folder


# -- one task --------------------------------------------------------------------------


def _tail(text: str, lines: int = 8) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()][-lines:]
    return "\n".join(kept)


def _check_step(step: StepLog, task: int) -> None:
    if step.exit_code is None:
        raise _StepFailed(step.kind, "start-failed", step.stderr, task)
    if step.timed_out:
        message = (
            f"the {step.kind} step ran past the {step.killed_reason} and was killed"
        )
        printed = _tail(step.stdout) or _tail(step.stderr)
        if printed:
            message += f"; its last output was:\n{printed}"
        raise _StepFailed(step.kind, "timeout", message, task)
    if step.exit_code != 0:
        message = f"the {step.kind} step exited with code {step.exit_code}"
        if step.killed_reason:
            message += f" (killed: {step.killed_reason})"
        detail = _tail(step.stderr) or _tail(step.stdout)
        message += f"; last output:\n{detail}" if detail else " without output"
        raise _StepFailed(step.kind, "exit-code", message, task)


def _materialise(
    competition: Competition, rel: str | None, dest: Path, what: str, notes: list[str]
) -> Path | None:
    if rel is None:
        return None
    source = competition.root / rel
    if source.is_dir():
        return source
    return _unpack(source, dest, what, notes)


def _run_task(
    engine: ContainerRunner,
    competition: Competition,
    task: Task,
    submission: Path,
    submission_command: str | None,
    limit: float,
    work: Path,
    notes: list[str],
    outcome: TaskOutcome,
) -> None:
    def part(rel: str | None, name: str) -> Path | None:
        return _materialise(
            competition, rel, work / name, f"task {task.index} {name}", notes
        )

    scoring = part(task.scoring_program, "scoring_program")
    ingestion = part(task.ingestion_program, "ingestion_program")
    inputs = part(task.input_data, "input_data")
    reference = part(task.reference_data, "reference_data")
    assert scoring is not None
    if inputs is not None and reference is not None:
        notes.extend(f"task {task.index}: {leak}" for leak in _leaks(inputs, reference))
    scoring_command = read_program_command(scoring)
    if scoring_command is None:
        raise BundleError(
            f"task {task.index}: the scoring program "
            f"{task.scoring_program!r} has no metadata.yaml"
        )
    ingestion_command = None
    if ingestion is not None:
        ingestion_command = read_program_command(ingestion)
        if ingestion_command is None:
            raise BundleError(
                f"task {task.index}: the ingestion program "
                f"{task.ingestion_program!r} has no metadata.yaml"
            )

    predictions = work / "prediction_output"
    if submission_command is None:
        shutil.copytree(submission, predictions)
    _open_writable(predictions)
    data = {"/app/input_data": (inputs, False)} if inputs is not None else {}
    deadline = time.monotonic() + limit
    if submission_command is not None:
        step = engine.run(
            "submission",
            submission_command,
            {
                "/app/program": (submission, False),
                "/app/output": (predictions, True),
                **data,
            },
            deadline,
            limit,
        )
        outcome.steps.append(step)
        _check_step(step, task.index)
    if ingestion is not None and ingestion_command is not None:
        step = engine.run(
            "ingestion",
            ingestion_command,
            {
                "/app/program": (ingestion, False),
                "/app/ingested_program": (submission, False),
                "/app/output": (predictions, True),
                **data,
            },
            deadline,
            limit,
        )
        outcome.steps.append(step)
        _check_step(step, task.index)

    scored = _open_writable(work / "scoring_output")
    mounts = {
        "/app/program": (scoring, False),
        "/app/input/res": (predictions, False),
        "/app/shared": (_open_writable(work / "shared"), True),
        "/app/output": (scored, True),
    }
    if reference is not None:
        mounts["/app/input/ref"] = (reference, False)
    step = engine.run(
        "scoring", scoring_command, mounts, time.monotonic() + limit, limit
    )
    outcome.steps.append(step)
    wrote = (scored / "scores.json").is_file()
    try:
        _check_step(step, task.index)
    except _StepFailed as exc:
        if wrote and exc.kind == "exit-code":
            exc.args = (
                f"{exc}\nIt wrote scores.json before failing; those scores "
                "are ignored (the platform may still show the run as "
                "finished)",
            )
        raise
    html = scored / "detailed_results.html"
    if html.is_file():
        outcome.detailed_results = html.read_text(encoding="utf-8", errors="replace")
    if not wrote:
        raise _StepFailed(
            "scores",
            "no-scores",
            "the scoring program exited with code 0 but wrote no scores.json",
            task.index,
        )
    if (scored / "scores.json").stat().st_size > MAX_SCORES_BYTES:
        raise _StepFailed(
            "scores",
            "invalid-scores",
            f"scores.json is larger than {MAX_SCORES_BYTES} bytes",
            task.index,
        )
    text = (scored / "scores.json").read_text(encoding="utf-8", errors="replace")
    # Keys are checked against the columns once every task has run.
    try:
        outcome.scores = parse_scores(text, None)
    except ScoresProblem as exc:
        raise _StepFailed(
            "scores",
            "invalid-scores",
            f"scores.json cannot be ranked: {exc}",
            task.index,
        ) from exc


# -- leaderboard -----------------------------------------------------------------------


def _compute(column: Column, values: Mapping[int, float | None]) -> float | None:
    found = [values.get(i) for i in column.computation_indexes]
    if not found or any(v is None for v in found):
        return None
    numbers = [float(v) for v in found if v is not None]
    if column.computation == "avg":
        return sum(numbers) / len(numbers)
    if column.computation == "sum":
        return sum(numbers)
    if column.computation == "min":
        return min(numbers)
    return max(numbers)


def _rows(
    boards: tuple[Leaderboard, ...], scores: Mapping[str, float]
) -> list[dict[str, Any]]:
    rows = []
    for board in boards:
        values: dict[int, float | None] = {
            c.index: scores.get(c.key) for c in board.columns if c.computation is None
        }
        for c in board.columns:
            if c.computation is not None:
                values[c.index] = _compute(c, values)
        columns = []
        for c in board.columns:
            value = values[c.index]
            columns.append(
                {
                    "key": c.key,
                    "title": c.title,
                    "index": c.index,
                    "sorting": c.sorting,
                    "precision": c.precision,
                    "computed": c.computation is not None,
                    "value": value,
                    "text": "-" if value is None else f"{value:.{c.precision}f}",
                }
            )
        rows.append({"key": board.key, "title": board.title, "columns": columns})
    return rows


def _check_keys(competition: Competition, tasks: list[TaskOutcome]) -> dict[str, float]:
    expected = competition.scored_keys
    merged: dict[str, float] = {}
    owner: dict[str, int] = {}
    problems = []
    for outcome in tasks:
        for key, value in (outcome.scores or {}).items():
            if key in owner:
                problems.append(
                    f"key {key!r} is written by task {owner[key]} and by "
                    f"task {outcome.index}; one would hide the other"
                )
            owner[key] = outcome.index
            merged[key] = value
    unknown = [k for k in merged if k not in expected]
    if unknown:
        problems.append(
            f"unknown key(s) {unknown} match no leaderboard column (the "
            "platform would drop them silently)"
        )
    missing = [k for k in expected if k not in merged]
    if missing:
        problems.append(f"leaderboard column(s) {missing} get no value")
    if problems:
        raise _StepFailed(
            "scores",
            "invalid-scores",
            "scores.json does not fit the leaderboard: " + "; ".join(problems),
            None,
        )
    return merged


# -- the run ---------------------------------------------------------------------------


def _submission_command(folder: Path, notes: list[str]) -> str | None:
    try:
        return read_program_command(folder)
    except BundleError as exc:
        # The platform goes on without a command, leaving the files to the
        # ingestion program.
        notes.append(f"submission: {exc}; treated as files for the ingestion program")
        return None


def _save(result: Emulation, work: Path, options: EmulatorOptions) -> None:
    if options.results_dir is None:
        return
    folder = Path(options.results_dir) / f"codabench-{result.run_id}"
    folder.mkdir(parents=True, exist_ok=False)
    for outcome in result.tasks:
        task_dir = folder / f"task-{outcome.index}"
        task_dir.mkdir()
        for step in outcome.steps:
            (task_dir / f"{step.kind}.stdout.txt").write_text(step.stdout, "utf-8")
            (task_dir / f"{step.kind}.stderr.txt").write_text(step.stderr, "utf-8")
        scored = work / f"task-{outcome.index}" / "scoring_output"
        for name in ("scores.json", "detailed_results.html"):
            if (scored / name).is_file():
                shutil.copyfile(scored / name, task_dir / name)
        predicted = work / f"task-{outcome.index}" / "prediction_output"
        for name in ("predictions.json", "runner.json"):
            path = predicted / name
            if path.is_file() and path.stat().st_size <= 64 * 1024**2:
                shutil.copyfile(path, task_dir / name)
    result.folder = str(folder)
    (folder / "result.json").write_text(
        json.dumps(result.as_dict(), indent=2, default=str) + "\n", "utf-8"
    )


def _run(
    result: Emulation,
    bundle: Path,
    submission: Path,
    phase: str | None,
    options: EmulatorOptions,
    work: Path,
) -> None:
    """The body of :func:`run_bundle`; fills ``result`` in."""
    try:
        root = _unpack(
            bundle, work / "bundle", "bundle", result.notes, caps=BUNDLE_CAPS
        )
    except SubmissionError as exc:
        raise BundleError(f"cannot unpack the bundle: {exc}") from exc
    competition = read_competition(root)
    chosen = competition.phase(phase)
    result.title = competition.title
    result.phase = chosen.name
    result.image = options.image or competition.docker_image or PLATFORM_DEFAULT_IMAGE
    client = connect(options.client_factory)
    try:
        _run_phase(result, competition, chosen, client, submission, options, work)
    finally:
        if options.client_factory is None:
            client.close()
    _save(result, work, options)


def _run_phase(
    result: Emulation,
    competition: Competition,
    chosen: BundlePhase,
    client: DockerClient,
    submission: Path,
    options: EmulatorOptions,
    work: Path,
) -> None:
    """Run every task of the phase; a failure is recorded in ``result``."""
    limit = (
        options.time_limit or chosen.execution_time_limit or options.default_time_limit
    )
    check_image(client, result.image)
    engine = ContainerRunner(
        client,
        result.image,
        result.run_id,
        submission.name,
        memory_mb=options.memory_mb,
        cpus=options.cpus,
        processes=options.processes,
        log_bytes=options.log_bytes,
    )
    try:
        try:
            staged = _unpack(
                submission, work / "submission", "submission", result.notes
            )
        except SubmissionError as exc:
            raise _StepFailed(
                "submission", "invalid-submission", str(exc), None
            ) from exc
        command = _submission_command(staged, result.notes)
        result.submission_kind = (
            "program"
            if command is not None
            else "ingested"
            if any(competition.tasks[t].ingestion_program for t in chosen.tasks)
            else "results"
        )
        for index in chosen.tasks:
            task = competition.tasks[index]
            outcome = TaskOutcome(index=index, name=task.name)
            result.tasks.append(outcome)
            task_work = work / f"task-{index}"
            task_work.mkdir()
            _run_task(
                engine,
                competition,
                task,
                staged,
                command,
                limit,
                task_work,
                result.notes,
                outcome,
            )
        scores = _check_keys(competition, result.tasks)
        result.leaderboards = _rows(competition.leaderboards, scores)
        result.status = "succeeded"
    except _StepFailed as exc:
        result.failure = {
            "stage": exc.stage,
            "kind": exc.kind,
            "message": str(exc),
            "task": exc.task,
        }


def run_bundle(
    bundle: Path,
    submission: Path,
    *,
    phase: str | None = None,
    options: EmulatorOptions | None = None,
) -> Emulation:
    """Run ``submission`` on a phase of ``bundle`` (folder or zip) in Docker.

    Failures of the submission or of the bundle's programs are returned as an
    :class:`Emulation` with ``status`` ``failed``, never raised.

    :param phase: a phase name (any case) or index; the first phase if
        ``None``.
    :raises BundleError: the bundle cannot be unpacked or its
        ``competition.yaml`` is malformed.
    :raises SandboxUnavailableError: no Docker engine, or the image is missing.
    """
    options = options or EmulatorOptions()
    now = _dt.datetime.now(_dt.timezone.utc)
    run_id = now.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    result = Emulation(run_id=run_id, bundle=str(bundle), submission=str(submission))
    work = Path(tempfile.mkdtemp(prefix="harness-codabench-"))
    with exit_on_terminate():
        try:
            _run(result, Path(bundle), Path(submission), phase, options, work)
        except (KeyboardInterrupt, SystemExit):
            # Keep what the finished steps printed, and say why it stopped.
            result.status = "failed"
            result.failure = {
                "stage": "interrupted",
                "kind": "interrupted",
                "message": "the run was interrupted before it finished",
            }
            if result.folder is None:
                _save(result, work, options)
            raise
        finally:
            shutil.rmtree(work, ignore_errors=True)
    log.info("codabench run %s: %s", run_id, result.status)
    return result
