"""Fixtures for the Codabench export and emulator tests.

Docker tests use ``docker_client`` from the root ``conftest.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from harness.plugins import Plugins, load_plugins

if TYPE_CHECKING:
    pass


@pytest.fixture(scope="session")
def plugins() -> Plugins:
    """Every installed plugin, builtins included."""
    return load_plugins()


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One dataset cache for the whole session, so each split is made once."""
    return tmp_path_factory.mktemp("codabench-cache")
