"""Every reference submission scores the same in both sandboxes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.challenge import find_challenge
from harness.evaluate import RunOptions, run_submission
from harness.plugins import load_plugins

ROOT = Path(__file__).resolve().parents[2]
REFERENCES = [
    ("gw-anomaly", "gw-coherence"),
    ("gw-anomaly", "gw-pca"),
    ("butterfly-hybrid", "butterfly-pattern-knn"),
    ("butterfly-hybrid", "butterfly-pattern-logistic"),
    ("sea-level-anomaly", "sealevel-threshold"),
    ("sea-level-anomaly", "sealevel-logistic"),
]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("same-scores-cache")


@pytest.mark.docker
@pytest.mark.parametrize(("challenge", "submission"), REFERENCES)
def test_reference_scores_match_across_sandboxes(
    docker_client: Any, cache: Path, tmp_path: Path, challenge: str, submission: str
) -> None:
    plugins = load_plugins()
    spec = find_challenge(challenge, plugins)
    scores = {}
    for sandbox in ("process", "docker"):
        options = RunOptions(
            sandbox=sandbox,
            cache_dir=cache,
            results_dir=tmp_path / sandbox,
            bootstrap=0,
        )
        record = run_submission(
            spec,
            "development",
            ROOT / "reference_submissions" / submission,
            plugins=plugins,
            options=options,
        )
        assert record["status"] == "succeeded", record["failure"]
        scores[sandbox] = {k: v["value"] for k, v in record["scores"].items()}
    assert scores["process"] == scores["docker"]
    assert scores["process"][spec.primary.key] > 0.3
