"""Fixtures shared by the butterfly tests: one synthetic cache per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.types import PreparedSplit
from harness_butterfly.dataset import ButterflyDataset


@pytest.fixture(scope="session")
def butterfly_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dataset cache shared by every test of the session."""
    return tmp_path_factory.mktemp("butterfly-cache")


@pytest.fixture(scope="session")
def validation_split(butterfly_cache: Path) -> PreparedSplit:
    """The synthetic validation split, generated once."""
    return ButterflyDataset().prepare("validation", cache_dir=butterfly_cache)


@pytest.fixture(scope="session")
def testing_split(butterfly_cache: Path) -> PreparedSplit:
    """The synthetic test split, generated once."""
    return ButterflyDataset().prepare("test", cache_dir=butterfly_cache)
