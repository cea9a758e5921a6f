"""The butterfly hybrid challenge score, computed as the original competition did.

Items fall in three subspecies groups, scored as two populations: *A* (the
``major`` and ``minor`` groups of the first species together) and ``mimic``
(the second species). In each population the operating point is set on the
non-hybrids: the threshold ``t`` is the smallest score value such that at
least 95 % of that population's non-hybrids score ``<= t``, and an item is
called a hybrid when its score is strictly above ``t``. The recalls of
hybrids at those thresholds, and the average precision of each population,
form the leaderboard; the headline ``challenge_score`` is the harmonic mean
of the three recalls.

Fidelity details kept on purpose:

- The original ingestion wrote every score rounded with Python's built-in
  ``round(score, 4)``, which rounds the exact binary value: an exact binary
  half such as ``0.03125`` goes to the even neighbour (``0.0312``),
  ``0.00015``, stored just below the half, goes down where half-up rounding
  of the decimal text goes up, and ``0.00025``, stored just above, goes up
  where ``numpy.round`` goes down. Rounding creates ties and can move a
  recall a long way, so it is on by default (``round_decimals=4``).
- A hybrid whose score equals the threshold counts as a non-hybrid.
- ``challenge_score`` is exactly 0 when any of the three recalls is 0.

Known differences: the original rounded whatever object the model returned
with that object's own ``__round__`` (numpy's rounding for a numpy scalar);
here every score arrives as a float64 and is rounded as a Python float,
which matches the original for models returning Python floats. Where the
original's result depended on how its sort ordered tied scores, this
implementation is order-independent (see :func:`hybrid_threshold`). A
missing prediction aborted the original scorer; the harness rejects it
before any metric runs.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from harness.uncertainty import UndefinedMetricWarning
from harness_metrics._ranking import average_precision_score

__all__ = [
    "KEYS",
    "NON_HYBRID_RECALL",
    "UndefinedScoreWarning",
    "butterfly_scores",
    "hybrid_threshold",
    "round_scores",
]

#: The leaderboard keys, in the original's order, then the headline score.
KEYS = (
    "A_score_major_recall",
    "A_score_minor_recall",
    "A_PRC_AUC",
    "A_PRC_AUC_major",
    "A_PRC_AUC_minor",
    "mimic_recall",
    "mimic_PRC_AUC",
    "challenge_score",
)
#: Share of a population's non-hybrids that must score at or below the
#: threshold.
NON_HYBRID_RECALL = 0.95
GROUPS = ("major", "minor", "mimic")


class UndefinedScoreWarning(UndefinedMetricWarning):
    """A butterfly score is undefined for this input and was set to NaN.

    A subclass of the harness's own warning for undefined metrics, so the
    harness treats it like every other builtin metric's (it expects and
    silences it in bootstrap resamples, say).
    """


def round_scores(y_score: ArrayLike, decimals: int) -> np.ndarray:
    """Round each score with Python's built-in ``round``, as the original did.

    >>> round_scores([0.03125, 0.00015, 0.00025], 4).tolist()
    [0.0312, 0.0001, 0.0003]
    """
    values = np.asarray(y_score, dtype=np.float64).ravel()
    return np.array([round(float(s), decimals) for s in values], dtype=np.float64)


def hybrid_threshold(
    y_true: ArrayLike,
    y_score: ArrayLike,
    *,
    non_hybrid_recall: float = NON_HYBRID_RECALL,
) -> float:
    """Return the smallest score ``t`` with enough non-hybrids at or below it.

    ``t`` is the smallest distinct score value such that the fraction of
    non-hybrids (``y_true == 0``) scoring ``<= t`` is at least
    ``non_hybrid_recall``; the fraction is computed in floating point as
    ``count / n``, as the original did. It is always a non-hybrid's score.
    Returns NaN when there is no non-hybrid.

    The original found the cut by walking the items in score order and
    stopping at the first position where enough non-hybrids lay behind it;
    with tied scores the result of that walk depended on how the sort broke
    ties. Comparing with a value instead gives the walk's answer for the
    order that puts tied hybrids first, which is the behaviour observed on
    the original scorer, and makes the result independent of item order.

    >>> hybrid_threshold([0, 0, 0, 1], [0.1, 0.3, 0.2, 0.3])
    0.3
    """
    labels = np.asarray(y_true).ravel()
    scores = np.asarray(y_score, dtype=np.float64).ravel()
    negatives = np.sort(scores[labels == 0])
    if negatives.size == 0:
        return math.nan
    shares = np.arange(1, negatives.size + 1) / negatives.size
    return float(negatives[int(np.argmax(shares >= non_hybrid_recall))])


def _check(
    y_true: ArrayLike, y_score: ArrayLike, ssp_indicator: ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    labels = np.asarray(y_true)
    if labels.dtype.kind == "b":
        labels = labels.astype(np.int64)
    scores = np.asarray(y_score, dtype=np.float64)
    groups = np.asarray(ssp_indicator).astype(str)
    for name, array in (
        ("y_true", labels),
        ("y_score", scores),
        ("ssp_indicator", groups),
    ):
        if array.ndim != 1:
            raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if not labels.shape == scores.shape == groups.shape:
        raise ValueError(
            "y_true, y_score and ssp_indicator must have the same length, got "
            f"{labels.shape[0]}, {scores.shape[0]} and {groups.shape[0]}"
        )
    odd_labels = sorted({str(v) for v in np.unique(labels)} - {"0", "1", "0.0", "1.0"})
    if odd_labels or (labels.size and labels.dtype.kind not in "biuf"):
        raise ValueError(
            "y_true must hold hybrid_stat values 0 and 1, got "
            f"{', '.join(odd_labels) or labels.dtype}"
        )
    if not np.all(np.isfinite(scores)):
        bad = int(np.flatnonzero(~np.isfinite(scores))[0])
        raise ValueError(
            f"y_score must be finite; item {bad} is {float(scores[bad])!r}"
        )
    odd_groups = sorted(set(np.unique(groups).tolist()) - set(GROUPS))
    if odd_groups:
        raise ValueError(
            f"ssp_indicator must be one of {', '.join(GROUPS)}, got "
            f"{', '.join(repr(g) for g in odd_groups)}"
        )
    return labels.astype(np.int64), scores, groups


def _harmonic_mean(values: Sequence[float]) -> float:
    if any(math.isnan(v) for v in values):
        return math.nan
    if any(v == 0.0 for v in values):
        return 0.0
    return len(values) / sum(1.0 / v for v in values)


def butterfly_scores(
    y_true: ArrayLike,
    y_score: ArrayLike,
    ssp_indicator: ArrayLike,
    *,
    round_decimals: int | None = 4,
) -> dict[str, float]:
    """Score hybrid predictions the way the butterfly challenge did.

    :param y_true: ``hybrid_stat`` per item, 1 for a hybrid.
    :param y_score: one finite score per item, higher meaning hybrid.
    :param ssp_indicator: ``major``, ``minor`` or ``mimic`` per item.
    :param round_decimals: round each score with the built-in ``round`` to
        this many decimals before anything else, as the original ingestion
        did (a fidelity setting); ``None`` scores the values as given.
    :returns: a dict with, in this order,

        - ``A_score_major_recall``, ``A_score_minor_recall``: share of the
          major (minor) hybrids scoring above the threshold of population
          A = major + minor;
        - ``A_PRC_AUC``: average precision over population A;
          ``A_PRC_AUC_major``, ``A_PRC_AUC_minor``: the same restricted to
          the major (minor) items;
        - ``mimic_recall``, ``mimic_PRC_AUC``: the same for the mimic
          population, at its own threshold;
        - ``challenge_score``: the harmonic mean of the three recalls,
          exactly 0 when any of them is 0.

        Average precision follows scikit-learn's definition: the sum over
        score thresholds of precision times the gain in recall, without
        interpolation.
    :raises ValueError: for mismatched lengths, labels other than 0/1,
        non-finite scores or unknown groups.

    Degenerate input warns with :class:`UndefinedScoreWarning` and gives NaN
    for what it makes undefined: a population without non-hybrids has no
    threshold, so its recalls are NaN; a recall or average precision over a
    set without hybrids is NaN; ``challenge_score`` is NaN when any recall
    is NaN (an undefined recall outranks the zero rule).

    >>> scores = butterfly_scores(
    ...     [0, 0, 1, 0, 1, 0, 1],
    ...     [0.1, 0.2, 0.9, 0.3, 0.25, 0.4, 0.8],
    ...     ["major", "major", "major", "minor", "minor", "mimic", "mimic"],
    ... )
    >>> scores["A_score_major_recall"], scores["A_score_minor_recall"]
    (1.0, 0.0)
    >>> scores["mimic_recall"], scores["challenge_score"]
    (1.0, 0.0)
    """
    if round_decimals is not None and (
        isinstance(round_decimals, bool) or not isinstance(round_decimals, int)
    ):
        raise ValueError(
            f"round_decimals must be an integer or None, got {round_decimals!r}"
        )
    labels, scores, groups = _check(y_true, y_score, ssp_indicator)
    if round_decimals is not None:
        scores = round_scores(scores, round_decimals)

    undefined: list[str] = []

    def recall(subset: np.ndarray, threshold: float, key: str) -> float:
        hybrids = scores[subset & (labels == 1)]
        if not np.any(subset):
            undefined.append(f"{key} (no items in the group)")
            return math.nan
        if hybrids.size == 0:
            undefined.append(f"{key} (no hybrids)")
            return math.nan
        if math.isnan(threshold):
            undefined.append(f"{key} (no non-hybrids to set the threshold)")
            return math.nan
        return float(np.mean(hybrids > threshold))

    def precision(subset: np.ndarray, key: str) -> float:
        if not np.any(subset):
            undefined.append(f"{key} (no items in the group)")
            return math.nan
        if not np.any(labels[subset] == 1):
            undefined.append(f"{key} (no hybrids)")
            return math.nan
        return float(average_precision_score(labels[subset], scores[subset]))

    major, minor, mimic = (groups == g for g in GROUPS)
    in_a = major | minor
    threshold_a = hybrid_threshold(labels[in_a], scores[in_a])
    threshold_mimic = hybrid_threshold(labels[mimic], scores[mimic])
    result = {
        "A_score_major_recall": recall(major, threshold_a, "A_score_major_recall"),
        "A_score_minor_recall": recall(minor, threshold_a, "A_score_minor_recall"),
        "A_PRC_AUC": precision(in_a, "A_PRC_AUC"),
        "A_PRC_AUC_major": precision(major, "A_PRC_AUC_major"),
        "A_PRC_AUC_minor": precision(minor, "A_PRC_AUC_minor"),
        "mimic_recall": recall(mimic, threshold_mimic, "mimic_recall"),
        "mimic_PRC_AUC": precision(mimic, "mimic_PRC_AUC"),
    }
    result["challenge_score"] = _harmonic_mean(
        [
            result["A_score_major_recall"],
            result["A_score_minor_recall"],
            result["mimic_recall"],
        ]
    )
    if undefined:
        warnings.warn(
            "butterfly scores undefined, set to NaN: " + "; ".join(undefined),
            UndefinedScoreWarning,
            stacklevel=2,
        )
    return result
