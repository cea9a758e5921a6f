"""Registers the butterfly dataset, metric and challenge with the harness."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from harness.hookspecs import hookimpl
from harness.types import DatasetPlugin, MetricPlugin, Truth
from harness_butterfly.dataset import ButterflyDataset
from harness_butterfly.metric import KEYS, butterfly_scores

CHALLENGES = Path(__file__).parent / "challenges"


def score_truth(
    truth: Truth, y_score: np.ndarray, *, round_decimals: int | None = 4
) -> Mapping[str, float]:
    """Score ``y_score`` against a butterfly truth (see :func:`butterfly_scores`).

    :raises ValueError: when the truth has no ``ssp_indicator`` column.
    """
    if "ssp_indicator" not in truth.columns:
        raise ValueError(
            "the butterfly-hybrid metric needs a truth column 'ssp_indicator'; "
            f"this truth has {', '.join(sorted(truth.columns)) or 'no columns'}"
        )
    return butterfly_scores(
        truth.labels,
        y_score,
        truth.columns["ssp_indicator"],
        round_decimals=round_decimals,
    )


BUTTERFLY_HYBRID = MetricPlugin(
    name="butterfly-hybrid",
    func=score_truth,
    greater_is_better=True,
    outputs=KEYS,
    version="1",
    description=(
        "Recall of hybrids at thresholds that keep 95% of non-hybrids "
        "(population A = major + minor, and mimic), average precision per "
        "group, and their harmonic-mean challenge score"
    ),
    options_schema={
        "type": "object",
        "properties": {
            "round_decimals": {"type": ["integer", "null"], "minimum": 0},
        },
        "additionalProperties": False,
    },
)


@hookimpl
def harness_register_datasets() -> list[DatasetPlugin]:
    """Provide the ``butterfly`` dataset."""
    return [ButterflyDataset()]


@hookimpl
def harness_register_metrics() -> list[MetricPlugin]:
    """Provide the ``butterfly-hybrid`` metric."""
    return [BUTTERFLY_HYBRID]


@hookimpl
def harness_register_challenges() -> list[Path]:
    """Provide the ``butterfly-hybrid`` challenge file."""
    return [CHALLENGES / "butterfly-hybrid.yaml"]
