"""Shared fixtures: a tiny in-process challenge, and the Docker engine.

Tests that need a Docker engine take ``docker_client`` and are marked
``docker``. Without a reachable engine and the base image they are skipped
on a developer's machine but fail when the ``CI`` environment variable is
set: there the engine is part of the test bed, and a silent skip would hide
that the docker sandbox was never exercised.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness.hookspecs import hookimpl
from harness.plugins import Plugins, load_plugins
from harness.types import DatasetPlugin, MetricPlugin, PreparedSplit, Truth

TOY_CHALLENGE = """\
schema_version: 1
name: toy
version: "1"
dataset: {name: toy}
submission:
  kind: python-model
  protocol:
    name: batch
    options: {load: if-defined, output_shape: []}
labels: {positive: 1, higher_is_anomalous: true}
metrics:
  - {key: MEAN_GAP, metric: toy-gap, direction: higher, primary: true}
limits: {wall_seconds: 20, memory_mb: 1024, processes: 32}
phases:
  - {name: development, split: validation}
"""


class ToyDataset(DatasetPlugin):
    """Twenty items of shape (3,); items 15.. are anomalies with large values."""

    name = "toy"
    version = "1"
    splits = ("validation",)

    def prepare(
        self,
        split: str,
        *,
        cache_dir: Path,
        data_dir: Path | None = None,
        options: Any = None,
    ) -> PreparedSplit:
        import json

        root = cache_dir / split
        inputs = root / "inputs"
        inputs.mkdir(parents=True, exist_ok=True)
        x = np.zeros((20, 3), dtype=np.float32)
        x[15:] = 5.0
        np.save(inputs / "inputs.npy", x)
        (inputs / "manifest.json").write_text(
            json.dumps(
                {
                    "format_version": 1,
                    "kind": "array",
                    "ids": list(range(20)),
                    "array": "inputs.npy",
                }
            )
        )
        labels = np.zeros(20, dtype=np.int8)
        labels[15:] = 1
        np.savez(root / "truth.npz", ids=np.arange(20), labels=labels)
        return PreparedSplit(self.name, split, inputs, root / "truth.npz")


def toy_gap(truth: Truth, y_score: np.ndarray) -> float:
    """Mean score of anomalies minus mean score of normal items."""
    labels = truth.labels
    return float(y_score[labels == 1].mean() - y_score[labels == 0].mean())


class ToyPlugin:
    @hookimpl
    def harness_register_datasets(self) -> list[DatasetPlugin]:
        return [ToyDataset()]

    @hookimpl
    def harness_register_metrics(self) -> list[MetricPlugin]:
        return [MetricPlugin(name="toy-gap", func=toy_gap)]


@pytest.fixture
def toy_plugins() -> Plugins:
    """The builtin plugins plus the toy dataset and metric."""
    return load_plugins(extra=[("toy", ToyPlugin())])


@pytest.fixture
def toy_challenge_file(tmp_path: Path) -> Path:
    path = tmp_path / "toy.yaml"
    path.write_text(TOY_CHALLENGE)
    return path


@pytest.fixture
def make_submission(tmp_path: Path):
    """Write a submission folder whose model.py is the given source."""

    def make(source: str, name: str = "sub", **files: bytes) -> Path:
        folder = tmp_path / name
        folder.mkdir()
        (folder / "model.py").write_text(textwrap.dedent(source))
        for fname, content in files.items():
            (folder / fname).write_bytes(content)
        return folder

    return make


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    """A client of a running engine that holds the default sandbox image."""
    from harness_sandboxes.docker import DockerSandbox

    sandbox = DockerSandbox()
    availability = sandbox.availability()
    if not availability.ok:
        message = f"docker sandbox unavailable: {availability.reason}"
        if _in_ci():
            pytest.fail(f"{message} (mandatory because CI is set)", pytrace=False)
        pytest.skip(message)
    client = sandbox.client()
    yield client
    client.close()
