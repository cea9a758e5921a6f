"""Ranking metrics against scikit-learn and against slow reference loops."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sklearn.metrics as skm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from metrics_support import (
    both_classes_weigh,
    clear_sort_cache,
    labelled_scores,
    reference_positive_recall,
    reference_tnr_at_tpr,
    weighted_scores,
)

from harness.uncertainty import UndefinedMetricWarning
from harness_metrics._ranking import (
    average_precision_score,
    positive_recall_at_negative_recall_score,
    ranking_metrics,
    roc_auc_score,
    tnr_at_tpr_score,
    tpr_at_fpr_score,
)

PROPERTY = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
FPRS = (0.0, 0.05, 0.1, 1 / 3, 0.5, 0.99, 1.0)


def sklearn_tpr_at_fpr(labels, scores, fpr, weights=None):
    curve_fpr, curve_tpr, _ = skm.roc_curve(
        labels, scores, sample_weight=weights, drop_intermediate=False
    )
    return curve_tpr[curve_fpr <= fpr].max()


# -- scikit-learn equivalence --------------------------------------------------


@PROPERTY
@given(labelled_scores(min_size=2))
def test_roc_auc_and_average_precision_match_sklearn(data):
    labels, scores = data
    if not both_classes_weigh(labels):
        return
    assert roc_auc_score(labels, scores) == pytest.approx(
        skm.roc_auc_score(labels, scores), abs=1e-12
    )
    assert average_precision_score(labels, scores) == pytest.approx(
        skm.average_precision_score(labels, scores), abs=1e-12
    )


@PROPERTY
@given(weighted_scores(min_size=2, integral=False))
def test_weighted_roc_auc_and_average_precision_match_sklearn(data):
    labels, scores, weights = data
    if not both_classes_weigh(labels, weights):
        return
    assert roc_auc_score(labels, scores, sample_weight=weights) == pytest.approx(
        skm.roc_auc_score(labels, scores, sample_weight=weights), abs=1e-12
    )
    ours = average_precision_score(labels, scores, sample_weight=weights)
    theirs = skm.average_precision_score(labels, scores, sample_weight=weights)
    assert ours == pytest.approx(theirs, abs=1e-12)


@PROPERTY
@given(weighted_scores(min_size=2), st.sampled_from(FPRS))
def test_tpr_at_fpr_is_the_best_roc_point_within_the_budget(data, fpr):
    labels, scores, weights = data
    if not both_classes_weigh(labels, weights):
        return
    assert tpr_at_fpr_score(labels, scores, fpr=fpr) == pytest.approx(
        sklearn_tpr_at_fpr(labels, scores, fpr), abs=1e-12
    )
    assert tpr_at_fpr_score(
        labels, scores, fpr=fpr, sample_weight=weights
    ) == pytest.approx(sklearn_tpr_at_fpr(labels, scores, fpr, weights), abs=1e-12)


@PROPERTY
@given(weighted_scores(min_size=2))
def test_integer_weights_equal_repeated_items(data):
    labels, scores, weights = data
    if not both_classes_weigh(labels, weights):
        return
    repeated = np.repeat(labels, weights), np.repeat(scores, weights)
    names = [
        "roc-auc",
        "average-precision",
        "tnr-at-tpr",
        "positive-recall-at-negative-recall",
    ]
    weighted = ranking_metrics(labels, scores, metrics=names, sample_weight=weights)
    plain = ranking_metrics(*repeated, metrics=names)
    for name in names:
        assert weighted[name] == pytest.approx(plain[name], abs=1e-12), name


# -- the challenge rules, against item-by-item loops ---------------------------


@PROPERTY
@given(labelled_scores(), st.sampled_from([0.9, 0.5, 0.95, 1.0, 0.0, 0.73]))
def test_tnr_at_tpr_matches_the_reference_loop(data, tpr):
    labels, scores = data
    expected = reference_tnr_at_tpr(labels, scores, tpr=tpr, no_negatives=0.0)
    if math.isnan(expected):
        with pytest.warns(UndefinedMetricWarning, match="without positive"):
            assert math.isnan(tnr_at_tpr_score(labels, scores, tpr=tpr))
        return
    assert tnr_at_tpr_score(labels, scores, tpr=tpr, no_negatives=0.0) == expected


@PROPERTY
@given(labelled_scores(), st.sampled_from([0.95, 0.5, 1.0, 0.01, 0.8]))
def test_positive_recall_matches_the_reference_loop(data, negative_recall):
    labels, scores = data
    expected = reference_positive_recall(labels, scores, negative_recall)
    if math.isnan(expected):
        with pytest.warns(UndefinedMetricWarning):
            result = positive_recall_at_negative_recall_score(
                labels, scores, negative_recall=negative_recall
            )
        assert math.isnan(result)
        return
    assert (
        positive_recall_at_negative_recall_score(
            labels, scores, negative_recall=negative_recall
        )
        == expected
    )


def test_tnr_at_tpr_uses_the_tenth_percentile_for_tpr_09():
    positives = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 10.0])
    negatives = np.array([0.8, 0.9, 0.95, 1.0, 5.0])
    labels = np.r_[np.ones(10), np.zeros(5)]
    # numpy.percentile(positives, 10) = 0.9, so only 0.8 lies strictly below.
    assert np.percentile(positives, 10) == 0.9
    assert tnr_at_tpr_score(labels, np.r_[positives, negatives]) == 0.2


def test_tnr_at_tpr_reproduces_the_challenge_on_ties_and_constant_scores():
    rng = np.random.default_rng(7)
    labels = rng.integers(0, 2, 500)
    constant = np.full(500, 0.3)
    assert tnr_at_tpr_score(labels, constant) == 0.0
    rounded = np.round(rng.random(500), 1)
    expected = reference_tnr_at_tpr(labels, rounded)
    assert tnr_at_tpr_score(labels, rounded) == expected


def test_tnr_at_tpr_without_negatives_returns_the_chosen_value():
    labels, scores = np.ones(4), np.array([0.1, 0.2, 0.3, 0.4])
    assert tnr_at_tpr_score(labels, scores, no_negatives=0.0) == 0.0
    with pytest.warns(UndefinedMetricWarning, match="no_negatives"):
        assert math.isnan(tnr_at_tpr_score(labels, scores))


def test_tnr_at_tpr_rejects_fractional_weights():
    with pytest.raises(ValueError, match="whole numbers >= 0, got 0.5 at index 1"):
        tnr_at_tpr_score([0, 1, 1], [0.1, 0.2, 0.3], sample_weight=[1, 0.5, 2])


def test_positive_recall_counts_a_positive_at_the_threshold_as_missed():
    labels = [0, 0, 0, 0, 1, 1]
    scores = [0.1, 0.2, 0.3, 0.4, 0.3, 0.9]
    # 75 % of negatives are <= 0.3, so t = 0.3 and the positive at 0.3 misses.
    assert (
        positive_recall_at_negative_recall_score(labels, scores, negative_recall=0.75)
        == 0.5
    )


# -- degenerate and malformed input --------------------------------------------


@pytest.mark.parametrize(
    ("func", "options"),
    [
        (roc_auc_score, {}),
        (average_precision_score, {}),
        (tpr_at_fpr_score, {"fpr": 0.1}),
        (tnr_at_tpr_score, {}),
        (positive_recall_at_negative_recall_score, {}),
    ],
)
def test_a_missing_positive_class_warns_and_gives_nan(func, options):
    with pytest.warns(UndefinedMetricWarning, match="without positive"):
        assert math.isnan(func([0, 0, 0], [0.1, 0.5, 0.2], **options))
    with pytest.warns(UndefinedMetricWarning, match="no items"):
        assert math.isnan(func([], [], **options))


def test_a_missing_negative_class_is_undefined_only_where_it_matters():
    labels, scores = [1, 1, 1], [0.1, 0.5, 0.2]
    with pytest.warns(UndefinedMetricWarning, match="without negative"):
        assert math.isnan(roc_auc_score(labels, scores))
    with pytest.warns(UndefinedMetricWarning, match="without negative"):
        assert math.isnan(tpr_at_fpr_score(labels, scores, fpr=0.1))
    assert average_precision_score(labels, scores) == 1.0


def test_zero_total_weight_counts_as_a_missing_class():
    with pytest.warns(UndefinedMetricWarning, match="without positive"):
        result = roc_auc_score([0, 1, 1], [0.1, 0.2, 0.3], sample_weight=[1, 0, 0])
    assert math.isnan(result)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_scores_raise_naming_the_first_bad_index(bad):
    scores = [0.1, 0.2, bad, math.nan]
    with pytest.raises(ValueError, match=f"finite, got {bad!r} at index 2"):
        roc_auc_score([0, 1, 0, 1], scores)


def test_labels_outside_zero_and_one_raise():
    with pytest.raises(ValueError, match="got 2 at index 1"):
        roc_auc_score([0, 2, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        roc_auc_score([0, 1, 1], [0.1, 0.2])
    with pytest.raises(ValueError, match="one-dimensional"):
        roc_auc_score([[0, 1]], [[0.1, 0.2]])


def test_negative_weights_and_bad_options_raise():
    with pytest.raises(ValueError, match="finite and >= 0, got -1 at index 2"):
        roc_auc_score([0, 1, 1], [0.1, 0.2, 0.3], sample_weight=[1, 2, -1])
    with pytest.raises(ValueError, match=r"fpr must lie in \[0, 1\], got 1.5"):
        tpr_at_fpr_score([0, 1], [0.1, 0.2], fpr=1.5)
    with pytest.raises(ValueError, match=r"negative_recall must lie in \(0, 1\]"):
        positive_recall_at_negative_recall_score([0, 1], [0.1, 0.2], negative_recall=0)


def test_float32_scores_are_computed_in_float64():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 300)
    scores = rng.random(300).astype(np.float32)
    assert roc_auc_score(labels, scores) == roc_auc_score(
        labels, scores.astype(np.float64)
    )
    assert tnr_at_tpr_score(labels, scores) == reference_tnr_at_tpr(
        labels, scores.astype(np.float64)
    )


# -- one sort for many metrics -------------------------------------------------


def test_ranking_metrics_equal_the_single_metric_functions():
    rng = np.random.default_rng(11)
    labels = rng.integers(0, 2, 1000)
    scores = np.round(rng.normal(size=1000) + labels, 2)
    together = ranking_metrics(
        labels,
        scores,
        metrics=["roc-auc", "average-precision", "tpr-at-fpr", "tnr-at-tpr"],
        fpr=0.1,
        tpr=0.8,
    )
    assert together == {
        "roc-auc": roc_auc_score(labels, scores),
        "average-precision": average_precision_score(labels, scores),
        "tpr-at-fpr": tpr_at_fpr_score(labels, scores, fpr=0.1),
        "tnr-at-tpr": tnr_at_tpr_score(labels, scores, tpr=0.8),
    }


def test_ranking_metrics_reject_unknown_names_and_stray_options():
    with pytest.raises(ValueError, match="Did you mean 'roc-auc'"):
        ranking_metrics([0, 1], [0.1, 0.2], metrics=["roc_auc"])
    with pytest.raises(TypeError, match="option 'tpr' is not used by roc-auc"):
        ranking_metrics([0, 1], [0.1, 0.2], metrics=["roc-auc"], tpr=0.9)
    with pytest.raises(TypeError, match="needs the option 'fpr'"):
        ranking_metrics([0, 1], [0.1, 0.2], metrics=["tpr-at-fpr"])


def test_read_only_arrays_reuse_their_sort_and_writable_ones_do_not():
    clear_sort_cache()
    labels = np.array([0, 1, 0, 1, 1])
    scores = np.array([0.1, 0.9, 0.4, 0.3, 0.8])
    first = roc_auc_score(labels, scores)
    scores[0] = 0.95  # a writable array may change between calls
    assert roc_auc_score(labels, scores) != first

    # Boolean labels and float64 scores are used as given, not copied: the
    # cache must still let them go.
    frozen_labels, frozen_scores = labels.astype(bool), scores.copy()
    frozen_labels.flags.writeable = False
    frozen_scores.flags.writeable = False
    from harness_metrics import _ranking

    ranked = _ranking._ranked_scores(frozen_labels, frozen_scores)
    assert _ranking._ranked_scores(frozen_labels, frozen_scores) is ranked
    assert _ranking._ranked_scores(labels, scores) is not ranked
    weights = np.array([2, 1, 0, 3, 1])
    assert roc_auc_score(
        frozen_labels, frozen_scores, sample_weight=weights
    ) == roc_auc_score(labels, scores, sample_weight=weights)
    del frozen_labels, frozen_scores, ranked
    assert not _ranking._CACHE._entries


def test_read_only_views_of_writable_memory_are_not_cached():
    clear_sort_cache()
    base_labels = np.array([0, 1, 0, 1])
    base_scores = np.array([0.1, 0.9, 0.4, 0.3])
    labels, scores = base_labels.view(), base_scores.view()
    labels.flags.writeable = scores.flags.writeable = False
    assert roc_auc_score(labels, scores) == 0.75
    base_scores[:] = [0.9, 0.1, 0.8, 0.2]
    assert roc_auc_score(labels, scores) == 0.0
    buffer = bytearray(np.array([0.1, 0.9, 0.4, 0.3]).tobytes())
    viewed = np.frombuffer(memoryview(buffer).toreadonly())
    assert roc_auc_score(labels, viewed) == 0.75
    buffer[:8] = np.array([0.95]).tobytes()
    assert roc_auc_score(labels, viewed) == 0.25
    immutable = np.frombuffer(np.array([0.1, 0.9, 0.4, 0.3]).tobytes())
    frozen = np.array([0, 1, 0, 1])
    frozen.flags.writeable = False
    from harness_metrics import _ranking

    ranked = _ranking._ranked_scores(frozen, immutable)
    assert _ranking._ranked_scores(frozen, immutable) is ranked


def test_weights_of_any_scale_and_integer_type_give_the_same_value():
    labels, scores = [0, 1, 0, 1, 1, 0], [0.1, 0.4, 0.35, 0.8, 0.2, 0.9]
    plain = roc_auc_score(labels, scores)
    for scale in (1e-300, 1e-30, 1e30, 1e200):
        weighted = roc_auc_score(labels, scores, sample_weight=np.full(6, scale))
        assert weighted == pytest.approx(plain, rel=1e-15)
    for dtype in (np.uint8, np.uint16, np.uint32, np.uint64, np.int8, np.int64):
        weights = np.array([1, 2, 0, 3, 1, 2], dtype=dtype)
        repeated = np.repeat(np.arange(6), weights.astype(int))
        assert roc_auc_score(labels, scores, sample_weight=weights) == pytest.approx(
            roc_auc_score(np.take(labels, repeated), np.take(scores, repeated)),
            abs=1e-12,
        )


@pytest.mark.parametrize(
    "weights",
    [np.full(6, 2**62, np.int64), np.full(6, 2**63 + 5, np.uint64)],
    ids=["int64", "uint64"],
)
def test_integer_weights_whose_total_overflows_raise(weights):
    labels, scores = [0, 1, 0, 1, 1, 0], [0.1, 0.4, 0.35, 0.8, 0.2, 0.9]
    with pytest.raises(ValueError, match="too large: its sum overflows"):
        roc_auc_score(labels, scores, sample_weight=weights)
    with pytest.raises(ValueError, match="too large: its sum overflows"):
        tnr_at_tpr_score(labels, scores, sample_weight=weights)


@pytest.mark.parametrize("heavy", [2**60, 2.0**60, 1e30])
def test_one_dominant_weight_does_not_swamp_average_precision(heavy):
    rng = np.random.default_rng(0)
    labels = (rng.random(1000) < 0.5).astype(np.int8)
    labels[0] = 0
    scores = rng.normal(size=1000) + labels
    weights = np.ones(1000, dtype=type(heavy))
    weights[0] = heavy
    for ties in (None, 1):
        s = scores if ties is None else np.round(scores, ties)
        expected = skm.average_precision_score(
            labels, s, sample_weight=weights.astype(float)
        )
        got = average_precision_score(labels, s, sample_weight=weights)
        assert got == pytest.approx(expected, rel=1e-12)
