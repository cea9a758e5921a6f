"""The helpers offered to plugin authors, used on the builtin plugins."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.plugins import load_plugins
from harness.testing import metric_contract_problems
from harness.types import MetricPlugin

ROOT = Path(__file__).resolve().parents[2]
GROUPS = {"ssp_indicator": np.array(["major", "minor", "mimic"])}


# The sea-level metric scores rows of 12 stations; tests/sealevel covers it.
SCALAR = sorted(set(load_plugins().metrics) - {"sealevel-flood"})


@pytest.mark.parametrize("name", SCALAR)
def test_every_builtin_metric_keeps_the_contract(name):
    metric = load_plugins().metrics[name]
    options = {"tpr-at-fpr": {"fpr": 0.1}}.get(name, {})
    columns = GROUPS if name == "butterfly-hybrid" else None
    assert metric_contract_problems(metric, options, columns=columns) == []


def test_contract_checker_finds_a_broken_metric():
    def broken(truth, y_score, sample_weight=None):
        if truth.labels.max() == 0:
            raise ZeroDivisionError("no positives")
        return float(np.sum(y_score))  # ignores the weights

    problems = metric_contract_problems(
        MetricPlugin(name="broken", func=broken, weighted=True)
    )
    assert any("one class only: raised ZeroDivisionError" in p for p in problems)
    assert any("weights of 2 give" in p for p in problems)


def test_harness_run_fixture(harness_run):
    record = harness_run("gw-anomaly", ROOT / "reference_submissions" / "gw-pca")
    assert record["status"] == "succeeded"
    assert record["challenge"]["phase"] == "development"


def test_contract_checker_finds_arithmetic_that_wraps_on_byte_counts():
    def squares_weights(truth, y_score, sample_weight=None):
        weights = np.ones(y_score.size) if sample_weight is None else sample_weight
        # (w * w) stays uint8 for bytes and wraps around above 15.
        return float(np.sum((weights * weights) * y_score) / np.sum(weights * 1.0))

    problems = metric_contract_problems(
        MetricPlugin(name="wraps", func=squares_weights, weighted=True)
    )
    assert any("as uint8 but" in p and "wider type" in p for p in problems)
