"""The sea-level reference submissions, run in-process as the harness calls them."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import yaml

from harness_sealevel.dataset import SeaLevelDataset
from harness_sealevel.metric import sealevel_scores
from harness_sealevel.plugin import CHALLENGE_FILE

SUBMISSIONS = Path(__file__).resolve().parents[2] / "reference_submissions"
MODELS = ("sealevel-threshold", "sealevel-logistic")


@pytest.fixture(scope="module")
def splits(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple]:
    """Validation and test splits with the challenge's own options."""
    options = yaml.safe_load(CHALLENGE_FILE.read_text())["dataset"]["options"]
    cache = tmp_path_factory.mktemp("sealevel-models")
    dataset = SeaLevelDataset()
    staged = {}
    for split in ("train", "validation", "test"):
        prepared = dataset.prepare(split, cache_dir=cache, options=options)
        x = np.load(prepared.inputs_dir / "inputs.npy", mmap_mode="r")
        staged[split] = (x, prepared.load_truth().labels)
    return staged


def import_model(folder: str) -> ModuleType:
    path = SUBMISSIONS / folder / "model.py"
    spec = importlib.util.spec_from_file_location(
        f"model_{folder.replace('-', '_')}", path
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Keep the submission folders free of __pycache__.
    saved, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = saved
    return module


def run_sequential(folder: str, x: np.ndarray, *, call_load: bool = True) -> np.ndarray:
    """One instance, load() if defined, one predict per day in date order."""
    model = import_model(folder).Model()
    if call_load and callable(getattr(model, "load", None)):
        model.load()
    outputs = []
    for day in x:
        flags = model.predict(np.array(day, dtype=np.float32))
        assert np.shape(flags) == (1, 12)
        outputs.append(np.asarray(flags, dtype=np.float64))
    return np.concatenate(outputs)


def baseline_grades(labels: np.ndarray, base_rate: np.ndarray) -> float:
    """Mean Final Grade of random 0/1 flags drawn at each station's base rate."""
    grades = []
    for seed in range(50):
        flags = np.random.default_rng(seed).random(labels.shape) < base_rate
        grades.append(sealevel_scores(labels, flags.astype(int))["Final Grade"])
    return float(np.mean(grades))


@pytest.mark.parametrize("folder", MODELS)
def test_reference_models_beat_random_by_a_clear_margin(
    folder: str, splits: dict[str, tuple]
) -> None:
    base_rate = splits["train"][1].mean(axis=0)
    for split in ("validation", "test"):
        x, labels = splits[split]
        pred = run_sequential(folder, x)
        assert set(np.unique(pred)) <= {0.0, 1.0}
        grade = sealevel_scores(labels, pred)["Final Grade"]
        zeros = sealevel_scores(labels, np.zeros_like(labels))["Final Grade"]
        random = baseline_grades(labels, base_rate)
        assert zeros == 0.0
        assert random < 0.2
        assert grade > 0.65 and grade > random + 0.45, (split, grade, random)


def test_stateful_model_works_without_load_and_is_repeatable(
    splits: dict[str, tuple],
) -> None:
    x, _ = splits["validation"]
    with_load = run_sequential("sealevel-logistic", x[:120])
    without_load = run_sequential("sealevel-logistic", x[:120], call_load=False)
    assert np.array_equal(with_load, without_load)
    assert with_load.sum() > 0


def test_stateful_model_carries_state_across_calls(splits: dict[str, tuple]) -> None:
    x, _ = splits["validation"]
    model = import_model("sealevel-logistic").Model()
    model.predict(np.array(x[0]))
    first_mean = model.running_mean.copy()
    model.predict(np.array(x[1]))
    # The running mean moves by alpha times the gap to the new day's level.
    level = model.previous
    assert np.allclose(model.running_mean, first_mean + (level - first_mean) / 30.0)
    assert not np.allclose(model.running_mean, first_mean)


def test_weights_are_not_pickles() -> None:
    files = sorted(p.name for f in MODELS for p in (SUBMISSIONS / f).iterdir())
    assert "weights.json" in files and "weights.npz" in files
    assert not [name for name in files if name.endswith((".pkl", ".pickle", ".joblib"))]
    with np.load(
        SUBMISSIONS / "sealevel-logistic" / "weights.npz", allow_pickle=False
    ) as w:
        assert w["cut"].shape == (12,) and w["coef"].shape == (3,)
