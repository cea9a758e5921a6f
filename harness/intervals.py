"""Bootstrap intervals and paired comparisons for metric plugins.

An adapter between :class:`~harness.types.MetricPlugin` and the generic
resampling in :mod:`harness.uncertainty`: it binds a column's options, uses
the weighted path when the plugin accepts ``sample_weight``, and returns
plain dictionaries for run records, keyed by output name (``None`` for a
metric with a single value).
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from harness.types import MetricPlugin, Truth
from harness.uncertainty import Comparison, Interval, bootstrap_interval
from harness.uncertainty import paired_bootstrap as _paired

__all__ = ["metric_interval", "paired_difference"]


def _finite(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _keyed(result: Any) -> dict[str | None, Any]:
    return dict(result) if isinstance(result, Mapping) else {None: result}


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
    """Return a stratified percentile bootstrap interval per output.

    :returns: per output, ``{"low", "high", "confidence", "n_resamples",
        "seed", "undefined"}``; ``undefined`` counts resamples where the
        metric was NaN, which are left out of the percentiles.
    """
    fn = functools.partial(metric.func, **options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = bootstrap_interval(
            fn,
            truth,
            scores,
            n_resamples=n_resamples,
            confidence=confidence,
            seed=seed,
            weighted=metric.weighted,
        )
    out = {}
    for key, interval in _keyed(result).items():
        assert isinstance(interval, Interval)
        out[key] = {
            "low": _finite(interval.low),
            "high": _finite(interval.high),
            "confidence": interval.confidence,
            "n_resamples": interval.n_resamples,
            "seed": interval.seed,
            "undefined": interval.n_dropped,
        }
    return out


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

    They are said to differ when the interval of the difference excludes 0.

    :returns: per output, ``{"a", "b", "difference", "low", "high",
        "confidence", "n_resamples", "seed", "differ", "p_value"}``.
    """
    fn = functools.partial(metric.func, **options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = _paired(
            fn,
            truth,
            scores_a,
            scores_b,
            n_resamples=n_resamples,
            confidence=confidence,
            seed=seed,
            weighted=metric.weighted,
        )
    out = {}
    for key, comparison in _keyed(result).items():
        assert isinstance(comparison, Comparison)
        out[key] = {
            "a": _finite(comparison.estimate_a),
            "b": _finite(comparison.estimate_b),
            "difference": _finite(comparison.difference),
            "low": _finite(comparison.low),
            "high": _finite(comparison.high),
            "confidence": comparison.confidence,
            "n_resamples": comparison.n_resamples,
            "seed": comparison.seed,
            "differ": bool(comparison.differ),
            "p_value": _finite(comparison.p_value),
        }
    return out
