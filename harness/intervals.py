"""Bootstrap intervals for any metric plugin, stratified by class.

Items are resampled with replacement within each class, so every resample
keeps the class balance of the split. A metric that accepts
``sample_weight`` is evaluated on resampling counts over the original
arrays, which avoids copying them; any other metric is evaluated on the
resampled items. The seed is recorded with the interval.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from harness.types import MetricPlugin, Truth

__all__ = ["metric_interval", "paired_difference", "stratified_counts"]


def stratified_counts(
    labels: np.ndarray, n_resamples: int, rng: np.random.Generator
) -> np.ndarray:
    """Draw ``(n_resamples, N)`` resampling counts that keep each class's size.

    Multi-label truth (one row of labels per item) is stratified on whether an
    item has any positive label.
    """
    strata = labels if labels.ndim == 1 else labels.reshape(len(labels), -1).any(1)
    counts = np.zeros((n_resamples, len(strata)), dtype=np.int64)
    for value in np.unique(strata):
        members = np.flatnonzero(strata == value)
        draws = rng.multinomial(
            len(members), np.full(len(members), 1.0 / len(members)), size=n_resamples
        )
        counts[:, members] = draws
    return counts


def _values(metric: MetricPlugin, result: Any) -> dict[str | None, float]:
    if metric.outputs:
        return {k: float(result[k]) for k in metric.outputs}
    return {None: float(result)}


def metric_interval(
    metric: MetricPlugin,
    options: Mapping[str, Any],
    truth: Truth,
    scores: np.ndarray,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str | None, dict[str, Any]]:
    """Return a percentile bootstrap interval per output of ``metric``.

    :returns: a mapping from output name (``None`` for a single-valued
        metric) to ``{"low", "high", "confidence", "n_resamples", "seed",
        "undefined"}``; ``undefined`` counts resamples where the metric was
        NaN, which are left out of the percentiles.
    """
    rng = np.random.default_rng(seed)
    counts = stratified_counts(np.asarray(truth.labels), n_resamples, rng)
    samples: dict[str | None, list[float]] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for row in counts:
            for key, value in _evaluate(metric, options, truth, scores, row).items():
                samples.setdefault(key, []).append(value)
    alpha = (1.0 - confidence) / 2.0
    intervals = {}
    for key, values in samples.items():
        array = np.asarray(values, dtype=np.float64)
        finite = array[np.isfinite(array)]
        low = high = None
        if finite.size:
            low, high = (float(q) for q in np.quantile(finite, [alpha, 1 - alpha]))
        intervals[key] = {
            "low": low,
            "high": high,
            "confidence": confidence,
            "n_resamples": n_resamples,
            "seed": seed,
            "undefined": int(array.size - finite.size),
        }
    return intervals


def _evaluate(
    metric: MetricPlugin,
    options: Mapping[str, Any],
    truth: Truth,
    scores: np.ndarray,
    counts: np.ndarray | None,
) -> dict[str | None, float]:
    if counts is None:
        return _values(metric, metric.func(truth, scores, **options))
    if metric.weighted:
        result = metric.func(truth, scores, sample_weight=counts, **options)
    else:
        index = np.repeat(np.arange(len(counts)), counts)
        result = metric.func(truth.take(index), scores[index], **options)
    return _values(metric, result)


def paired_difference(
    metric: MetricPlugin,
    options: Mapping[str, Any],
    truth: Truth,
    scores_a: np.ndarray,
    scores_b: np.ndarray,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str | None, dict[str, Any]]:
    """Paired bootstrap of ``metric(a) - metric(b)`` on the same items.

    Both submissions are scored on the same resample each time, so the
    variation shared by the items cancels out. They are said to differ when
    the interval of the difference excludes zero.

    :returns: per output, ``{"a", "b", "difference", "low", "high",
        "confidence", "n_resamples", "seed", "differ", "p_value"}``; the
        two-sided ``p_value`` is twice the smaller share of resampled
        differences on either side of zero.
    """
    rng = np.random.default_rng(seed)
    counts = stratified_counts(np.asarray(truth.labels), n_resamples, rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        point_a = _evaluate(metric, options, truth, scores_a, None)
        point_b = _evaluate(metric, options, truth, scores_b, None)
        diffs: dict[str | None, list[float]] = {k: [] for k in point_a}
        for row in counts:
            a = _evaluate(metric, options, truth, scores_a, row)
            b = _evaluate(metric, options, truth, scores_b, row)
            for key in diffs:
                diffs[key].append(a[key] - b[key])
    alpha = (1.0 - confidence) / 2.0
    out = {}
    for key, values in diffs.items():
        array = np.asarray(values, dtype=np.float64)
        finite = array[np.isfinite(array)]
        low = high = p_value = None
        if finite.size:
            low, high = (float(q) for q in np.quantile(finite, [alpha, 1 - alpha]))
            share = min((finite <= 0).mean(), (finite >= 0).mean())
            p_value = float(min(1.0, 2.0 * share))
        out[key] = {
            "a": point_a[key],
            "b": point_b[key],
            "difference": point_a[key] - point_b[key],
            "low": low,
            "high": high,
            "confidence": confidence,
            "n_resamples": n_resamples,
            "seed": seed,
            "differ": bool(low is not None and (low > 0 or high < 0)),
            "p_value": p_value,
        }
    return out
