"""Input checks shared by the metric functions.

Malformed input raises :class:`ValueError` naming the first bad item;
input for which a metric is undefined warns with
:class:`~harness.uncertainty.UndefinedMetricWarning` (see :func:`undefined`).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import numpy.typing as npt

from harness.uncertainty import UndefinedMetricWarning

__all__ = [
    "check_fraction",
    "check_labels",
    "check_scores",
    "check_weights",
    "undefined",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def check_labels(y_true: npt.ArrayLike) -> BoolArray:
    """Return ``y_true`` as a boolean vector, or raise naming the first bad label."""
    labels = np.asarray(y_true)
    if labels.ndim != 1:
        raise ValueError(
            f"y_true must be one-dimensional, got an array of shape {labels.shape}"
        )
    if labels.dtype == np.bool_:
        return labels
    if labels.dtype.kind not in "iuf":
        raise ValueError(
            f"y_true must hold 0/1 labels, got values of dtype {labels.dtype}"
        )
    bad = (labels != 0) & (labels != 1)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(
            "y_true must hold only 0 and 1 (1 = anomalous), got "
            f"{labels[first].item()!r} at index {first}"
        )
    result: BoolArray = labels == 1
    return result


def check_scores(y_score: npt.ArrayLike, n: int) -> FloatArray:
    """Return ``y_score`` as finite float64, or raise naming the first bad index."""
    scores = np.asarray(y_score)
    if scores.dtype.kind not in "biuf":
        raise ValueError(
            f"y_score must hold real numbers, got values of dtype {scores.dtype}"
        )
    scores = scores.astype(np.float64, copy=False)
    if scores.ndim != 1 or scores.shape[0] != n:
        raise ValueError(
            f"y_score must have shape ({n},) to match y_true, got {scores.shape}"
        )
    finite = np.isfinite(scores)
    if not finite.all():
        first = int(np.flatnonzero(~finite)[0])
        raise ValueError(
            f"y_score must be finite, got {scores[first].item()!r} at index {first}"
        )
    return scores


#: Largest total weight whose running sums fit in int64, with room to spare.
_LARGEST_TOTAL = 2**62


def check_weights(
    sample_weight: npt.ArrayLike, n: int, *, integral: bool = False
) -> npt.NDArray[Any]:
    """Return non-negative weights as integers or float64.

    Unsigned integers narrower than 64 bits are returned as they are (a
    bootstrap passes its counts as bytes, and copying them would cost more
    than using them); other integers as int64, real numbers as float64.

    :param integral: also require whole numbers, for metrics whose weighted
        form is defined only for repetition counts.
    """
    weights = np.asarray(sample_weight)
    if weights.ndim != 1 or weights.shape[0] != n:
        raise ValueError(
            f"sample_weight must have shape ({n},) to match y_true, got {weights.shape}"
        )
    if weights.dtype.kind == "u" and weights.dtype.itemsize < 8:
        return weights
    if weights.dtype.kind == "u":
        if weights.size and int(weights.max()) > _LARGEST_TOTAL:
            raise ValueError("sample_weight is too large: its sum overflows")
        weights = weights.astype(np.int64)
    elif weights.dtype.kind in "bi":
        weights = weights.astype(np.int64, copy=False)
    elif weights.dtype.kind == "f":
        weights = weights.astype(np.float64, copy=False)
    else:
        raise ValueError(
            f"sample_weight must hold real numbers, got dtype {weights.dtype}"
        )
    # Two reductions settle the common case without a temporary array; a
    # NaN fails the first, an infinity the second.
    ok = weights.size == 0 or weights.min() >= 0
    if ok and weights.dtype.kind == "f":
        ok = math.isfinite(float(weights.sum()))
    elif ok and weights.size:
        # Running totals are summed in int64; a total that wraps around would
        # give nonsense, not an error.
        ok = float(weights.sum(dtype=np.float64)) <= _LARGEST_TOTAL
    if ok and integral and weights.dtype.kind == "f":
        ok = bool(np.all(weights == np.floor(weights)))
    if not ok:
        bad = ~(weights >= 0) | ~np.isfinite(weights)
        if integral:
            bad |= weights != np.floor(weights)
        if not bad.any():
            raise ValueError("sample_weight is too large: its sum overflows")
        first = int(np.flatnonzero(bad)[0])
        expected = "whole numbers >= 0" if integral else "finite and >= 0"
        raise ValueError(
            f"sample_weight must be {expected}, got {weights[first].item()!r} "
            f"at index {first}"
        )
    if weights.dtype.kind == "f" and not integral and weights.size:
        # Every metric here is a ratio of weighted counts: scaling the
        # weights by a power of two changes no value (it is exact) but keeps
        # products of two totals from overflowing or underflowing.
        top = float(weights.max())
        if top > 0 and not 2.0**-256 < top < 2.0**256:
            weights = np.ldexp(weights, -math.frexp(top)[1])
    return weights


def undefined(message: str, *, stacklevel: int = 5) -> float:
    """Warn that a metric is undefined for this input and return NaN.

    The default ``stacklevel`` points the warning at the code that called a
    public metric function, through the private metric it forwards to.
    """
    warnings.warn(message, UndefinedMetricWarning, stacklevel=stacklevel)
    return math.nan


def check_fraction(name: str, value: float, *, zero_ok: bool) -> float:
    value = float(value)
    low_ok = value >= 0.0 if zero_ok else value > 0.0
    if not (low_ok and value <= 1.0):
        interval = "[0, 1]" if zero_ok else "(0, 1]"
        raise ValueError(f"{name} must lie in {interval}, got {value!r}")
    return value
