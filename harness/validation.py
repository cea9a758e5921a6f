"""Check predictions against the schema and for meaning before any scoring.

Whatever a submission returns is untrusted: it is parsed with a size cap,
checked against ``schemas/predictions.schema.json``, matched to the truth by
item id (missing, extra and duplicated ids are named), and checked for
shape, numeric type and finiteness. Every message says what was found and
what was expected.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import PredictionsError

__all__ = ["read_predictions", "align_predictions", "MAX_PREDICTIONS_BYTES"]

MAX_PREDICTIONS_BYTES = 512 * 1024**2
_SHOW = 5


def _reject_constant(name: str) -> float:
    raise PredictionsError(
        f"predictions contain {name}, which is not a number; return finite floats"
    )


def read_predictions(
    path: Path, *, max_bytes: int = MAX_PREDICTIONS_BYTES
) -> dict[str, Any]:
    """Parse and schema-check a predictions file.

    ``NaN`` and ``Infinity`` tokens are accepted by the parser so that the
    meaning check can name the item that carries them.
    """
    path = Path(path)
    if path.is_symlink():
        raise PredictionsError(
            f"{path.name} is a symbolic link; predictions must be a regular file"
        )
    if not path.is_file():
        raise PredictionsError(f"no predictions file at {path}")
    size = path.stat().st_size
    if size > max_bytes:
        raise PredictionsError(
            f"{path.name} is {size} bytes; at most {max_bytes} are accepted"
        )
    try:
        with open(path, encoding="utf-8") as fh:
            document = json.load(fh, object_pairs_hook=_unique_keys)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        # ValueError covers malformed JSON and integers too long to convert;
        # RecursionError, arrays nested past the parser's depth.
        reason = "nested too deeply" if isinstance(exc, RecursionError) else exc
        raise PredictionsError(f"{path.name} is not valid JSON: {reason}") from exc
    # Imported here: align_predictions must work where no schema library is
    # installed (inside a Codabench scoring program).
    from harness.schemas import validate

    validate(
        _envelope(document), "predictions", source=path.name, error=PredictionsError
    )
    return document  # type: ignore[no-any-return]


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object as a dict, refusing a key given twice (the parser would
    keep the last value silently)."""
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise ValueError(f"the key {key!r} is given twice in one object")
        document[key] = value
    return document


def _envelope(document: Any, sample: int = 1000) -> Any:
    """The document with its item arrays cut to a sample, for the schema check.

    The schema check costs tens of microseconds per item; the structure is
    what it is for. Every item is checked by :func:`align_predictions`.
    """
    if not isinstance(document, dict):
        return document
    cut = dict(document)
    for key in ("ids", "values"):
        if isinstance(cut.get(key), list):
            cut[key] = cut[key][:sample]
    return cut


def _listing(values: Sequence[Any]) -> str:
    shown = ", ".join(repr(v) for v in list(values)[:_SHOW])
    more = f" and {len(values) - _SHOW} more" if len(values) > _SHOW else ""
    return shown + more


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _first_non_number(values: list[Any]) -> tuple[int, Any] | None:
    """The first item holding anything but ints and floats (bools excluded)."""
    if set(map(type, values)) <= {float, int}:
        return None  # the common case, checked at C speed
    for index, value in enumerate(values):
        stack = [value]
        while stack:
            part = stack.pop()
            if isinstance(part, list):
                stack.extend(part)
            elif isinstance(part, bool) or not isinstance(part, (int, float)):
                return index, value
    return None


def _normalise_ids(ids: Sequence[Any]) -> list[str]:
    return [str(i) for i in ids]


def _shape_text(shape: tuple[int, ...], n: int) -> str:
    parts = ["N" if i == 0 and d == n else str(d) for i, d in enumerate(shape)]
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def align_predictions(
    document: dict[str, Any],
    truth_ids: np.ndarray,
    *,
    item_shape: tuple[int, ...] = (),
) -> np.ndarray:
    """Return the predicted values as float64, ordered like ``truth_ids``.

    :param item_shape: the shape of one item's value; ``()`` for a score.
    :raises PredictionsError: naming missing, extra or duplicated ids, a
        wrong shape, a non-numeric value, or a non-finite value and its item.
    """
    ids = document["ids"]
    raw_values = document["values"]
    n = len(truth_ids)
    if not isinstance(raw_values, list) or len(raw_values) != len(ids):
        count = len(raw_values) if isinstance(raw_values, list) else "no list of"
        raise PredictionsError(
            f"predictions hold {len(ids)} ids but {count} values; "
            "expected one value per id"
        )
    truth_list = truth_ids.tolist()
    # Usually the ids come back exactly as the manifest listed them (the
    # truth's ids are unique), and no matching is needed.
    same_order = ids == truth_list
    pred_ids = _normalise_ids(ids)
    true_ids = pred_ids if same_order else _normalise_ids(truth_list)
    duplicated: list[str] = []
    missing: list[str] = []
    extra: list[str] = []
    if not same_order:
        duplicated = [i for i, c in Counter(pred_ids).items() if c > 1]
        missing = sorted(set(true_ids) - set(pred_ids))
        extra = sorted(set(pred_ids) - set(true_ids))
    problems = []
    if duplicated:
        problems.append(f"{len(duplicated)} duplicated id(s): {_listing(duplicated)}")
    if missing:
        problems.append(f"{len(missing)} missing id(s): {_listing(missing)}")
    if extra:
        problems.append(f"{len(extra)} unexpected id(s): {_listing(extra)}")
    if problems:
        if extra and len(extra) == len(set(pred_ids)):
            # Not one id in common: likely the predictions of another split.
            problems.append(
                "no id is one of this split's: were these predictions made for "
                "another phase?"
            )
        raise PredictionsError(
            "predictions do not match the items of this split: " + "; ".join(problems)
        )

    first = _first_non_number(raw_values)
    if first is not None:
        index, value = first
        raise PredictionsError(
            f"the prediction for item {pred_ids[index]!r} is "
            f"{type(value).__name__} {_short(value)}; expected a number "
            "(or nested lists of numbers)"
        )
    try:
        values = np.asarray(raw_values, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise PredictionsError(
            f"predictions are not numbers of one shape per item: {exc}"
        ) from exc
    expected = (len(ids), *item_shape)
    if values.shape != expected:
        raise PredictionsError(
            f"predictions have shape {_shape_text(values.shape, n)} where "
            f"{_shape_text(expected, n)} was expected (N = {n} items)"
        )
    finite = np.isfinite(values)
    if not finite.all():
        flat = finite.reshape(len(ids), -1).all(axis=1)
        bad = int(np.flatnonzero(~flat)[0])
        count = int((~flat).sum())
        raise PredictionsError(
            f"{count} prediction(s) are not finite (NaN or infinite); the "
            f"first is item {pred_ids[bad]!r} with value "
            f"{np.asarray(raw_values[bad]).tolist()!r}"
        )
    if same_order:
        return values
    order = {key: index for index, key in enumerate(pred_ids)}
    return values[[order[key] for key in true_ids]]
