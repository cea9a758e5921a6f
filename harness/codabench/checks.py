"""Checks shared by the scoring program of a bundle and the local emulator.

This module runs inside a Codabench scoring container, so it needs only the
standard library and numpy. It checks the form of a predictions document
without the JSON-schema machinery, then applies the harness's own meaning
checks (:func:`harness.validation.align_predictions`: item ids matching the
truth, one value of the right shape per item, every value a finite number),
and the checks a leaderboard needs of a ``scores.json`` (a flat object of
finite numbers keyed exactly by the column keys).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Sequence
from typing import Any

from harness.errors import PredictionsError
from harness.validation import align_predictions

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
