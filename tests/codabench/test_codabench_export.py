"""Exported bundles: layout, contents, and programs that work without Docker."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from codabench_support import REFERENCE_SUBMISSIONS

from harness.challenge import find_challenge, load_challenge
from harness.codabench.bundle import read_competition, read_program_command
from harness.codabench.export import (
    ExportOptions,
    ExportResult,
    export_bundle,
    self_check,
    write_bundle_tree,
)
from harness.codabench.scoring import main as score_main
from harness.errors import PluginError
from harness.evaluate import RunOptions, run_submission
from harness.plugins import Plugins, load_plugins


@pytest.fixture(scope="module")
def gw_tree(
    tmp_path_factory: pytest.TempPathFactory, plugins: Plugins, cache_dir: Path
) -> tuple[Path, ExportResult]:
    root = tmp_path_factory.mktemp("gw-export") / "bundle"
    options = ExportOptions(cache_dir=cache_dir, phases=("development",))
    challenge = find_challenge("gw-anomaly", plugins)
    return root, write_bundle_tree(challenge, plugins, root, options)


def run_ingestion(program: Path, inputs: Path, submission: Path, output: Path):
    output.mkdir(exist_ok=True)
    return subprocess.run(
        [
            sys.executable,
            "-I",
            "-B",
            str(program / "ingestion.py"),
            "--input",
            str(inputs),
            "--submission",
            str(submission),
            "--output",
            str(output),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def run_scoring(program: Path, ref: Path, res: Path, output: Path):
    output.mkdir(exist_ok=True)
    return subprocess.run(
        [
            sys.executable,
            "-I",
            "-B",
            str(program / "score.py"),
            "--ref",
            str(ref),
            "--res",
            str(res),
            "--output",
            str(output),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# -- layout ----------------------------------------------------------------------------


def test_competition_yaml_describes_one_task_per_phase(gw_tree) -> None:
    root, result = gw_tree
    competition = read_competition(root)
    assert competition.raw["version"] == 2
    assert [p.name for p in competition.phases] == ["development"]
    assert competition.phases[0].execution_time_limit == 600
    task = competition.tasks[0]
    assert task.input_data == "input_data/development"
    assert task.reference_data == "reference_data/development"
    assert task.ingestion_program == "ingestion_program"
    assert [
        (c.key, c.index, c.sorting, c.precision)
        for c in competition.leaderboards[0].columns
    ] == [("TNR", 0, "desc", 4), ("ROC_AUC", 1, "desc", 4)]
    assert result.columns == ("TNR", "ROC_AUC")
    assert result.items == {"development": 2000}
    for page in competition.raw["pages"]:
        assert (root / page["file"]).read_text().strip()
    assert (root / competition.raw["terms"]).read_text().startswith("# Terms")


def test_truth_only_in_reference_data(gw_tree) -> None:
    root, _ = gw_tree
    reference = root / "reference_data" / "development"
    assert [p.name for p in reference.iterdir()] == ["truth.npz"]
    inputs = root / "input_data" / "development"
    assert sorted(p.name for p in inputs.iterdir()) == ["inputs.npy", "manifest.json"]
    with np.load(reference / "truth.npz") as truth:
        ids = truth["ids"]
    manifest = json.loads((inputs / "manifest.json").read_text())
    assert manifest["ids"] == ids.tolist()


def test_programs_have_commands_and_carry_their_code(gw_tree) -> None:
    root, _ = gw_tree
    assert read_program_command(root / "ingestion_program") == (
        "python3 /app/program/ingestion.py"
    )
    assert read_program_command(root / "scoring_program") == (
        "python3 /app/program/score.py"
    )
    ingestion = sorted(p.name for p in (root / "ingestion_program").iterdir())
    assert ingestion == ["challenge.json", "ingestion.py", "metadata.yaml", "runner.py"]
    scoring = root / "scoring_program"
    for part in (
        "harness/scoring.py",
        "harness/codabench/checks.py",
        "harness_metrics/plugin.py",
        "pluggy/__init__.py",
        "pluggy/LICENSE",
    ):
        assert (scoring / part).is_file(), part
    snapshot = json.loads((scoring / "challenge.json").read_text())
    assert snapshot["plugins"] == [
        {"name": "metrics", "module": "harness_metrics.plugin"}
    ]
    assert [c["key"] for c in snapshot["columns"]] == ["TNR", "ROC_AUC"]
    assert snapshot["protocol"]["name"] == "batch"
    assert snapshot["labels"] == {"positive": 1, "higher_is_anomalous": True}


def test_scoring_program_imports_nothing_beyond_numpy(gw_tree) -> None:
    root, result = gw_tree
    check = self_check(root / "scoring_program")
    assert check["outside"] == []
    assert Path(check["harness"]) == root / "scoring_program" / "harness"
    assert result.notes == ()


def test_self_check_counts_what_the_program_folder_carries(gw_tree, tmp_path) -> None:
    root, _ = gw_tree
    program = tmp_path / "scoring_program"
    shutil.copytree(root / "scoring_program", program)
    (program / "carried_helper").mkdir()
    (program / "carried_helper" / "__init__.py").write_text("VALUE = 1\n")
    (program / "extra_metrics.py").write_text(
        "import carried_helper\nimport scipy\n"
        "from harness.hookspecs import hookimpl\n\n"
        "@hookimpl\ndef harness_register_metrics():\n    return []\n"
    )
    snapshot = json.loads((program / "challenge.json").read_text())
    snapshot["plugins"].append({"name": "extra", "module": "extra_metrics"})
    (program / "challenge.json").write_text(json.dumps(snapshot))
    # A package copied beside the program travels with it; scipy does not.
    assert self_check(program)["outside"] == ["scipy"]


def test_logo_is_a_png(gw_tree) -> None:
    from PIL import Image

    root, _ = gw_tree
    with Image.open(root / "logo.png") as logo:
        assert logo.format == "PNG"
        assert logo.size == (64, 64)


def test_primary_column_comes_first(
    tmp_path: Path, plugins: Plugins, cache_dir: Path
) -> None:
    challenge = find_challenge("sea-level-anomaly", plugins)
    result = write_bundle_tree(
        challenge,
        plugins,
        tmp_path / "b",
        ExportOptions(cache_dir=cache_dir, phases=("development",)),
    )
    assert result.columns == ("Final Grade", "F1-Score", "F1-Score with location")
    board = yaml.safe_load((tmp_path / "b" / "competition.yaml").read_text())
    assert board["leaderboards"][0]["primary_index"] == 0
    assert result.notes == ()


def test_zip_holds_files_at_the_root_and_is_reproducible(
    tmp_path: Path, plugins: Plugins, cache_dir: Path
) -> None:
    challenge = find_challenge("gw-anomaly", plugins)
    options = ExportOptions(
        cache_dir=cache_dir,
        phases=("development",),
        start=__import__("datetime").date(2025, 1, 6),
        solution=REFERENCE_SUBMISSIONS / "gw-pca",
    )
    first = export_bundle(challenge, plugins, tmp_path / "a.zip", options)
    second = export_bundle(challenge, plugins, tmp_path / "b.zip", options)
    assert first.path.read_bytes() == second.path.read_bytes()
    with zipfile.ZipFile(first.path) as zf:
        names = zf.namelist()
        competition = yaml.safe_load(zf.read("competition.yaml"))
    assert "competition.yaml" in names
    assert "solution/model.py" in names
    assert not [n for n in names if "__pycache__" in n]
    assert competition["solutions"][0]["path"] == "solution"
    assert competition["phases"][0]["solutions"] == [0]
    assert str(competition["phases"][0]["start"]) == "2025-01-06"
    assert str(competition["phases"][0]["end"]) == "2025-04-06"


# -- programs run by hand --------------------------------------------------------------


def test_programs_score_like_harness_run(
    gw_tree, tmp_path: Path, plugins: Plugins, cache_dir: Path
) -> None:
    root, _ = gw_tree
    submission = REFERENCE_SUBMISSIONS / "gw-pca"
    done = run_ingestion(
        root / "ingestion_program",
        root / "input_data" / "development",
        submission,
        tmp_path / "res",
    )
    assert done.returncode == 0, done.stderr
    done = run_scoring(
        root / "scoring_program",
        root / "reference_data" / "development",
        tmp_path / "res",
        tmp_path / "out",
    )
    assert done.returncode == 0, done.stderr
    scores = json.loads((tmp_path / "out" / "scores.json").read_text())
    assert "TNR" in (tmp_path / "out" / "detailed_results.html").read_text()

    record = run_submission(
        find_challenge("gw-anomaly", plugins),
        "development",
        submission,
        plugins=plugins,
        options=RunOptions(
            sandbox="process",
            cache_dir=cache_dir,
            bootstrap=0,
            results_dir=tmp_path / "runs",
        ),
    )
    assert record["status"] == "succeeded", record["failure"]
    expected = {k: v["value"] for k, v in record["scores"].items()}
    assert scores.keys() == expected.keys()
    for key, value in expected.items():
        assert scores[key] == pytest.approx(value, abs=1e-9)


def test_ingestion_passes_a_result_submission_on(gw_tree, tmp_path: Path) -> None:
    root, _ = gw_tree
    submission = tmp_path / "results"
    submission.mkdir()
    (submission / "predictions.json").write_text('{"format_version": 1}')
    done = run_ingestion(
        root / "ingestion_program",
        root / "input_data" / "development",
        submission,
        tmp_path / "res",
    )
    assert done.returncode == 0, done.stderr
    assert "result submission" in done.stdout
    assert (tmp_path / "res" / "predictions.json").read_text() == (
        '{"format_version": 1}'
    )


def test_ingestion_names_the_stage_of_a_model_failure(gw_tree, tmp_path: Path) -> None:
    root, _ = gw_tree
    submission = tmp_path / "broken"
    submission.mkdir()
    (submission / "model.py").write_text(
        textwrap.dedent("""\
        class Model:
            def load(self):
                raise FileNotFoundError("weights.npz")

            def predict(self, x):
                return x[:, 0, 0]
        """)
    )
    done = run_ingestion(
        root / "ingestion_program",
        root / "input_data" / "development",
        submission,
        tmp_path / "res",
    )
    assert done.returncode == 1
    assert "stage load: load() raised FileNotFoundError: weights.npz" in done.stderr


def test_ingestion_explains_a_folder_zipped_around_the_model(
    gw_tree, tmp_path: Path
) -> None:
    root, _ = gw_tree
    submission = tmp_path / "sub"
    (submission / "my-model").mkdir(parents=True)
    (submission / "my-model" / "model.py").write_text("class Model: pass\n")
    done = run_ingestion(
        root / "ingestion_program",
        root / "input_data" / "development",
        submission,
        tmp_path / "res",
    )
    assert done.returncode == 1
    assert "my-model/model.py was found inside a folder" in done.stderr


def _write_predictions(folder: Path, ids: list, values: list) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "predictions.json").write_text(
        json.dumps({"format_version": 1, "ids": ids, "values": values})
    )
    return folder


def test_scoring_rejects_missing_ids_without_writing_scores(
    gw_tree, tmp_path: Path
) -> None:
    root, _ = gw_tree
    ref = root / "reference_data" / "development"
    res = _write_predictions(tmp_path / "res", [0, 1], [0.5, 0.5])
    out = tmp_path / "out"
    out.mkdir()
    code = score_main(
        ["--ref", str(ref), "--res", str(res), "--output", str(out)],
        program_dir=root / "scoring_program",
    )
    assert code == 1
    assert not (out / "scores.json").exists()
    assert "1998 missing id(s)" in (out / "detailed_results.html").read_text()


def test_scoring_reports_the_runner_failure(gw_tree, tmp_path: Path) -> None:
    root, _ = gw_tree
    res = tmp_path / "res"
    res.mkdir()
    (res / "runner.json").write_text(
        json.dumps(
            {
                "status": "error",
                "stage": "predict",
                "error": {
                    "type": "ValueError",
                    "message": "predict(X) raised ValueError",
                },
            }
        )
    )
    out = tmp_path / "out"
    out.mkdir()
    code = score_main(
        [
            "--ref",
            str(root / "reference_data" / "development"),
            "--res",
            str(res),
            "--output",
            str(out),
        ],
        program_dir=root / "scoring_program",
    )
    assert code == 1
    assert (
        "failed at stage predict: predict(X) raised"
        in (out / "detailed_results.html").read_text()
    )


def test_scoring_without_truth_blames_the_bundle(
    gw_tree, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, _ = gw_tree
    res = _write_predictions(tmp_path / "res", [0], [0.5])
    (tmp_path / "empty").mkdir()
    code = score_main(
        [
            "--ref",
            str(tmp_path / "empty"),
            "--res",
            str(res),
            "--output",
            str(tmp_path / "out"),
        ],
        program_dir=root / "scoring_program",
    )
    assert code == 2
    assert "no truth.npz in the reference data" in capsys.readouterr().err


# -- plugins that cannot, or should not, travel ----------------------------------------

FAKE_PLUGIN = """\
import json
import shutil
import shutil

import numpy as np
import yaml  # a dependency the platform image may not have

from harness.hookspecs import hookimpl
from harness.types import DatasetPlugin, MetricPlugin, PreparedSplit

YAML_VERSION = yaml.__version__


class FakeDataset(DatasetPlugin):
    name = "cbfake"
    version = "1"
    splits = ("validation",)

    def prepare(self, split, *, cache_dir, data_dir=None, options=None):
        leak = bool((options or {}).get("leak"))
        root = cache_dir / ("leak" if leak else "clean")
        inputs = root / "inputs"
        inputs.mkdir(parents=True, exist_ok=True)
        np.save(inputs / "inputs.npy", np.arange(10, dtype=np.float32)[:, None])
        (inputs / "manifest.json").write_text(json.dumps(
            {"format_version": 1, "kind": "array", "ids": list(range(10)),
             "array": "inputs.npy"}))
        np.savez(root / "truth.npz", ids=np.arange(10),
                 labels=(np.arange(10) >= 7).astype(np.int8))
        if leak:
            shutil.copyfile(root / "truth.npz", inputs / "extra.bin")
        return PreparedSplit(self.name, split, inputs, root / "truth.npz")


def gap_loss(truth, y_score):
    labels = truth.labels
    return float(y_score[labels == 0].mean() - y_score[labels == 1].mean())


@hookimpl
def harness_register_datasets():
    return [FakeDataset()]


@hookimpl
def harness_register_metrics():
    return [MetricPlugin(name="cbfake-gap-loss", func=gap_loss,
                         greater_is_better=False)]
"""

FAKE_CHALLENGE = """\
schema_version: 1
name: cbfake
version: "1"
dataset: {{name: cbfake, options: {{leak: {leak}}}}}
submission:
  kind: python-model
  protocol: {{name: batch, options: {{load: if-defined, output_shape: []}}}}
labels: {{positive: 1, higher_is_anomalous: true}}
metrics:
  - {{key: GAP, metric: cbfake-gap-loss, direction: lower, primary: true,
     precision: 2}}
limits: {{wall_seconds: 30}}
phases:
  - {{name: development, split: validation}}
"""


@pytest.fixture
def fake_plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Plugins:
    package = tmp_path / "pkgs" / "cbfake_plugin"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "plugin.py").write_text(FAKE_PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path / "pkgs"))
    import importlib

    module = importlib.import_module("cbfake_plugin.plugin")
    return load_plugins(extra=[("cbfake", module)])


def _fake_challenge(tmp_path: Path, plugins: Plugins, *, leak: bool):
    path = tmp_path / f"cbfake-{leak}.yaml"
    path.write_text(FAKE_CHALLENGE.format(leak=str(leak).lower()))
    return load_challenge(path, plugins)


def test_lower_is_better_sorts_ascending_and_outside_imports_are_noted(
    tmp_path: Path, fake_plugins: Plugins
) -> None:
    challenge = _fake_challenge(tmp_path, fake_plugins, leak=False)
    result = write_bundle_tree(
        challenge,
        fake_plugins,
        tmp_path / "b",
        ExportOptions(cache_dir=tmp_path / "cache"),
    )
    column = read_competition(tmp_path / "b").leaderboards[0].columns[0]
    assert (column.key, column.sorting, column.precision) == ("GAP", "asc", 2)
    assert len(result.notes) == 1
    assert "imports yaml" in result.notes[0]
    assert (
        tmp_path / "b" / "scoring_program" / "cbfake_plugin" / "plugin.py"
    ).is_file()


def test_truth_copied_into_the_inputs_is_refused(
    tmp_path: Path, fake_plugins: Plugins
) -> None:
    challenge = _fake_challenge(tmp_path, fake_plugins, leak=True)
    with pytest.raises(PluginError, match=r"copy of the truth .*\(extra.bin\)"):
        write_bundle_tree(
            challenge,
            fake_plugins,
            tmp_path / "b",
            ExportOptions(cache_dir=tmp_path / "cache"),
        )


def test_a_metric_registered_in_process_cannot_travel(
    tmp_path: Path, toy_plugins: Plugins, toy_challenge_file: Path
) -> None:
    challenge = load_challenge(toy_challenge_file, toy_plugins)
    with pytest.raises(PluginError, match="registered in this process"):
        write_bundle_tree(challenge, toy_plugins, tmp_path / "b")
