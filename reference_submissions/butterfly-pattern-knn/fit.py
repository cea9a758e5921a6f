"""Fit the nearest-pattern reference model on the synthetic training split.

Run from the repository root::

    python reference_submissions/butterfly-pattern-knn/fit.py [--evaluate]

It stages the ``train`` split of the ``butterfly`` dataset's synthetic
stand-in, learns the wing colours with k-means on pixels sampled from the
training images (colour-balanced the way the model does it), describes every
training image with the model's own feature code, and writes
``weights.npz`` next to this file: the colours, the mean and spread of the
non-hybrid descriptions, and the standardised descriptions of all training
non-hybrids. With ``--evaluate`` it then runs the saved model once per image
on the validation and test splits and prints the challenge scores.

Limits: fitted on synthetic images only; real photographs need their own fit.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
from pathlib import Path
from types import ModuleType

import numpy as np
from PIL import Image
from sklearn.cluster import KMeans

HERE = Path(__file__).resolve().parent
COLOURS = 8
PIXELS_PER_IMAGE = 40
SEED = 0

try:
    import harness_butterfly  # noqa: F401
except ImportError:
    # Not installed: use the checkout this file lives in.
    sys.path[:0] = [str(HERE.parents[1]), str(HERE.parents[1] / "plugins")]

from harness_butterfly.dataset import ButterflyDataset  # noqa: E402
from harness_butterfly.metric import butterfly_scores  # noqa: E402


def load_model_module() -> ModuleType:
    """Import this folder's ``model.py`` under a private name."""
    spec = importlib.util.spec_from_file_location(
        "butterfly_knn_model", HERE / "model.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fit(cache_dir: Path) -> None:
    """Fit the model on the synthetic training split and write ``weights.npz``."""
    model = load_model_module()
    split = ButterflyDataset().prepare("train", cache_dir=cache_dir)
    truth = split.load_truth()
    paths = [split.inputs_dir / "images" / str(name) for name in truth.ids]

    rng = np.random.default_rng(SEED)
    samples = []
    for path in paths:
        with Image.open(path) as image:
            pixels = model.balanced_pixels(image).reshape(-1, 3)
        samples.append(pixels[rng.choice(len(pixels), PIXELS_PER_IMAGE, replace=False)])
    kmeans = KMeans(n_clusters=COLOURS, n_init=4, random_state=SEED)
    colours = kmeans.fit(np.concatenate(samples)).cluster_centers_.astype(np.float32)

    features = []
    for path in paths:
        with Image.open(path) as image:
            features.append(model.pattern_features(image, colours))
    normal = np.asarray(features)[truth.labels == 0]
    mean = normal.mean(axis=0)
    scale = normal.std(axis=0) + 1e-3
    np.savez(
        HERE / "weights.npz",
        colours=colours,
        mean=mean.astype(np.float32),
        scale=scale.astype(np.float32),
        bank=((normal - mean) / scale).astype(np.float32),
    )
    print(f"fitted on {len(paths)} images ({len(normal)} non-hybrids in the bank)")


def evaluate(cache_dir: Path) -> None:
    """Print the challenge scores of the saved model on validation and test."""
    model = load_model_module().Model()
    model.load()
    for name in ("validation", "test"):
        split = ButterflyDataset().prepare(name, cache_dir=cache_dir)
        truth = split.load_truth()
        scores = []
        for item in truth.ids:
            with Image.open(split.inputs_dir / "images" / str(item)) as image:
                scores.append(model.predict(image))
        result = butterfly_scores(truth.labels, scores, truth.columns["ssp_indicator"])
        print(name, ", ".join(f"{key} {value:.4f}" for key, value in result.items()))


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
