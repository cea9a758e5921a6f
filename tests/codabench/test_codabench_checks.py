"""The checks of the scoring program, which must run without jsonschema."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.codabench.checks import (
    ScoresProblem,
    align_predictions,
    check_predictions_document,
    parse_scores,
)
from harness.errors import PredictionsError

TRUTH_IDS = np.array([3, 1, 2])


def doc(ids: list, values: object) -> dict:
    return {"format_version": 1, "ids": ids, "values": values}


CASES = [
    ("in order", doc([3, 1, 2], [0.3, 0.1, 0.2]), (), None),
    ("shuffled", doc([1, 2, 3], [0.1, 0.2, 0.3]), (), None),
    ("ids as text", doc(["1", "2", "3"], [1, 2, 3]), (), None),
    ("item shape", doc([3, 1, 2], [[0, 1], [1, 1], [0, 0]]), (2,), None),
    ("missing id", doc([3, 1], [0.3, 0.1]), (), "1 missing id(s): '2'"),
    ("extra id", doc([3, 1, 2, 4], [0.3, 0.1, 0.2, 0.4]), (), "unexpected id(s): '4'"),
    ("duplicated id", doc([3, 1, 1], [0.3, 0.1, 0.1]), (), "duplicated id(s): '1'"),
    ("column vector", doc([3, 1, 2], [[0.3], [0.1], [0.2]]), (), "shape (N, 1)"),
    ("NaN", doc([3, 1, 2], [0.3, math.nan, 0.2]), (), "item '1' with value nan"),
    ("infinity", doc([3, 1, 2], [0.3, 0.1, -math.inf]), (), "not finite"),
    ("a string value", doc([3, 1, 2], [0.3, "high", 0.2]), (), "is str 'high'"),
    ("ragged", doc([3, 1, 2], [[0, 1], [1], [0, 0]]), (2,), "one shape per item"),
    ("count mismatch", doc([3, 1, 2], [0.3, 0.1]), (), "3 ids but 2 values"),
    ("values not a list", doc([3, 1, 2], 0.5), (), "3 ids but no list of values"),
]


@pytest.mark.parametrize(
    ("name", "document", "shape", "fragment"), CASES, ids=[c[0] for c in CASES]
)
def test_align_checks_meaning(
    name: str, document: dict, shape: tuple, fragment: str | None
) -> None:
    """The scoring program applies the harness's checks, without jsonschema."""
    if fragment is None:
        got = align_predictions(document, TRUTH_IDS, item_shape=shape)
        assert got.dtype == np.float64
        assert got.shape == (3, *shape)
        return
    with pytest.raises(PredictionsError) as info:
        align_predictions(document, TRUTH_IDS, item_shape=shape)
    assert fragment in str(info.value)


def test_aligned_values_follow_the_truth_order() -> None:
    got = align_predictions(doc([1, 2, 3], [0.1, 0.2, 0.3]), TRUTH_IDS)
    assert got.tolist() == [0.3, 0.1, 0.2]


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        ([1, 2], "holds a list"),
        ({"ids": [], "values": []}, "lacks the field(s) format_version"),
        (doc([1], [1.0]) | {"format_version": 2}, "format_version 2"),
        (doc([1.5], [1.0]), "neither integers nor strings"),
        (doc([True], [1.0]), "neither integers nor strings"),
        (doc([1], {"a": 1}), "field 'values' is a dict"),
        (doc("1,2", [1.0]), "field 'ids' is a str"),
    ],
)
def test_malformed_documents_are_named(document: object, fragment: str) -> None:
    with pytest.raises(PredictionsError, match="predictions.json") as info:
        check_predictions_document(document)
    assert fragment in str(info.value)


def test_a_good_document_passes() -> None:
    check_predictions_document(doc(["a.jpg", 2], [0.5, 1]) | {"challenge": "x"})


def test_scores_are_parsed_as_floats() -> None:
    scores = parse_scores('{"TNR": 1, "AUC": 0.25}', ["TNR", "AUC"])
    assert scores == {"TNR": 1.0, "AUC": 0.25}
    assert all(isinstance(v, float) for v in scores.values())


def test_scores_unknown_and_missing_keys_are_listed() -> None:
    with pytest.raises(ScoresProblem) as info:
        parse_scores('{"tnr": 0.5, "extra": 1}', ["TNR", "AUC"])
    message = str(info.value)
    assert "unknown key(s) 'tnr', 'extra'" in message
    assert "missing key(s) 'TNR', 'AUC'" in message
    assert len(info.value.problems) == 2


def test_scores_nan_and_infinity_are_rejected_by_key() -> None:
    with pytest.raises(ScoresProblem) as info:
        parse_scores('{"a": NaN, "b": -Infinity, "c": 1e999, "d": 0.5}', None)
    message = str(info.value)
    assert "'a': nan" in message
    assert "'b': -inf" in message
    assert "'c': inf" in message
    assert "'d'" not in message


def test_scores_that_are_not_numbers_or_not_flat_are_rejected() -> None:
    with pytest.raises(ScoresProblem, match="not numbers: 'a': '0.5', 'b': True"):
        parse_scores('{"a": "0.5", "b": true}', ["a", "b"])
    with pytest.raises(ScoresProblem, match="holds a list"):
        parse_scores("[0.5]", ["a"])
    with pytest.raises(ScoresProblem, match="not valid JSON"):
        parse_scores('{"a": 0.5', ["a"])


def test_scores_duplicated_keys_are_reported() -> None:
    with pytest.raises(ScoresProblem, match="'a' appear more than once"):
        parse_scores('{"a": 0.1, "a": 0.9}', ["a"])
