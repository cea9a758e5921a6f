"""Fit the coherence reference model on the synthetic training split.

Run from the repository root::

    python reference_submissions/gw-coherence/fit.py

It stages the ``train`` split of the ``gw`` dataset's synthetic stand-in with
the options of the ``gw-anomaly`` challenge, prepares the items as the
harness hands them to a model (each item and detector divided by its
standard deviation over time, then ``(N, 200, 2)``), computes the model's
features, fits a scikit-learn logistic regression of signal (bbh or sglf)
against background, and writes ``weights.npz`` next to this file. The band
and the lag window are set by hand below: the band covers most of the
synthetic signals' power, the lag window the light travel time between the
sites. Finally it runs the saved model on the validation split and prints
its scores, which also checks that fit and model agree.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from _fitting import import_model as _import_model  # noqa: E402
from _fitting import load_gw_split as load_split  # noqa: E402
from _fitting import report_gw  # noqa: E402

BAND_HZ = (30.0, 400.0)
MAX_LAG_S = 0.010
SAMPLE_RATE = 4096.0


def import_model() -> Any:
    """Import ``model.py`` beside this file under a name of its own."""
    return _import_model(HERE, "gw_coherence_model")


def fit(x: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    """Return the weights fitted on items ``x`` ``(N, 200, 2)`` and their labels."""
    from sklearn.linear_model import LogisticRegression

    f = import_model().features(
        x, band_hz=np.array(BAND_HZ), max_lag_s=MAX_LAG_S, sample_rate=SAMPLE_RATE
    )
    mean, std = f.mean(axis=0), f.std(axis=0)
    regression = LogisticRegression(C=1.0, max_iter=1000)
    regression.fit((f - mean) / std, labels)
    return {
        "band_hz": np.array(BAND_HZ),
        "max_lag_s": np.float64(MAX_LAG_S),
        "sample_rate": np.float64(SAMPLE_RATE),
        "feature_mean": mean,
        "feature_std": std,
        "coef": regression.coef_[0].astype(np.float64),
        "intercept": np.float64(regression.intercept_[0]),
    }


def main(out: Path = HERE / "weights.npz") -> None:
    """Fit on the synthetic training split and write the weights to ``out``."""
    with tempfile.TemporaryDirectory() as cache:
        x, labels = load_split("train", Path(cache))
        np.savez(out, **fit(x, labels))
        x_val, labels_val = load_split("validation", Path(cache))

    model = import_model().Model()
    with np.load(out, allow_pickle=False) as saved:
        model.weights = {key: saved[key] for key in saved.files}
    scores = model.predict(x_val)
    print(f"validation: {report_gw(labels_val, scores)}")


if __name__ == "__main__":
    main()
