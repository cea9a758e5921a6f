"""Intervals on scores, and paired comparison of two stored runs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from harness.challenge import load_challenge
from harness.compare import compare_runs
from harness.errors import InvalidInputError
from harness.evaluate import RunOptions, run_submission
from harness.intervals import metric_interval, paired_difference
from harness.types import MetricPlugin, Truth


def accuracy(truth, y_score, sample_weight=None):
    hit = ((y_score > 0.5) == (truth.labels == 1)).astype(float)
    return float(np.average(hit, weights=sample_weight))


ACCURACY = MetricPlugin(name="acc", func=accuracy, weighted=True)


def test_interval_brackets_estimate_and_is_reproducible():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 400)
    scores = np.where(rng.random(400) < 0.8, labels, 1 - labels).astype(float)
    truth = Truth(ids=np.arange(400), labels=labels)
    first = metric_interval(ACCURACY, {}, truth, scores, n_resamples=300, seed=3)
    again = metric_interval(ACCURACY, {}, truth, scores, n_resamples=300, seed=3)
    assert first == again
    point = accuracy(truth, scores)
    band = first[None]
    assert band["low"] < point < band["high"]
    assert band["high"] - band["low"] < 0.15
    # The weighted and the copying paths give the same interval.
    unweighted = MetricPlugin(name="acc2", func=lambda t, s: accuracy(t, s))
    same = metric_interval(unweighted, {}, truth, scores, n_resamples=300, seed=3)
    assert same[None]["low"] == pytest.approx(band["low"])
    assert same[None]["high"] == pytest.approx(band["high"])


def test_paired_difference_detects_real_and_null_differences():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 1000)
    good = np.where(rng.random(1000) < 0.9, labels, 1 - labels).astype(float)
    worse = np.where(rng.random(1000) < 0.7, labels, 1 - labels).astype(float)
    truth = Truth(ids=np.arange(1000), labels=labels)
    real = paired_difference(ACCURACY, {}, truth, good, worse, n_resamples=300)
    assert real[None]["differ"] and real[None]["low"] > 0
    null = paired_difference(ACCURACY, {}, truth, good, good.copy(), n_resamples=300)
    assert not null[None]["differ"] and null[None]["difference"] == 0


def test_compare_two_stored_runs(
    toy_plugins, toy_challenge_file, make_submission, tmp_path
):
    challenge = load_challenge(toy_challenge_file, toy_plugins)
    options = RunOptions(
        sandbox="process",
        cache_dir=tmp_path / "c",
        results_dir=tmp_path / "r",
        bootstrap=100,
    )
    runs = []
    for name, body in (("a", "X.mean(axis=1)"), ("b", "X.mean(axis=1) * 0.5")):
        code = f"class Model:\n    def predict(self, X):\n        return {body}\n"
        record = run_submission(
            challenge,
            "development",
            make_submission(code, name),
            plugins=toy_plugins,
            options=options,
        )
        assert record["status"] == "succeeded", record["failure"]
        assert record["scores"]["MEAN_GAP"]["interval"]["n_resamples"] == 100
        runs.append(tmp_path / "r" / record["run_id"])
    rows = compare_runs(
        runs[0], runs[1], challenge, plugins=toy_plugins, options=options
    )
    assert rows[0]["key"] == "MEAN_GAP"
    assert rows[0]["a"] == pytest.approx(5.0) and rows[0]["b"] == pytest.approx(2.5)
    assert rows[0]["differ"] is True

    changed = tmp_path / "changed.yaml"
    changed.write_text(
        toy_challenge_file.read_text().replace('version: "1"', 'version: "2"')
    )
    with pytest.raises(InvalidInputError, match="another version of challenge"):
        compare_runs(
            runs[0],
            runs[1],
            load_challenge(changed, toy_plugins),
            plugins=toy_plugins,
            options=options,
        )

    # A predictions file edited after its run was scored is refused, and so
    # is a record that holds no hash of it.
    record_file = runs[0] / "record.json"
    original = record_file.read_text()
    edited = json.loads(original)
    del edited["data"]["predictions_sha256"]
    record_file.write_text(json.dumps(edited))
    with pytest.raises(InvalidInputError, match="holds no hash of its predictions"):
        compare_runs(runs[0], runs[1], challenge, plugins=toy_plugins, options=options)
    record_file.write_text(original)
    stored = runs[1] / "predictions.json"
    stored.write_bytes((runs[0] / "predictions.json").read_bytes())
    with pytest.raises(InvalidInputError, match="predictions.json has changed"):
        compare_runs(runs[0], runs[1], challenge, plugins=toy_plugins, options=options)
