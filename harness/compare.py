"""Compare two stored runs on the same items with a paired bootstrap."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.challenge import Challenge
from harness.errors import InvalidInputError
from harness.evaluate import RunOptions, prepare_split
from harness.intervals import paired_difference
from harness.plugins import Plugins
from harness.records import file_sha256, read_record
from harness.scoring import apply_polarity
from harness.validation import align_predictions, read_predictions

__all__ = ["compare_runs"]


def _folder(path: Path) -> Path:
    return path if path.is_dir() else path.parent


def compare_runs(
    run_a: Path,
    run_b: Path,
    challenge: Challenge,
    *,
    plugins: Plugins,
    options: RunOptions,
) -> list[dict[str, Any]]:
    """Return, per leaderboard column, both scores and their paired difference.

    :raises InvalidInputError: when the runs did not succeed, were made on
        different challenges, phases or data, or when the challenge file or
        the truth changed since.
    """
    records = [read_record(run_a), read_record(run_b)]
    for path, record in zip((run_a, run_b), records, strict=False):
        if record["status"] != "succeeded":
            raise InvalidInputError(f"run {path} failed; only scored runs compare")
        if record["challenge"]["name"] != challenge.name:
            raise InvalidInputError(
                f"run {path} is of challenge {record['challenge']['name']!r}, "
                f"not {challenge.name!r}; only runs of one challenge compare"
            )
        if record["challenge"]["sha256"] != challenge.sha256:
            raise InvalidInputError(
                f"run {path} was made with another version of challenge "
                f"{challenge.name!r} (file hash {record['challenge']['sha256'][:12]} "
                f"vs {challenge.sha256[:12]} now)"
            )
    a, b = records
    for field in ("phase", "split"):
        if a["challenge"][field] != b["challenge"][field]:
            raise InvalidInputError(
                f"the runs are on different {field}s: {a['challenge'][field]!r} "
                f"and {b['challenge'][field]!r}"
            )
    if a["data"].get("truth_sha256") != b["data"].get("truth_sha256"):
        raise InvalidInputError("the runs were scored on different truth files")
    prepared = prepare_split(challenge, plugins, a["challenge"]["split"], options)
    if file_sha256(prepared.truth_file) != a["data"].get("truth_sha256"):
        raise InvalidInputError(
            "the truth of this split has changed since the runs were made; "
            "pass the same --data-dir (or none, for the synthetic set)"
        )
    truth = prepared.load_truth()
    shape = tuple(challenge.protocol_options.get("output_shape", ()))
    scores = []
    for path, record in zip((run_a, run_b), records, strict=True):
        stored = _folder(Path(path)) / "predictions.json"
        expected = record["data"].get("predictions_sha256")
        if not expected:
            raise InvalidInputError(
                f"run {path}: its record holds no hash of its predictions (made "
                "by an older harness, or edited), so they cannot be trusted to "
                "be the ones it scored; run the submission again"
            )
        if stored.is_symlink() or not stored.is_file():
            raise InvalidInputError(f"run {path}: no predictions.json file beside it")
        if file_sha256(stored) != expected:
            raise InvalidInputError(
                f"run {path}: predictions.json has changed since the run was "
                f"scored (hash {file_sha256(stored)[:12]} vs {expected[:12]} in "
                "its record); compare only the files the runs produced"
            )
        document = read_predictions(stored)
        values = align_predictions(document, truth.ids, item_shape=shape)
        scores.append(apply_polarity(challenge, truth, values)[1])
    binary = apply_polarity(challenge, truth, scores[0])[0]
    rows = []
    cache: dict[str, Any] = {}
    for column in challenge.columns:
        metric = plugins.metrics[column.metric]
        key = column.metric + json.dumps(dict(column.options), sort_keys=True)
        if key not in cache:
            cache[key] = paired_difference(
                metric,
                column.options,
                binary,
                scores[0],
                scores[1],
                n_resamples=options.bootstrap,
                seed=options.seed,
                confidence=options.confidence,
            )
        result = cache[key][column.output if metric.outputs else None]
        rows.append(
            {
                "key": column.key,
                "direction": column.direction,
                "primary": column.primary,
                **result,
            }
        )
    return rows
