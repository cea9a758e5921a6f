"""The builtin metric plugins: registration, options schemas, Truth adaptation."""

from __future__ import annotations

import doctest

import jsonschema
import numpy as np
import pytest

import harness.uncertainty
import harness_metrics
from harness.types import MetricPlugin, Truth
from harness_metrics import _classification, _ranking, plugin

NAMES = [
    "roc-auc",
    "average-precision",
    "tpr-at-fpr",
    "tnr-at-tpr",
    "positive-recall-at-negative-recall",
    "precision",
    "recall",
    "f1",
    "mcc",
]


def registered() -> dict[str, MetricPlugin]:
    return {m.name: m for m in plugin.harness_register_metrics()}


def test_every_metric_is_registered_weighted_with_a_valid_schema():
    metrics = registered()
    assert list(metrics) == NAMES
    for metric in metrics.values():
        assert isinstance(metric, MetricPlugin)
        assert metric.weighted and metric.greater_is_better
        jsonschema.Draft202012Validator.check_schema(metric.options_schema)


@pytest.mark.parametrize(
    ("name", "options", "valid"),
    [
        ("tnr-at-tpr", {"tpr": 0.9, "no_negatives": 0.0}, True),
        ("tnr-at-tpr", {"tpr": 1.5}, False),
        ("tpr-at-fpr", {}, False),
        ("tpr-at-fpr", {"fpr": 0.001}, True),
        ("f1", {"threshold": 0.5, "zero_division": "warn"}, True),
        ("f1", {"zero_division": "skip"}, False),
        ("roc-auc", {"fpr": 0.1}, False),
        ("positive-recall-at-negative-recall", {"negative_recall": 0}, False),
    ],
)
def test_options_schemas_accept_and_reject(name, options, valid):
    validator = jsonschema.Draft202012Validator(registered()[name].options_schema)
    assert validator.is_valid(options) is valid


def test_funcs_read_the_labels_of_a_truth():
    truth = Truth(
        ids=np.arange(6),
        labels=np.array([0, 0, 0, 1, 1, 1], dtype=np.int8),
        columns={"group": np.array(list("aabbcc"))},
    )
    scores = np.array([0.1, 0.2, 0.6, 0.3, 0.5, 0.9])
    metrics = registered()
    assert metrics["tnr-at-tpr"].func(truth, scores, tpr=0.9) == pytest.approx(2 / 3)
    assert metrics["roc-auc"].func(truth, scores) == pytest.approx(7 / 9)
    weights = np.array([1, 1, 0, 1, 1, 1])
    assert metrics["roc-auc"].func(truth, scores, sample_weight=weights) == 1.0
    # Flagged at >= 0.5: one negative (0.6) and two of three positives.
    assert metrics["f1"].func(truth, scores, threshold=0.5) == pytest.approx(2 / 3)


def test_multi_label_truth_is_refused_with_its_shape():
    truth = Truth(ids=np.arange(2), labels=np.zeros((2, 12), dtype=np.int8))
    with pytest.raises(ValueError, match=r"one label per item.*\(2, 12\)"):
        registered()["f1"].func(truth, np.zeros(2))


def test_wrapped_funcs_keep_the_documentation_of_their_metric():
    func = registered()["average-precision"].func
    assert func.__doc__ == _ranking.average_precision_score.__doc__
    assert func.__name__ == "average_precision_score"


@pytest.mark.parametrize(
    "module", [_ranking, _classification, harness.uncertainty, harness_metrics]
)
def test_docstring_examples_run(module):
    result = doctest.testmod(module)
    assert result.failed == 0
    if module is not harness_metrics:
        assert result.attempted > 0
