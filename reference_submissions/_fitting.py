"""Steps the fitting scripts of the reference submissions share.

Fitting is not part of a submission: a submission folder holds only what
runs inside a sandbox (``model.py`` and its weights), which must stand alone.
The scripts that make those weights run from the repository root and import
what they have in common from here.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

try:
    import harness  # noqa: F401
except ImportError:
    # Not installed: use the checkout this file lives in.
    sys.path[:0] = [str(ROOT), str(ROOT / "plugins")]


def import_model(folder: Path, name: str) -> ModuleType:
    """Import ``folder/model.py`` under the module name ``name``."""
    spec = importlib.util.spec_from_file_location(name, folder / "model.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_gw_split(split: str, cache_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic GW split as a model sees it, ``(N, 200, 2)``, and its labels.

    Staged with the options of the ``gw-anomaly`` challenge file, then each
    item and detector divided by its standard deviation over time and
    transposed, as the challenge's calling protocol does.
    """
    import yaml

    from harness_gw.dataset import GWDataset

    challenge_file = ROOT / "plugins/harness_gw/challenges/gw-anomaly.yaml"
    challenge = yaml.safe_load(challenge_file.read_text(encoding="utf-8"))
    prepared = GWDataset().prepare(
        split, cache_dir=cache_dir, options=challenge["dataset"]["options"]
    )
    x = np.load(prepared.inputs_dir / "inputs.npy").astype(np.float32)
    std = x.std(axis=2, keepdims=True)
    std[std == 0] = 1.0
    return np.transpose(x / std, (0, 2, 1)), prepared.load_truth().labels


def report_gw(labels: np.ndarray, scores: np.ndarray) -> str:
    """The challenge's TNR and the ROC AUC, computed by the builtin metrics."""
    from harness_metrics._ranking import roc_auc_score, tnr_at_tpr_score

    tnr = tnr_at_tpr_score(labels, scores, tpr=0.9, no_negatives=0.0)
    return f"TNR {tnr:.4f}, ROC AUC {roc_auc_score(labels, scores):.4f}"


def butterfly_images(split: str, cache_dir: Path) -> tuple[list[Path], object]:
    """The image paths of a synthetic butterfly split, and its truth."""
    from harness_butterfly.dataset import ButterflyDataset

    prepared = ButterflyDataset().prepare(split, cache_dir=cache_dir)
    truth = prepared.load_truth()
    paths = [prepared.inputs_dir / "images" / str(name) for name in truth.ids]
    return paths, truth


def butterfly_colours(
    model: ModuleType, paths: list[Path], *, colours: int, pixels: int, seed: int
) -> np.ndarray:
    """Wing colours: k-means over pixels sampled from every image.

    Pixels are colour-balanced by the model's own code, as at prediction.
    """
    from PIL import Image
    from sklearn.cluster import KMeans

    rng = np.random.default_rng(seed)
    samples = []
    for path in paths:
        with Image.open(path) as image:
            found = model.balanced_pixels(image).reshape(-1, 3)
        samples.append(found[rng.choice(len(found), pixels, replace=False)])
    kmeans = KMeans(n_clusters=colours, n_init=4, random_state=seed)
    centres: np.ndarray = kmeans.fit(np.concatenate(samples)).cluster_centers_
    return centres.astype(np.float32)


def butterfly_features(
    model: ModuleType, paths: list[Path], colours: np.ndarray
) -> np.ndarray:
    """Each image described by the model's own feature code."""
    from PIL import Image

    features = []
    for path in paths:
        with Image.open(path) as image:
            features.append(model.pattern_features(image, colours))
    return np.asarray(features)


def evaluate_butterfly(model: object, cache_dir: Path) -> None:
    """Score ``model`` once per image on validation and test; print the scores."""
    from PIL import Image

    from harness_butterfly.metric import butterfly_scores

    for split in ("validation", "test"):
        paths, truth = butterfly_images(split, cache_dir)
        scores = []
        for path in paths:
            with Image.open(path) as image:
                scores.append(model.predict(image))  # type: ignore[attr-defined]
        result = butterfly_scores(
            truth.labels,  # type: ignore[attr-defined]
            scores,
            truth.columns["ssp_indicator"],  # type: ignore[attr-defined]
        )
        print(split, ", ".join(f"{key} {value:.4f}" for key, value in result.items()))
