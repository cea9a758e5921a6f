"""Threshold metrics: scores binarised at a fixed threshold, then counted.

An item is predicted positive (anomalous) when its score is at or above
``threshold``; with 0/1 predictions passed as scores, the default threshold
of 0.5 uses them as they are. The values equal scikit-learn's
``precision_score``, ``recall_score``, ``f1_score`` and ``matthews_corrcoef``
on the binarised predictions, weights included.

When a ratio's denominator is zero (no predicted positives for precision, no
positives for recall, neither for F1, a constant row or column of the
confusion matrix for MCC), the result is ``zero_division``. Its default
``"warn"`` returns 0.0 with an :class:`~harness.uncertainty.UndefinedMetricWarning`,
which is scikit-learn's default value (scikit-learn's MCC gives 0.0 silently;
here it warns too). A number is returned as given, without a warning. An
empty input (or one whose weights are all zero) warns and gives NaN whatever
``zero_division`` says.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import numpy.typing as npt

from harness.uncertainty import UndefinedMetricWarning
from harness_metrics._checks import check_labels, check_scores, check_weights

__all__ = ["f1_score", "matthews_corrcoef", "precision_score", "recall_score"]

ZeroDivision = str | float


def _confusion(
    y_true: npt.ArrayLike,
    y_score: npt.ArrayLike,
    threshold: float,
    sample_weight: npt.ArrayLike | None,
) -> tuple[float, float, float, float] | None:
    """Weighted ``(tp, fp, fn, tn)``, or ``None`` when nothing has weight."""
    threshold = float(threshold)
    if not math.isfinite(threshold):
        raise ValueError(f"threshold must be finite, got {threshold!r}")
    labels = check_labels(y_true)
    scores = check_scores(y_score, labels.shape[0])
    weights = None
    if sample_weight is not None:
        weights = check_weights(sample_weight, labels.shape[0])
    # Cell 2 * label + predicted: 0 = tn, 1 = fp, 2 = fn, 3 = tp.
    cells = 2 * labels.astype(np.intp) + (scores >= threshold)
    tn, fp, fn, tp = np.bincount(cells, weights=weights, minlength=4).astype(float)
    if tn + fp + fn + tp == 0:
        return None
    return float(tp), float(fp), float(fn), float(tn)


def _ratio(
    numerator: float, denominator: float, zero_division: ZeroDivision, what: str
) -> float:
    if denominator != 0:
        return numerator / denominator
    if zero_division == "warn":
        warnings.warn(
            f"{what}; set to 0.0 (pass zero_division to choose the value)",
            UndefinedMetricWarning,
            stacklevel=3,
        )
        return 0.0
    if isinstance(zero_division, str):
        raise ValueError(
            f"zero_division must be 'warn' or a number, got {zero_division!r}"
        )
    return float(zero_division)


def _empty(name: str) -> float:
    warnings.warn(
        f"{name} is undefined for no items (or no weight); NaN",
        UndefinedMetricWarning,
        stacklevel=3,
    )
    return math.nan


def precision_score(
    y_true: npt.ArrayLike,
    y_score: npt.ArrayLike,
    *,
    threshold: float = 0.5,
    zero_division: ZeroDivision = "warn",
    sample_weight: npt.ArrayLike | None = None,
) -> float:
    """Share of items flagged (score >= threshold) that are positive.

    :param zero_division: the value when nothing is flagged; see the module
        docstring.

    >>> precision_score([0, 1, 1, 0], [0.2, 0.7, 0.4, 0.9])
    0.5
    """
    counts = _confusion(y_true, y_score, threshold, sample_weight)
    if counts is None:
        return _empty("precision")
    tp, fp, _, _ = counts
    return _ratio(tp, tp + fp, zero_division, "precision is undefined: nothing flagged")


def recall_score(
    y_true: npt.ArrayLike,
    y_score: npt.ArrayLike,
    *,
    threshold: float = 0.5,
    zero_division: ZeroDivision = "warn",
    sample_weight: npt.ArrayLike | None = None,
) -> float:
    """Share of positives flagged (score >= threshold).

    :param zero_division: the value when there are no positives.

    >>> recall_score([0, 1, 1, 0], [0.2, 0.7, 0.4, 0.9])
    0.5
    """
    counts = _confusion(y_true, y_score, threshold, sample_weight)
    if counts is None:
        return _empty("recall")
    tp, _, fn, _ = counts
    return _ratio(tp, tp + fn, zero_division, "recall is undefined: no positives")


def f1_score(
    y_true: npt.ArrayLike,
    y_score: npt.ArrayLike,
    *,
    threshold: float = 0.5,
    zero_division: ZeroDivision = "warn",
    sample_weight: npt.ArrayLike | None = None,
) -> float:
    """Harmonic mean of precision and recall: ``2 tp / (2 tp + fp + fn)``.

    :param zero_division: the value when there are neither positives nor
        flagged items. With the default, such a case scores 0.0, as in
        scikit-learn (so a perfect prediction of "nothing" scores 0).

    >>> f1_score([0, 1, 1, 0], [0.2, 0.7, 0.4, 0.9])
    0.5
    """
    counts = _confusion(y_true, y_score, threshold, sample_weight)
    if counts is None:
        return _empty("F1")
    tp, fp, fn, _ = counts
    return _ratio(
        2 * tp,
        2 * tp + fp + fn,
        zero_division,
        "F1 is undefined: no positives and nothing flagged",
    )


def matthews_corrcoef(
    y_true: npt.ArrayLike,
    y_score: npt.ArrayLike,
    *,
    threshold: float = 0.5,
    zero_division: ZeroDivision = "warn",
    sample_weight: npt.ArrayLike | None = None,
) -> float:
    """Matthews correlation between labels and flags, in [-1, 1].

    Higher is better, as for every metric here (the name follows
    scikit-learn's).

    :param zero_division: the value when a class is missing or when every
        item or none is flagged.

    >>> matthews_corrcoef([0, 1, 1, 0], [0.2, 0.7, 0.4, 0.9])
    0.0
    >>> matthews_corrcoef([0, 1, 1, 0], [0.2, 0.7, 0.6, 0.1])
    1.0
    """
    counts = _confusion(y_true, y_score, threshold, sample_weight)
    if counts is None:
        return _empty("MCC")
    tp, fp, fn, tn = counts
    denominator = (tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)
    return _ratio(
        tp * tn - fp * fn,
        math.sqrt(denominator),
        zero_division,
        "MCC is undefined: a class is missing, or all or no items are flagged",
    )
