"""Strategies and slow reference implementations for the metric tests."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from harness_metrics import _ranking


@st.composite
def labelled_scores(draw, min_size=1, max_size=60):
    """Labels in {0, 1} and scores that are either heavily tied or spread out."""
    n = draw(st.integers(min_size, max_size))
    labels = draw(arrays(np.int8, n, elements=st.integers(0, 1)))
    if draw(st.booleans()):
        scores = draw(arrays(np.int64, n, elements=st.integers(0, 4))).astype(float)
    else:
        scores = draw(
            arrays(np.float64, n, elements=st.floats(-10, 10, allow_nan=False))
        )
    return labels, scores


@st.composite
def weighted_scores(draw, min_size=1, max_size=60, integral=True):
    """Labelled scores with non-negative weights (whole numbers if ``integral``)."""
    labels, scores = draw(labelled_scores(min_size, max_size))
    if integral:
        element = st.integers(0, 3)
        weights = draw(arrays(np.int64, labels.size, elements=element))
    else:
        # Subnormal weights would underflow any product; real weights do not.
        element = st.one_of(st.just(0.0), st.floats(1e-3, 5))
        weights = draw(arrays(np.float64, labels.size, elements=element))
    return labels, scores, weights


def both_classes_weigh(labels, weights=None):
    """Whether positives and negatives both have some weight."""
    weights = np.ones(labels.size) if weights is None else weights
    return weights[labels == 1].sum() > 0 and weights[labels == 0].sum() > 0


def reference_tnr_at_tpr(labels, scores, tpr=0.9, no_negatives=math.nan):
    """The gravitational-wave rule, item by item."""
    positives = [s for y, s in zip(labels, scores, strict=True) if y == 1]
    negatives = [s for y, s in zip(labels, scores, strict=True) if y == 0]
    if not positives:
        return math.nan
    if not negatives:
        return no_negatives
    # 100 - 100 * tpr is exactly 10 for tpr = 0.9, the percentile the
    # challenge used.
    threshold = np.percentile(positives, 100 - 100 * tpr)
    below = 0
    for s in negatives:
        if s < threshold:
            below += 1
    return below / len(negatives)


def reference_positive_recall(labels, scores, negative_recall=0.95):
    """The butterfly rule: scan distinct scores upwards for the threshold."""
    positives = [s for y, s in zip(labels, scores, strict=True) if y == 1]
    negatives = [s for y, s in zip(labels, scores, strict=True) if y == 0]
    if not positives or not negatives:
        return math.nan
    for t in sorted(set(scores)):
        at_or_below = sum(1 for s in negatives if s <= t)
        if at_or_below / len(negatives) >= negative_recall:
            break
    return sum(1 for s in positives if s > t) / len(positives)


def clear_sort_cache():
    _ranking._CACHE.clear()
