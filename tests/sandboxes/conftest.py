"""Fixtures for sandbox tests.

Tests that need a Docker engine take the ``docker_client`` fixture and are
marked ``docker``. Without a reachable engine (or without the base image)
they are skipped on a developer's machine, but fail when the ``CI``
environment variable is set: there the engine is part of the test bed, and
a silent skip would hide that the docker sandbox was never exercised.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from docker import DockerClient


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
def docker_client() -> Iterator[DockerClient]:
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
