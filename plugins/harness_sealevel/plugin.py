"""Registers the sea-level dataset, its metric and its challenge file."""

from __future__ import annotations

from pathlib import Path

from harness.hookspecs import hookimpl
from harness.types import DatasetPlugin, MetricPlugin

from .dataset import SeaLevelDataset
from .metric import metric_plugin

CHALLENGE_FILE = Path(__file__).with_name("challenges") / "sea-level-anomaly.yaml"


@hookimpl
def harness_register_datasets() -> list[DatasetPlugin]:
    """Provide the ``sealevel`` dataset."""
    return [SeaLevelDataset()]


@hookimpl
def harness_register_metrics() -> list[MetricPlugin]:
    """Provide the ``sealevel-flood`` metric."""
    return [metric_plugin()]


@hookimpl
def harness_register_challenges() -> list[Path]:
    """Provide the ``sea-level-anomaly`` challenge file."""
    return [CHALLENGE_FILE]
