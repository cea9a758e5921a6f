"""Ranking metrics, computed from one sort of the scores.

Every metric here depends only on how the scores of the positive items (label
1, anomalous) are ordered against those of the negative items. The scores of
each class are sorted once into a :class:`_RankedScores`; ROC AUC, average
precision and the operating-point metrics are then read from it in linear
time or less, with or without sample weights. :func:`ranking_metrics` returns
several metrics from one sort, and the single-metric functions reuse a sort
across calls when given the very same read-only arrays (see
:func:`_ranked_scores`), which is what lets a bootstrap evaluate a thousand
reweighted resamples without sorting again.

Ties are exact: items with equal scores share every threshold, as in
scikit-learn. Sample weights act as frequency weights: a weight of 2 counts
an item twice and a weight of 0 removes it.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from harness.errors import did_you_mean
from harness_metrics._checks import (
    BoolArray,
    FloatArray,
    check_fraction,
    check_labels,
    check_scores,
    check_weights,
    undefined,
)

__all__ = [
    "RANKING_METRICS",
    "average_precision_score",
    "positive_recall_at_negative_recall_score",
    "ranking_metrics",
    "roc_auc_score",
    "tnr_at_tpr_score",
    "tpr_at_fpr_score",
]

IntArray = npt.NDArray[np.int64]


# -- the shared sort -----------------------------------------------------------


class _Weights:
    """Cumulative weights of each class, in the order of the sorted scores.

    ``pos_at(i)`` is the total weight of the ``i`` lowest-scored positives;
    ``neg_at(i)`` likewise. Without sample weights every item weighs 1, so
    ``pos_at(i) == i``. Cumulative sums keep the weights' dtype (int64 for
    counts, which is faster to sum); the per-value arrays are float64, exact
    for counts below 2**53.

    With weights, the arrays live in buffers owned by the ranked scores and
    reused by the next weighted call in the same thread: an instance is
    valid until then. Reuse matters because a bootstrap makes a thousand
    calls, and fresh large arrays cost page faults that can outweigh the
    arithmetic.
    """

    def __init__(self, ranked: _RankedScores, sample_weight: np.ndarray | None) -> None:
        self._r = ranked
        self.weighted = sample_weight is not None
        self.dtype = _sum_dtype(sample_weight)
        self._pos_weight: np.ndarray | None = None
        self._neg_weight: np.ndarray | None = None
        self._pos_cum: np.ndarray | None = None
        self._neg_cum: np.ndarray | None = None
        self._neg_gathered: np.ndarray | None = None
        self._neg_below: FloatArray | None = None
        self._per_value: FloatArray | None = None
        if sample_weight is not None:
            pos_order, neg_order = ranked._class_orders()
            self._pos_weight = sample_weight[pos_order]
            self._neg_weight = sample_weight[neg_order]
            self._pos_cum = _cumulative(
                self._pos_weight, self.scratch("pos_cum", ranked.n_pos + 1)
            )
            self._neg_cum = _cumulative(
                self._neg_weight, self.scratch("neg_cum", ranked.n_neg + 1)
            )
        # Exact totals (Python ints for counts) for array arithmetic.
        self.pos_sum: float = ranked.n_pos
        self.neg_sum: float = ranked.n_neg
        if self._pos_cum is not None and self._neg_cum is not None:
            self.pos_sum = self._pos_cum[-1].item()
            self.neg_sum = self._neg_cum[-1].item()
        self.pos_total = float(self.pos_sum)
        self.neg_total = float(self.neg_sum)

    def scratch(self, name: str, size: int, dtype: Any = None) -> np.ndarray:
        """An array to overwrite (of the weights' dtype unless given)."""
        dtype = self.dtype if dtype is None else dtype
        if not self.weighted:
            return np.empty(size, dtype=dtype)
        return self._r.buffer(name, size, dtype)

    def pos_at(self, i: int) -> float:
        return float(i if self._pos_cum is None else self._pos_cum[i])

    def neg_at(self, i: int) -> float:
        return float(i if self._neg_cum is None else self._neg_cum[i])

    def pos_item(self, rank: float) -> int:
        """Index of the positive holding ``rank`` in the list repeated by weight."""
        if self._pos_cum is None:
            return int(rank)
        return int(np.searchsorted(self._pos_cum, rank, side="right")) - 1

    def _as_float(self, name: str, values: np.ndarray) -> FloatArray:
        if values.dtype == np.float64 and not self.weighted:
            return values
        out = self.scratch(name, values.size, np.float64)
        np.copyto(out, values)
        return out

    def per_value(self) -> FloatArray:
        """Weight of the positives at each distinct positive score."""
        if self._per_value is None:
            r = self._r
            if self._pos_cum is None:
                values = np.diff(r.pos_bounds)
            elif r.pos_distinct and self._pos_weight is not None:
                values = self._pos_weight
            else:
                values = np.diff(self._pos_cum[r.pos_bounds])
            self._per_value = self._as_float("per_value", values)
        return self._per_value

    def _neg_below_sums(self) -> np.ndarray:
        """:meth:`neg_below` in the type the weights are summed in."""
        r = self._r
        if self._neg_cum is None:
            return r.neg_lt
        if self._neg_gathered is None:
            self._neg_gathered = np.take(
                self._neg_cum, r.neg_lt, out=self.scratch("gather", r.neg_lt.size)
            )
        return self._neg_gathered

    def neg_below(self) -> FloatArray:
        """Weight of the negatives strictly below each distinct positive score."""
        if self._neg_below is None:
            self._neg_below = self._as_float("neg_below", self._neg_below_sums())
        return self._neg_below

    def at_or_above(self) -> tuple[np.ndarray, np.ndarray]:
        """Weight of the positives, and of the negatives, scored at or above
        each distinct positive score.

        Whole-number weights give exact integers (a total minus what lies
        below). Real weights are summed from the top down instead, so that
        a few heavy items below cannot swamp the light ones above them, as
        subtracting from the total would in floating point.
        """
        r = self._r
        k = r.pos_bounds.size - 1
        if self.dtype.kind in "iu":
            if self._pos_cum is None:
                pos_below: np.ndarray = r.pos_bounds[:-1]
            elif r.pos_distinct:
                pos_below = self._pos_cum[:-1]
            else:
                pos_below = self._pos_cum[r.pos_bounds[:-1]]
            pos = np.subtract(self.pos_sum, pos_below, out=self.scratch("pos_ge", k))
            neg = np.subtract(
                self.neg_sum, self._neg_below_sums(), out=self.scratch("neg_ge", k)
            )
            return pos, neg
        assert self._pos_weight is not None and self._neg_weight is not None
        pos_from_top = _from_top(self._pos_weight, self.scratch("pos_top", r.n_pos + 1))
        neg_from_top = _from_top(self._neg_weight, self.scratch("neg_top", r.n_neg + 1))
        return pos_from_top[r.pos_bounds[:-1]], neg_from_top[r.neg_lt]

    def neg_tied(self) -> FloatArray:
        """Weight of the negatives equal to each tied positive score."""
        r = self._r
        if self._neg_cum is None:
            values = r.neg_le_tied - r.neg_lt[r.tied]
        else:
            values = self._neg_cum[r.neg_le_tied] - self._neg_cum[r.neg_lt[r.tied]]
        return values.astype(np.float64)


def _sum_dtype(sample_weight: np.ndarray | None) -> np.dtype[Any]:
    """The type in which running totals of the weights are exact.

    Narrow unsigned counts (a bootstrap's bytes) are summed in int32 while
    no total can reach 2**31, which is cheaper to sum and gather than int64.
    """
    if sample_weight is None:
        return np.dtype(np.int64)
    if sample_weight.dtype.kind == "u":
        most = sample_weight.size * int(np.iinfo(sample_weight.dtype).max)
        return np.dtype(np.int32 if most < 2**31 else np.int64)
    return sample_weight.dtype


def _dot(a: np.ndarray, b: np.ndarray) -> Any:
    """Inner product of two float64 vectors (through BLAS)."""
    return np.dot(a, b).item()


class _RankedScores:
    """The scores of each class sorted ascending, and how the classes interleave.

    Built once per pair of label and score vectors; every ranking metric is
    then computed from it. For the ``k`` distinct scores among positives it
    keeps where each starts in the sorted positives (``pos_bounds``, with
    ``n_pos`` appended) and how many negatives lie strictly below it
    (``neg_lt``); for the few that a negative equals (``tied``), how many
    lie at or below it (``neg_le_tied``). Memory is about three times that
    of ``y_score``.
    """

    def __init__(self, labels: BoolArray, scores: FloatArray) -> None:
        self._source: list[Any] = [labels, scores]
        self._orders: tuple[Any, Any] | None = None
        self._local = threading.local()
        # Sorting each class on its own needs no argsort, which is the
        # slowest step at scale; item order is recovered only when weighted.
        self.pos = scores[labels]
        self.pos.sort()
        self.neg = scores[~labels]
        self.neg.sort()
        self.n_pos = int(self.pos.size)
        self.n_neg = int(self.neg.size)
        starts = np.flatnonzero(self.pos[1:] != self.pos[:-1]) + 1
        self.pos_bounds: IntArray = np.concatenate(
            ([0] if self.n_pos else [], starts, [self.n_pos])
        ).astype(np.int64)
        self.pos_distinct = self.pos_bounds.size == self.n_pos + 1
        values = self.pos[self.pos_bounds[:-1]]
        self.neg_lt: IntArray = np.searchsorted(self.neg, values, side="left")
        # Negatives equal to a positive score are rare outside rounded
        # scores, so the second search runs only on the tied values.
        inside = np.flatnonzero(self.neg_lt < self.n_neg)
        self.tied: IntArray = inside[self.neg[self.neg_lt[inside]] == values[inside]]
        self.neg_le_tied: IntArray = np.searchsorted(
            self.neg, values[self.tied], side="right"
        )

    def buffer(self, name: str, size: int, dtype: Any) -> np.ndarray:
        """This thread's reusable array called ``name``, reallocated on a new shape."""
        store: dict[str, np.ndarray] = self._local.__dict__.setdefault("arrays", {})
        array = store.get(name)
        if array is None or array.size != size or array.dtype != dtype:
            array = store[name] = np.empty(size, dtype=dtype)
        return array

    def release(self, *callers_arrays: np.ndarray) -> None:
        """Hold the caller's own arrays weakly, so a cache entry cannot keep
        them alive; arrays derived from them by validation stay held."""
        for i, array in enumerate(self._source):
            if any(array is other for other in callers_arrays):
                self._source[i] = weakref.ref(array)

    def _inputs(self) -> tuple[BoolArray, FloatArray]:
        labels, scores = (
            a() if isinstance(a, weakref.ref) else a for a in self._source
        )
        if labels is None or scores is None:
            raise RuntimeError("the arrays these scores were sorted from are gone")
        return labels, scores

    def _class_orders(self) -> tuple[Any, Any]:
        """Indices of each class's items in ascending score order.

        A class whose items are already contiguous and sorted (as a
        bootstrap arranges them) gets a slice, so weights are read without
        copying.
        """
        if self._orders is None:
            labels, scores = self._inputs()
            self._orders = (
                self._order_of(np.flatnonzero(labels), scores),
                self._order_of(np.flatnonzero(~labels), scores),
            )
        return self._orders

    @staticmethod
    def _order_of(members: np.ndarray, scores: FloatArray) -> Any:
        order = members[np.argsort(scores[members], kind="stable")]
        contiguous = order.size and order[-1] - order[0] == order.size - 1
        if contiguous and (order.size == 1 or bool(np.all(order[1:] > order[:-1]))):
            return slice(int(order[0]), int(order[-1]) + 1)
        return order


def _from_top(values: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out[i]`` = the sum of ``values[i:]``, with ``out[-1] = 0``."""
    out[-1] = 0
    np.cumsum(values[::-1], dtype=out.dtype, out=out[-2::-1])
    return out


def _cumulative(values: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Running totals of ``values`` with a leading 0, written into ``out``."""
    out[0] = 0
    np.cumsum(values, dtype=out.dtype, out=out[1:])
    return out


def _frozen(array: Any) -> bool:
    """Whether nobody can change ``array``'s values through another name.

    True for a read-only array that owns its memory, or views only such
    arrays or immutable bytes; a read-only view of writable memory is not.
    The flag is trusted: a writable view made before the array was flagged,
    or the flag set back to writable, can still change the values, so a
    caller must not change an array by those routes after passing it here.
    """
    if not isinstance(array, np.ndarray):
        return False
    while isinstance(array, np.ndarray):
        if array.flags.writeable:
            return False
        if array.base is None:
            return bool(array.flags.owndata)
        array = array.base
    return isinstance(array, bytes)


class _IdentityCache:
    """Remembers the sort of read-only arrays passed again and again.

    The key is the identity of the label and score arrays, and only arrays
    that are read-only all the way down (see :func:`_frozen`) are
    remembered, so a caller cannot change the values behind a cached sort by
    accident. An entry is dropped when either array
    is garbage collected, or when more than ``size`` pairs are remembered.
    """

    def __init__(self, size: int = 4) -> None:
        self._size = size
        self._entries: OrderedDict[tuple[int, int], tuple[Any, Any, _RankedScores]]
        self._entries = OrderedDict()
        self._lock = threading.RLock()

    @staticmethod
    def cacheable(*arrays: Any) -> bool:
        return all(_frozen(a) for a in arrays)

    def get(self, y_true: np.ndarray, y_score: np.ndarray) -> _RankedScores | None:
        key = (id(y_true), id(y_score))
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0]() is not y_true or entry[1]() is not y_score:
                return None
            # A collected array's callback may run here and drop other keys,
            # never this one: both of its arrays are alive.
            self._entries.move_to_end(key)
            return entry[2]

    def put(
        self, y_true: np.ndarray, y_score: np.ndarray, ranked: _RankedScores
    ) -> None:
        key = (id(y_true), id(y_score))

        def forget(_: Any, key: tuple[int, int] = key) -> None:
            with self._lock:
                self._entries.pop(key, None)

        entry = (weakref.ref(y_true, forget), weakref.ref(y_score, forget), ranked)
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_CACHE = _IdentityCache()


def _ranked_scores(y_true: npt.ArrayLike, y_score: npt.ArrayLike) -> _RankedScores:
    """Validate the inputs and sort them, or reuse the sort of these very arrays.

    Reuse happens only when both arguments are NumPy arrays flagged
    read-only (``a.flags.writeable = False``) that own their memory or view
    only read-only arrays, and were seen in one of the last four calls;
    their validation is reused too.
    """
    cacheable = _CACHE.cacheable(y_true, y_score)
    if cacheable:
        hit = _CACHE.get(y_true, y_score)  # type: ignore[arg-type]
        if hit is not None:
            return hit
    labels = check_labels(y_true)
    ranked = _RankedScores(labels, check_scores(y_score, labels.shape[0]))
    if cacheable:
        ranked.release(y_true, y_score)  # type: ignore[arg-type]
        _CACHE.put(y_true, y_score, ranked)  # type: ignore[arg-type]
    return ranked


def _first_true(lo: int, hi: int, predicate: Callable[[int], bool]) -> int:
    """Smallest ``i`` in ``[lo, hi]`` where a monotone ``predicate`` holds.

    ``predicate(hi)`` is assumed true. Bisection keeps the comparison the
    same floating-point expression a reader would write, so boundary cases
    agree with straightforward reference code.
    """
    while lo < hi:
        mid = (lo + hi) // 2
        if predicate(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


# -- the metrics, on a shared sort ----------------------------------------------


def _roc_auc(r: _RankedScores, w: _Weights) -> float:
    if w.pos_sum == 0 or w.neg_sum == 0:
        missing = "positive" if w.pos_sum == 0 else "negative"
        return undefined(f"ROC AUC is undefined without {missing} items; NaN")
    per_value = w.per_value()
    # Twice the number of correctly ordered pairs; a negative tied with a
    # positive counts as half a pair. Exact in integers for counts.
    pairs = 2 * _dot(per_value, w.neg_below())
    if r.tied.size:
        pairs += _dot(per_value[r.tied], w.neg_tied())
    return float(pairs / 2 / w.pos_total / w.neg_total)


def _average_precision(r: _RankedScores, w: _Weights) -> float:
    if w.pos_sum == 0:
        return undefined("average precision is undefined without positive items; NaN")
    true_pos, false_pos = w.at_or_above()
    flagged = np.add(true_pos, false_pos, out=false_pos)
    # Only a value carrying no weight can have nothing flagged at it; it adds
    # nothing, and dividing there would give 0/0.
    if flagged.dtype.kind in "iu":
        np.maximum(flagged, 1, out=flagged)
    elif flagged.min() == 0:
        flagged[flagged == 0] = 1
    precision = np.divide(
        true_pos, flagged, out=w.scratch("precision", true_pos.size, np.float64)
    )
    return float(_dot(w.per_value(), precision) / w.pos_total)


def _tpr_at_fpr(r: _RankedScores, w: _Weights, *, fpr: float) -> float:
    fpr = check_fraction("fpr", fpr, zero_ok=True)
    total_pos, total_neg = w.pos_total, w.neg_total
    if total_pos == 0 or total_neg == 0:
        missing = "positive" if total_pos == 0 else "negative"
        return undefined(f"TPR at FPR is undefined without {missing} items; NaN")
    # Keep the negatives from index i up flagged; find the lowest i allowed.
    i = _first_true(0, r.n_neg, lambda i: (total_neg - w.neg_at(i)) / total_neg <= fpr)
    if i == 0:
        return 1.0
    # The threshold sits just above the highest negative left out.
    above = int(np.searchsorted(r.pos, r.neg[i - 1], side="right"))
    return (total_pos - w.pos_at(above)) / total_pos


def _tnr_at_tpr(
    r: _RankedScores, w: _Weights, *, tpr: float = 0.9, no_negatives: float = math.nan
) -> float:
    tpr = check_fraction("tpr", tpr, zero_ok=True)
    total_pos, total_neg = w.pos_total, w.neg_total
    if total_pos == 0:
        return undefined("TNR at TPR is undefined without positive items; NaN")
    if total_neg == 0:
        if math.isnan(no_negatives):
            return undefined(
                "TNR at TPR is undefined without negative items; NaN (set "
                "no_negatives to score this case)"
            )
        return float(no_negatives)
    # 100 - 100 * tpr, not 100 * (1 - tpr): for tpr=0.9 it gives exactly 10.
    q = 100.0 - 100.0 * tpr
    threshold = _positive_percentile(r, w, q)
    below = int(np.searchsorted(r.neg, threshold, side="left"))
    return w.neg_at(below) / total_neg


def _positive_percentile(r: _RankedScores, w: _Weights, q: float) -> float:
    """``numpy.percentile(positive scores, q)``, each repeated by its weight.

    Linear interpolation, computed with the same expressions as NumPy (whose
    result it equals exactly when every weight is 1).
    """
    if not w.weighted:
        return float(np.percentile(r.pos, q))
    count = w.pos_total
    virtual = (count - 1) * (q / 100.0)
    if virtual >= count - 1:
        return float(r.pos[w.pos_item(count - 1)])
    previous = math.floor(virtual)
    gamma = virtual - previous
    low = float(r.pos[w.pos_item(previous)])
    high = float(r.pos[w.pos_item(previous + 1)])
    step = high - low
    if gamma >= 0.5:
        return high - step * (1 - gamma)
    return low + step * gamma


def _positive_recall_at_negative_recall(
    r: _RankedScores, w: _Weights, *, negative_recall: float = 0.95
) -> float:
    negative_recall = check_fraction("negative_recall", negative_recall, zero_ok=False)
    total_pos, total_neg = w.pos_total, w.neg_total
    if total_pos == 0 or total_neg == 0:
        missing = "positive" if total_pos == 0 else "negative"
        return undefined(
            f"positive recall at negative recall is undefined without {missing} "
            "items; NaN"
        )
    i = _first_true(1, r.n_neg, lambda i: w.neg_at(i) / total_neg >= negative_recall)
    threshold = r.neg[i - 1]
    at_or_below = int(np.searchsorted(r.pos, threshold, side="right"))
    return (total_pos - w.pos_at(at_or_below)) / total_pos


#: Ranking metrics by plugin name: the function on a shared sort, its
#: options with their defaults (``None``: required), and whether its
#: weighted form needs whole-number weights.
RANKING_METRICS: Mapping[str, tuple[Callable[..., float], Mapping[str, Any], bool]] = {
    "roc-auc": (_roc_auc, {}, False),
    "average-precision": (_average_precision, {}, False),
    "tpr-at-fpr": (_tpr_at_fpr, {"fpr": None}, False),
    "tnr-at-tpr": (_tnr_at_tpr, {"tpr": 0.9, "no_negatives": math.nan}, True),
    "positive-recall-at-negative-recall": (
        _positive_recall_at_negative_recall,
        {"negative_recall": 0.95},
        False,
    ),
}


def _evaluate(
    names: Iterable[str],
    y_true: npt.ArrayLike,
    y_score: npt.ArrayLike,
    sample_weight: npt.ArrayLike | None,
    options: Mapping[str, Any],
) -> dict[str, float]:
    names = list(names)
    unknown = [n for n in names if n not in RANKING_METRICS]
    if unknown:
        raise ValueError(
            f"unknown ranking metric {unknown[0]!r}."
            f"{did_you_mean(unknown[0], RANKING_METRICS)} "
            f"Known: {', '.join(RANKING_METRICS)}"
        )
    accepted = {o for n in names for o in RANKING_METRICS[n][1]}
    extra = sorted(set(options) - accepted)
    if extra:
        raise TypeError(
            f"option {extra[0]!r} is not used by {', '.join(names)} "
            f"(their options: {', '.join(sorted(accepted)) or 'none'})"
        )
    ranked = _ranked_scores(y_true, y_score)
    if ranked.n_pos + ranked.n_neg == 0:
        empty = {}
        for name in names:
            empty[name] = undefined(
                f"{name} is undefined for no items; NaN", stacklevel=4
            )
        return empty
    weights = None
    if sample_weight is not None:
        integral = any(RANKING_METRICS[n][2] for n in names)
        weights = check_weights(
            sample_weight, ranked.n_pos + ranked.n_neg, integral=integral
        )
    w = _Weights(ranked, weights)
    results = {}
    for name in names:
        func, defaults, _ = RANKING_METRICS[name]
        kwargs = {k: options.get(k, v) for k, v in defaults.items()}
        missing = [k for k, v in kwargs.items() if v is None]
        if missing:
            raise TypeError(f"{name} needs the option {missing[0]!r}")
        results[name] = func(ranked, w, **kwargs)
    return results


# -- public functions ----------------------------------------------------------


def ranking_metrics(
    y_true: npt.ArrayLike,
    y_score: npt.ArrayLike,
    *,
    metrics: Iterable[str],
    sample_weight: npt.ArrayLike | None = None,
    **options: Any,
) -> dict[str, float]:
    """Compute several ranking metrics from one sort of the scores.

    :param y_true: labels in {0, 1}, 1 meaning anomalous (positive).
    :param y_score: scores, higher meaning more anomalous; finite.
    :param metrics: names from :data:`RANKING_METRICS`: ``roc-auc``,
        ``average-precision``, ``tpr-at-fpr``, ``tnr-at-tpr``,
        ``positive-recall-at-negative-recall``.
    :param sample_weight: non-negative frequency weights; ``tnr-at-tpr``
        needs whole numbers.
    :param options: the metrics' options by name (``fpr``, ``tpr``,
        ``no_negatives``, ``negative_recall``); an option that none of the
        requested metrics takes is an error.
    :returns: each requested metric's value, keyed by its name.

    >>> ranking_metrics([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8],
    ...                 metrics=["roc-auc", "tpr-at-fpr"], fpr=0.5)
    {'roc-auc': 0.75, 'tpr-at-fpr': 1.0}
    """
    return _evaluate(metrics, y_true, y_score, sample_weight, options)


def roc_auc_score(
    y_true: npt.ArrayLike,
    y_score: npt.ArrayLike,
    *,
    sample_weight: npt.ArrayLike | None = None,
) -> float:
    """Area under the ROC curve: the chance a positive outscores a negative.

    A tie between a positive and a negative counts one half, which is the
    trapezoidal area under scikit-learn's ROC curve.

    :returns: a value in [0, 1]; NaN with a warning when either class is
        missing (or weighs nothing).

    >>> roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    """
    return _evaluate(["roc-auc"], y_true, y_score, sample_weight, {})["roc-auc"]


def average_precision_score(
    y_true: npt.ArrayLike,
    y_score: npt.ArrayLike,
    *,
    sample_weight: npt.ArrayLike | None = None,
) -> float:
    """Average precision: the precision at each positive, averaged.

    Defined as scikit-learn defines it, step-wise without interpolation:
    the sum over distinct thresholds of the gain in recall times the
    precision at that threshold. Equal scores share one threshold.

    :returns: a value in [0, 1]; NaN with a warning without positives; 1.0
        when there are positives but no negatives.

    >>> round(average_precision_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), 4)
    0.8333
    """
    name = "average-precision"
    return _evaluate([name], y_true, y_score, sample_weight, {})[name]


def tpr_at_fpr_score(
    y_true: npt.ArrayLike,
    y_score: npt.ArrayLike,
    *,
    fpr: float,
    sample_weight: npt.ArrayLike | None = None,
) -> float:
    """Highest true-positive rate among thresholds whose false-positive rate <= fpr.

    An item is flagged when its score is at or above the threshold, and only
    the points of the ROC curve are considered (no interpolation between
    them), so the result is the TPR a real threshold achieves.

    :param fpr: the largest acceptable false-positive rate, in [0, 1].
    :returns: NaN with a warning when either class is missing.

    >>> tpr_at_fpr_score([0, 0, 0, 0, 1, 1], [0.1, 0.2, 0.3, 0.9, 0.5, 0.95],
    ...                  fpr=0.25)
    1.0
    >>> tpr_at_fpr_score([0, 0, 0, 0, 1, 1], [0.1, 0.2, 0.3, 0.9, 0.5, 0.95],
    ...                  fpr=0.0)
    0.5
    """
    name = "tpr-at-fpr"
    return _evaluate([name], y_true, y_score, sample_weight, {"fpr": fpr})[name]


def tnr_at_tpr_score(
    y_true: npt.ArrayLike,
    y_score: npt.ArrayLike,
    *,
    tpr: float = 0.9,
    no_negatives: float = math.nan,
    sample_weight: npt.ArrayLike | None = None,
) -> float:
    """True-negative rate at the threshold that keeps a share ``tpr`` of positives.

    The rule of the gravitational-wave anomaly challenge: the threshold is
    ``numpy.percentile(positive scores, 100 - 100 * tpr)`` with linear
    interpolation (the 10th percentile for ``tpr=0.9``), and the score is
    the fraction of negatives strictly below it.

    :param tpr: the share of positives to keep at or above the threshold.
    :param no_negatives: the value returned when there are no negatives; the
        original challenge used 0.0. The default NaN comes with a warning.
    :param sample_weight: whole-number repetition counts; the percentile is
        taken over the positives repeated that many times.
    :returns: NaN with a warning when there are no positives.

    >>> tnr_at_tpr_score([0, 0, 0, 1, 1, 1], [0.1, 0.2, 0.6, 0.3, 0.5, 0.9])
    0.6666666666666666
    """
    name = "tnr-at-tpr"
    options = {"tpr": tpr, "no_negatives": no_negatives}
    return _evaluate([name], y_true, y_score, sample_weight, options)[name]


def positive_recall_at_negative_recall_score(
    y_true: npt.ArrayLike,
    y_score: npt.ArrayLike,
    *,
    negative_recall: float = 0.95,
    sample_weight: npt.ArrayLike | None = None,
) -> float:
    """Recall of positives at a threshold set on the negatives.

    The rule of the butterfly hybrid challenge: the threshold ``t`` is the
    smallest distinct score such that at least a share ``negative_recall``
    of negatives score ``<= t``; the result is the fraction of positives
    scoring strictly above ``t`` (a positive equal to ``t`` is missed).

    :param negative_recall: the share of negatives to keep at or below the
        threshold, in (0, 1].
    :returns: NaN with a warning when either class is missing.

    >>> positive_recall_at_negative_recall_score(
    ...     [0, 0, 0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4, 0.3, 0.9],
    ...     negative_recall=0.75)
    0.5
    """
    name = "positive-recall-at-negative-recall"
    options = {"negative_recall": negative_recall}
    return _evaluate([name], y_true, y_score, sample_weight, options)[name]
