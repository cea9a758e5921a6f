"""Predictions are checked for meaning, naming the item at fault."""

from __future__ import annotations

import json

import numpy as np
import pytest

from harness.errors import PredictionsError
from harness.validation import align_predictions, read_predictions

IDS = np.arange(4)


def doc(values, ids=(0, 1, 2, 3)):
    return {"format_version": 1, "ids": list(ids), "values": values}


@pytest.mark.parametrize(
    ("values", "fragment"),
    [
        (["0.5", 0.1, 0.2, 0.3], "item '0' is str '0.5'; expected a number"),
        ([0.1, True, 0.2, 0.3], "item '1' is bool True"),
        ([0.1, 0.2, None, 0.3], "item '2' is NoneType None"),
        ([0.1, 0.2, 0.3, 10**400], "not numbers of one shape per item"),
        ([[0.1], [0.2], [0.3], [0.4]], "shape (N, 1) where (N,) was expected"),
        ([0.1, float("inf"), 0.2, 0.3], "1 prediction(s) are not finite"),
    ],
)
def test_bad_values_are_named(values, fragment):
    with pytest.raises(PredictionsError) as info:
        align_predictions(doc(values), IDS)
    assert fragment in str(info.value)


def test_ids_are_matched_whatever_their_order():
    values = align_predictions(doc([3.0, 2.0, 1.0, 0.0], ids=(3, 2, 1, 0)), IDS)
    assert values.tolist() == [0.0, 1.0, 2.0, 3.0]


def test_ids_of_another_split_get_a_hint():
    with pytest.raises(PredictionsError, match="made for another phase"):
        align_predictions(doc([0.0, 1.0, 2.0, 3.0], ids=(10, 11, 12, 13)), IDS)


def test_missing_extra_and_duplicated_ids_are_listed():
    with pytest.raises(PredictionsError) as info:
        align_predictions(doc([0.0, 1.0, 2.0, 3.0], ids=(0, 0, 1, 7)), IDS)
    message = str(info.value)
    assert "1 duplicated id(s): '0'" in message
    assert "2 missing id(s): '2', '3'" in message
    assert "1 unexpected id(s): '7'" in message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"ids": [0], "values": [' + "9" * 5000 + "]}", "not valid JSON"),
        ("{not json", "not valid JSON"),
        (
            '{"format_version": 1, "ids": [0], "values": [1.0], "values": [0.5]}',
            "not valid JSON: the key 'values' is given twice in one object",
        ),
        ('{"ids": [0]}', "missing required key(s): 'format_version', 'values'"),
    ],
)
def test_unparsable_files_are_input_errors(tmp_path, text, fragment):
    path = tmp_path / "predictions.json"
    path.write_text(text)
    with pytest.raises(
        PredictionsError, match=fragment.replace("(", r"\(").replace(")", r"\)")
    ):
        read_predictions(path)


def test_symlinked_predictions_refused(tmp_path):
    target = tmp_path / "real.json"
    target.write_text(json.dumps(doc([0.0] * 4)))
    link = tmp_path / "predictions.json"
    link.symlink_to(target)
    with pytest.raises(PredictionsError, match="symbolic link"):
        read_predictions(link)
