"""Fit the PCA reference model on the background of the synthetic training split.

Run from the repository root::

    python reference_submissions/gw-pca/fit.py

It stages the ``train`` split of the ``gw`` dataset's synthetic stand-in with
the options of the ``gw-anomaly`` challenge, prepares the items as the
harness hands them to a model (each item and detector divided by its
standard deviation over time, then ``(N, 200, 2)``), keeps the background
items only, computes the model's log band powers, and fits a principal
component analysis with numpy. It writes ``weights.npz`` next to this file.
The number of bands and of components are fixed below, not tuned on signals.
Finally it runs the saved model on the validation split and prints its
scores, which also checks that fit and model agree.
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

BANDS = 12
COMPONENTS = 2
SAMPLES = 200


def band_edges() -> np.ndarray:
    """Edges of ``BANDS`` log-spaced bands over the real FFT bins, DC left out."""
    bins = SAMPLES // 2 + 1
    return np.unique(np.geomspace(1, bins, BANDS + 1).astype(np.int64))


def import_model() -> Any:
    """Import ``model.py`` beside this file under a name of its own."""
    return _import_model(HERE, "gw_pca_model")


def fit(x: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    """Return the weights fitted on the background (label 0) among items ``x``."""
    edges = band_edges()
    f = import_model().features(x[labels == 0], band_edges=edges)
    mean, std = f.mean(axis=0), f.std(axis=0)
    z = (f - mean) / std
    # The features are centred, so the right singular vectors are the
    # principal directions and squared singular values give their variances.
    _, singular, directions = np.linalg.svd(z, full_matrices=False)
    variances = singular**2 / (z.shape[0] - 1)
    return {
        "band_edges": edges,
        "feature_mean": mean,
        "feature_std": std,
        "components": directions[:COMPONENTS],
        "variances": variances[:COMPONENTS],
        "residual_variance": np.float64(variances[COMPONENTS:].mean()),
    }


def main(out: Path = HERE / "weights.npz") -> None:
    """Fit on the synthetic training background and write the weights to ``out``."""
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
