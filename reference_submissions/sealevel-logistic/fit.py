"""Fit the stateful logistic reference model on the synthetic training split.

Run from the repository root::

    python reference_submissions/sealevel-logistic/fit.py

It stages the ``train`` split of the ``sealevel`` dataset's synthetic stand-in
with the options of the ``sea-level-anomaly`` challenge, replays the days in
order to build the features the model computes (level near each station, level
minus a running mean of earlier days, change since the previous day), fits one
scikit-learn logistic regression shared by all stations with an offset per
station, picks per station the cut on the logit that maximises F1 on that
split, and writes ``weights.npz`` next to this file. The model itself needs
only numpy. Finally it runs the saved model day by day on the training split
and prints its scores, which checks that fit and model agree.

Limits: station positions are looked up on the synthetic grid, so weights fitted
here suit the synthetic data; real maps need their own fit.
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RADIUS = 0.75
ALPHA = 1.0 / 30.0  # weight of the newest day in the running mean

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


def replay_features(level: np.ndarray) -> np.ndarray:
    """Features ``(T, stations, 3)`` exactly as the model builds them day by day."""
    running = level[0].copy()
    previous = level[0].copy()
    features = np.empty((*level.shape, 3))
    for t, today in enumerate(level):
        features[t] = np.stack([today, today - running, today - previous], axis=1)
        running += ALPHA * (today - running)
        previous = today
    return features


def best_cut(scores: np.ndarray, labels: np.ndarray) -> float:
    """The cut on ``scores`` maximising F1 of ``scores > cut``; inf if no positive."""
    positives = int(labels.sum())
    if positives == 0:
        return np.inf
    order = np.argsort(-scores, kind="stable")
    ranked, hits = scores[order], np.cumsum(labels[order])
    f1 = 2.0 * hits / (np.arange(1, len(scores) + 1) + positives)
    # Only cut between distinct values, so that "> cut" flags exactly the top k.
    f1[:-1][ranked[:-1] == ranked[1:]] = -1.0
    k = int(np.argmax(f1))
    if k == len(scores) - 1:
        return float(ranked[-1]) - 1e-6
    return float(0.5 * (ranked[k] + ranked[k + 1]))


def run_saved_model(x: np.ndarray) -> np.ndarray:
    """Run ``model.py`` as the harness would: one instance, one day per call."""
    spec = importlib.util.spec_from_file_location(
        "sealevel_logistic", HERE / "model.py"
    )
    module = importlib.util.module_from_spec(spec)
    # Keep the submission folder free of __pycache__.
    sys.dont_write_bytecode = True
    spec.loader.exec_module(module)
    model = module.Model()
    model.load()
    return np.concatenate([model.predict(np.array(day)) for day in x])


def main() -> None:
    """Fit on the synthetic training split and write ``weights.npz``."""
    from sklearn.linear_model import LogisticRegression

    from harness_sealevel.dataset import STATIONS
    from harness_sealevel.metric import sealevel_scores
    from harness_sealevel.synthetic import station_cells

    with tempfile.TemporaryDirectory() as cache:
        x, labels = load_train(Path(cache))
    n_days, n_stations = labels.shape
    maps = x.reshape(n_days, -1).astype(np.float64)
    ocean = np.isfinite(maps).all(axis=0).reshape(x.shape[-2:])
    cells = station_cells(ocean, radius=RADIUS)
    level = np.stack([maps[:, c].mean(axis=1) for c in cells], axis=1)

    features = replay_features(level)
    mean = features.reshape(-1, 3).mean(axis=0)
    std = features.reshape(-1, 3).std(axis=0)
    z = ((features - mean) / std).reshape(-1, 3)
    one_hot = np.tile(np.eye(n_stations), (n_days, 1))
    fit = LogisticRegression(C=1.0, max_iter=1000)
    fit.fit(np.hstack([z, one_hot]), labels.reshape(-1))
    coef = fit.coef_[0]
    logits = (np.hstack([z, one_hot]) @ coef + fit.intercept_[0]).reshape(n_days, -1)
    cuts = np.array([best_cut(logits[:, s], labels[:, s]) for s in range(n_stations)])

    np.savez(
        HERE / "weights.npz",
        stations=np.array(STATIONS),
        cells=np.concatenate(cells).astype(np.int64),
        cell_offsets=np.cumsum([0] + [len(c) for c in cells]).astype(np.int64),
        feature_mean=mean,
        feature_std=std,
        coef=coef[:3],
        station_offset=coef[3:],
        intercept=fit.intercept_[0],
        cut=cuts,
        alpha=np.float64(ALPHA),
    )
    scores = sealevel_scores(labels, run_saved_model(x))
    print("train:", {k: round(v, 4) for k, v in scores.items()})


if __name__ == "__main__":
    main()
