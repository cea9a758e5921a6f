"""Fit the per-station threshold model on the synthetic training split.

Run from the repository root::

    python reference_submissions/sealevel-threshold/fit.py

It stages the ``train`` split of the ``sealevel`` dataset's synthetic stand-in
with the options of the ``sea-level-anomaly`` challenge, picks for each station
the ocean cells within 0.75 degrees of it and the threshold on their mean that
maximises the station's F1 on that split, and writes ``weights.json`` next to
this file. Fitting needs the harness (for the data) but the model does not.

Limits: station positions are looked up on the synthetic grid, so weights fitted
here suit the synthetic data; real maps need their own fit.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RADIUS = 0.75

try:
    import harness_sealevel  # noqa: F401
except ImportError:
    # Not installed: use the checkout this file lives in.
    sys.path[:0] = [str(HERE.parents[1]), str(HERE.parents[1] / "plugins")]


def load_train(cache_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """Return the synthetic training maps ``(T, 1, 100, 160)``, labels ``(T, 12)``."""
    import yaml

    from harness_sealevel.dataset import SeaLevelDataset
    from harness_sealevel.plugin import CHALLENGE_FILE

    challenge = yaml.safe_load(CHALLENGE_FILE.read_text(encoding="utf-8"))
    split = SeaLevelDataset().prepare(
        "train", cache_dir=cache_dir, options=challenge["dataset"]["options"]
    )
    return np.load(split.inputs_dir / "inputs.npy"), split.load_truth().labels


def best_threshold(values: np.ndarray, labels: np.ndarray) -> float | None:
    """The cut on ``values`` maximising F1 of ``values > cut``; None if no positive."""
    positives = int(labels.sum())
    if positives == 0:
        return None
    order = np.argsort(-values, kind="stable")
    ranked, hits = values[order], np.cumsum(labels[order])
    flagged = np.arange(1, len(values) + 1)
    f1 = 2.0 * hits / (flagged + positives)
    # Only cut between distinct values, so that "> cut" flags exactly the top k.
    f1[:-1][ranked[:-1] == ranked[1:]] = -1.0
    k = int(np.argmax(f1))
    if k == len(values) - 1:
        return float(ranked[-1]) - 1e-6
    return float(0.5 * (ranked[k] + ranked[k + 1]))


def main() -> None:
    """Fit on the synthetic training split and write ``weights.json``."""
    from harness_sealevel.dataset import STATIONS
    from harness_sealevel.metric import sealevel_scores
    from harness_sealevel.synthetic import station_cells

    with tempfile.TemporaryDirectory() as cache:
        x, labels = load_train(Path(cache))
    maps = x.reshape(len(x), -1).astype(np.float64)
    ocean = np.isfinite(maps).all(axis=0).reshape(x.shape[-2:])
    cells = [[int(i) for i in c] for c in station_cells(ocean, radius=RADIUS)]
    local = np.stack([maps[:, c].mean(axis=1) for c in cells], axis=1)
    thresholds = [
        best_threshold(local[:, s], labels[:, s]) for s in range(len(STATIONS))
    ]
    weights = {"stations": list(STATIONS), "cells": cells, "thresholds": thresholds}
    (HERE / "weights.json").write_text(json.dumps(weights), encoding="utf-8")

    cuts = np.array([np.inf if t is None else t for t in thresholds])
    scores = sealevel_scores(labels, (local > cuts).astype(int))
    print("train:", {k: round(v, 4) for k, v in scores.items()})


if __name__ == "__main__":
    main()
