"""The ``sealevel-flood`` metric: F1 of flood days, overall and per station.

Three numbers, as the original leaderboard showed them:

- ``F1-Score``: F1 of the daily flag "some station floods today", the
  maximum over stations of truth and of prediction;
- ``F1-Score with location``: the mean over stations of each station's F1;
- ``Final Grade``: ``0.3 * F1-Score + 0.7 * F1-Score with location``.

An F1 is undefined when a station (or the daily flag) has no positive day in
the truth and none in the prediction. The original gave it 0, scikit-learn's
default, and so does this metric unless ``undefined_f1`` says otherwise. A
perfect submission therefore scores below 1 whenever some station never
floods in the scored period.

Predictions are matched to truth by date before this module sees them; the
original matched by row position.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from harness.types import MetricPlugin, Truth

from .dataset import STATIONS

__all__ = [
    "OUTPUTS",
    "UndefinedScoreWarning",
    "metric_plugin",
    "sealevel_flood",
    "sealevel_scores",
]

OUTPUTS: tuple[str, str, str] = ("F1-Score", "F1-Score with location", "Final Grade")
"""Leaderboard keys, in the order the original wrote them."""

DAY_WEIGHT = 0.3
LOCATION_WEIGHT = 0.7


class UndefinedScoreWarning(UserWarning):
    """The scores cannot be computed from the input (for example, no day)."""


def _check_flags(
    values: Any, name: str, ids: Sequence[Any] | None = None
) -> np.ndarray:
    """Return ``values`` as a bool matrix, or raise naming the first bad entry."""
    array = np.asarray(values)
    if array.ndim != 2:
        raise ValueError(f"{name} has shape {array.shape}; expected (days, stations)")
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{name} has dtype {array.dtype}; expected 0/1 numbers")
    bad = ~((array == 0) | (array == 1))
    if bad.any():
        day, column = (int(i) for i in np.argwhere(bad)[0])
        date = f" ({ids[day]})" if ids is not None else ""
        station = STATIONS[column] if array.shape[1] == len(STATIONS) else column
        raise ValueError(
            f"{name} at day index {day}{date}, station {station}, is "
            f"{array[day, column]!r}; every flag must be exactly 0 or 1 "
            f"({int(bad.sum())} bad value(s) in all)"
        )
    return np.asarray(array == 1)


def _f1(tp: float, fp: float, fn: float, undefined: float) -> float:
    denominator = 2.0 * tp + fp + fn
    return undefined if denominator == 0 else 2.0 * tp / denominator


def _scores(
    y_true: Any,
    y_pred: Any,
    *,
    undefined_f1: float,
    sample_weight: Any,
    ids: Sequence[Any] | None,
) -> dict[str, float]:
    number = isinstance(undefined_f1, (int, float)) and not isinstance(
        undefined_f1, bool
    )
    if not number or not 0.0 <= undefined_f1 <= 1.0:
        raise ValueError(
            f"undefined_f1 is {undefined_f1!r}; expected a number in [0, 1]"
        )
    truth = _check_flags(y_true, "y_true", ids)
    pred = _check_flags(y_pred, "y_pred", ids)
    if truth.shape != pred.shape:
        raise ValueError(
            f"y_pred has shape {pred.shape} but y_true has {truth.shape}; "
            "expected one row per day and one column per station in both"
        )
    if sample_weight is None:
        weight = np.ones(truth.shape[0])
    else:
        weight = np.asarray(sample_weight, dtype=np.float64)
        if weight.shape != (truth.shape[0],):
            raise ValueError(
                f"sample_weight has shape {weight.shape}; expected ({truth.shape[0]},)"
            )
        if not np.all(np.isfinite(weight)) or np.any(weight < 0):
            raise ValueError("sample_weight must be finite and non-negative")
    if truth.shape[0] == 0 or weight.sum() == 0:
        warnings.warn(
            "no day to score (empty input or zero total weight); returning NaN",
            UndefinedScoreWarning,
            stacklevel=3,
        )
        return dict.fromkeys(OUTPUTS, float("nan"))

    def counts(t: Any, p: Any) -> tuple[Any, Any, Any]:
        return weight @ (t & p), weight @ (~t & p), weight @ (t & ~p)

    day_f1 = _f1(*counts(truth.any(axis=1), pred.any(axis=1)), undefined_f1)
    tp, fp, fn = counts(truth, pred)
    station_f1 = [_f1(*c, undefined_f1) for c in zip(tp, fp, fn, strict=True)]
    location_f1 = float(np.mean(station_f1))
    return {
        "F1-Score": float(day_f1),
        "F1-Score with location": location_f1,
        "Final Grade": DAY_WEIGHT * float(day_f1) + LOCATION_WEIGHT * location_f1,
    }


def sealevel_scores(
    y_true: Any,
    y_pred: Any,
    *,
    undefined_f1: float = 0.0,
    sample_weight: Any = None,
) -> dict[str, float]:
    """Score daily per-station flood flags as the original leaderboard did.

    :param y_true: 0/1 array ``(days, stations)``, 1 for a flood.
    :param y_pred: 0/1 array of the same shape, rows matched to ``y_true``.
    :param undefined_f1: the F1 given to a station (or to the daily flag) with
        no positive day in truth and prediction; 0.0 as in the original.
    :param sample_weight: optional non-negative weight per day (bootstrap
        counts); a day of weight ``k`` counts as ``k`` copies of that day.
    :returns: ``{"F1-Score", "F1-Score with location", "Final Grade"}``. With no
        day to score, all three are NaN and an :class:`UndefinedScoreWarning`
        is issued.
    :raises ValueError: when a flag is not exactly 0 or 1 (naming the first
        one), or the shapes disagree.

    >>> y_true = np.array([[1, 0], [0, 0], [0, 1]])
    >>> y_pred = np.array([[1, 0], [1, 0], [0, 0]])
    >>> {k: round(v, 4) for k, v in sealevel_scores(y_true, y_pred).items()}
    {'F1-Score': 0.5, 'F1-Score with location': 0.3333, 'Final Grade': 0.3833}
    """
    return _scores(
        y_true, y_pred, undefined_f1=undefined_f1, sample_weight=sample_weight, ids=None
    )


def sealevel_flood(
    truth: Truth,
    y_score: np.ndarray,
    *,
    undefined_f1: float = 0.0,
    sample_weight: Any = None,
) -> dict[str, float]:
    """The metric plugin's entry point: :func:`sealevel_scores` on aligned data.

    :param truth: labels ``(days, 12)`` with 1 meaning a flood, ids the dates.
    :param y_score: the model outputs aligned with ``truth.ids``, shape
        ``(days, 1, 12)`` as each call returned them, or ``(days, 12)``.
    :raises ValueError: for a shape that matches neither, or a value other
        than 0 or 1, naming the first bad day by index and date.
    """
    labels = np.asarray(truth.labels)
    scores = np.asarray(y_score, dtype=np.float64)
    days = labels.shape[0]
    stations = labels.shape[1] if labels.ndim == 2 else len(STATIONS)
    if scores.shape == (days, 1, stations):
        scores = scores.reshape(days, stations)
    elif scores.shape != (days, stations):
        raise ValueError(
            f"predictions have shape {scores.shape}; expected ({days}, 1, "
            f"{stations}) or ({days}, {stations}), one row of station flags per day"
        )
    return _scores(
        labels,
        scores,
        undefined_f1=undefined_f1,
        sample_weight=sample_weight,
        ids=[str(i) for i in truth.ids],
    )


def metric_plugin() -> MetricPlugin:
    """Describe ``sealevel-flood`` for the plugin registry."""
    return MetricPlugin(
        name="sealevel-flood",
        func=sealevel_flood,
        greater_is_better=True,
        outputs=OUTPUTS,
        version="1",
        description=(
            "F1 of flood days over all stations, mean per-station F1, and "
            "0.3/0.7 weighted grade; predictions must be 0/1"
        ),
        weighted=True,
        options_schema={
            "type": "object",
            "properties": {
                "undefined_f1": {"type": "number", "minimum": 0, "maximum": 1}
            },
            "additionalProperties": False,
        },
    )
