"""Registers the gravitational-wave dataset and challenge."""

from __future__ import annotations

from pathlib import Path

from harness.hookspecs import hookimpl
from harness.types import DatasetPlugin
from harness_gw.dataset import GWDataset

CHALLENGES = Path(__file__).with_name("challenges")


@hookimpl
def harness_register_datasets() -> list[DatasetPlugin]:
    return [GWDataset()]


@hookimpl
def harness_register_challenges() -> list[Path]:
    return sorted(CHALLENGES.glob("*.yaml"))
