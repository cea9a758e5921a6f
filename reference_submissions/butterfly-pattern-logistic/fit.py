"""Fit the logistic pattern reference model on the synthetic training split.

Run from the repository root::

    python reference_submissions/butterfly-pattern-logistic/fit.py [--evaluate]

It stages the ``train`` split of the ``butterfly`` dataset's synthetic
stand-in, learns the wing colours with k-means on pixels sampled from the
training images (colour-balanced the way the model does it), describes every
training image with the model's own feature code, fits a scikit-learn
logistic regression of ``hybrid_stat`` on the standardised descriptions, and
writes ``weights.json`` next to this file. The model itself needs only numpy
and Pillow. With ``--evaluate`` it then runs the saved model once per image
on the validation and test splits and prints the challenge scores.

Limits: fitted on synthetic images only; real photographs need their own fit.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from types import ModuleType

import numpy as np
from sklearn.linear_model import LogisticRegression

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from _fitting import (  # noqa: E402
    butterfly_colours,
    butterfly_features,
    butterfly_images,
    evaluate_butterfly,
    import_model,
)

COLOURS = 8
PIXELS_PER_IMAGE = 40
SEED = 0


def load_model_module() -> ModuleType:
    """Import this folder's ``model.py`` under a private name."""
    return import_model(HERE, "butterfly_logistic_model")


def fit(cache_dir: Path) -> None:
    """Fit the model on the synthetic training split and write ``weights.json``."""
    model = load_model_module()
    paths, truth = butterfly_images("train", cache_dir)
    colours = butterfly_colours(
        model, paths, colours=COLOURS, pixels=PIXELS_PER_IMAGE, seed=SEED
    )
    features = butterfly_features(model, paths, colours)
    x = np.asarray(features)
    mean = x.mean(axis=0)
    scale = x.std(axis=0) + 1e-3
    regression = LogisticRegression(C=1.0, max_iter=5000)
    regression.fit((x - mean) / scale, truth.labels)
    weights = {
        "colours": colours.astype(float).tolist(),
        "mean": mean.tolist(),
        "scale": scale.tolist(),
        "coef": regression.coef_[0].tolist(),
        "intercept": float(regression.intercept_[0]),
    }
    with open(HERE / "weights.json", "w", encoding="utf-8") as handle:
        json.dump(weights, handle, indent=1)
    print(f"fitted on {len(paths)} images ({int(truth.labels.sum())} hybrids)")


def evaluate(cache_dir: Path) -> None:
    """Print the challenge scores of the saved model on validation and test."""
    model = load_model_module().Model()
    model.load()
    evaluate_butterfly(model, cache_dir)


def main() -> None:
    """Parse the command line, fit, and optionally evaluate."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", type=Path, help="where to stage the data")
    parser.add_argument("--evaluate", action="store_true", help="score after fitting")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        cache_dir = args.cache_dir or Path(scratch)
        fit(cache_dir)
        if args.evaluate:
            evaluate(cache_dir)


if __name__ == "__main__":
    main()
