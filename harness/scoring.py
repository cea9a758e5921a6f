"""Compute a challenge's leaderboard columns in the trusted host process.

Label polarity and score orientation are applied here, once, as the
challenge file states them: metric plugins always see labels where 1 means
anomalous and scores where higher means anomalous. Each distinct metric and
option set is computed once, even when several columns read its outputs.
"""

from __future__ import annotations

import dataclasses
import json
import math
import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.errors import PluginError, PredictionsError
from harness.types import MetricPlugin, Truth

if TYPE_CHECKING:
    from harness.challenge import Challenge
    from harness.plugins import Plugins

__all__ = ["ColumnScore", "apply_polarity", "score_columns"]


@dataclasses.dataclass(frozen=True)
class ColumnScore:
    """One leaderboard value, with its bootstrap interval when computed."""

    key: str
    value: float | None
    direction: str
    primary: bool
    precision: int
    interval: Mapping[str, Any] | None = None
    warnings: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "direction": self.direction,
            "primary": self.primary,
            "precision": self.precision,
            "interval": dict(self.interval) if self.interval else None,
            "warnings": list(self.warnings),
        }


def apply_polarity(
    challenge: Challenge, truth: Truth, values: np.ndarray
) -> tuple[Truth, np.ndarray]:
    """Map labels to 1 = anomalous and orient scores so higher = anomalous."""
    labels = truth.labels
    positive = challenge.positive_label
    if labels.dtype.kind in "US" or isinstance(positive, str):
        binary = (labels.astype(str) == str(positive)).astype(np.int8)
    else:
        binary = (labels == positive).astype(np.int8)
    oriented = np.array(values, dtype=np.float64)
    if not challenge.higher_is_anomalous:
        oriented = -oriented
    # Read-only arrays let the ranking metrics share one sort between calls.
    binary.flags.writeable = False
    oriented.flags.writeable = False
    return Truth(ids=truth.ids, labels=binary, columns=truth.columns), oriented


def _as_float(value: Any, metric: MetricPlugin, output: str | None) -> float | None:
    what = f"metric {metric.name!r}" + (f" output {output!r}" if output else "")
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise PluginError(f"{what} returned {value!r}, expected a float") from exc
    return None if math.isnan(number) else number


def evaluate_metric(
    metric: MetricPlugin, truth: Truth, scores: np.ndarray, options: Mapping[str, Any]
) -> tuple[Any, tuple[str, ...]]:
    """Call a metric plugin, collecting the warnings it raises."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = metric.func(truth, scores, **options)
        except ValueError as exc:
            raise PredictionsError(
                f"metric {metric.name!r} rejected the predictions: {exc}"
            ) from exc
        except Exception as exc:
            raise PluginError(
                f"metric {metric.name!r} raised {type(exc).__name__}: {exc}"
            ) from exc
    notes = tuple(dict.fromkeys(str(w.message) for w in caught))
    if metric.outputs:
        if not isinstance(result, Mapping):
            raise PluginError(
                f"metric {metric.name!r} declares outputs {metric.outputs} but "
                f"returned {type(result).__name__}"
            )
        missing = [k for k in metric.outputs if k not in result]
        if missing:
            raise PluginError(
                f"metric {metric.name!r} did not return output(s) {missing}"
            )
    return result, notes


IntervalFn = Callable[[MetricPlugin, Mapping[str, Any], Truth, np.ndarray], Any]


def score_columns(
    challenge: Challenge,
    plugins: Plugins,
    truth: Truth,
    values: np.ndarray,
    *,
    interval: IntervalFn | None = None,
) -> list[ColumnScore]:
    """Score validated predictions on every column of ``challenge``.

    :param truth: the split's truth in the dataset's own label coding.
    :param values: predictions aligned with ``truth.ids``.
    :param interval: computes a bootstrap interval for a metric; it returns a
        mapping of output name (or ``None``) to interval dictionaries.
    """
    truth, scores = apply_polarity(challenge, truth, values)
    results: dict[str, tuple[Any, tuple[str, ...]]] = {}
    intervals: dict[str, Any] = {}
    columns = []
    for column in challenge.columns:
        metric = plugins.metrics[column.metric]
        cache_key = column.metric + json.dumps(dict(column.options), sort_keys=True)
        if cache_key not in results:
            results[cache_key] = evaluate_metric(metric, truth, scores, column.options)
            if interval is not None:
                intervals[cache_key] = interval(metric, column.options, truth, scores)
        result, notes = results[cache_key]
        raw = result[column.output] if metric.outputs else result
        band = None
        if interval is not None and intervals.get(cache_key) is not None:
            band = intervals[cache_key].get(column.output)
        columns.append(
            ColumnScore(
                key=column.key,
                value=_as_float(raw, metric, column.output),
                direction=column.direction,
                primary=column.primary,
                precision=column.precision,
                interval=band,
                warnings=notes,
            )
        )
    return columns
