"""A submission's requirements.txt through the whole pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.challenge import load_challenge
from harness.evaluate import RunOptions, run_submission
from tests.conftest import TOY_CHALLENGE
from tests.sandboxes.test_requirements import _wheel

USES_TINY = """
import tiny_pkg

class Model:
    def predict(self, X):
        assert tiny_pkg.VERSION == "1.0"
        return X.mean(axis=1)
"""

ALLOWING = TOY_CHALLENGE.replace(
    "  kind: python-model\n",
    "  kind: python-model\n  requirements:\n    allowed: {tiny-pkg: '>=1'}\n"
    "    wheels: wheels\n",
)


def _run(plugins, spec: Path, submission: Path, tmp_path: Path, sandbox: str):
    options = RunOptions(
        sandbox=sandbox,
        cache_dir=tmp_path / "cache",
        results_dir=tmp_path / "results",
        bootstrap=0,
    )
    return run_submission(
        load_challenge(spec, plugins),
        "development",
        submission,
        plugins=plugins,
        options=options,
    )


def test_challenge_without_allow_list_refuses(
    toy_plugins, toy_challenge_file, make_submission, tmp_path
):
    sub = make_submission(USES_TINY, **{"requirements.txt": b"tiny-pkg==1.0\n"})
    record = _run(toy_plugins, toy_challenge_file, sub, tmp_path, "process")
    assert record["failure"]["kind"] == "requirements-refused"
    assert "allows no extra packages" in record["failure"]["message"]


def test_comment_only_requirements_are_ignored(
    toy_plugins, toy_challenge_file, make_submission, tmp_path
):
    code = "class Model:\n    def predict(self, X):\n        return X.mean(1)\n"
    sub = make_submission(code, **{"requirements.txt": b"# nothing\n\n"})
    record = _run(toy_plugins, toy_challenge_file, sub, tmp_path, "process")
    assert record["status"] == "succeeded", record["failure"]


def test_process_sandbox_cannot_install(toy_plugins, make_submission, tmp_path):
    spec = tmp_path / "allowing.yaml"
    spec.write_text(ALLOWING)
    sub = make_submission(USES_TINY, **{"requirements.txt": b"tiny-pkg==1.0\n"})
    record = _run(toy_plugins, spec, sub, tmp_path, "process")
    assert record["failure"]["kind"] == "requirements"
    assert "process sandbox cannot install" in record["failure"]["message"]


@pytest.mark.docker
def test_docker_installs_allowed_pins_offline(
    docker_client: Any, toy_plugins, make_submission, tmp_path
):
    spec = tmp_path / "allowing.yaml"
    spec.write_text(ALLOWING)
    (tmp_path / "wheels").mkdir()
    _wheel(tmp_path / "wheels", "1.0")
    sub = make_submission(USES_TINY, **{"requirements.txt": b"tiny-pkg==1.0\n"})
    record = _run(toy_plugins, spec, sub, tmp_path, "docker")
    assert record["status"] == "succeeded", record["failure"]
    assert record["sandbox"]["image"].startswith("harness-req:")
    assert record["scores"]["MEAN_GAP"]["value"] == pytest.approx(5.0)

    bad = make_submission(
        USES_TINY, name="bad", **{"requirements.txt": b"tiny-pkg>=1.0\nrequests==2\n"}
    )
    record = _run(toy_plugins, spec, bad, tmp_path, "docker")
    assert record["failure"]["kind"] == "requirements"
    message = record["failure"]["message"]
    assert "line 1" in message and "line 2" in message
