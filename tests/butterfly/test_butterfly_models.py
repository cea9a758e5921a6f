"""Reference submissions, the plugin's registrations and the challenge file."""

from __future__ import annotations

import ast
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml
from butterfly_support import import_model_class, run_per_item
from PIL import Image

from harness_butterfly import plugin
from harness_butterfly.dataset import ButterflyDataset
from harness_butterfly.metric import KEYS, butterfly_scores

ROOT = Path(__file__).resolve().parents[2]
SUBMISSIONS = ROOT / "reference_submissions"
CHALLENGE = (
    ROOT / "plugins" / "harness_butterfly" / "challenges" / "butterfly-hybrid.yaml"
)
#: What a model may import inside the sandbox.
ALLOWED_IMPORTS = {
    "__future__",
    "json",
    "math",
    "os",
    "numpy",
    "PIL",
    "scipy",
    "sklearn",
}

# On the synthetic validation split the nearest-pattern model scores 0.787
# and the logistic one 0.470 (challenge_score); random scores average 0.032
# (41 % of random draws score exactly 0, no minor hybrid being found). The
# floors leave room for other library versions decoding slightly different
# pixels (one minor hybrid more or less moves the score by about 0.03).
FLOORS = {"butterfly-pattern-knn": 0.70, "butterfly-pattern-logistic": 0.38}


@pytest.fixture(scope="module")
def validation_scores(validation_split):
    """Each reference model run once over the validation split, per item."""
    return {
        folder: run_per_item(SUBMISSIONS / folder, validation_split.inputs_dir)
        for folder in FLOORS
    }


@pytest.mark.parametrize("folder", sorted(FLOORS))
def test_reference_model_beats_chance(folder, validation_split, validation_scores):
    truth = validation_split.load_truth()
    ids, scores = validation_scores[folder]
    assert ids == truth.ids.tolist()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = butterfly_scores(truth.labels, scores, truth.columns["ssp_indicator"])
    assert result["challenge_score"] >= FLOORS[folder]
    for key in ("A_score_major_recall", "A_score_minor_recall", "mimic_recall"):
        assert result[key] >= 0.2, (key, result[key])
    # Random ranking gives average precision near the share of hybrids
    # (0.33 in A, 0.23 in mimic); both models rank clearly better.
    assert result["A_PRC_AUC"] > 0.6
    assert result["mimic_PRC_AUC"] > 0.4


def test_random_scores_score_near_chance(validation_split):
    truth = validation_split.load_truth()
    challenge = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for seed in range(40):
            scores = np.random.default_rng(seed).random(len(truth))
            result = butterfly_scores(
                truth.labels, scores, truth.columns["ssp_indicator"]
            )
            challenge.append(result["challenge_score"])
    assert 0.01 < np.mean(challenge) < 0.06
    assert max(challenge) < 0.2 < FLOORS["butterfly-pattern-logistic"]


@pytest.mark.parametrize("folder", sorted(FLOORS))
def test_reference_model_is_sandbox_ready(folder):
    """Weights are plain data and model.py imports only what the sandbox has."""
    root = SUBMISSIONS / folder
    assert (root / "model.py").is_file() and (root / "fit.py").is_file()
    weights = [p.name for p in root.iterdir() if p.name.startswith("weights")]
    assert weights in (["weights.npz"], ["weights.json"])
    if weights == ["weights.npz"]:
        with np.load(root / "weights.npz", allow_pickle=False) as data:
            assert all(data[key].dtype != object for key in data.files)
    else:
        json.loads((root / "weights.json").read_text())
    tree = ast.parse((root / "model.py").read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported <= ALLOWED_IMPORTS, imported - ALLOWED_IMPORTS


@pytest.mark.parametrize("folder", sorted(FLOORS))
def test_reference_model_takes_other_photographs(folder):
    """Real photographs are larger and may be greyscale or carry alpha."""
    model = import_model_class(SUBMISSIONS / folder)()
    model.load()
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 255, (300, 450, 3), dtype=np.uint8)
    for image in (
        Image.fromarray(pixels),
        Image.fromarray(pixels).convert("L"),
        Image.fromarray(pixels).convert("RGBA"),
    ):
        assert np.isfinite(model.predict(image))


# -- registration ----------------------------------------------------------------


def test_plugin_registers_dataset_metric_and_challenge():
    datasets = plugin.harness_register_datasets()
    assert [type(d) for d in datasets] == [ButterflyDataset]
    assert datasets[0].name == "butterfly"
    assert datasets[0].splits == ("train", "validation", "test")
    metrics = plugin.harness_register_metrics()
    assert [m.name for m in metrics] == ["butterfly-hybrid"]
    assert metrics[0].outputs == KEYS
    assert plugin.harness_register_challenges() == [CHALLENGE]


def test_challenge_file_columns():
    spec = yaml.safe_load(CHALLENGE.read_text())
    assert spec["name"] == "butterfly-hybrid"
    assert spec["dataset"]["name"] == "butterfly"
    assert spec["submission"] == {
        "kind": "python-model",
        "protocol": {
            "name": "per-item",
            "options": {"loader": "pillow", "load": "always", "output_shape": []},
        },
    }
    assert spec["labels"] == {"positive": 1, "higher_is_anomalous": True}
    columns = spec["metrics"]
    assert [c["key"] for c in columns] == ["challenge_score", *KEYS[:-1]]
    for column in columns:
        assert column["metric"] == "butterfly-hybrid"
        assert column["output"] == column["key"]
        assert column["options"] == {"round_decimals": 4}
        assert column["direction"] == "higher"
    assert [c["key"] for c in columns if c.get("primary")] == ["challenge_score"]
    assert [(p["name"], p["split"]) for p in spec["phases"]] == [
        ("development", "validation"),
        ("final", "test"),
    ]


def test_challenge_file_resolves_against_the_plugins():
    from harness.challenge import load_challenge
    from harness.plugins import load_plugins
    from harness_models import plugin as models

    plugins = load_plugins(
        extra=[("butterfly", plugin), ("models", models)], entry_points=False
    )
    challenge = load_challenge(CHALLENGE, plugins)
    assert challenge.dataset == "butterfly"
    assert challenge.protocol == "per-item"
