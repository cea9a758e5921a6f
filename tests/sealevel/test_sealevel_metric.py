"""Golden values for the sea-level metric, worked out by hand, and cross-checks."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from harness.types import Truth
from harness_sealevel.dataset import STATIONS
from harness_sealevel.metric import (
    OUTPUTS,
    UndefinedScoreWarning,
    metric_plugin,
    sealevel_flood,
    sealevel_scores,
)

AC, BALTIMORE, EASTPORT, SANDY_HOOK, THE_BATTERY = 0, 1, 2, 8, 10


def flags(days: int, marks: dict[int, list[int]]) -> np.ndarray:
    """A (days, 12) 0/1 matrix with 1 at ``marks[day]`` stations."""
    matrix = np.zeros((days, len(STATIONS)), dtype=np.int8)
    for day, stations in marks.items():
        matrix[day, stations] = 1
    return matrix


# Every station floods at least once: day 0 stations 0-5, day 1 stations 6-11,
# day 2 nothing, day 3 Atlantic City.
EVERY_STATION = flags(4, {0: list(range(6)), 1: list(range(6, 12)), 3: [AC]})


def test_all_correct_every_station_flooding_scores_one() -> None:
    # Day flag: tp 3, fp 0, fn 0 -> 1. Each station: fp = fn = 0, tp >= 1 -> 1.
    scores = sealevel_scores(EVERY_STATION, EVERY_STATION)
    assert scores == {
        "F1-Score": 1.0,
        "F1-Score with location": 1.0,
        "Final Grade": 1.0,
    }


def test_all_correct_with_a_station_never_flooding_scores_below_one() -> None:
    truth = flags(3, {0: [s for s in range(12) if s != EASTPORT], 1: [AC]})
    # Day flag: tp 2 -> 1. Eleven stations F1 1; Eastport has no positive in
    # truth or prediction, undefined, counted 0 as in the original:
    # location = 11/12 = 0.91667; grade = 0.3 * 1 + 0.7 * 11/12 = 0.94167.
    scores = sealevel_scores(truth, truth)
    assert scores["F1-Score"] == 1.0
    assert scores["F1-Score with location"] == pytest.approx(11 / 12)
    assert scores["Final Grade"] == pytest.approx(0.3 + 0.7 * 11 / 12)
    assert scores["Final Grade"] == pytest.approx(0.9416667, abs=1e-7)
    # Counting an undefined F1 as 1 instead makes the perfect answer score 1.
    lenient = sealevel_scores(truth, truth, undefined_f1=1.0)
    assert lenient["Final Grade"] == 1.0


def test_all_wrong_still_gets_day_credit() -> None:
    pred = 1 - EVERY_STATION
    # Predicted day flags: every day has some 1 -> [1, 1, 1, 1]; truth [1, 1, 0, 1].
    # Day flag: tp 3, fp 1, fn 0 -> 6 / 7 = 0.857143.
    # Each station: tp 0 and fn >= 1 -> F1 0; location 0.
    # Grade = 0.3 * 6/7 = 0.257143.
    scores = sealevel_scores(EVERY_STATION, pred)
    assert scores["F1-Score"] == pytest.approx(6 / 7)
    assert scores["F1-Score with location"] == 0.0
    assert scores["Final Grade"] == pytest.approx(0.3 * 6 / 7)
    assert scores["Final Grade"] == pytest.approx(0.2571429, abs=1e-7)


def test_all_zeros_scores_zero() -> None:
    # Day flag: tp 0, fn 3 -> 0; every station tp 0, fn >= 1 -> 0.
    zeros = np.zeros_like(EVERY_STATION)
    assert sealevel_scores(EVERY_STATION, zeros) == dict.fromkeys(OUTPUTS, 0.0)
    # With no flood anywhere, every F1 is undefined: 0 by default, 1 on request.
    assert sealevel_scores(zeros, zeros) == dict.fromkeys(OUTPUTS, 0.0)
    assert sealevel_scores(zeros, zeros, undefined_f1=1.0) == dict.fromkeys(
        OUTPUTS, 1.0
    )


def test_mixed_case_with_stations_absent_from_positives() -> None:
    truth = flags(5, {0: [AC, BALTIMORE], 1: [SANDY_HOOK], 3: [AC]})
    pred = flags(5, {0: [AC], 1: [THE_BATTERY], 2: [EASTPORT]})
    # Day flag: truth [1, 1, 0, 1, 0], pred [1, 1, 1, 0, 0]:
    #   tp 2 (days 0, 1), fp 1 (day 2), fn 1 (day 3) -> 4 / 6 = 2/3.
    # Atlantic City: tp 1, fn 1 -> 2/3. Baltimore, Sandy Hook: fn only -> 0.
    # Eastport, The Battery: no positive in truth, a false alarm -> 0 (defined).
    # The other 7 stations: nothing anywhere -> undefined -> 0.
    # location = (2/3) / 12 = 1/18 = 0.055556;
    # grade = 0.3 * 2/3 + 0.7 / 18 = 0.2 + 0.038889 = 0.238889.
    scores = sealevel_scores(truth, pred)
    assert scores["F1-Score"] == pytest.approx(2 / 3)
    assert scores["F1-Score with location"] == pytest.approx(1 / 18)
    assert scores["Final Grade"] == pytest.approx(0.2388889, abs=1e-7)
    # undefined_f1=1 lifts only the 7 silent stations, not Eastport or The
    # Battery: location = (2/3 + 7) / 12 = 23/36; grade = 0.2 + 0.7 * 23/36.
    lenient = sealevel_scores(truth, pred, undefined_f1=1.0)
    assert lenient["F1-Score with location"] == pytest.approx(23 / 36)
    assert lenient["Final Grade"] == pytest.approx(0.6472222, abs=1e-7)


def test_sample_weight_counts_days() -> None:
    truth = flags(5, {0: [AC, BALTIMORE], 1: [SANDY_HOOK], 3: [AC]})
    pred = flags(5, {0: [AC], 1: [THE_BATTERY], 2: [EASTPORT]})
    weight = np.array([2, 0, 1, 3, 1])
    expanded = np.repeat(np.arange(5), weight)
    weighted = sealevel_scores(truth, pred, sample_weight=weight)
    assert weighted == pytest.approx(sealevel_scores(truth[expanded], pred[expanded]))
    # Days 0 (twice), 2, 3 (three times), 4: day flag tp 2, fp 1, fn 3 -> 4/8.
    assert weighted["F1-Score"] == pytest.approx(0.5)


def test_matches_scikit_learn_default_including_its_zero() -> None:
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    from sklearn.exceptions import UndefinedMetricWarning

    rng = np.random.default_rng(7)
    for trial in range(20):
        truth = (rng.random((40, 12)) < 0.08).astype(int)
        pred = (rng.random((40, 12)) < 0.1).astype(int)
        truth[:, trial % 12] = 0  # at least one station without a flood
        if trial % 2:
            pred[:, trial % 12] = 0  # ... and sometimes without a prediction
        with warnings.catch_warnings():
            # scikit-learn warns about exactly the undefined F1 we reproduce.
            warnings.simplefilter("ignore", UndefinedMetricWarning)
            day = sklearn_metrics.f1_score(truth.any(axis=1), pred.any(axis=1))
            per_station = [
                sklearn_metrics.f1_score(truth[:, s], pred[:, s]) for s in range(12)
            ]
        expected = {
            "F1-Score": day,
            "F1-Score with location": np.mean(per_station),
            "Final Grade": 0.3 * day + 0.7 * np.mean(per_station),
        }
        assert sealevel_scores(truth, pred) == pytest.approx(expected, abs=1e-12)


def test_plugin_accepts_call_shaped_float_predictions() -> None:
    ids = np.array(["2008-01-01", "2008-01-02", "2008-01-03", "2008-01-04"])
    truth = Truth(ids=ids, labels=EVERY_STATION)
    y_score = EVERY_STATION.astype(np.float64).reshape(4, 1, 12)
    assert sealevel_flood(truth, y_score) == dict.fromkeys(OUTPUTS, 1.0)
    assert sealevel_flood(truth, y_score.reshape(4, 12), undefined_f1=0.5) == (
        dict.fromkeys(OUTPUTS, 1.0)
    )


@pytest.mark.parametrize("bad", [0.5, np.nan, -1.0, 2.0])
def test_plugin_rejects_values_other_than_zero_and_one(bad: float) -> None:
    ids = np.array(["2008-01-01", "2008-01-02", "2008-01-03", "2008-01-04"])
    truth = Truth(ids=ids, labels=EVERY_STATION)
    y_score = EVERY_STATION.astype(np.float64).reshape(4, 1, 12)
    y_score[2, 0, EASTPORT] = bad
    y_score[3, 0, AC] = bad
    with pytest.raises(
        ValueError, match=r"day index 2 \(2008-01-03\), station Eastport"
    ):
        sealevel_flood(truth, y_score)


def test_plugin_rejects_wrong_shapes() -> None:
    truth = Truth(ids=np.array(["2008-01-01", "2008-01-02"]), labels=EVERY_STATION[:2])
    with pytest.raises(ValueError, match=r"shape \(2, 12, 1\)"):
        sealevel_flood(truth, np.zeros((2, 12, 1)))
    with pytest.raises(ValueError, match=r"shape \(3, 1, 12\)"):
        sealevel_flood(truth, np.zeros((3, 1, 12)))


def test_bad_options_and_empty_input() -> None:
    with pytest.raises(ValueError, match="undefined_f1"):
        sealevel_scores(EVERY_STATION, EVERY_STATION, undefined_f1=2.0)
    empty = np.zeros((0, 12))
    with pytest.warns(UndefinedScoreWarning, match="no day to score"):
        scores = sealevel_scores(empty, empty)
    assert all(math.isnan(v) for v in scores.values())


def test_metric_plugin_description() -> None:
    plugin = metric_plugin()
    assert plugin.name == "sealevel-flood"
    assert plugin.outputs == ("F1-Score", "F1-Score with location", "Final Grade")
    assert plugin.greater_is_better and plugin.weighted
    assert plugin.func is sealevel_flood
