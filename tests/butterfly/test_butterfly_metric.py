"""Golden values for the butterfly-hybrid metric, worked out by hand.

Conventions used in every hand calculation below:

- Population A is major + minor; the mimic population stands alone.
- Threshold ``t`` of a population: sort its non-hybrid scores; ``t`` is the
  k-th smallest, with k the smallest count such that ``k / n >= 0.95``. For
  fewer than 20 non-hybrids that is the largest non-hybrid score; for 20 it
  is the 19th (19 / 20 = 0.95 exactly).
- A hybrid is found when its score is strictly above ``t``.
- Average precision (AP): walk the distinct scores from high to low; at each
  score holding a hybrid add ``precision * (gain in recall)``, where
  precision counts every item at or above that score.
"""

from __future__ import annotations

import doctest
import math
import warnings

import numpy as np
import pytest

from harness.types import Truth
from harness_butterfly.metric import (
    KEYS,
    UndefinedScoreWarning,
    butterfly_scores,
    hybrid_threshold,
    round_scores,
)
from harness_butterfly.plugin import BUTTERFLY_HYBRID, score_truth


def score(rows, **options):
    """Score rows of ``(group, hybrid_stat, score)``."""
    groups, labels, values = zip(*rows, strict=True)
    return butterfly_scores(list(labels), list(values), list(groups), **options)


# Major: 2 non-hybrids + 2 hybrids; minor: 1 + 1; mimic: 2 + 2.
LABELLED = [
    ("major", 0),
    ("major", 0),
    ("major", 1),
    ("major", 1),
    ("minor", 0),
    ("minor", 1),
    ("mimic", 0),
    ("mimic", 0),
    ("mimic", 1),
    ("mimic", 1),
]


def with_scores(values):
    return [(g, y, s) for (g, y), s in zip(LABELLED, values, strict=True)]


def test_keys_in_leaderboard_order():
    assert KEYS == (
        "A_score_major_recall",
        "A_score_minor_recall",
        "A_PRC_AUC",
        "A_PRC_AUC_major",
        "A_PRC_AUC_minor",
        "mimic_recall",
        "mimic_PRC_AUC",
        "challenge_score",
    )


def test_all_correct():
    """Every hybrid above every non-hybrid of its population.

    A non-hybrids {0.1, 0.2, 0.3}: t_A = 0.3. Major hybrids 0.8, 0.9 > 0.3:
    recall 1; minor hybrid 0.7 > 0.3: recall 1. Mimic non-hybrids {0.1, 0.2}:
    t = 0.2; hybrids 0.6, 0.7: recall 1. Every AP is 1 (all hybrids ranked
    first). challenge_score = 3 / (1 + 1 + 1) = 1.
    """
    result = score(with_scores([0.1, 0.2, 0.8, 0.9, 0.3, 0.7, 0.1, 0.2, 0.6, 0.7]))
    assert result == {key: 1.0 for key in KEYS}


def test_all_wrong():
    """Every hybrid below every non-hybrid of its population.

    t_A = 0.9 (largest of 0.8, 0.9, 0.7); t_mimic = 0.7. No hybrid is above
    its threshold: all recalls 0, so challenge_score is exactly 0.
    AP over A, ranked 0.9N 0.8N 0.7N 0.3H 0.2H 0.1H: the hybrids arrive at
    precisions 1/4, 2/5, 3/6, each adding recall 1/3:
    (0.25 + 0.4 + 0.5) / 3 = 0.383333...
    AP major, 0.9N 0.8N 0.2H 0.1H: (1/3 + 2/4) / 2 = 5/12.
    AP minor, 0.7N 0.3H: 1/2. AP mimic, 0.7N 0.6N 0.2H 0.1H: 5/12.
    """
    result = score(with_scores([0.8, 0.9, 0.1, 0.2, 0.7, 0.3, 0.6, 0.7, 0.1, 0.2]))
    assert result["A_score_major_recall"] == 0.0
    assert result["A_score_minor_recall"] == 0.0
    assert result["mimic_recall"] == 0.0
    assert result["challenge_score"] == 0.0
    assert result["A_PRC_AUC"] == pytest.approx(1.15 / 3, abs=1e-12)
    assert result["A_PRC_AUC_major"] == pytest.approx(5 / 12, abs=1e-12)
    assert result["A_PRC_AUC_minor"] == pytest.approx(0.5, abs=1e-12)
    assert result["mimic_PRC_AUC"] == pytest.approx(5 / 12, abs=1e-12)


def test_constant_scores():
    """Every score 0.5: t = 0.5 in both populations and nothing is above it.

    All recalls 0, challenge_score 0. With one distinct score AP is the
    share of hybrids: A 3/6, major 2/4, minor 1/2, mimic 2/4. Labels with
    uneven shares make the check sharper: add two minor non-hybrids, so
    A = 3/8, minor = 1/4.
    """
    rows = with_scores([0.5] * 10) + [("minor", 0, 0.5), ("minor", 0, 0.5)]
    result = score(rows)
    assert result["A_score_major_recall"] == 0.0
    assert result["A_score_minor_recall"] == 0.0
    assert result["mimic_recall"] == 0.0
    assert result["challenge_score"] == 0.0
    assert result["A_PRC_AUC"] == pytest.approx(3 / 8, abs=1e-12)
    assert result["A_PRC_AUC_major"] == pytest.approx(0.5, abs=1e-12)
    assert result["A_PRC_AUC_minor"] == pytest.approx(0.25, abs=1e-12)
    assert result["mimic_PRC_AUC"] == pytest.approx(0.5, abs=1e-12)


def test_threshold_is_the_95_percent_order_statistic():
    """n = 19: 18/19 = 0.947 < 0.95, so k = 19, the largest (0.19).
    n = 20: 19/20 = 0.95, so k = 19, the 19th smallest (0.19), not 0.20.
    n = 21: 19/21 = 0.905 and 20/21 = 0.952, so k = 20 (0.20).
    Hybrid scores never move the threshold.
    """
    for n, expected in ((19, 0.19), (20, 0.19), (21, 0.20)):
        values = [i / 100 for i in range(1, n + 1)] + [0.01, 5.0]
        labels = [0] * n + [1, 1]
        assert hybrid_threshold(labels, values) == expected
    assert math.isnan(hybrid_threshold([1, 1], [0.2, 0.3]))


def test_ties_at_the_threshold_count_as_non_hybrid():
    """Twenty A non-hybrids at 0.01, 0.02, ..., 0.20: t_A = 0.19.

    Major hybrids 0.19 (equal to t: missed), 0.195 (found) and 0.20 (found,
    although a non-hybrid also scores 0.20): recall 2/3. Minor hybrids 0.19
    (missed) and 0.5 (found): recall 1/2. Mimic non-hybrids 0.1, 0.2, 0.3:
    t = 0.3; hybrids 0.3 (missed), 0.31, 0.4: recall 2/3.
    challenge_score = 3 / (3/2 + 2 + 3/2) = 3/5.
    """
    rows = [("major" if i % 2 else "minor", 0, i / 100) for i in range(1, 21)]
    rows += [("major", 1, 0.19), ("major", 1, 0.195), ("major", 1, 0.20)]
    rows += [("minor", 1, 0.19), ("minor", 1, 0.5)]
    rows += [("mimic", 0, 0.1), ("mimic", 0, 0.2), ("mimic", 0, 0.3)]
    rows += [("mimic", 1, 0.3), ("mimic", 1, 0.31), ("mimic", 1, 0.4)]
    result = score(rows)
    assert result["A_score_major_recall"] == pytest.approx(2 / 3, abs=1e-15)
    assert result["A_score_minor_recall"] == 0.5
    assert result["mimic_recall"] == pytest.approx(2 / 3, abs=1e-15)
    assert result["challenge_score"] == pytest.approx(0.6, abs=1e-12)


def test_builtin_round_rounds_the_binary_value():
    """0.00005 is stored just above the half and goes up (numpy.round gives
    0.0); 0.00015 is stored just below and goes down (half-up rounding of the
    decimal text gives 0.0002); 0.00025 is just above and goes up
    (numpy.round gives 0.0002). 0.03125 = 1/32 and 0.09375 = 3/32 are exact
    binary halves and go to the even neighbour: 0.0312 and 0.0938.
    """
    values = [0.00005, 0.00015, 0.00025, 0.03125, 0.09375, -0.03125, 0.12344]
    assert round_scores(values, 4).tolist() == [
        0.0001,
        0.0001,
        0.0003,
        0.0312,
        0.0938,
        -0.0312,
        0.1234,
    ]


def test_rounding_moves_recalls():
    """Rounding to 4 decimals decides two recalls.

    A non-hybrid at 0.0312: t_A = 0.0312. Major hybrids 0.03125 (an exact
    binary half: rounds to the even 0.0312 = t, missed; half-up would give
    0.0313) and 0.03126 (0.0313: found): major recall 1/2. Minor hybrid 0.5:
    recall 1. Mimic non-hybrid 0.0002: t = 0.0002; hybrids 0.00025 (stored
    just above the half: 0.0003, found; numpy.round would give 0.0002 and
    miss it) and 0.0001 (missed): recall 1/2.
    challenge_score = 3 / (2 + 1 + 2) = 0.6.
    Without rounding 0.03125 > 0.0312 is found: major recall 1 and
    challenge_score = 3 / (1 + 1 + 2) = 0.75.
    """
    rows = [
        ("major", 0, 0.0312),
        ("major", 1, 0.03125),
        ("major", 1, 0.03126),
        ("minor", 1, 0.5),
        ("mimic", 0, 0.0002),
        ("mimic", 1, 0.00025),
        ("mimic", 1, 0.0001),
    ]
    rounded = score(rows)
    assert rounded["A_score_major_recall"] == 0.5
    assert rounded["A_score_minor_recall"] == 1.0
    assert rounded["mimic_recall"] == 0.5
    assert rounded["challenge_score"] == pytest.approx(0.6, abs=1e-12)
    exact = score(rows, round_decimals=None)
    assert exact["A_score_major_recall"] == 1.0
    assert exact["mimic_recall"] == 0.5
    assert exact["challenge_score"] == pytest.approx(0.75, abs=1e-12)


def test_coarser_rounding_creates_ties():
    """round_decimals=1: the A non-hybrid 0.12 becomes 0.1 and the major
    hybrid 0.14 becomes 0.1 too, equal to t: missed. At 4 decimals 0.14 > 0.12.
    """
    rows = [("major", 0, 0.12), ("major", 1, 0.14), ("minor", 1, 0.9)]
    rows += [("mimic", 0, 0.1), ("mimic", 1, 0.9)]
    assert score(rows, round_decimals=1)["A_score_major_recall"] == 0.0
    assert score(rows)["A_score_major_recall"] == 1.0


def test_zero_recall_gives_exactly_zero():
    """Major 1, minor 0, mimic 1: the harmonic mean's limit, exactly 0.

    A non-hybrids 0.1, 0.3: t_A = 0.3; major hybrid 0.9 found, minor hybrid
    0.25 missed. Mimic: t = 0.4, hybrid 0.8 found.
    """
    rows = [("major", 0, 0.1), ("major", 1, 0.9), ("minor", 0, 0.3)]
    rows += [("minor", 1, 0.25), ("mimic", 0, 0.4), ("mimic", 1, 0.8)]
    result = score(rows)
    assert (result["A_score_major_recall"], result["A_score_minor_recall"]) == (1, 0)
    assert result["mimic_recall"] == 1.0
    assert result["challenge_score"] == 0.0


def test_harmonic_mean_of_uneven_recalls():
    """Recalls 1, 1/2 and 1/4: 3 / (1 + 2 + 4) = 3/7.

    A non-hybrid 0.5 (t_A = 0.5); major hybrid 0.6 found; minor hybrids 0.6,
    0.4: 1/2. Mimic non-hybrid 0.5; hybrids 0.9, 0.1, 0.2, 0.3: 1/4.
    """
    rows = [("major", 0, 0.5), ("major", 1, 0.6), ("minor", 1, 0.6)]
    rows += [("minor", 1, 0.4), ("mimic", 0, 0.5)]
    rows += [("mimic", 1, s) for s in (0.9, 0.1, 0.2, 0.3)]
    assert score(rows)["challenge_score"] == pytest.approx(3 / 7, abs=1e-12)


def test_interleaved_average_precision():
    """Major ranked 0.9H 0.8N 0.7H 0.6N: (1/1 + 2/3) / 2 = 5/6.
    Tied hybrid and non-hybrid at one score share one precision: minor
    0.5H 0.5N 0.1N gives 1/2.
    """
    rows = [("major", 1, 0.9), ("major", 0, 0.8), ("major", 1, 0.7)]
    rows += [("major", 0, 0.6), ("minor", 1, 0.5), ("minor", 0, 0.5)]
    rows += [("minor", 0, 0.1), ("mimic", 0, 0.1), ("mimic", 1, 0.2)]
    result = score(rows)
    assert result["A_PRC_AUC_major"] == pytest.approx(5 / 6, abs=1e-12)
    assert result["A_PRC_AUC_minor"] == pytest.approx(0.5, abs=1e-12)


def test_absent_mimic_group_warns_and_gives_nan():
    """No mimic item: its recall and AP are undefined, and so is the
    challenge score. A is unaffected: t_A = 0.3, both recalls 1.
    """
    rows = [("major", 0, 0.1), ("major", 1, 0.9), ("minor", 0, 0.3)]
    rows += [("minor", 1, 0.5)]
    with pytest.warns(UndefinedScoreWarning, match="mimic_recall.*mimic_PRC_AUC"):
        result = score(rows)
    assert math.isnan(result["mimic_recall"])
    assert math.isnan(result["mimic_PRC_AUC"])
    assert math.isnan(result["challenge_score"])
    assert result["A_score_major_recall"] == 1.0
    assert result["A_score_minor_recall"] == 1.0
    assert result["A_PRC_AUC"] == 1.0


def test_population_without_non_hybrids_has_no_threshold():
    """Mimic items are all hybrids: no threshold, so mimic_recall is NaN;
    mimic AP is defined (every item is a hybrid: 1).
    """
    rows = [("major", 0, 0.1), ("major", 1, 0.9), ("minor", 1, 0.5)]
    rows += [("mimic", 1, 0.3), ("mimic", 1, 0.6)]
    with pytest.warns(UndefinedScoreWarning, match="no non-hybrids"):
        result = score(rows)
    assert math.isnan(result["mimic_recall"])
    assert result["mimic_PRC_AUC"] == 1.0
    assert math.isnan(result["challenge_score"])


def test_group_without_hybrids():
    """No minor hybrid: minor recall and minor AP are NaN; the minor
    non-hybrids still take part in t_A = 0.35.
    """
    rows = [("major", 0, 0.1), ("major", 1, 0.3), ("major", 1, 0.9)]
    rows += [("minor", 0, 0.35), ("mimic", 0, 0.1), ("mimic", 1, 0.2)]
    with pytest.warns(UndefinedScoreWarning, match="A_score_minor_recall"):
        result = score(rows)
    assert result["A_score_major_recall"] == 0.5
    assert math.isnan(result["A_score_minor_recall"])
    assert math.isnan(result["A_PRC_AUC_minor"])


def test_well_defined_input_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        score(with_scores([0.1, 0.2, 0.8, 0.9, 0.3, 0.7, 0.1, 0.2, 0.6, 0.7]))


@pytest.mark.parametrize(
    ("labels", "values", "groups", "message"),
    [
        ([0, 1], [0.1], ["major", "major"], "same length"),
        ([0, 2], [0.1, 0.2], ["major", "major"], "0 and 1"),
        ([0, 1], [0.1, float("nan")], ["major", "major"], "item 1 is nan"),
        ([0, 1], [0.1, float("inf")], ["major", "major"], "finite"),
        ([0, 1], [0.1, 0.2], ["major", "Major"], "'Major'"),
        ([[0, 1]], [[0.1, 0.2]], [["major", "major"]], "one-dimensional"),
    ],
)
def test_bad_input_is_rejected(labels, values, groups, message):
    with pytest.raises(ValueError, match=message):
        butterfly_scores(labels, values, groups)


def test_round_decimals_must_be_an_integer():
    with pytest.raises(ValueError, match="round_decimals"):
        butterfly_scores([0, 1], [0.1, 0.2], ["mimic", "mimic"], round_decimals=2.5)


# -- cross-check against a slow, literal re-reading of the original -------------


def walk_recall(labels, values, keep):
    """The original's procedure: sort by score (ties: hybrids first), predict
    non-hybrid for the first i items, stop at the first i where at least 95 %
    of non-hybrids are predicted non-hybrid; return recall over ``keep``."""
    order = sorted(range(len(values)), key=lambda j: (values[j], -labels[j]))
    negatives = sum(1 for y in labels if y == 0)
    called = None
    for i in range(len(order) + 1):
        kept = sum(1 for j in order[:i] if labels[j] == 0)
        if kept / negatives >= 0.95:
            called = {j: int(position >= i) for position, j in enumerate(order)}
            break
    hits = [called[j] for j in range(len(values)) if keep[j] and labels[j] == 1]
    return sum(hits) / len(hits)


def slow_average_precision(labels, values):
    total = sum(labels)
    result, found = 0.0, 0
    for cut in sorted(set(values), reverse=True):
        at = [y for y, s in zip(labels, values, strict=True) if s == cut]
        above = sum(1 for s in values if s >= cut)
        hybrids_above = sum(y for y, s in zip(labels, values, strict=True) if s >= cut)
        if sum(at):
            result += (hybrids_above / above) * (hybrids_above - found) / total
        found = hybrids_above
    return result


@pytest.mark.parametrize("seed", range(6))
def test_matches_slow_reference(seed):
    rng = np.random.default_rng(seed)
    n = 300
    groups = rng.choice(["major", "minor", "mimic"], size=n, p=[0.35, 0.3, 0.35])
    labels = (rng.random(n) < 0.3).astype(int)
    # Coarse scores so that ties, including ties at the threshold, are common.
    values = np.round(rng.random(n) * 0.6 + 0.4 * labels, 2)
    result = butterfly_scores(labels, values, groups)
    rounded = round_scores(values, 4)

    in_a = [g != "mimic" for g in groups]
    a_idx = [j for j in range(n) if in_a[j]]
    a_labels = [int(labels[j]) for j in a_idx]
    a_values = [float(rounded[j]) for j in a_idx]
    for key, group in (
        ("A_score_major_recall", "major"),
        ("A_score_minor_recall", "minor"),
    ):
        keep = [groups[j] == group for j in a_idx]
        assert result[key] == walk_recall(a_labels, a_values, keep)
    m_idx = [j for j in range(n) if not in_a[j]]
    m_labels = [int(labels[j]) for j in m_idx]
    m_values = [float(rounded[j]) for j in m_idx]
    assert result["mimic_recall"] == walk_recall(
        m_labels, m_values, [True] * len(m_idx)
    )
    assert result["A_PRC_AUC"] == pytest.approx(
        slow_average_precision(a_labels, a_values), abs=1e-12
    )
    assert result["mimic_PRC_AUC"] == pytest.approx(
        slow_average_precision(m_labels, m_values), abs=1e-12
    )
    for key, group in (("A_PRC_AUC_major", "major"), ("A_PRC_AUC_minor", "minor")):
        idx = [j for j in range(n) if groups[j] == group]
        expected = slow_average_precision(
            [int(labels[j]) for j in idx], [float(rounded[j]) for j in idx]
        )
        assert result[key] == pytest.approx(expected, abs=1e-12)


# -- the plugin ----------------------------------------------------------------


def test_plugin_reads_the_group_column():
    truth = Truth(
        ids=np.array(["a.jpg", "b.jpg", "c.jpg", "d.jpg", "e.jpg", "f.jpg"]),
        labels=np.array([0, 1, 0, 1, 0, 1]),
        columns={
            "ssp_indicator": np.array(["major"] * 2 + ["minor"] * 2 + ["mimic"] * 2)
        },
    )
    scores = np.array([0.1, 0.9, 0.2, 0.15, 0.3, 0.8])
    result = BUTTERFLY_HYBRID.func(truth, scores)
    assert set(result) == set(BUTTERFLY_HYBRID.outputs) == set(KEYS)
    # t_A = 0.2: major 0.9 found, minor 0.15 missed; challenge score 0.
    assert result["A_score_major_recall"] == 1.0
    assert result["A_score_minor_recall"] == 0.0
    assert result["challenge_score"] == 0.0
    assert BUTTERFLY_HYBRID.name == "butterfly-hybrid"
    assert BUTTERFLY_HYBRID.greater_is_better


def test_plugin_needs_the_group_column():
    truth = Truth(ids=np.array(["a.jpg"]), labels=np.array([1]))
    with pytest.raises(ValueError, match="ssp_indicator"):
        score_truth(truth, np.array([0.5]))


def test_docstring_examples_run():
    from harness_butterfly import metric

    outcome = doctest.testmod(metric)
    assert outcome.attempted >= 5
    assert outcome.failed == 0
