"""``harness codabench export`` and ``harness codabench run`` from the command line."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from codabench_support import REFERENCE_SUBMISSIONS, answer_submission, write_bundle

from harness.cli import main
from harness.errors import ExitCode


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache_dir: Path):
    monkeypatch.setenv("HARNESS_CACHE", str(cache_dir))
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(main, list(args), catch_exceptions=False)

    return invoke


def test_export_writes_a_zip_and_reports_it(cli, tmp_path: Path) -> None:
    result = cli(
        "codabench",
        "export",
        "gw-anomaly",
        "-o",
        "gw.zip",
        "--phase",
        "development",
        "--docker-image",
        "python:3.11-slim",
        "--max-submissions-per-day",
        "3",
        "--json",
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["columns"] == ["TNR", "ROC_AUC"]
    assert report["items"] == {"development": 2000}
    assert report["notes"] == []
    with zipfile.ZipFile(tmp_path / "gw.zip") as zf:
        text = zf.read("competition.yaml").decode()
    assert "docker_image: python:3.11-slim" in text
    assert "max_submissions_per_day: 3" in text


def test_export_of_an_unknown_challenge_suggests_one(cli) -> None:
    result = cli("codabench", "export", "gw-anomly", "-o", "x.zip")
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert "did you mean 'gw-anomaly'?" in result.output


def test_run_of_a_malformed_bundle_exits_with_invalid_input(
    cli, tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "competition.yaml").write_text("version: 1\n")
    result = cli("codabench", "run", str(bundle), str(tmp_path))
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert "only version 2 bundles" in result.output


@pytest.mark.docker
def test_run_prints_the_leaderboard_row(cli, tmp_path: Path, docker_client) -> None:
    exported = cli(
        "codabench", "export", "gw-anomaly", "-o", "gw.zip", "--phase", "development"
    )
    assert exported.exit_code == 0, exported.output
    result = cli(
        "codabench", "run", "gw.zip", str(REFERENCE_SUBMISSIONS / "gw-coherence")
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(
        "Gravitational-wave anomaly detection: phase development"
    )
    assert any(
        line.split()[:1] == ["TNR"] and line.endswith("(desc)") for line in lines
    )
    assert "logs and scores: harness-results/codabench-" in result.output


@pytest.mark.docker
def test_run_exits_one_when_scoring_fails(cli, tmp_path: Path, docker_client) -> None:
    bundle = write_bundle(
        tmp_path / "bundle", scoring="raise SystemExit('reference is unreadable')\n"
    )
    result = cli(
        "codabench", "run", str(bundle), str(answer_submission(tmp_path)), "--json"
    )
    assert result.exit_code == ExitCode.SUBMISSION_FAILED
    document = json.loads(result.output)
    assert document["status"] == "failed"
    assert document["failure"]["stage"] == "scoring"
    assert "reference is unreadable" in document["tasks"][0]["steps"][0]["stderr"]
