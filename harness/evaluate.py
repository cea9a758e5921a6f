"""The evaluation pipeline: one submission, one challenge phase, one record.

:func:`run_submission` stages the submission and the split, runs the code in
a sandbox that sees only the inputs, then, after the sandbox has exited,
validates the outputs and scores them against the truth in this process.
Any failure of the submission ends as a record with ``status: failed``, the
stage and a message naming the cause; the harness itself keeps going.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import platform
import shutil
import tempfile
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

import harness
from harness.challenge import Challenge
from harness.errors import (
    HarnessError,
    InvalidInputError,
    PluginError,
    PredictionsError,
    SubmissionError,
)
from harness.interrupts import exit_on_terminate
from harness.plugins import Plugins
from harness.records import RunRecord, file_sha256, new_record, write_record
from harness.scoring import ColumnScore, score_columns
from harness.submission import stage_submission, tree_sha256
from harness.types import (
    PreparedSplit,
    SandboxJob,
    SandboxPlugin,
    SandboxResult,
    SubmissionKind,
)
from harness.validation import align_predictions, read_predictions

__all__ = ["RunOptions", "default_cache_dir", "run_submission", "score_predictions"]

log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """``$HARNESS_CACHE``, else ``$XDG_CACHE_HOME/harness``, else ``~/.cache``."""
    env = os.environ.get("HARNESS_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "harness"


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """How to run: where data, cache and results live, which sandbox."""

    sandbox: str | None = None
    data_dir: Path | None = None
    cache_dir: Path | None = None
    results_dir: Path = Path("harness-results")
    bootstrap: int = 1000
    seed: int = 0
    confidence: float = 0.95
    wheels: Path | None = None


class _Failure(Exception):
    def __init__(self, stage: str, kind: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.stage = stage
        self.kind = kind
        self.extra = extra


@contextmanager
def _timed(record: RunRecord, name: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        record["timings"][name] = round(time.perf_counter() - started, 6)


def _challenge_info(challenge: Challenge, phase: str, split: str) -> dict[str, Any]:
    return {
        "name": challenge.name,
        "version": challenge.version,
        "sha256": challenge.sha256,
        "phase": phase,
        "split": split,
        "source": challenge.source.name,
        "dataset": challenge.dataset,
        "labels": {
            "positive": challenge.positive_label,
            "higher_is_anomalous": challenge.higher_is_anomalous,
        },
    }


def _versions(plugins: Plugins) -> dict[str, Any]:
    return {
        "harness": harness.__version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "plugins": {info.name: info.version for info in plugins.infos},
    }


def prepare_split(
    challenge: Challenge, plugins: Plugins, split: str, options: RunOptions
) -> PreparedSplit:
    """Stage ``split`` of the challenge's dataset in the cache."""
    dataset = plugins.datasets[challenge.dataset]
    cache = (options.cache_dir or default_cache_dir()) / "datasets" / dataset.name
    cache.mkdir(parents=True, exist_ok=True)
    data_dir = options.data_dir
    if data_dir is not None and not Path(data_dir).is_dir():
        raise InvalidInputError(
            f"the data folder {data_dir} does not exist or is not a folder; give "
            f"the folder holding dataset {dataset.name!r}'s files, or no data "
            "folder for its synthetic stand-in"
        )
    try:
        prepared = dataset.prepare(
            split,
            cache_dir=cache,
            data_dir=data_dir,
            options=dict(challenge.dataset_options),
        )
    except HarnessError:
        raise
    except Exception as exc:
        # A file the host's data folder lacks is bad input, not a bug.
        if _missing_data(exc, data_dir):
            assert isinstance(exc, OSError)
            raise InvalidInputError(
                f"dataset {dataset.name!r} could not read split {split!r} "
                f"from the data folder {data_dir}: {exc.strerror}: {exc.filename}"
            ) from exc
        raise PluginError(
            f"dataset {dataset.name!r} failed to prepare split {split!r}: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(prepared, PreparedSplit):
        raise PluginError(
            f"dataset {dataset.name!r} returned {type(prepared).__name__} from "
            "prepare(), expected PreparedSplit"
        )
    inputs = prepared.inputs_dir.resolve()
    if prepared.truth_file.resolve().is_relative_to(inputs):
        raise PluginError(
            f"dataset {dataset.name!r} put its truth file inside the inputs "
            "folder, where submitted code could read it"
        )
    return prepared


def _missing_data(exc: Exception, data_dir: Path | None) -> bool:
    """Whether ``exc`` is about a file inside the data folder."""
    if not isinstance(exc, OSError) or data_dir is None or not exc.filename:
        return False
    return Path(exc.filename).resolve().is_relative_to(Path(data_dir).resolve())


def _pick_sandbox(plugins: Plugins, name: str | None) -> SandboxPlugin:
    if name is None:
        return plugins.default_sandbox()
    sandbox = plugins.sandboxes[name]
    status = sandbox.availability()
    if not status.ok:
        from harness.errors import SandboxUnavailableError

        raise SandboxUnavailableError(
            f"sandbox {name!r} cannot run here: {status.reason}"
            + (f" ({status.fix})" if status.fix else "")
        )
    return sandbox


def run_submission(
    challenge: Challenge,
    phase_name: str,
    submission: Path,
    *,
    plugins: Plugins,
    options: RunOptions | None = None,
) -> RunRecord:
    """Evaluate ``submission`` on a phase of ``challenge``; return its record.

    The record is also written to ``<results_dir>/<run_id>/record.json``
    together with the predictions and the sandbox's logs. Failures of the
    submission are recorded, not raised. Raises only for problems of the
    harness's own inputs found before the run starts: an unknown phase or an
    unavailable sandbox.
    """
    options = options or RunOptions()
    phase = challenge.phase(phase_name)
    sandbox = _pick_sandbox(plugins, options.sandbox)
    record = new_record(
        challenge=_challenge_info(challenge, phase.name, phase.split),
        submission=Path(submission).name,
    )
    record["versions"] = _versions(plugins)
    record["sandbox"] = {
        "name": sandbox.name,
        "version": sandbox.version,
        "notes": [],
        "limits": dataclasses.asdict(challenge.limits),
    }
    folder = options.results_dir / record["run_id"]
    try:
        folder.mkdir(parents=True, exist_ok=False)
    except OSError as exc:
        raise InvalidInputError(
            f"cannot create a run folder under {options.results_dir}: {exc}"
        ) from exc
    work = Path(tempfile.mkdtemp(prefix="harness-run-"))
    started = time.perf_counter()
    log.info(
        "run %s: %s on %s/%s with sandbox %s",
        record["run_id"],
        submission,
        challenge.name,
        phase.name,
        sandbox.name,
    )
    plugins.notify_run_started(record)
    interrupted: BaseException | None = None
    try:
        with exit_on_terminate():
            _pipeline(
                record,
                challenge,
                phase.split,
                Path(submission),
                plugins,
                sandbox,
                options,
                work,
                folder,
            )
        record["status"] = "succeeded"
        record["failure"] = None
    except (KeyboardInterrupt, SystemExit) as exc:
        # Stopped from outside: the sandbox has cleaned up on the way here;
        # record that the run did not finish, then stop as asked.
        interrupted = exc
        if isinstance(exc, KeyboardInterrupt):
            cause = "SIGINT, Ctrl-C"
        else:
            cause = getattr(exc, "signal_name", type(exc).__name__)
        record["failure"] = {
            "stage": "interrupted",
            "kind": "interrupted",
            "message": "the run was interrupted before it finished "
            f"({cause}); it was not scored",
        }
    except _Failure as failure:
        record["failure"] = {
            "stage": failure.stage,
            "kind": failure.kind,
            "message": str(failure),
            **failure.extra,
        }
    except Exception as exc:
        # A bug in the harness or a plugin: keep the record and the traceback.
        stage = "plugin" if isinstance(exc, PluginError) else "internal"
        record["failure"] = {
            "stage": stage,
            "kind": type(exc).__name__,
            "message": str(exc),
            "traceback": traceback.format_exc()[-8000:],
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    record["timings"]["total"] = round(time.perf_counter() - started, 6)
    write_record(record, folder)
    record["artifacts"]["record"] = "record.json"
    log.info("run %s: %s", record["run_id"], record["status"])
    plugins.notify_run_finished(record)
    if interrupted is not None:
        # The caller can still say where the record of the stopped run is.
        interrupted.record_path = folder / "record.json"  # type: ignore[attr-defined]
        raise interrupted
    return record


def _pipeline(
    record: RunRecord,
    challenge: Challenge,
    split: str,
    submission: Path,
    plugins: Plugins,
    sandbox: SandboxPlugin,
    options: RunOptions,
    work: Path,
    folder: Path,
) -> None:
    kind = plugins.kinds[challenge.kind]
    with _timed(record, "submission"):
        try:
            staged = stage_submission(
                submission, work / "submission", required=kind.required_files
            )
        except SubmissionError as exc:
            raise _Failure("submission", "invalid-submission", str(exc)) from exc
    record["submission"].update(
        sha256=staged.sha256,
        files=staged.files,
        bytes=staged.bytes,
        notes=list(staged.notes),
    )
    with _timed(record, "prepare"):
        try:
            prepared = prepare_split(challenge, plugins, split, options)
        except PluginError:
            raise
        except InvalidInputError as exc:
            raise _Failure("prepare", "invalid-data", str(exc)) from exc
    _record_data(record, challenge, plugins, prepared)
    _check_protocol_options(kind, challenge, split, prepared)
    output = work / "output"
    output.mkdir(mode=0o777)
    output.chmod(0o777)
    cache = (options.cache_dir or default_cache_dir()).resolve()
    hidden = [
        cache,
        prepared.truth_file.resolve().parent / "truth.npz",
        prepared.truth_file.resolve(),
    ]
    if options.data_dir is not None:
        hidden.append(Path(options.data_dir).resolve())
    # All of it, not only this run's folder: earlier runs' predictions and
    # records, of any submitter, are no business of this one.
    hidden.append(options.results_dir.resolve())
    # The plugins' code (the data generators among it) is no input either.
    hidden.extend(_plugin_folders(plugins))
    job = SandboxJob(
        runner=kind.runner,
        submission_dir=staged.path,
        inputs_dir=prepared.inputs_dir,
        output_dir=output,
        protocol={
            "name": challenge.protocol,
            "options": dict(challenge.protocol_options),
        },
        limits=challenge.limits,
        hidden=tuple(dict.fromkeys(hidden)),
        image=challenge.image,
        label=record["run_id"],
    )
    job = _install_requirements(record, challenge, sandbox, job, options)
    with _timed(record, "sandbox"):
        result = sandbox.run(job)
    report = _read_runner_report(output)
    record["sandbox"].update(
        exit_code=result.exit_code,
        timed_out=result.timed_out,
        killed_reason=result.killed_reason,
        notes=list(result.notes),
        stdout=result.stdout,
        stderr=result.stderr,
        runner=report,
    )
    _save_logs(result, folder)
    _check_sandbox_outcome(result, report, challenge)
    with _timed(record, "validation"):
        try:
            document = read_predictions(
                output / "predictions.json", max_bytes=challenge.limits.output_bytes
            )
            truth = prepared.load_truth()
            item_shape = tuple(challenge.protocol_options.get("output_shape", ()))
            values = align_predictions(document, truth.ids, item_shape=item_shape)
        except PredictionsError as exc:
            raise _Failure("validation", "invalid-predictions", str(exc)) from exc
    shutil.copyfile(output / "predictions.json", folder / "predictions.json")
    record["artifacts"]["predictions"] = "predictions.json"
    record["data"]["predictions_sha256"] = file_sha256(folder / "predictions.json")
    with _timed(record, "scoring"):
        try:
            columns = score_columns(
                challenge, plugins, truth, values, interval=_interval_fn(options)
            )
        except PredictionsError as exc:
            raise _Failure("scoring", "invalid-predictions", str(exc)) from exc
    _record_scores(record, columns, folder)


def _plugin_folders(plugins: Plugins) -> list[Path]:
    """The folders of the loaded plugins' top-level packages."""
    import importlib.util

    folders = []
    for info in plugins.infos:
        top = info.module.partition(":")[0].partition(".")[0]
        try:
            spec = importlib.util.find_spec(top)
        except (ImportError, ValueError):
            continue
        for location in (spec.submodule_search_locations or []) if spec else []:
            folders.append(Path(location).resolve())
    return folders


def _install_requirements(
    record: RunRecord,
    challenge: Challenge,
    sandbox: SandboxPlugin,
    job: SandboxJob,
    options: RunOptions,
) -> SandboxJob:
    """Let the sandbox install a submission's pinned packages, before the run."""
    path = job.submission_dir / "requirements.txt"
    if not path.is_file():
        return job
    text = path.read_text(encoding="utf-8", errors="replace")
    lines = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    if not any(lines):
        return job
    if challenge.requirements_allowed is None:
        raise _Failure(
            "submission",
            "requirements-refused",
            f"challenge {challenge.name!r} allows no extra packages; remove "
            "requirements.txt or use only what the image provides",
        )
    with _timed(record, "requirements"):
        try:
            job = sandbox.prepare_requirements(
                job,
                text,
                allowed=challenge.requirements_allowed,
                wheels=options.wheels or challenge.wheels,
            )
        except SubmissionError as exc:
            raise _Failure("submission", "requirements", str(exc)) from exc
    record["sandbox"]["image"] = job.image
    return job


def _check_protocol_options(
    kind: SubmissionKind, challenge: Challenge, split: str, prepared: PreparedSplit
) -> None:
    """Fail the run as the challenge's fault when its protocol options do not
    fit the prepared inputs, before any submission code runs."""
    if kind.check_inputs is None:
        return
    try:
        problems = kind.check_inputs(
            challenge.protocol, dict(challenge.protocol_options), prepared.inputs_dir
        )
    except Exception as exc:
        raise PluginError(
            f"submission kind {kind.name!r}: check_inputs raised "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    if problems:
        raise _Failure(
            "challenge",
            "protocol-options",
            f"the protocol options of challenge {challenge.name!r} do not fit "
            f"the inputs of split {split!r}: {'; '.join(problems)}. This is "
            "for the challenge's host to fix, not the submission",
        )


def _record_data(
    record: RunRecord, challenge: Challenge, plugins: Plugins, prepared: PreparedSplit
) -> None:
    dataset = plugins.datasets[challenge.dataset]
    manifest = json.loads((prepared.inputs_dir / "manifest.json").read_text())
    record["data"] = {
        "dataset": dataset.name,
        "version": dataset.version,
        "items": len(manifest.get("ids", [])),
        "inputs_sha256": tree_sha256(prepared.inputs_dir),
        "truth_sha256": file_sha256(prepared.truth_file),
    }


def _read_runner_report(output: Path) -> dict[str, Any] | None:
    path = output / "runner.json"
    if path.is_symlink() or not path.is_file() or path.stat().st_size > 1 << 20:
        return None
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        # ValueError covers malformed JSON and over-long integers;
        # RecursionError, arrays nested deeper than the parser goes.
        return None
    from harness.schemas import problems

    if problems(report, "runner-report"):
        return None
    return report  # type: ignore[no-any-return]


def _save_logs(result: SandboxResult, folder: Path) -> None:
    (folder / "stdout.txt").write_text(result.stdout, encoding="utf-8")
    (folder / "stderr.txt").write_text(result.stderr, encoding="utf-8")


def _tail(text: str, lines: int = 5) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()][-lines:]
    return "\n".join(kept)


def _check_sandbox_outcome(
    result: SandboxResult, report: dict[str, Any] | None, challenge: Challenge
) -> None:
    limits = challenge.limits
    if result.timed_out:
        message = (
            f"the submission ran past the wall-clock limit of "
            f"{limits.wall_seconds:g} s and was killed"
        )
        if result.stdout.strip():
            message += f"; its last output was:\n{_tail(result.stdout)}"
        raise _Failure("sandbox", "timeout", message)
    # A kill is the sandbox's word; a runner report is the child's, which
    # the submission can write itself, so it must not hide a kill.
    if result.killed_reason is not None:
        message = f"the submission was killed: {result.killed_reason}"
        if "memory" in result.killed_reason.lower():
            message += f" (the memory limit is {limits.memory_bytes // 2**20} MB)"
        raise _Failure("sandbox", "killed", message)
    if report is not None and report.get("status") == "error":
        error = report.get("error", {})
        message = error.get("message", "the runner reported an error")
        kind = error.get("type", "error")
        if kind == "MemoryError":
            message += f" (the memory limit is {limits.memory_bytes // 2**20} MB)"
        raise _Failure(
            "runner",
            kind,
            message,
            call=error.get("call"),
            item=error.get("item"),
            traceback=error.get("traceback"),
        )
    if result.exit_code != 0 or report is None or report.get("status") != "ok":
        detail = _tail(result.stderr) or "no output"
        raise _Failure(
            "sandbox",
            "crashed",
            f"the runner exited with code {result.exit_code} without a valid "
            f"report; last error output:\n{detail}",
        )


def _interval_fn(options: RunOptions) -> Any:
    if options.bootstrap <= 0:
        return None
    from harness.intervals import metric_interval

    def interval(metric: Any, metric_options: Any, truth: Any, scores: Any) -> Any:
        return metric_interval(
            metric,
            metric_options,
            truth,
            scores,
            n_resamples=options.bootstrap,
            seed=options.seed,
            confidence=options.confidence,
        )

    return interval


def _record_scores(record: RunRecord, columns: list[ColumnScore], folder: Path) -> None:
    record["scores"] = {c.key: c.as_dict() for c in columns}
    primary = next(c for c in columns if c.primary)
    record["primary"] = {"key": primary.key, "value": primary.value}
    flat = {c.key: c.value for c in columns if c.value is not None}
    (folder / "scores.json").write_text(json.dumps(flat, indent=2) + "\n")
    record["artifacts"]["scores"] = "scores.json"


def score_predictions(
    challenge: Challenge,
    phase_name: str,
    predictions: Path,
    *,
    plugins: Plugins,
    options: RunOptions | None = None,
) -> list[ColumnScore]:
    """Score an existing predictions file; raise on invalid predictions."""
    options = options or RunOptions()
    phase = challenge.phase(phase_name)
    prepared = prepare_split(challenge, plugins, phase.split, options)
    document = read_predictions(predictions)
    truth = prepared.load_truth()
    item_shape = tuple(challenge.protocol_options.get("output_shape", ()))
    values = align_predictions(document, truth.ids, item_shape=item_shape)
    return score_columns(
        challenge, plugins, truth, values, interval=_interval_fn(options)
    )
