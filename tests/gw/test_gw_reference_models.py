"""The two reference submissions of gw-anomaly load, score and stay reproducible.

Scores are computed here, in-process, with the challenge's metric written
out plainly: the cut is the 10th percentile (linear interpolation) of the
signals' scores, and the score is the share of background strictly below it.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from harness_gw.dataset import GWDataset

ROOT = Path(__file__).resolve().parents[2]
SUBMISSIONS = ROOT / "reference_submissions"

# Measured on the default synthetic test split (4,000 items, 400 signals):
# coherence TNR 0.688, ROC AUC 0.916; PCA TNR 0.364, ROC AUC 0.785; random
# scores about 0.10 and 0.5. The floors leave room for other numpy builds.
FLOORS = {
    "gw-coherence": {"tnr": 0.60, "auc": 0.88},
    "gw-pca": {"tnr": 0.28, "auc": 0.74},
}


def tnr_at_tpr90(labels: np.ndarray, scores: np.ndarray) -> float:
    cut = np.percentile(scores[labels == 1], 10)
    return float(np.mean(scores[labels == 0] < cut))


def import_file(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def as_model_sees_it(inputs: np.ndarray) -> np.ndarray:
    """Standardise and transpose as the challenge's batch protocol does."""
    x = np.asarray(inputs, dtype=np.float32)
    std = x.std(axis=2, keepdims=True)
    std[std == 0] = 1.0
    return np.ascontiguousarray(np.transpose(x / std, (0, 2, 1)))


@pytest.fixture(scope="module")
def test_split(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[np.ndarray, np.ndarray]:
    prepared = GWDataset().prepare("test", cache_dir=tmp_path_factory.mktemp("gw"))
    inputs = np.load(prepared.inputs_dir / "inputs.npy")
    return as_model_sees_it(inputs), prepared.load_truth().labels


@pytest.fixture(scope="module")
def scores(test_split: tuple[np.ndarray, np.ndarray]) -> dict[str, np.ndarray]:
    x, _ = test_split
    result = {}
    for name in FLOORS:
        module = import_file(name.replace("-", "_"), SUBMISSIONS / name / "model.py")
        model = module.Model()
        model.load()
        result[name] = model.predict(x)
    return result


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_model_scores_above_its_floor(
    name: str,
    test_split: tuple[np.ndarray, np.ndarray],
    scores: dict[str, np.ndarray],
) -> None:
    x, labels = test_split
    result = scores[name]

    assert result.shape == (x.shape[0],)
    assert result.dtype == np.float64
    assert np.isfinite(result).all()
    assert tnr_at_tpr90(labels, result) >= FLOORS[name]["tnr"]
    assert roc_auc_score(labels, result) >= FLOORS[name]["auc"]


def test_coherence_beats_pca_and_both_beat_chance(
    test_split: tuple[np.ndarray, np.ndarray], scores: dict[str, np.ndarray]
) -> None:
    _, labels = test_split
    random = np.random.default_rng(0).random(labels.shape[0])

    chance = tnr_at_tpr90(labels, random)
    assert chance == pytest.approx(0.1, abs=0.03)
    assert tnr_at_tpr90(labels, scores["gw-pca"]) > 2 * chance
    assert tnr_at_tpr90(labels, scores["gw-coherence"]) > tnr_at_tpr90(
        labels, scores["gw-pca"]
    )


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_model_loads_from_its_own_folder_and_checks_its_input(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    module = import_file(
        f"{name}_cwd".replace("-", "_"), SUBMISSIONS / name / "model.py"
    )
    model = module.Model()
    model.load()

    # Flat items reach models unscaled (their standard deviation is zero).
    for flat in (np.ones((3, 200, 2)), np.zeros((3, 200, 2))):
        result = model.predict(flat.astype(np.float32))
        assert result.shape == (3,)
        assert np.isfinite(result).all()
    assert model.predict(np.zeros((0, 200, 2), dtype=np.float32)).shape == (0,)
    with pytest.raises(ValueError, match=r"expected X of shape \(N, samples, 2\)"):
        model.predict(np.ones((3, 2, 200), dtype=np.float32))


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_submission_needs_only_numpy_and_holds_no_pickle(name: str) -> None:
    folder = SUBMISSIONS / name
    tree = ast.parse((folder / "model.py").read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])

    assert imported <= {"__future__", "numpy", "os"}
    assert sorted(p.name for p in folder.iterdir() if p.is_file()) == [
        "fit.py",
        "model.py",
        "weights.npz",
    ]
    with np.load(folder / "weights.npz", allow_pickle=False) as weights:
        assert all(weights[key].dtype != object for key in weights.files)


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_fit_reproduces_the_committed_weights(
    name: str,
    tmp_path: Path,
    scores: dict[str, np.ndarray],
    test_split: tuple[np.ndarray, np.ndarray],
) -> None:
    fit = import_file(f"{name}_fit".replace("-", "_"), SUBMISSIONS / name / "fit.py")
    x, labels = fit.load_split("train", tmp_path)
    weights = fit.fit(x, labels)

    module = import_file(
        f"{name}_refit".replace("-", "_"), SUBMISSIONS / name / "model.py"
    )
    model = module.Model()
    model.weights = weights
    refit = model.predict(test_split[0])
    # Compared through the scores, which do not depend on the sign a linear
    # algebra library gives each principal component.
    assert np.allclose(refit, scores[name], rtol=1e-6, atol=1e-6)
