"""The scoring step of an exported Codabench bundle.

Runs inside the platform's scoring container, where the harness and the
challenge's metric plugins sit next to ``score.py`` in the program folder,
so it needs only the standard library, numpy and the pluggy copy shipped in
the bundle. It reads the predictions the ingestion step wrote
(``<res>/predictions.json`` and, for code submissions, ``<res>/runner.json``)
and the truth (``<ref>/truth.npz``), applies the same checks and the same
metric functions as ``harness run``, and writes ``<output>/scores.json``
(finite numbers keyed exactly by the leaderboard column keys) and
``<output>/detailed_results.html``.

Exit status: 0 scored; 1 the submission's output cannot be scored (the
message says why); 2 the bundle itself is broken (missing truth or snapshot,
a metric plugin that fails). No ``scores.json`` is written unless every
column has a finite value.

Paths default to the platform's (``/app/input/ref``, ``/app/input/res``,
``/app/output``) and can be changed with arguments or the environment
variables ``HARNESS_CODABENCH_REF``, ``HARNESS_CODABENCH_RES`` and
``HARNESS_CODABENCH_OUTPUT``, for running the step by hand.
"""

from __future__ import annotations

import argparse
import dataclasses
import html
import importlib
import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.codabench.checks import (
    align_predictions,
    check_predictions_document,
    read_json_file,
)
from harness.errors import HarnessError, PredictionsError
from harness.types import MetricColumn, Truth

if TYPE_CHECKING:
    from harness.plugins import Plugins
    from harness.scoring import ColumnScore

__all__ = [
    "SNAPSHOT_NAME",
    "ChallengeSnapshot",
    "ScoringFailure",
    "main",
    "score_folders",
]

SNAPSHOT_NAME = "challenge.json"
TRUTH_NAME = "truth.npz"
EXIT_UNSCORABLE = 1
EXIT_BROKEN_BUNDLE = 2


class ScoringFailure(Exception):
    """Scoring cannot go on; ``exit_code`` says whose fault it is."""

    def __init__(self, message: str, exit_code: int = EXIT_UNSCORABLE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclasses.dataclass(frozen=True)
class ChallengeSnapshot:
    """What the programs of a bundle need to know of a resolved challenge.

    Written as JSON by the export, so the platform needs no YAML parser and
    no schema validator. It carries exactly what
    :func:`harness.scoring.score_columns` reads of a challenge, plus the
    calling protocol for the ingestion step and where the metric plugins
    live.

    :param plugins: ``(plugin name, importable module)`` of every plugin
        that provides a metric used by a column.
    :param required_files: files whose presence at a submission's root makes
        it a code submission for the ingestion step.
    """

    name: str
    version: str
    sha256: str
    positive_label: int | str
    higher_is_anomalous: bool
    columns: tuple[MetricColumn, ...]
    item_shape: tuple[int, ...]
    protocol: Mapping[str, Any]
    plugins: tuple[tuple[str, str], ...]
    max_prediction_bytes: int
    required_files: tuple[str, ...] = ("model.py",)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ChallengeSnapshot:
        """Build a snapshot from its JSON form; raise ``KeyError`` if incomplete."""
        return cls(
            name=raw["name"],
            version=raw["version"],
            sha256=raw.get("sha256", ""),
            positive_label=raw["labels"]["positive"],
            higher_is_anomalous=bool(raw["labels"]["higher_is_anomalous"]),
            columns=tuple(MetricColumn(**c) for c in raw["columns"]),
            item_shape=tuple(int(d) for d in raw.get("item_shape", ())),
            protocol=dict(raw["protocol"]),
            plugins=tuple((p["name"], p["module"]) for p in raw["plugins"]),
            max_prediction_bytes=int(raw["max_prediction_bytes"]),
            required_files=tuple(raw.get("required_files", ("model.py",))),
        )

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON form read by :meth:`from_dict`."""
        return {
            "format_version": 1,
            "name": self.name,
            "version": self.version,
            "sha256": self.sha256,
            "labels": {
                "positive": self.positive_label,
                "higher_is_anomalous": self.higher_is_anomalous,
            },
            "columns": [dataclasses.asdict(c) for c in self.columns],
            "item_shape": list(self.item_shape),
            "protocol": dict(self.protocol),
            "plugins": [{"name": n, "module": m} for n, m in self.plugins],
            "max_prediction_bytes": self.max_prediction_bytes,
            "required_files": list(self.required_files),
        }


def read_snapshot(program_dir: Path) -> ChallengeSnapshot:
    """Read ``challenge.json`` from a program folder."""
    path = program_dir / SNAPSHOT_NAME
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return ChallengeSnapshot.from_dict(raw)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ScoringFailure(
            f"the scoring program's {SNAPSHOT_NAME} cannot be read ({path}): "
            f"{type(exc).__name__}: {exc}",
            EXIT_BROKEN_BUNDLE,
        ) from exc


def load_metric_plugins(snapshot: ChallengeSnapshot) -> Plugins:
    """Register the plugins named in the snapshot, and nothing else."""
    from harness.plugins import load_plugins

    modules = []
    for name, module in snapshot.plugins:
        try:
            modules.append((name, importlib.import_module(module)))
        except Exception as exc:
            # Whatever the import raised, the bundle cannot score without it.
            raise ScoringFailure(
                f"metric plugin {name!r} ({module}) failed to import: "
                f"{type(exc).__name__}: {exc}",
                EXIT_BROKEN_BUNDLE,
            ) from exc
    try:
        return load_plugins(entry_points=False, extra=modules)
    except HarnessError as exc:
        raise ScoringFailure(str(exc), EXIT_BROKEN_BUNDLE) from exc


def read_truth(ref_dir: Path) -> Truth:
    """Load ``truth.npz`` from the reference folder."""
    path = ref_dir / TRUTH_NAME
    if not path.is_file():
        found = sorted(p.name for p in ref_dir.iterdir()) if ref_dir.is_dir() else []
        raise ScoringFailure(
            f"no {TRUTH_NAME} in the reference data ({ref_dir}; found: "
            f"{', '.join(found) or 'nothing'})",
            EXIT_BROKEN_BUNDLE,
        )
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        ids = arrays.pop("ids")
        labels = arrays.pop("labels")
    except (OSError, ValueError, KeyError) as exc:
        raise ScoringFailure(
            f"{TRUTH_NAME} in the reference data cannot be read: {exc}",
            EXIT_BROKEN_BUNDLE,
        ) from exc
    return Truth(ids=ids, labels=labels, columns=arrays)


def _runner_failure(res_dir: Path) -> str | None:
    """The ingestion runner's own error message, if it reported one."""
    path = res_dir / "runner.json"
    if not path.is_file() or path.is_symlink() or path.stat().st_size > 1 << 20:
        return None
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(report, dict) or report.get("status") != "error":
        return None
    error = report.get("error")
    if not isinstance(error, dict):
        error = {}
    stage = report.get("stage", "unknown")
    return f"the submission failed at stage {stage}: {error.get('message', '?')}"


@dataclasses.dataclass(frozen=True)
class ScoringOutcome:
    """Scores of every column, in the challenge's column order."""

    columns: tuple[ColumnScore, ...]
    items: int
    seconds: float

    @property
    def scores(self) -> dict[str, float]:
        return {c.key: float(c.value) for c in self.columns if c.value is not None}


def score_folders(
    snapshot: ChallengeSnapshot, ref_dir: Path, res_dir: Path
) -> ScoringOutcome:
    """Check the predictions in ``res_dir`` and score them against ``ref_dir``.

    :raises ScoringFailure: when the predictions are missing or invalid, or a
        column's value is undefined for them.
    """
    from harness.scoring import score_columns

    started = time.perf_counter()
    failed = _runner_failure(res_dir)
    if failed is not None:
        raise ScoringFailure(failed)
    truth = read_truth(ref_dir)
    plugins = load_metric_plugins(snapshot)
    try:
        document = read_json_file(
            res_dir / "predictions.json",
            max_bytes=snapshot.max_prediction_bytes,
            what="predictions.json",
        )
        check_predictions_document(document)
        values = align_predictions(document, truth.ids, item_shape=snapshot.item_shape)
    except PredictionsError as exc:
        raise ScoringFailure(str(exc)) from exc
    try:
        columns = score_columns(snapshot, plugins, truth, values)  # type: ignore[arg-type]
    except HarnessError as exc:
        # A metric that rejects the values (a flag that is not 0 or 1, say)
        # names the reason; the submission is what has to change.
        raise ScoringFailure(str(exc)) from exc
    undefined = [c for c in columns if c.value is None]
    if undefined:
        detail = "; ".join(
            f"{c.key} ({'; '.join(c.warnings) or 'no reason given'})" for c in undefined
        )
        raise ScoringFailure(
            f"{len(undefined)} column(s) are undefined (NaN) for these predictions, "
            f"and a leaderboard cannot rank an undefined score: {detail}"
        )
    return ScoringOutcome(tuple(columns), len(truth), time.perf_counter() - started)


def _html_page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>\n<body>\n"
        f"<h1>{html.escape(title)}</h1>\n{body}</body></html>\n"
    )


def detailed_results(snapshot: ChallengeSnapshot, outcome: ScoringOutcome) -> str:
    """An HTML page with every column's value, direction and warnings."""
    rows = []
    for column in outcome.columns:
        mark = " (primary)" if column.primary else ""
        better = "higher" if column.direction == "higher" else "lower"
        value = (
            "undefined"
            if column.value is None
            else f"{column.value:.{column.precision}f}"
        )
        warn = "<br>".join(html.escape(w) for w in column.warnings)
        rows.append(
            f"<tr><td>{html.escape(column.key)}{mark}</td><td>{value}</td>"
            f"<td>{better} is better</td><td>{warn}</td></tr>"
        )
    table = (
        '<table border="1" cellpadding="4">\n<tr><th>column</th><th>score</th>'
        "<th>direction</th><th>warnings</th></tr>\n" + "\n".join(rows) + "\n</table>\n"
    )
    about = (
        f"<p>Challenge {html.escape(snapshot.name)} {html.escape(snapshot.version)}; "
        f"{outcome.items} items scored in {outcome.seconds:.2f} s.</p>\n"
    )
    return _html_page(f"Scores: {snapshot.name}", about + table)


def failure_page(message: str) -> str:
    """An HTML page that states why scoring failed."""
    return _html_page("Scoring failed", f"<pre>{html.escape(message)}</pre>\n")


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _paths(argv: Sequence[str] | None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(
        description="Score a harness submission on Codabench."
    )
    parser.add_argument("--ref", default=env("HARNESS_CODABENCH_REF", "/app/input/ref"))
    parser.add_argument("--res", default=env("HARNESS_CODABENCH_RES", "/app/input/res"))
    parser.add_argument(
        "--output", default=env("HARNESS_CODABENCH_OUTPUT", "/app/output")
    )
    parser.add_argument(
        "--program",
        default=None,
        help="folder holding challenge.json (default: the folder of score.py)",
    )
    parser.add_argument(
        "--self-check",
        action="store_true",
        help="load the snapshot and metric plugins, print what was imported, exit",
    )
    return parser.parse_args(argv)


def _inside_folder(file: str | None, folder: Path) -> bool:
    if not file:
        return False
    return Path(file).resolve().is_relative_to(folder.resolve())


def imported_outside(allowed: Sequence[str], before: set[str]) -> list[str]:
    """Top-level modules imported since ``before`` that are neither standard nor
    allowed; interpreter internals (``cython_runtime``, compiled ``__mypyc``
    helpers) are left out."""
    stdlib = set(getattr(sys, "stdlib_module_names", ()))
    names = {name.partition(".")[0] for name in set(sys.modules) - before}
    return sorted(
        n
        for n in names
        if n not in stdlib
        and n not in allowed
        and not n.startswith("_")
        and "__" not in n
        and n != "cython_runtime"
    )


def main(argv: Sequence[str] | None = None, *, program_dir: Path | None = None) -> int:
    """Run the scoring step; return the exit status (see the module docstring)."""
    args = _paths(argv)
    program = Path(args.program) if args.program else program_dir or Path.cwd()
    output = Path(args.output)
    try:
        snapshot = read_snapshot(program)
        if args.self_check:
            before = set(sys.modules)
            load_metric_plugins(snapshot)
            allowed = ["numpy", "PIL", "pluggy", "harness"] + [
                module.partition(".")[0] for _, module in snapshot.plugins
            ]
            # Packages the export copied beside the program travel with it.
            allowed += [
                name
                for name, module in list(sys.modules.items())
                if _inside_folder(getattr(module, "__file__", None), program)
            ]
            harness_dir = Path(sys.modules["harness"].__file__ or "").parent
            print(
                json.dumps(
                    {
                        "outside": imported_outside(allowed, before),
                        "harness": str(harness_dir),
                    }
                )
            )
            return 0
        outcome = score_folders(snapshot, Path(args.ref), Path(args.res))
    except ScoringFailure as exc:
        sys.stderr.write(f"scoring failed: {exc}\n")
        if output.is_dir():
            _write_text(output / "detailed_results.html", failure_page(str(exc)))
        return exc.exit_code
    output.mkdir(parents=True, exist_ok=True)
    scores = outcome.scores
    _write_text(output / "detailed_results.html", detailed_results(snapshot, outcome))
    _write_text(output / "scores.json", json.dumps(scores, indent=2, allow_nan=False))
    width = max(len(k) for k in scores)
    for column in outcome.columns:
        print(f"{column.key.ljust(width)}  {column.value:.{column.precision}f}")
    return 0
