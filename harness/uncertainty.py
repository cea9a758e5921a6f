"""Bootstrap confidence intervals and paired comparisons of metric values.

A leaderboard value computed on a few thousand items carries sampling noise;
these functions measure it by resampling the items with replacement. They
work with any metric function, and are fast with metrics that accept
``sample_weight``: each resample is then a vector of multinomial counts over
the original items, passed as weights, so a metric that keeps its sort
between calls (as the builtin ranking metrics do for read-only arrays) never
sorts again. The counts are drawn as Poisson counts, about one random byte
each, then made multinomial exactly (see :func:`_multinomial`).

Three ways to call :func:`bootstrap_interval`:

- ``metric_fn(y_true, y_score)``, with ``y_true`` and ``y_score`` arrays. The
  metric must depend only on the (label, score) pairs, not on their order:
  items are reordered once by label and score, and with ``weighted=True``
  items sharing a label and a score are merged into one weighted item.
- ``metric_fn(truth, y_score)`` with ``y_true`` a :class:`harness.types.Truth`
  (the signature of a metric plugin's ``func``; bind its options with
  :func:`functools.partial`). Items are reordered consistently across the
  truth's columns but never merged.
- ``metric_fn(resample)`` with ``y_score=None``: the function receives the
  resampling counts (``weighted=True``) or the resampled item indices,
  aligned with ``y_true``, and does whatever it needs with them; ``y_true``
  then only defines the strata.

Resampling is stratified by default: each class (each distinct label, or
label row) keeps its size in every resample, as the split that is being
scored did. Intervals are percentile intervals. Resamples where the metric
is NaN (a class missing from an unstratified resample, say) are left out and
counted in ``n_dropped``.

This module also defines :class:`UndefinedMetricWarning`, the warning every
builtin metric raises when its value is undefined for the input it got.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from harness.errors import HarnessWarning
from harness.types import Truth

__all__ = [
    "Comparison",
    "Interval",
    "UndefinedMetricWarning",
    "bootstrap_interval",
    "paired_bootstrap",
]

MetricValue = float | Mapping[str, float]


class UndefinedMetricWarning(HarnessWarning):
    """A metric is undefined for its input (a class is missing, say) and is NaN."""


@dataclasses.dataclass(frozen=True)
class Interval:
    """A percentile bootstrap interval of one metric value.

    :param low: lower end; NaN when no resample gave a finite value.
    :param high: upper end.
    :param n_resamples: resamples drawn, including dropped ones.
    :param seed: seed of the random generator; the same seed and inputs give
        the same interval.
    :param confidence: the interval's nominal coverage, e.g. 0.95.
    :param method: how the ends were computed (``"percentile"``).
    :param estimate: the metric on the full sample.
    :param n_dropped: resamples whose value was not finite, left out.
    """

    low: float
    high: float
    n_resamples: int
    seed: int
    confidence: float
    method: str
    estimate: float = math.nan
    n_dropped: int = 0


@dataclasses.dataclass(frozen=True)
class Comparison:
    """A paired bootstrap comparison of two score vectors on the same items.

    :param difference: ``metric(a) - metric(b)`` on the full sample.
    :param low: lower end of the percentile interval of the difference.
    :param high: upper end.
    :param p_value: two-sided bootstrap p-value for "no difference":
        ``(1 + r) / (1 + n)`` doubled and capped at 1, where ``r`` counts the
        ``n`` kept resampled differences on the smaller side of zero.
    :param differ: whether the interval excludes zero.
    """

    difference: float
    low: float
    high: float
    p_value: float
    differ: bool
    estimate_a: float
    estimate_b: float
    n_resamples: int
    seed: int
    confidence: float
    method: str = "percentile"
    n_dropped: int = 0


# -- multinomial counts --------------------------------------------------------


class _CountOverflow(Exception):
    """A count does not fit the counts array's integer type."""


class _PoissonBytes:
    """Poisson(``lam``) draws, one random byte per draw for most of them.

    The 256 byte values stand for the 256 bins ``[b / 256, (b + 1) / 256)``
    of a uniform number, in an order chosen so that every value below
    ``first_ambiguous`` stands for a bin in which the inverse CDF is
    constant, in increasing order of that count. Such a byte's count is how
    many ``cuts`` it reaches. The few bins that hold a step of the CDF (about
    2 % of draws) come last; a draw there is refined with a float64 uniform
    within its bin, so the draws are as exact as an inverse-CDF sampler in
    float64. Any fixed order of the values is as good as another, since all
    bytes are equally likely.
    """

    def __init__(self, lam: float) -> None:
        self.lam = lam
        term, total, cdf = math.exp(-lam), 0.0, []
        for j in range(64):
            total += term
            cdf.append(total)
            term *= lam / (j + 1)
        self.cdf = np.asarray(cdf)
        low = np.searchsorted(self.cdf, np.arange(256) / 256, side="right")
        high = np.searchsorted(self.cdf, np.arange(1, 257) / 256, side="left")
        high[-1] = len(cdf)  # the top bin holds the whole tail
        plain = np.flatnonzero(low == high)
        ambiguous = np.flatnonzero(low != high)
        self.first_ambiguous = int(plain.size)
        counts = low[plain]
        self.cuts = [int(i) for i in np.flatnonzero(np.diff(counts)) + 1]
        self.cuts = [c for c in self.cuts for _ in range(counts[c] - counts[c - 1])]
        self.bin = ambiguous.astype(np.float64)
        self.base = low[ambiguous].astype(np.uint8)
        # Where in its bin (as a fraction) a single step lies; 2: several.
        single = high[ambiguous] - low[ambiguous] == 1
        self.split = np.where(single, 256 * self.cdf[low[ambiguous]] - ambiguous, 2.0)

    def draw(
        self,
        rng: np.random.Generator,
        out: npt.NDArray[np.uint8],
        step: npt.NDArray[np.bool_],
    ) -> int:
        """Fill ``out`` with independent draws and return their total.

        :param step: scratch of ``out.size`` booleans.
        """
        m = out.size
        raw = np.frombuffer(rng.bit_generator.random_raw(-(-m // 8)), np.uint8)[:m]
        out[...] = 0
        total = 0
        for cut in self.cuts:
            np.greater_equal(raw, cut, out=step)
            total += int(np.count_nonzero(step))
            out += step.view(np.uint8)
        np.greater_equal(raw, self.first_ambiguous, out=step)
        where = np.flatnonzero(step)
        which = raw[where] - np.uint8(self.first_ambiguous)
        uniform = rng.random(where.size)
        refined = self.base[which] + (uniform >= self.split[which])
        several = np.flatnonzero(self.split[which] > 1)
        refined[several] = np.searchsorted(
            self.cdf, (self.bin[which[several]] + uniform[several]) / 256, side="right"
        )
        total += int(refined.sum()) - int(out[where].sum(dtype=np.int64))
        out[where] = refined
        return total


_POISSON_TABLES: dict[float, _PoissonBytes] = {}


def _poisson_bytes(lam: float) -> _PoissonBytes:
    tables = _POISSON_TABLES.get(lam)
    if tables is None:
        tables = _POISSON_TABLES[lam] = _PoissonBytes(lam)
    return tables


def _add_draws(out: np.ndarray, cells: np.ndarray) -> None:
    """Add one to ``out`` at each of ``cells`` (repeats add up).

    :raises _CountOverflow: when a sum does not fit ``out``'s type; ``out``
        is then spoilt.
    """
    one = out.dtype.type(1)
    if out.dtype.itemsize >= 8:
        np.add.at(out, cells, one)
        return
    top = np.iinfo(out.dtype).max
    if cells.size > top:
        ordered = np.sort(cells)
        if np.any(ordered[top:] == ordered[:-top]):
            raise _CountOverflow  # one cell alone gets more draws than fit
    before = out[cells]
    np.add.at(out, cells, one)
    # With fewer than 2**bits repeats per cell, a sum that wrapped around
    # ends below where it started.
    if np.any(out[cells] <= before):
        raise _CountOverflow


@dataclasses.dataclass(frozen=True)
class _Block:
    """Cells ``start:stop`` of one stratum, holding ``m`` items in all."""

    start: int
    stop: int
    m: int
    ends: npt.NDArray[np.int64] | None  # cumulative cell sizes; None: all 1


class _Scratch:
    """Work arrays of a plan's draws, sized for its largest stratum."""

    def __init__(self, m: int) -> None:
        self.per_item = np.empty(m, np.uint8)
        self.step = np.empty(m, dtype=bool)
        self.cumulative = np.empty(m, np.int64)


def _multinomial(
    rng: np.random.Generator, block: _Block, out: np.ndarray, scratch: _Scratch
) -> None:
    """Fill ``out`` with the counts per cell of ``m`` uniform draws of items.

    Independent Poisson counts, conditioned on their total, are multinomial;
    drawing Poisson counts and then adding (or removing) uniformly chosen
    draws until the total is ``m`` gives exactly that distribution, at a
    fraction of the cost of one random integer per draw. The Poisson mean is
    set a little below one, so that the total almost never overshoots and
    the fix-up is cheap additions.

    :raises _CountOverflow: when a count exceeds what ``out`` can hold.
    """
    m, ends = block.m, block.ends
    if m < 4096:
        draws = rng.integers(0, m, size=m)
        cells = draws if ends is None else np.searchsorted(ends, draws, side="right")
        counts = np.bincount(cells, minlength=out.size)
        if out.dtype == np.uint8 and counts.max() > 255:
            raise _CountOverflow
        out[...] = counts
        return
    tables = _poisson_bytes(1.0 - 3.0 / math.sqrt(m))
    if ends is not None and out.size * 16 < m:
        out[...] = rng.poisson(tables.lam * np.diff(ends, prepend=0))
        total = int(out.sum())
    else:
        per_item = out if out.dtype == np.uint8 and ends is None else scratch.per_item
        per_item = per_item[:m]
        total = tables.draw(rng, per_item, scratch.step[:m])
        if ends is not None:
            cumulative = np.cumsum(per_item, out=scratch.cumulative[:m])
            out[...] = np.diff(cumulative[ends - 1], prepend=0)
        elif per_item is not out:
            out[...] = per_item
    excess = total - m
    if excess > 0:
        drawn = np.cumsum(out, out=scratch.cumulative[: out.size])
        ranks = rng.choice(int(drawn[-1]), size=excess, replace=False)
        np.subtract.at(out, np.searchsorted(drawn, ranks, side="right"), 1)
    elif excess < 0:
        extra = rng.integers(0, m, size=-excess)
        cells = extra if ends is None else np.searchsorted(ends, extra, side="right")
        _add_draws(out, cells)


# -- strata and resamples ------------------------------------------------------


def _labels_of(y_true: Any) -> np.ndarray:
    labels = np.asarray(y_true.labels if isinstance(y_true, Truth) else y_true)
    if labels.ndim == 0:
        raise ValueError("y_true must hold one label (or label row) per item")
    return labels


def _strata(labels: np.ndarray, stratify: bool) -> np.ndarray:
    """Stratum number of each item: its class, or 0 for all when not stratified."""
    if not stratify or labels.shape[0] == 0:
        return np.zeros(labels.shape[0], dtype=np.int64)
    if labels.ndim == 1:
        return np.unique(labels, return_inverse=True)[1].reshape(-1)
    rows = labels.reshape(labels.shape[0], -1)
    return np.unique(rows, axis=0, return_inverse=True)[1].reshape(-1)


class _Plan:
    """Items arranged by stratum, and draws of resamples over them.

    ``order`` puts the items of each stratum together (and, within it, in the
    order the caller chose); cell ``j`` covers ``sizes[j]`` consecutive items
    of that arrangement, and cells never span two strata.
    """

    def __init__(
        self, order: np.ndarray, strata: np.ndarray, sizes: np.ndarray | None
    ) -> None:
        self.order = order
        self.n = order.size
        n_cells = self.n if sizes is None else sizes.size
        cell_strata = strata[order]
        if sizes is not None:
            cell_strata = cell_strata[np.cumsum(sizes) - sizes]
        bounds = np.flatnonzero(np.diff(cell_strata)) + 1
        starts = np.concatenate(([0], bounds)).astype(int).tolist()
        stops = np.concatenate((bounds, [n_cells])).astype(int).tolist()
        self.blocks = []
        for start, stop in zip(starts, stops, strict=True):
            if stop <= start:
                continue
            ends = None if sizes is None else np.cumsum(sizes[start:stop])
            m = stop - start if ends is None else int(ends[-1])
            self.blocks.append(_Block(start, stop, m, ends))
        # One byte per count while every cell is one item: a count above 255
        # is all but impossible then, and widens the array if it happens.
        dtype = np.uint8 if sizes is None else np.int64
        self._counts: np.ndarray = np.zeros(n_cells, dtype=dtype)
        self._scratch = _Scratch(max([b.m for b in self.blocks], default=0))

    def counts(self, rng: np.random.Generator) -> np.ndarray:
        """Multinomial counts per cell, each stratum keeping its size.

        Whole numbers in an unsigned or signed integer array, which is
        refilled on every call.
        """
        while True:
            try:
                for block in self.blocks:
                    counts = self._counts[block.start : block.stop]
                    _multinomial(rng, block, counts, self._scratch)
                return self._counts
            except _CountOverflow:
                self._counts = np.zeros(self._counts.size, dtype=np.int64)

    def indices(self, rng: np.random.Generator) -> np.ndarray:
        """Positions (in the arrangement) of the items of one resample."""
        parts = [
            rng.integers(b.start, b.stop, size=b.stop - b.start) for b in self.blocks
        ]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _arrange(strata: np.ndarray, y_score: np.ndarray | None) -> np.ndarray:
    """Item order by stratum, then by ascending score when there is one per item."""
    # Stratum numbers are small: in a narrow type the stable sort is a radix sort.
    narrow = strata.astype(np.min_scalar_type(max(int(strata.max(initial=0)), 0)))
    by_stratum = np.argsort(narrow, kind="stable")
    if y_score is None or y_score.ndim != 1:
        return by_stratum
    bounds = np.flatnonzero(np.diff(narrow[by_stratum])) + 1
    for part in np.split(by_stratum, bounds):
        part[...] = part[np.argsort(y_score[part], kind="stable")]
    return by_stratum


def _frozen(array: np.ndarray) -> np.ndarray:
    """A read-only copy, so metrics may safely remember work keyed on it."""
    out = np.array(array, copy=True)
    out.flags.writeable = False
    return out


def _frozen_truth(truth: Truth, order: np.ndarray) -> Truth:
    taken = truth.take(order)
    for array in (taken.ids, taken.labels, *taken.columns.values()):
        array.flags.writeable = False
    return taken


# -- collecting values ---------------------------------------------------------


def _as_values(result: MetricValue) -> dict[str | None, float]:
    if isinstance(result, Mapping):
        return {str(k): float(v) for k, v in result.items()}
    return {None: float(result)}


def _check_settings(n_resamples: int, confidence: float) -> None:
    if int(n_resamples) != n_resamples or n_resamples < 1:
        raise ValueError(f"n_resamples must be a positive integer, got {n_resamples!r}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")


def _percentiles(values: np.ndarray, confidence: float) -> tuple[float, float, int]:
    finite = values[np.isfinite(values)]
    dropped = int(values.size - finite.size)
    if finite.size == 0:
        return math.nan, math.nan, dropped
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(finite, [alpha, 1.0 - alpha])
    return float(low), float(high), dropped


def _resampled(
    evaluate: Callable[[np.random.Generator], list[dict[str | None, float]]],
    n_resamples: int,
    seed: int,
) -> list[dict[str | None, np.ndarray]]:
    """Run ``evaluate`` once per resample; collect each output's values."""
    rng = np.random.default_rng(seed)
    columns: list[dict[str | None, list[float]]] = []
    with warnings.catch_warnings():
        # Degenerate resamples are expected and are counted as dropped.
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        for _ in range(n_resamples):
            for slot, values in enumerate(evaluate(rng)):
                if slot == len(columns):
                    columns.append({})
                for key, value in values.items():
                    columns[slot].setdefault(key, []).append(value)
    return [
        {key: np.asarray(values, dtype=np.float64) for key, values in column.items()}
        for column in columns
    ]


# -- public functions ----------------------------------------------------------


def bootstrap_interval(
    metric_fn: Callable[..., MetricValue],
    y_true: npt.ArrayLike | Truth,
    y_score: npt.ArrayLike | None = None,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    stratify: bool = True,
    weighted: bool = False,
) -> Interval | dict[str, Interval]:
    """Percentile bootstrap interval of ``metric_fn`` on resampled items.

    :param metric_fn: called as described in the module docstring; returns a
        float, or a mapping of floats for a metric with several outputs.
    :param y_true: labels (an array, one label or label row per item) or a
        :class:`~harness.types.Truth`; they define the strata.
    :param y_score: the scores, or ``None`` to call ``metric_fn(resample)``.
    :param n_resamples: how many resamples to draw.
    :param confidence: nominal coverage of the interval.
    :param seed: seed of :func:`numpy.random.default_rng`; recorded.
    :param stratify: resample within each class, keeping class sizes.
    :param weighted: pass each resample as ``sample_weight`` (whole-number
        counts) instead of materialising it; the metric must treat weights
        as repetition counts. With scores, the counts come as an unsigned
        integer array (``uint8`` while every count fits in a byte), so a
        metric must do its arithmetic on them in a wider type; to
        ``metric_fn(resample)`` they come as int64. The counts array is
        refilled for every resample: a metric must not keep it past its
        call.
    :returns: an :class:`Interval`, or one per output name when the metric
        returns a mapping. The point estimate is the metric on the items as
        given, its warnings shown to the caller; resamples are evaluated with
        :class:`UndefinedMetricWarning` silenced.

    Limits: percentile intervals only (no bias correction), and resampled
    values are kept in memory, ``n_resamples`` floats per output.

    >>> from harness_metrics._ranking import roc_auc_score
    >>> y, s = [0, 0, 0, 1, 1, 1], [0.1, 0.3, 0.5, 0.4, 0.8, 0.9]
    >>> iv = bootstrap_interval(roc_auc_score, y, s, n_resamples=200,
    ...                         weighted=True)
    >>> iv.estimate, iv.low <= iv.estimate <= iv.high
    (0.8888888888888888, True)
    """
    _check_settings(n_resamples, confidence)
    labels = _labels_of(y_true)
    strata = _strata(labels, stratify)
    as_truth = isinstance(y_true, Truth)

    if y_score is None:
        plan = _Plan(_arrange(strata, None), strata, None)
        point = metric_fn(np.ones(plan.n, np.int64) if weighted else np.arange(plan.n))

        counts = np.empty(plan.n, dtype=np.int64)

        def evaluate(rng: np.random.Generator) -> list[dict[str | None, float]]:
            if weighted:
                counts[plan.order] = plan.counts(rng)
                return [_as_values(metric_fn(counts))]
            return [_as_values(metric_fn(plan.order[plan.indices(rng)]))]

    else:
        scores = np.asarray(y_score)
        point = metric_fn(y_true, scores)
        order = _arrange(strata, scores)
        sizes = None
        if as_truth:
            items: Any = _frozen_truth(y_true, order)  # type: ignore[arg-type]
            item_scores = _frozen(scores[order])
        else:
            sorted_labels, sorted_scores = labels[order], scores[order]
            if weighted and labels.ndim == 1:
                # Equal (label, score) pairs are interchangeable: one weighted
                # item stands for all of them, so ties shrink every resample.
                new = np.ones(order.size, dtype=bool)
                new[1:] = (sorted_labels[1:] != sorted_labels[:-1]) | (
                    sorted_scores[1:] != sorted_scores[:-1]
                )
                starts = np.flatnonzero(new)
                if starts.size < order.size:
                    sizes = np.diff(np.append(starts, order.size))
                    sorted_labels = sorted_labels[starts]
                    sorted_scores = sorted_scores[starts]
            items, item_scores = _frozen(sorted_labels), _frozen(sorted_scores)
        plan = _Plan(order, strata, sizes)

        def evaluate(rng: np.random.Generator) -> list[dict[str | None, float]]:
            if weighted:
                value = metric_fn(items, item_scores, sample_weight=plan.counts(rng))
            else:
                index = plan.indices(rng)
                taken = items.take(index) if as_truth else items[index]
                value = metric_fn(taken, item_scores[index])
            return [_as_values(value)]

    estimates = _as_values(point)
    (samples,) = _resampled(evaluate, n_resamples, seed)
    intervals = {}
    for key, estimate in estimates.items():
        low, high, dropped = _percentiles(samples[key], confidence)
        if math.isnan(low):
            warnings.warn(
                f"no resample gave a finite value{'' if key is None else ' for ' + key}"
                f"; the interval is NaN",
                UndefinedMetricWarning,
                stacklevel=2,
            )
        intervals[key] = Interval(
            low, high, n_resamples, seed, confidence, "percentile", estimate, dropped
        )
    if None in intervals:
        return intervals[None]
    return {str(k): v for k, v in intervals.items()}


def paired_bootstrap(
    metric_fn: Callable[..., MetricValue],
    y_true: npt.ArrayLike | Truth,
    score_a: npt.ArrayLike,
    score_b: npt.ArrayLike,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    stratify: bool = True,
    weighted: bool = False,
) -> Comparison | dict[str, Comparison]:
    """Bootstrap the difference ``metric(a) - metric(b)`` on the same items.

    Both score vectors are evaluated on the same resample every time, so the
    variation that comes from which items were drawn cancels out and a
    small but consistent difference is detected.

    :param metric_fn: ``metric_fn(y_true, score)`` (plus ``sample_weight``
        when ``weighted``), with ``y_true`` an array or a
        :class:`~harness.types.Truth`; it must not depend on item order.
    :param score_a: the first submission's scores, aligned with ``y_true``.
    :param score_b: the second's.
    :returns: a :class:`Comparison`, or one per output name.

    Other parameters are those of :func:`bootstrap_interval`.
    """
    _check_settings(n_resamples, confidence)
    labels = _labels_of(y_true)
    strata = _strata(labels, stratify)
    a, b = np.asarray(score_a), np.asarray(score_b)
    if a.shape != b.shape:
        raise ValueError(f"score_a and score_b differ in shape: {a.shape} != {b.shape}")
    estimates_a = _as_values(metric_fn(y_true, a))
    estimates_b = _as_values(metric_fn(y_true, b))
    order = _arrange(strata, a)
    if isinstance(y_true, Truth):
        items: Any = _frozen_truth(y_true, order)
    else:
        items = _frozen(labels[order])
    a_sorted, b_sorted = _frozen(a[order]), _frozen(b[order])
    plan = _Plan(order, strata, None)

    def evaluate(rng: np.random.Generator) -> list[dict[str | None, float]]:
        if weighted:
            counts = plan.counts(rng)
            return [
                _as_values(metric_fn(items, a_sorted, sample_weight=counts)),
                _as_values(metric_fn(items, b_sorted, sample_weight=counts)),
            ]
        index = plan.indices(rng)
        taken = items.take(index) if isinstance(items, Truth) else items[index]
        return [
            _as_values(metric_fn(taken, a_sorted[index])),
            _as_values(metric_fn(taken, b_sorted[index])),
        ]

    samples_a, samples_b = _resampled(evaluate, n_resamples, seed)
    comparisons = {}
    for key in estimates_a:
        differences = samples_a[key] - samples_b[key]
        low, high, dropped = _percentiles(differences, confidence)
        kept = differences[np.isfinite(differences)]
        smaller_side = min(int((kept <= 0).sum()), int((kept >= 0).sum()))
        p_value = min(1.0, 2.0 * (1 + smaller_side) / (1 + kept.size))
        comparisons[key] = Comparison(
            difference=estimates_a[key] - estimates_b[key],
            low=low,
            high=high,
            p_value=p_value,
            differ=bool(low > 0 or high < 0),
            estimate_a=estimates_a[key],
            estimate_b=estimates_b[key],
            n_resamples=n_resamples,
            seed=seed,
            confidence=confidence,
            n_dropped=dropped,
        )
    if None in comparisons:
        return comparisons[None]
    return {str(k): v for k, v in comparisons.items()}
