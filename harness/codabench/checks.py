"""Checks shared by the scoring program of a bundle and the local emulator.

This module runs inside a Codabench scoring container, so it needs only the
standard library and numpy. It repeats, without the JSON-schema machinery,
the meaning checks the harness applies to predictions before scoring (a
document of the right form, item ids matching the truth, one value of the
right shape per item, every value a finite number) and the checks a
leaderboard needs of a ``scores.json`` (a flat object of finite numbers keyed
exactly by the column keys).
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from harness.errors import PredictionsError

__all__ = [
    "MAX_PREDICTIONS_BYTES",
    "ScoresProblem",
    "align_predictions",
    "check_predictions_document",
    "parse_scores",
    "read_json_file",
]

MAX_PREDICTIONS_BYTES = 512 * 1024**2
_SHOW = 5


def _listing(values: Sequence[Any]) -> str:
    shown = ", ".join(repr(v) for v in list(values)[:_SHOW])
    more = f" and {len(values) - _SHOW} more" if len(values) > _SHOW else ""
    return shown + more


def read_json_file(path: str | os.PathLike[str], *, max_bytes: int, what: str) -> Any:
    """Parse a JSON file written by untrusted code, with a size cap.

    ``NaN`` and ``Infinity`` tokens are accepted here so that a later check
    can name the item or key that carries them.

    :param what: how to call the file in messages, e.g. ``"predictions.json"``.
    :raises PredictionsError: when the file is missing, a link, too large or
        not JSON.
    """
    path = os.fspath(path)
    if os.path.islink(path):
        raise PredictionsError(f"{what} is a symbolic link; a regular file is needed")
    if not os.path.isfile(path):
        raise PredictionsError(f"no {what} was produced (looked for {path})")
    size = os.path.getsize(path)
    if size > max_bytes:
        raise PredictionsError(f"{what} is {size} bytes; at most {max_bytes} are read")
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PredictionsError(f"{what} is not valid JSON: {exc}") from exc


def _is_id(value: Any) -> bool:
    return isinstance(value, str) or (
        isinstance(value, int) and not isinstance(value, bool)
    )


def check_predictions_document(document: Any) -> None:
    """Check the form of a predictions document (what the schema says).

    The form is ``{"format_version": 1, "ids": [...], "values": [...]}`` with
    ids that are integers or strings.

    :raises PredictionsError: naming the first field that is wrong.
    """
    if not isinstance(document, dict):
        raise PredictionsError(
            f"predictions.json holds a {type(document).__name__}; expected an "
            'object {"format_version": 1, "ids": [...], "values": [...]}'
        )
    missing = [k for k in ("format_version", "ids", "values") if k not in document]
    if missing:
        raise PredictionsError(
            f"predictions.json lacks the field(s) {', '.join(missing)}; expected "
            '{"format_version": 1, "ids": [...], "values": [...]}'
        )
    version = document["format_version"]
    if version != 1 or isinstance(version, bool):
        raise PredictionsError(
            f"predictions.json has format_version {version!r}; expected 1"
        )
    ids = document["ids"]
    if not isinstance(ids, list):
        raise PredictionsError(
            f"predictions.json field 'ids' is a {type(ids).__name__}; expected a list"
        )
    bad = [i for i in ids if not _is_id(i)]
    if bad:
        raise PredictionsError(
            f"predictions.json field 'ids' holds {len(bad)} value(s) that are "
            f"neither integers nor strings: {_listing(bad)}"
        )
    values = document["values"]
    if not isinstance(values, (list, int, float)) or isinstance(values, bool):
        raise PredictionsError(
            f"predictions.json field 'values' is a {type(values).__name__}; "
            "expected a list with one value per id"
        )
    if "challenge" in document and not isinstance(document["challenge"], str):
        raise PredictionsError("predictions.json field 'challenge' must be a string")


def _shape_text(shape: tuple[int, ...], n: int) -> str:
    parts = ["N" if i == 0 and d == n else str(d) for i, d in enumerate(shape)]
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def _first_non_number(ids: list[str], values: list[Any]) -> str:
    for item, value in zip(ids, values, strict=False):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return f" (first at item {item!r}: {value!r})"
    return ""


def align_predictions(
    document: dict[str, Any],
    truth_ids: np.ndarray,
    *,
    item_shape: tuple[int, ...] = (),
) -> np.ndarray:
    """Return the predicted values as float64, in the order of ``truth_ids``.

    Ids are compared as text, so ``3`` and ``"3"`` name the same item.

    :param document: a predictions document that passed
        :func:`check_predictions_document`.
    :param item_shape: the shape of one item's value; ``()`` for a score.
    :raises PredictionsError: naming duplicated, missing or unexpected ids, a
        wrong shape, a value that is not a number, or the first item whose
        value is not finite.
    """
    ids = [str(i) for i in document["ids"]]
    raw = document["values"]
    n = len(truth_ids)
    if not isinstance(raw, list) or len(raw) != len(ids):
        count = len(raw) if isinstance(raw, list) else "no list of"
        raise PredictionsError(
            f"predictions hold {len(ids)} ids but {count} values; expected one "
            "value per id"
        )
    expected_ids = [str(i) for i in truth_ids.tolist()]
    problems = []
    duplicated = [i for i, c in Counter(ids).items() if c > 1]
    if duplicated:
        problems.append(f"{len(duplicated)} duplicated id(s): {_listing(duplicated)}")
    missing = sorted(set(expected_ids) - set(ids))
    if missing:
        problems.append(f"{len(missing)} missing id(s): {_listing(missing)}")
    extra = sorted(set(ids) - set(expected_ids))
    if extra:
        problems.append(f"{len(extra)} unexpected id(s): {_listing(extra)}")
    if problems:
        raise PredictionsError(
            "predictions do not match the items of this split: " + "; ".join(problems)
        )

    try:
        values = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise PredictionsError(
            f"predictions are not all numbers of one shape"
            f"{_first_non_number(ids, raw)}: {exc}"
        ) from exc
    wanted = (len(ids), *item_shape)
    if values.shape != wanted:
        raise PredictionsError(
            f"predictions have shape {_shape_text(values.shape, n)} where "
            f"{_shape_text(wanted, n)} was expected (N = {n} items)"
        )
    finite = np.isfinite(values).reshape(len(ids), -1).all(axis=1)
    if not finite.all():
        first = int(np.flatnonzero(~finite)[0])
        raise PredictionsError(
            f"{int((~finite).sum())} prediction(s) are not finite (NaN or "
            f"infinite); the first is item {ids[first]!r} with value "
            f"{np.asarray(raw[first]).tolist()!r}"
        )
    position = {item: index for index, item in enumerate(ids)}
    return values[[position[item] for item in expected_ids]]


class ScoresProblem(ValueError):
    """A ``scores.json`` that a leaderboard cannot show faithfully.

    :param problems: every problem found, one sentence each.
    """

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def parse_scores(text: str, expected: Iterable[str] | None) -> dict[str, float]:
    """Check the text of a ``scores.json`` against the expected column keys.

    A leaderboard drops keys it does not know and shows nothing, or ranks
    first, for a key it does not get, so both are errors here. Every problem
    is reported at once.

    :param text: the file's content.
    :param expected: the keys of the leaderboard columns the scoring program
        must fill; ``None`` leaves the keys to the caller (when several tasks
        fill one leaderboard together).
    :returns: the scores as floats, keyed as in the file.
    :raises ScoresProblem: listing unknown and missing keys, duplicated keys,
        values that are not numbers and values that are NaN or infinite.
    """
    duplicated: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in items:
            if key in seen:
                duplicated.append(key)
            seen[key] = value
        return seen

    try:
        document = json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        raise ScoresProblem([f"scores.json is not valid JSON: {exc}"]) from exc
    if not isinstance(document, dict):
        raise ScoresProblem(
            [
                f"scores.json holds a {type(document).__name__}; expected a flat "
                "object of numbers keyed by column key"
            ]
        )
    problems = []
    if expected is not None:
        keys = list(expected)
        unknown = [k for k in document if k not in keys]
        if unknown:
            problems.append(
                f"unknown key(s) {_listing(unknown)} match no leaderboard column "
                "(the platform would drop them silently)"
            )
        missing = [k for k in keys if k not in document]
        if missing:
            problems.append(
                f"missing key(s) {_listing(missing)} for leaderboard columns"
            )
    if duplicated:
        problems.append(f"key(s) {_listing(duplicated)} appear more than once")
    scores: dict[str, float] = {}
    not_numbers = []
    not_finite = []
    for key, value in document.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            not_numbers.append(f"{key!r}: {value!r}")
            continue
        number = float(value)
        if not math.isfinite(number):
            not_finite.append(f"{key!r}: {number!r}")
            continue
        scores[key] = number
    if not_numbers:
        problems.append(f"value(s) that are not numbers: {', '.join(not_numbers)}")
    if not_finite:
        problems.append(
            f"value(s) that are NaN or infinite: {', '.join(not_finite)}; a "
            "leaderboard cannot rank them"
        )
    if problems:
        raise ScoresProblem(problems)
    return scores
