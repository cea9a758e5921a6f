"""Fixtures for the Codabench export and emulator tests.

Tests that need a Docker engine take ``docker_client`` and are marked
``docker``. Without an engine or the base image they are skipped on a
developer's machine and fail when ``CI`` is set, where a silent skip would
hide that the emulator was never exercised.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from harness.plugins import Plugins, load_plugins

if TYPE_CHECKING:
    from docker import DockerClient


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _missing(message: str) -> None:
    if _in_ci():
        pytest.fail(f"{message} (mandatory because CI is set)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def docker_client() -> Iterator[DockerClient]:
    """A client of a running engine that holds the default sandbox image."""
    try:
        import docker
        from docker.errors import ImageNotFound
    except ImportError:
        _missing("the docker Python package is not installed")
    from harness_sandboxes.docker import DEFAULT_IMAGE

    try:
        client = docker.from_env(timeout=60)
        client.ping()
    except Exception as exc:
        # Whatever the SDK raised, the engine is unusable for these tests.
        _missing(f"no Docker engine answers ({exc}); run scripts/docker-engine.sh")
    try:
        client.images.get(DEFAULT_IMAGE)
    except ImageNotFound:
        client.close()
        _missing(f"image {DEFAULT_IMAGE} is missing; run scripts/build-base-image.sh")
    yield client
    client.close()


@pytest.fixture(scope="session")
def plugins() -> Plugins:
    """Every installed plugin, builtins included."""
    return load_plugins()


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One dataset cache for the whole session, so each split is made once."""
    return tmp_path_factory.mktemp("codabench-cache")
