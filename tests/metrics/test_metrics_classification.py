"""Threshold metrics against scikit-learn on binarised predictions."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import sklearn.metrics as skm
from hypothesis import given, settings
from hypothesis import strategies as st
from metrics_support import weighted_scores

from harness.uncertainty import UndefinedMetricWarning
from harness_metrics._classification import (
    f1_score,
    matthews_corrcoef,
    precision_score,
    recall_score,
)

PAIRS = [
    (precision_score, skm.precision_score),
    (recall_score, skm.recall_score),
    (f1_score, skm.f1_score),
    (matthews_corrcoef, skm.matthews_corrcoef),
]


def sklearn_value(sk_func, labels, flags, weights):
    with warnings.catch_warnings():
        # scikit-learn warns on the same degenerate cases as we do.
        warnings.simplefilter("ignore")
        return sk_func(labels, flags, sample_weight=weights)


@settings(max_examples=150, deadline=None, database=None)
@given(
    weighted_scores(integral=False),
    st.sampled_from([0.5, 0.0, 2.0, -3.5, 1.0]),
    st.booleans(),
)
def test_threshold_metrics_match_sklearn(data, threshold, use_weights):
    labels, scores, weights = data
    weights = weights if use_weights else None
    flags = (scores >= threshold).astype(int)
    if weights is not None and weights.sum() == 0:
        for ours, _ in PAIRS:
            with pytest.warns(UndefinedMetricWarning, match="no items"):
                assert math.isnan(ours(labels, scores, sample_weight=weights))
        return
    for ours, theirs in PAIRS:
        expected = sklearn_value(theirs, labels, flags, weights)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            value = ours(labels, scores, threshold=threshold, sample_weight=weights)
        assert value == pytest.approx(expected, abs=1e-12), ours.__name__
        assert all(issubclass(w.category, UndefinedMetricWarning) for w in caught)


def test_the_threshold_is_inclusive():
    assert recall_score([1, 1], [0.5, 0.49]) == 0.5
    assert precision_score([0, 1], [0.2, 0.7], threshold=0.2) == 0.5


def test_zero_division_defaults_to_zero_with_a_warning():
    # No positives and nothing flagged: scikit-learn's default gives F1 = 0.
    with pytest.warns(UndefinedMetricWarning, match="F1 is undefined"):
        assert f1_score([0, 0, 0], [0.1, 0.2, 0.3]) == 0.0
    with pytest.warns(UndefinedMetricWarning, match="nothing flagged"):
        assert precision_score([1, 0], [0.1, 0.2]) == 0.0
    with pytest.warns(UndefinedMetricWarning, match="MCC is undefined"):
        assert matthews_corrcoef([1, 1], [0.9, 0.8]) == 0.0


def test_an_explicit_zero_division_value_is_used_silently():
    assert f1_score([0, 0], [0.1, 0.2], zero_division=1.0) == 1.0
    assert math.isnan(recall_score([0, 0], [0.1, 0.9], zero_division=math.nan))
    with pytest.raises(ValueError, match="zero_division must be 'warn'"):
        recall_score([0, 0], [0.1, 0.9], zero_division="skip")


def test_empty_input_warns_and_gives_nan():
    for func, _ in PAIRS:
        with pytest.warns(UndefinedMetricWarning, match="no items"):
            assert math.isnan(func([], []))


def test_malformed_input_raises():
    with pytest.raises(ValueError, match="threshold must be finite"):
        f1_score([0, 1], [0.1, 0.9], threshold=math.nan)
    with pytest.raises(ValueError, match="finite, got inf at index 1"):
        f1_score([0, 1], [0.1, math.inf])
    with pytest.raises(ValueError, match="got -1 at index 0"):
        f1_score([0, 1], [0.1, 0.9], sample_weight=[-1, 1])


def test_predictions_given_as_zero_and_one_are_used_as_they_are():
    labels = np.array([0, 1, 1, 0, 1])
    predictions = np.array([0, 1, 0, 0, 1])
    assert f1_score(labels, predictions) == skm.f1_score(labels, predictions)
