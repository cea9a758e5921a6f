"""Fixtures of the hostile-submission suite (see ``hostile_support.py``).

Every attack runs once per sandbox. Docker cases take the ``docker_client``
fixture of the root conftest: without an engine they are
skipped on a developer's machine, but fail when ``CI`` is set. Process cases
check the isolation bubblewrap and a writable ``pids`` cgroup give; where
either is missing they fail, because the guarantees they test do not hold
there (the attacks that would then hit the harness itself are skipped).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hostile_support import (
    CANARY_VARIABLE,
    LIMITS,
    Arena,
    ResultsFolder,
    earlier_run,
)

from harness.challenge import load_challenge
from harness.evaluate import RunOptions
from harness.plugins import Plugins

if TYPE_CHECKING:
    pass


@pytest.fixture(params=["process", pytest.param("docker", marks=pytest.mark.docker)])
def sandbox_name(request: pytest.FixtureRequest) -> str:
    """Each attack runs once per sandbox."""
    if request.param == "docker":
        request.getfixturevalue("docker_client")
    return str(request.param)


@pytest.fixture(scope="session")
def outside_tmp() -> Iterator[Path]:
    """A folder for caches and results that is not under ``/tmp``.

    The process sandbox gives the child an empty ``/tmp`` of its own, so
    anything under ``/tmp`` is out of reach whether or not the harness hides
    it. The default cache and results folders live elsewhere (the home
    folder, the working folder), and so must the ones attacked here.
    """
    for base in (Path("/var/tmp"), Path.home()):
        if base.is_dir() and os.access(base, os.W_OK):
            break
    else:
        pytest.fail("no writable folder outside /tmp for the hostile suite")
    folder = Path(tempfile.mkdtemp(prefix="harness-hostile-", dir=base))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def results_folders() -> dict[str, ResultsFolder]:
    """Results folders by sandbox name, made by the first attack on each."""
    return {}


@pytest.fixture
def arena(
    request: pytest.FixtureRequest,
    sandbox_name: str,
    toy_plugins: Plugins,
    toy_challenge_file: Path,
    results_folders: dict[str, ResultsFolder],
    outside_tmp: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Arena:
    """The toy challenge, with small limits, ready for one attack.

    The first attack on a sandbox also makes the earlier run whose results
    every later attack must leave intact.
    """
    text = toy_challenge_file.read_text()
    lines = [LIMITS if x.startswith("limits:") else x for x in text.splitlines()]
    assert LIMITS in lines
    challenge_file = tmp_path / "hostile.yaml"
    challenge_file.write_text("\n".join(lines) + "\n")
    challenge = load_challenge(challenge_file, toy_plugins)
    client = None
    if sandbox_name == "docker":
        client = request.getfixturevalue("docker_client")
    if sandbox_name not in results_folders:
        path = outside_tmp / f"results-{sandbox_name}"
        path.mkdir(exist_ok=True)
        earlier = earlier_run(
            challenge, toy_plugins, sandbox_name, path, outside_tmp / sandbox_name
        )
        results_folders[sandbox_name] = ResultsFolder(path, earlier)
    # The marker in the cache path puts it on the runner's command line, so
    # forked copies of the runner are found by their command line too.
    marker = "hx" + uuid.uuid4().hex[:10]
    options = RunOptions(
        sandbox=sandbox_name,
        cache_dir=outside_tmp / f"cache-{marker}",
        results_dir=results_folders[sandbox_name].path,
        bootstrap=0,
    )
    monkeypatch.setenv(CANARY_VARIABLE, "canary-" + uuid.uuid4().hex)
    return Arena(
        sandbox=sandbox_name,
        plugins=toy_plugins,
        challenge=challenge,
        options=options,
        results=results_folders[sandbox_name],
        tmp_path=tmp_path,
        outside_tmp=outside_tmp,
        marker=marker,
        docker_client=client,
    )
