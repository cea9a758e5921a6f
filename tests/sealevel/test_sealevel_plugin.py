"""Registration of the sea-level plugins and consistency of the challenge file."""

from __future__ import annotations

import doctest
import json
from pathlib import Path

import pytest
import yaml

from harness_sealevel import metric, plugin, synthetic
from harness_sealevel.dataset import STATIONS, SeaLevelDataset, parse_options

SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "challenge.schema.json"


def challenge() -> dict:
    return yaml.safe_load(plugin.CHALLENGE_FILE.read_text(encoding="utf-8"))


def test_hooks_register_dataset_metric_and_challenge() -> None:
    (dataset,) = plugin.harness_register_datasets()
    (metric_plugin,) = plugin.harness_register_metrics()
    (path,) = plugin.harness_register_challenges()
    assert isinstance(dataset, SeaLevelDataset) and dataset.name == "sealevel"
    assert dataset.splits == ("train", "validation", "test")
    assert dataset.stations == STATIONS
    assert metric_plugin.name == "sealevel-flood"
    assert path.is_file() and path.name == "sea-level-anomaly.yaml"


def test_challenge_file_matches_the_plugins() -> None:
    spec = challenge()
    assert spec["name"] == "sea-level-anomaly" and spec["dataset"]["name"] == "sealevel"
    protocol = spec["submission"]["protocol"]
    assert spec["submission"]["kind"] == "python-model"
    assert protocol == {
        "name": "sequential",
        "options": {"load": "if-defined", "output_shape": [1, 12]},
    }
    assert spec["labels"] == {"positive": 1, "higher_is_anomalous": True}
    columns = [(m["key"], m["metric"], m["output"]) for m in spec["metrics"]]
    assert columns == [(key, "sealevel-flood", key) for key in metric.OUTPUTS]
    assert [m["key"] for m in spec["metrics"] if m.get("primary")] == ["Final Grade"]
    assert all(m["options"] == {"undefined_f1": 0.0} for m in spec["metrics"])
    assert {p["name"]: p["split"] for p in spec["phases"]} == {
        "development": "validation",
        "final": "test",
    }
    options = parse_options(spec["dataset"]["options"])
    assert spec["dataset"]["options"]["stations"] == list(STATIONS)
    assert sum(options.days.values()) == 1460


def test_challenge_file_is_valid_against_the_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    if not SCHEMA.is_file():
        pytest.skip("no challenge schema in this checkout")
    jsonschema.validate(challenge(), json.loads(SCHEMA.read_text(encoding="utf-8")))


@pytest.mark.parametrize("module", [metric, synthetic])
def test_docstring_examples_run(module: object) -> None:
    failed, attempted = doctest.testmod(module, raise_on_error=False, verbose=False)
    assert attempted > 0 and failed == 0
