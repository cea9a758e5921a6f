"""Bootstrap intervals and paired comparisons."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
from scipy.stats import norm

from harness import uncertainty
from harness.types import Truth
from harness.uncertainty import (
    Comparison,
    Interval,
    UndefinedMetricWarning,
    bootstrap_interval,
    paired_bootstrap,
)
from harness_metrics import _ranking, plugin
from harness_metrics._ranking import ranking_metrics, roc_auc_score, tnr_at_tpr_score


def binormal(n_neg, n_pos, separation, seed, decimals=None):
    """Negatives ~ N(0, 1), positives ~ N(separation, 1): AUC = Phi(sep / sqrt 2)."""
    rng = np.random.default_rng(seed)
    labels = np.r_[np.zeros(n_neg, np.int8), np.ones(n_pos, np.int8)]
    scores = rng.normal(size=n_neg + n_pos) + separation * labels
    if decimals is not None:
        scores = np.round(scores, decimals)
    order = rng.permutation(labels.size)
    return labels[order], scores[order]


# -- resampling counts ---------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.uint8, np.int64])
@pytest.mark.parametrize("m", [7, 5000, 70_001])
def test_counts_are_multinomial_with_the_stratum_size(m, dtype):
    rng = np.random.default_rng(0)
    block = uncertainty._Block(0, m, m, None)
    out = np.empty(m, dtype)
    scratch = uncertainty._Scratch(m)
    draws = []
    for _ in range({7: 2000, 5000: 100}.get(m, 10)):
        uncertainty._multinomial(rng, block, out, scratch)
        assert out.sum() == m and out.min() >= 0
        draws.append(out.copy())
    counts = np.concatenate(draws)
    # Each count is Binomial(m, 1/m): mean 1, variance 1 - 1/m, and close to
    # Poisson(1) in shape.
    assert counts.mean() == pytest.approx(1.0)
    assert counts.var() == pytest.approx(1 - 1 / m, abs=0.03)
    share_zero = np.mean(counts == 0)
    assert share_zero == pytest.approx((1 - 1 / m) ** m, abs=0.01)


@pytest.mark.parametrize("n_cells", [30, 6000])
def test_counts_over_merged_cells_follow_the_cell_sizes(n_cells):
    rng = np.random.default_rng(1)
    sizes = rng.integers(1, 6, n_cells)
    m = int(sizes.sum())
    block = uncertainty._Block(0, n_cells, m, np.cumsum(sizes))
    out = np.empty(n_cells, np.int64)
    scratch = uncertainty._Scratch(m)
    total = np.zeros(n_cells)
    for _ in range(300):
        uncertainty._multinomial(rng, block, out, scratch)
        assert out.sum() == m
        total += out
    per_item = total / 300 / sizes
    assert per_item.mean() == pytest.approx(1.0, abs=0.03)
    # The mean count of a cell is proportional to its size.
    big, small = per_item[sizes == 5].mean(), per_item[sizes == 1].mean()
    assert big == pytest.approx(small, rel=0.1)


def test_poisson_bytes_follow_the_poisson_distribution():
    lam = 0.98
    tables = uncertainty._poisson_bytes(lam)
    m = 200_003
    out = np.empty(m, np.uint8)
    total = tables.draw(np.random.default_rng(3), out, np.empty(m, bool))
    assert total == int(out.sum(dtype=np.int64))
    observed = np.bincount(out, minlength=8)[:8] / m
    expected = [math.exp(-lam) * lam**k / math.factorial(k) for k in range(8)]
    # Within five standard errors of a binomial share, for every count.
    assert np.all(np.abs(observed - expected) < 5 * np.sqrt(np.array(expected) / m))
    # The byte standing for the bin that holds the first CDF step gives 0 or
    # 1, split at the step; counted by that byte alone it would give one only.
    raw = np.frombuffer(
        np.random.default_rng(3).bit_generator.random_raw(-(-m // 8)), np.uint8
    )[:m]
    step = 256 * math.exp(-lam)
    held = int(np.flatnonzero(tables.bin == math.floor(step))[0])
    value = tables.first_ambiguous + held
    at_step = out[raw == value]
    assert set(at_step.tolist()) == {0, 1}
    share, n = np.mean(at_step == 0), at_step.size
    frac = step - math.floor(step)
    assert abs(share - frac) < 5 * math.sqrt(frac * (1 - frac) / n)


def test_counts_widen_when_a_cell_would_overflow_one_byte():
    out = np.full(10, 250, dtype=np.uint8)
    with pytest.raises(uncertainty._CountOverflow):
        uncertainty._add_draws(out, np.array([3, 3, 3, 3, 3, 3]))
    with pytest.raises(uncertainty._CountOverflow):
        uncertainty._add_draws(np.zeros(10, np.uint8), np.full(300, 7))
    out = np.full(10, 250, dtype=np.uint8)
    uncertainty._add_draws(out, np.array([3, 4, 5, 3, 3]))
    assert out[3:6].tolist() == [253, 251, 251]
    wide = np.zeros(4, np.int64)
    uncertainty._add_draws(wide, np.array([2, 0, 2, 2]))
    assert wide.tolist() == [1, 0, 3, 0]
    # A plan whose draw overflows switches to 64-bit counts and draws again.
    labels = np.zeros(300, np.int8)
    strata = uncertainty._strata(labels, True)
    plan = uncertainty._Plan(uncertainty._arrange(strata, None), strata, None)
    plan._counts[...] = 0
    original = uncertainty._multinomial
    calls = []

    def overflow_once(rng, block, out, scratch):
        calls.append(out.dtype)
        if len(calls) == 1:
            raise uncertainty._CountOverflow
        original(rng, block, out, scratch)

    try:
        uncertainty._multinomial = overflow_once
        counts = plan.counts(np.random.default_rng(0))
    finally:
        uncertainty._multinomial = original
    assert calls == [np.uint8, np.int64]
    assert counts.dtype == np.int64 and counts.sum() == 300


def test_stratified_counts_keep_every_class_size():
    labels = np.array([0] * 9000 + [1] * 1000 + [2] * 5)
    strata = uncertainty._strata(labels, True)
    plan = uncertainty._Plan(uncertainty._arrange(strata, None), strata, None)
    rng = np.random.default_rng(2)
    for _ in range(5):
        counts = np.empty(labels.size, np.int64)
        counts[plan.order] = plan.counts(rng)
        for value, size in [(0, 9000), (1, 1000), (2, 5)]:
            assert counts[labels == value].sum() == size


# -- intervals -----------------------------------------------------------------


def test_interval_contains_the_estimate_and_is_reproducible():
    labels, scores = binormal(300, 100, 1.0, seed=3)
    first = bootstrap_interval(roc_auc_score, labels, scores, n_resamples=300)
    assert isinstance(first, Interval)
    assert first.estimate == roc_auc_score(labels, scores)
    assert first.low < first.estimate < first.high
    assert (first.n_resamples, first.seed, first.confidence) == (300, 0, 0.95)
    assert first.n_dropped == 0 and first.method == "percentile"
    again = bootstrap_interval(roc_auc_score, labels, scores, n_resamples=300)
    assert again == first
    other = bootstrap_interval(roc_auc_score, labels, scores, n_resamples=300, seed=1)
    assert (other.low, other.high) != (first.low, first.high)


def test_interval_narrows_with_more_data_and_less_confidence():
    small = bootstrap_interval(
        roc_auc_score,
        *binormal(200, 200, 1.0, seed=4),
        n_resamples=300,
        weighted=True,
    )
    large = bootstrap_interval(
        roc_auc_score,
        *binormal(3200, 3200, 1.0, seed=4),
        n_resamples=300,
        weighted=True,
    )
    # Width shrinks like 1 / sqrt(n): 16 times the data, about a quarter.
    ratio = (large.high - large.low) / (small.high - small.low)
    assert 0.15 < ratio < 0.4
    narrow = bootstrap_interval(
        roc_auc_score,
        *binormal(200, 200, 1.0, seed=4),
        n_resamples=300,
        weighted=True,
        confidence=0.5,
    )
    assert narrow.high - narrow.low < 0.5 * (small.high - small.low)


def test_weighted_and_resampled_intervals_agree():
    labels, scores = binormal(400, 200, 0.8, seed=5, decimals=1)
    weighted = bootstrap_interval(
        roc_auc_score, labels, scores, n_resamples=400, weighted=True
    )
    resampled = bootstrap_interval(roc_auc_score, labels, scores, n_resamples=400)
    assert weighted.estimate == resampled.estimate
    assert weighted.low == pytest.approx(resampled.low, abs=0.015)
    assert weighted.high == pytest.approx(resampled.high, abs=0.015)


def test_coverage_of_the_true_auc_is_near_nominal():
    separation = 1.0
    true_auc = norm.cdf(separation / math.sqrt(2))
    covered = 0
    for seed in range(40):
        labels, scores = binormal(150, 50, separation, seed=100 + seed)
        interval = bootstrap_interval(
            roc_auc_score, labels, scores, n_resamples=200, weighted=True, seed=seed
        )
        covered += interval.low <= true_auc <= interval.high
    assert covered >= 33  # 95 % nominal; 33 of 40 leaves room for chance


def test_several_outputs_get_one_interval_each_from_one_sort():
    labels, scores = binormal(500, 500, 1.0, seed=6, decimals=2)
    metric = functools.partial(
        ranking_metrics,
        metrics=["roc-auc", "average-precision", "tpr-at-fpr"],
        fpr=0.1,
    )
    intervals = bootstrap_interval(
        metric, labels, scores, n_resamples=200, weighted=True
    )
    assert set(intervals) == {"roc-auc", "average-precision", "tpr-at-fpr"}
    for name, interval in intervals.items():
        assert interval.low <= interval.estimate <= interval.high, name
    # The shared sort belonged to the bootstrap's private arrays; it is gone.
    assert not _ranking._CACHE._entries


def test_a_truth_and_a_metric_plugin_func_give_the_same_interval():
    labels, scores = binormal(300, 100, 1.0, seed=7)
    truth = Truth(ids=np.arange(labels.size), labels=labels)
    func = {m.name: m for m in plugin.harness_register_metrics()}["tnr-at-tpr"].func
    metric = functools.partial(func, tpr=0.9)
    on_truth = bootstrap_interval(metric, truth, scores, n_resamples=200, weighted=True)
    array_metric = functools.partial(tnr_at_tpr_score, tpr=0.9)
    on_arrays = bootstrap_interval(
        array_metric, labels, scores, n_resamples=200, weighted=True
    )
    # Distinct scores: nothing to merge, so both draw the very same resamples.
    assert on_truth == on_arrays
    unweighted = bootstrap_interval(metric, truth, scores, n_resamples=100)
    assert unweighted.low <= unweighted.estimate <= unweighted.high


def test_a_callable_of_the_resample_gets_counts_or_indices():
    labels, scores = binormal(200, 100, 1.0, seed=8)
    seen = []

    def by_weights(counts):
        seen.append(counts.sum())
        return roc_auc_score(labels, scores, sample_weight=counts)

    weighted = bootstrap_interval(by_weights, labels, n_resamples=50, weighted=True)
    assert set(seen) == {labels.size}
    assert weighted.estimate == roc_auc_score(labels, scores)

    def by_index(index):
        return roc_auc_score(labels[index], scores[index])

    indexed = bootstrap_interval(by_index, labels, n_resamples=50)
    assert indexed.low <= indexed.estimate <= indexed.high


def test_undefined_resamples_are_dropped_and_counted():
    labels = np.r_[np.zeros(30, np.int8), np.ones(1, np.int8)]
    scores = np.linspace(0, 1, 31)
    interval = bootstrap_interval(
        roc_auc_score, labels, scores, n_resamples=200, stratify=False, weighted=True
    )
    # A resample misses the single positive with chance (30/31)^31, about 36 %.
    assert 40 < interval.n_dropped < 110
    assert interval.low == interval.high == 1.0


def test_an_interval_of_a_metric_that_is_never_defined_is_nan_with_a_warning():
    labels, scores = np.zeros(10, np.int8), np.linspace(0, 1, 10)
    with pytest.warns(UndefinedMetricWarning):
        interval = bootstrap_interval(roc_auc_score, labels, scores, n_resamples=20)
    assert math.isnan(interval.low) and math.isnan(interval.high)
    assert interval.n_dropped == 20


def test_settings_are_checked():
    with pytest.raises(ValueError, match="n_resamples must be a positive integer"):
        bootstrap_interval(roc_auc_score, [0, 1], [0.1, 0.2], n_resamples=0)
    with pytest.raises(ValueError, match=r"confidence must lie in \(0, 1\)"):
        bootstrap_interval(roc_auc_score, [0, 1], [0.1, 0.2], confidence=95)


# -- paired comparisons --------------------------------------------------------


def test_paired_bootstrap_detects_a_real_difference():
    rng = np.random.default_rng(9)
    labels, better = binormal(400, 400, 1.5, seed=9)
    worse = better + rng.normal(scale=1.5, size=better.size)
    result = paired_bootstrap(
        roc_auc_score, labels, better, worse, n_resamples=300, weighted=True
    )
    assert isinstance(result, Comparison)
    assert result.difference == roc_auc_score(labels, better) - roc_auc_score(
        labels, worse
    )
    assert result.differ and result.low > 0
    assert result.p_value == pytest.approx(2 / 301)


def test_paired_bootstrap_finds_no_difference_between_equal_scores():
    labels, scores = binormal(300, 300, 1.0, seed=10)
    same = paired_bootstrap(
        roc_auc_score, labels, scores, scores.copy(), n_resamples=100
    )
    assert same.difference == 0.0 and same.low == same.high == 0.0
    assert not same.differ and same.p_value == 1.0


def test_paired_bootstrap_of_two_equally_good_models_does_not_differ():
    rng = np.random.default_rng(11)
    labels = rng.integers(0, 2, 2000).astype(np.int8)
    a = labels + rng.normal(size=labels.size)
    b = labels + rng.normal(size=labels.size)
    truth = Truth(ids=np.arange(labels.size), labels=labels)
    func = {m.name: m for m in plugin.harness_register_metrics()}["roc-auc"].func
    result = paired_bootstrap(func, truth, a, b, n_resamples=300, weighted=True)
    assert result.low < 0 < result.high
    assert not result.differ and result.p_value > 0.05
