"""Registers the builtin ranking and threshold metrics as metric plugins.

Each plugin's ``func(truth, y_score, **options)`` reads the labels from
``truth.labels`` (one per item, 1 = anomalous) and forwards to the metric
function of the same name in :mod:`harness_metrics._ranking` or
:mod:`harness_metrics._classification`. All accept ``sample_weight``; the
ranking metrics reuse their sort when ``truth.labels`` and ``y_score`` are
the same read-only arrays as in a recent call, which keeps a bootstrap over
weights cheap.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from harness.hookspecs import hookimpl
from harness.types import MetricPlugin, Truth
from harness_metrics import _classification, _ranking

__all__ = ["METRICS", "harness_register_metrics"]

_FRACTION = {"type": "number", "minimum": 0, "maximum": 1}
_THRESHOLD_OPTIONS = {
    "threshold": {
        "type": "number",
        "default": 0.5,
        "description": "An item is flagged when its score is >= threshold.",
    },
    "zero_division": {
        "anyOf": [{"const": "warn"}, {"type": "number", "minimum": 0, "maximum": 1}],
        "default": "warn",
        "description": "Value when a denominator is zero; 'warn' gives 0.0 and "
        "a warning.",
    },
}


def _schema(
    properties: Mapping[str, Any], required: tuple[str, ...] = ()
) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": dict(properties),
        "required": list(required),
        "additionalProperties": False,
    }


def _on_truth(function: Callable[..., float]) -> Callable[..., float]:
    """Adapt ``function(y_true, y_score, ...)`` to ``func(truth, y_score, ...)``."""

    @functools.wraps(function)
    def func(truth: Truth, y_score: np.ndarray, **options: Any) -> float:
        labels = truth.labels
        if labels.ndim != 1:
            raise ValueError(
                f"{function.__name__} needs one label per item, got labels of "
                f"shape {labels.shape}"
            )
        return function(labels, y_score, **options)

    return func


def _plugin(
    name: str,
    function: Callable[..., float],
    description: str,
    options: Mapping[str, Any],
    required: tuple[str, ...] = (),
) -> MetricPlugin:
    return MetricPlugin(
        name=name,
        func=_on_truth(function),
        greater_is_better=True,
        version="1",
        description=description,
        weighted=True,
        options_schema=_schema(options, required),
    )


#: The builtin metric plugins, in registration order.
METRICS: tuple[MetricPlugin, ...] = (
    _plugin(
        "roc-auc",
        _ranking.roc_auc_score,
        "Area under the ROC curve; ties between classes count one half.",
        {},
    ),
    _plugin(
        "average-precision",
        _ranking.average_precision_score,
        "Average precision, step-wise without interpolation (scikit-learn's).",
        {},
    ),
    _plugin(
        "tpr-at-fpr",
        _ranking.tpr_at_fpr_score,
        "Highest true-positive rate at a false-positive rate <= fpr.",
        {"fpr": {**_FRACTION, "description": "Largest acceptable FPR."}},
        required=("fpr",),
    ),
    _plugin(
        "tnr-at-tpr",
        _ranking.tnr_at_tpr_score,
        "True-negative rate below the 100(1 - tpr)th percentile of positive "
        "scores (the gravitational-wave challenge's TNR at tpr=0.9).",
        {
            "tpr": {**_FRACTION, "default": 0.9},
            "no_negatives": {
                "type": "number",
                "description": "Value when there are no negatives; NaN and a "
                "warning when absent.",
            },
        },
    ),
    _plugin(
        "positive-recall-at-negative-recall",
        _ranking.positive_recall_at_negative_recall_score,
        "Recall of positives above the smallest score that keeps a share "
        "negative_recall of negatives at or below it (the butterfly rule).",
        {
            "negative_recall": {
                "type": "number",
                "exclusiveMinimum": 0,
                "maximum": 1,
                "default": 0.95,
            }
        },
    ),
    _plugin(
        "precision",
        _classification.precision_score,
        "Precision of scores >= threshold.",
        _THRESHOLD_OPTIONS,
    ),
    _plugin(
        "recall",
        _classification.recall_score,
        "Recall of scores >= threshold.",
        _THRESHOLD_OPTIONS,
    ),
    _plugin(
        "f1",
        _classification.f1_score,
        "F1 of scores >= threshold.",
        _THRESHOLD_OPTIONS,
    ),
    _plugin(
        "mcc",
        _classification.matthews_corrcoef,
        "Matthews correlation of scores >= threshold with the labels.",
        _THRESHOLD_OPTIONS,
    ),
)


@hookimpl
def harness_register_metrics() -> list[MetricPlugin]:
    return list(METRICS)
