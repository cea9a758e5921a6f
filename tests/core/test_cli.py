"""The command line: listings, runs on a builtin challenge, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.errors import ExitCode

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(main, list(args), catch_exceptions=False)

    return invoke


def test_plugins_lists_every_builtin_with_version(cli):
    result = cli("plugins", "--json")
    assert result.exit_code == 0
    rows = {r["name"]: r for r in json.loads(result.output)}
    for name in (
        "gw",
        "butterfly",
        "sealevel",
        "metrics",
        "models",
        "sandbox-process",
        "sandbox-docker",
    ):
        assert rows[name]["builtin"] is True
        assert rows[name]["version"]
    assert "dataset:gw" in rows["gw"]["provides"]


def test_challenges_lists_phases_and_metrics(cli):
    result = cli("challenges", "--json")
    found = {r["name"]: r for r in json.loads(result.output)}
    assert set(found) >= {"gw-anomaly", "butterfly-hybrid", "sea-level-anomaly"}
    assert found["gw-anomaly"]["phases"] == {
        "development": "validation",
        "final": "test",
    }
    assert [m["key"] for m in found["gw-anomaly"]["metrics"]] == ["TNR", "ROC_AUC"]


def test_run_reference_submission(cli, tmp_path):
    result = cli(
        "run",
        "gw-anomaly",
        str(ROOT / "reference_submissions/gw-pca"),
        "--phase",
        "development",
        "--sandbox",
        "process",
        "--bootstrap",
        "0",
        "--json",
    )
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert record["status"] == "succeeded"
    assert record["scores"]["TNR"]["value"] > 0.25
    assert (tmp_path / "harness-results" / record["run_id"] / "record.json").is_file()


def test_failed_submission_exit_code_and_message(cli, tmp_path):
    sub = tmp_path / "column"
    sub.mkdir()
    (sub / "model.py").write_text(
        "class Model:\n    def load(self):\n        pass\n"
        "    def predict(self, X):\n        return X[:, :1, 0]\n"
    )
    result = cli(
        "run",
        "gw-anomaly",
        str(sub),
        "--phase",
        "development",
        "--sandbox",
        "process",
        "--bootstrap",
        "0",
    )
    assert result.exit_code == ExitCode.SUBMISSION_FAILED
    assert "shape (2000, 1) where (2000,) was expected" in result.output


def test_invalid_challenge_file_exit_code(cli, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("schema_version: 1\nname: Bad Name\n")
    result = CliRunner().invoke(main, ["validate", str(bad)])
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert "missing required key(s)" in result.output


def test_unknown_challenge_suggests(cli):
    result = CliRunner().invoke(main, ["run", "gw-anomali", "."])
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert "did you mean 'gw-anomaly'" in result.output


def test_score_existing_predictions(cli, tmp_path):
    run = cli(
        "run",
        "gw-anomaly",
        str(ROOT / "reference_submissions/gw-pca"),
        "--phase",
        "development",
        "--sandbox",
        "process",
        "--bootstrap",
        "0",
        "--json",
    )
    record = json.loads(run.output)
    predictions = tmp_path / "harness-results" / record["run_id"] / "predictions.json"
    scored = cli(
        "score",
        "gw-anomaly",
        str(predictions),
        "--phase",
        "development",
        "--bootstrap",
        "0",
        "--json",
    )
    assert scored.exit_code == 0
    assert json.loads(scored.output)["TNR"]["value"] == record["scores"]["TNR"]["value"]
    broken = tmp_path / "broken.json"
    document = json.loads(predictions.read_text())
    document["values"][3] = float("nan")
    broken.write_text(json.dumps(document))
    result = CliRunner().invoke(
        main, ["score", "gw-anomaly", str(broken), "--phase", "development"]
    )
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert "not finite" in result.output and "item '3'" in result.output


def test_doctor_reports_process_sandbox(cli):
    result = CliRunner().invoke(main, ["doctor", "--json"])
    report = json.loads(result.output)
    process = next(s for s in report["sandboxes"] if s["sandbox"] == "process")
    assert process["ok"] is True


def test_protocol_options_that_do_not_fit_the_data_exit_as_invalid_input(cli, tmp_path):
    source = ROOT / "plugins" / "harness_gw" / "challenges" / "gw-anomaly.yaml"
    text = source.read_text()
    assert "transpose: [0, 2, 1]" in text
    bad = tmp_path / "gw-transpose.yaml"
    bad.write_text(text.replace("transpose: [0, 2, 1]", "transpose: [0, 2, 9]"))
    result = cli(
        "run",
        str(bad),
        str(ROOT / "reference_submissions" / "gw-pca"),
        "--phase",
        "development",
        "--sandbox",
        "process",
        "--bootstrap",
        "0",
    )
    assert result.exit_code == ExitCode.INVALID_INPUT, result.output
    assert "FAILED at stage challenge (protocol-options)" in result.output
    assert "transpose [0, 2, 9] must name each axis" in result.output


@pytest.mark.parametrize(
    ("challenge", "submission", "fragment"),
    [
        ("gw-anomaly", "gw-pca", "validation.npz' does not exist"),
        ("butterfly-hybrid", "butterfly-pattern-knn", "reference CSV not found"),
        ("sea-level-anomaly", "sealevel-threshold", "no label file for station"),
        ("gw-anomaly", "gw-pca", "does not exist or is not a folder"),
    ],
)
def test_a_data_folder_without_the_data_is_invalid_input(
    cli, tmp_path, challenge, submission, fragment
):
    data = tmp_path / "data"
    if "not a folder" not in fragment:
        data.mkdir()
    result = cli(
        "run",
        challenge,
        str(ROOT / "reference_submissions" / submission),
        "--data-dir",
        str(data),
        "--sandbox",
        "process",
        "--bootstrap",
        "0",
    )
    assert result.exit_code == ExitCode.INVALID_INPUT, result.output
    assert "FAILED at stage prepare (invalid-data)" in result.output
    assert fragment in result.output


def test_validate_takes_a_registered_name_too(cli):
    result = cli("validate", "gw-anomaly")
    assert result.exit_code == 0, result.output
    assert "valid challenge 'gw-anomaly'" in result.output
    result = CliRunner().invoke(main, ["validate", "gw-anomly"])
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert "did you mean 'gw-anomaly'?" in result.output
