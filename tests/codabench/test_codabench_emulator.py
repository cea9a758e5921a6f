"""The compute-worker emulator, on exported and on hand-written bundles.

Round trips: each builtin challenge is exported, its reference submission is
run through the emulator, and the scores must equal those of ``harness run``.
Fault cases use small hand-written bundles whose programs are plain scripts.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from codabench_support import (
    REFERENCE_SUBMISSIONS,
    answer_submission,
    leftovers,
    write_bundle,
    zip_folder,
)

from harness.challenge import find_challenge
from harness.codabench.bundle import BundleError
from harness.codabench.emulate import Emulation, EmulatorOptions, run_bundle
from harness.codabench.export import ExportOptions, export_bundle
from harness.errors import SandboxUnavailableError
from harness.evaluate import RunOptions, run_submission
from harness.plugins import Plugins

docker = pytest.mark.docker


def emulate(bundle: Path, submission: Path, tmp_path: Path, client, **kw) -> Emulation:
    options = EmulatorOptions(
        results_dir=tmp_path / "emulated", client_factory=lambda: client, **kw
    )
    result = run_bundle(bundle, submission, options=options)
    assert leftovers(client, result.run_id) == []
    return result


def row(result: Emulation) -> dict[str, float | None]:
    return {c["key"]: c["value"] for c in result.leaderboards[0]["columns"]}


# -- round trips -----------------------------------------------------------------------

ROUND_TRIPS = [
    ("gw-anomaly", "gw-pca"),
    ("sea-level-anomaly", "sealevel-threshold"),
    ("butterfly-hybrid", "butterfly-pattern-logistic"),
]


@docker
@pytest.mark.parametrize(("challenge_name", "submission_name"), ROUND_TRIPS)
def test_round_trip_matches_harness_run(
    challenge_name: str,
    submission_name: str,
    tmp_path: Path,
    plugins: Plugins,
    cache_dir: Path,
    docker_client,
) -> None:
    challenge = find_challenge(challenge_name, plugins)
    submission = REFERENCE_SUBMISSIONS / submission_name
    bundle = export_bundle(
        challenge,
        plugins,
        tmp_path / "bundle.zip",
        ExportOptions(cache_dir=cache_dir, phases=("development",)),
    ).path
    result = emulate(bundle, submission, tmp_path, docker_client)
    assert result.status == "succeeded", result.failure
    assert result.submission_kind == "ingested"
    assert [s.kind for s in result.tasks[0].steps] == ["ingestion", "scoring"]
    assert all(s.exit_code == 0 for s in result.tasks[0].steps)

    record = run_submission(
        challenge,
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
    emulated = row(result)
    assert emulated.keys() == expected.keys()
    for key, value in expected.items():
        assert emulated[key] == pytest.approx(value, abs=1e-9), key
    assert list(emulated)[0] == challenge.primary.key

    if challenge_name == "gw-anomaly":
        # The same predictions as a result submission, zipped: no model runs.
        results = tmp_path / "results"
        results.mkdir()
        shutil.copyfile(
            tmp_path / "runs" / record["run_id"] / "predictions.json",
            results / "predictions.json",
        )
        archive = zip_folder(results, tmp_path / "results.zip")
        again = emulate(bundle, archive, tmp_path, docker_client)
        assert again.status == "succeeded", again.failure
        assert "result submission" in again.tasks[0].steps[0].stdout
        assert row(again) == emulated


# -- hand-written bundles --------------------------------------------------------------


@docker
def test_result_submission_without_ingestion(tmp_path: Path, docker_client) -> None:
    columns = [
        {
            "title": "Accuracy",
            "key": "accuracy",
            "index": 0,
            "sorting": "desc",
            "precision": 3,
        },
        {"title": "Speed", "key": "speed", "index": 1, "sorting": "asc"},
        {
            "title": "Mean",
            "key": "mean",
            "index": 2,
            "sorting": "desc",
            "computation": "avg",
            "computation_indexes": [0, 1],
        },
    ]
    bundle = write_bundle(tmp_path / "bundle", columns=columns)
    result = emulate(bundle, answer_submission(tmp_path), tmp_path, docker_client)
    assert result.status == "succeeded", result.failure
    assert result.submission_kind == "results"
    assert [s.kind for s in result.tasks[0].steps] == ["scoring"]
    assert row(result) == {"accuracy": 1.0, "speed": 0.25, "mean": 0.625}
    texts = [c["text"] for c in result.leaderboards[0]["columns"]]
    assert texts == ["1.000", "0.25", "0.62"]
    saved = Path(result.folder or "")
    assert json.loads((saved / "task-0" / "scores.json").read_text())["speed"] == 0.25
    assert "scored" in (saved / "task-0" / "scoring.stdout.txt").read_text()
    assert json.loads((saved / "result.json").read_text())["status"] == "succeeded"


INGEST = """\
import os, shutil, subprocess, sys

print("ingestion sees", sorted(os.listdir("/app")))
print("reference visible:", os.path.exists("/app/input/ref"))
code = subprocess.call([sys.executable, "/app/ingested_program/main.py",
                        "/app/input_data/question.txt", "/app/output/answer.txt"])
sys.exit(code)
"""


@docker
def test_code_submission_through_a_handwritten_ingestion(
    tmp_path: Path, docker_client
) -> None:
    # The input data also carries a copy of the answer, which must be noted.
    bundle = write_bundle(
        tmp_path / "bundle",
        ingestion=INGEST,
        input_data={"question.txt": "6 7\n", "hint.txt": "42\n"},
    )
    submission = tmp_path / "code"
    submission.mkdir()
    (submission / "main.py").write_text(
        textwrap.dedent("""\
        import sys
        a, b = open(sys.argv[1]).read().split()
        open(sys.argv[2], "w").write(str(int(a) * int(b)))
        """)
    )
    result = emulate(bundle, submission, tmp_path, docker_client)
    assert result.status == "succeeded", result.failure
    ingestion = result.tasks[0].steps[0]
    assert "reference visible: False" in ingestion.stdout
    assert "'ingested_program', 'input_data', 'output', 'program'" in ingestion.stdout
    assert row(result)["accuracy"] == 1.0
    assert (
        "task 0: input data hint.txt is identical to reference file answer.txt: "
        "submitted code can read the truth"
    ) in result.notes


@docker
def test_submission_with_its_own_command_and_a_zipped_program(
    tmp_path: Path, docker_client
) -> None:
    bundle = write_bundle(tmp_path / "bundle", input_data={"question.txt": "6 7\n"})
    program = bundle / "scoring_program"
    zip_folder(program, bundle / "scoring.zip")
    shutil.rmtree(program)
    text = (bundle / "competition.yaml").read_text()
    (bundle / "competition.yaml").write_text(
        text.replace("scoring_program: scoring_program", "scoring_program: scoring.zip")
    )
    submission = tmp_path / "program"
    submission.mkdir()
    (submission / "metadata.yaml").write_text("command: python3 $program/solve.py\n")
    (submission / "solve.py").write_text(
        "a, b = open('/app/input_data/question.txt').read().split()\n"
        "open('/app/output/answer.txt', 'w').write(str(int(a) * int(b)))\n"
    )
    result = emulate(bundle, submission, tmp_path, docker_client)
    assert result.status == "succeeded", result.failure
    assert result.submission_kind == "program"
    steps = result.tasks[0].steps
    assert [(s.kind, s.command) for s in steps] == [
        ("submission", "python3 /app/program/solve.py"),
        ("scoring", "python3 /app/program/score.py"),
    ]
    assert row(result)["accuracy"] == 1.0


@docker
def test_archives_with_an_enclosing_folder_and_macos_debris_are_accepted(
    tmp_path: Path, docker_client
) -> None:
    bundle = zip_folder(
        write_bundle(tmp_path / "bundle"),
        tmp_path / "bundle.zip",
        enclosing="my-competition",
        junk=True,
    )
    submission = zip_folder(
        answer_submission(tmp_path),
        tmp_path / "sub.zip",
        enclosing="my-answer",
        junk=True,
    )
    result = emulate(bundle, submission, tmp_path, docker_client)
    assert result.status == "succeeded", result.failure
    notes = "\n".join(result.notes)
    # One macOS resource file per member, plus one .DS_Store.
    expected = (("bundle", "my-competition", 5), ("submission", "my-answer", 2))
    for what, top, junk in expected:
        assert f"{what}: the archive holds one enclosing folder {top!r}" in notes
        assert f"{what}: skipped {junk} system file(s)" in notes
        assert f"there the files would sit under {top}/" in notes
    assert row(result)["accuracy"] == 1.0


SCORE_THEN_FAIL = """\
import json, sys
json.dump({"accuracy": 1.0, "speed": 0.1}, open("/app/output/scores.json", "w"))
print("scores written")
sys.stderr.write("then something broke\\n")
sys.exit(3)
"""


@docker
def test_scoring_that_exits_non_zero_fails_despite_its_scores(
    tmp_path: Path, docker_client
) -> None:
    bundle = write_bundle(tmp_path / "bundle", scoring=SCORE_THEN_FAIL)
    result = emulate(bundle, answer_submission(tmp_path), tmp_path, docker_client)
    assert result.status == "failed"
    assert result.leaderboards == []
    failure = result.failure or {}
    assert (failure["stage"], failure["kind"], failure["task"]) == (
        "scoring",
        "exit-code",
        0,
    )
    assert "exited with code 3" in failure["message"]
    assert "then something broke" in failure["message"]
    assert (
        "wrote scores.json before failing; those scores are ignored"
        in (failure["message"])
    )
    assert result.tasks[0].steps[0].stdout.strip() == "scores written"


def _scores_bundle(tmp_path: Path, text: str) -> Path:
    scoring = f"open('/app/output/scores.json', 'w').write({text!r})\n"
    return write_bundle(tmp_path / "bundle", scoring=scoring)


@docker
def test_nan_and_infinity_in_scores_are_rejected(tmp_path: Path, docker_client) -> None:
    bundle = _scores_bundle(tmp_path, '{"accuracy": NaN, "speed": Infinity}')
    result = emulate(bundle, answer_submission(tmp_path), tmp_path, docker_client)
    failure = result.failure or {}
    assert (failure["stage"], failure["kind"]) == ("scores", "invalid-scores")
    assert "'accuracy': nan" in failure["message"]
    assert "'speed': inf" in failure["message"]


@docker
def test_scores_keys_that_miss_the_columns_are_listed(
    tmp_path: Path, docker_client
) -> None:
    bundle = _scores_bundle(tmp_path, '{"Accuracy": 1.0, "speed": 0.5, "extra": 2}')
    result = emulate(bundle, answer_submission(tmp_path), tmp_path, docker_client)
    failure = result.failure or {}
    assert (failure["stage"], failure["kind"]) == ("scores", "invalid-scores")
    assert "unknown key(s) ['Accuracy', 'extra']" in failure["message"]
    assert "column(s) ['accuracy'] get no value" in failure["message"]


SLOW_SCORING = """\
import time
print("loaded the reference", flush=True)
print("computing", flush=True)
time.sleep(60)
print("never printed")
"""


@docker
def test_time_out_keeps_printed_lines_and_leaves_no_container(
    tmp_path: Path, docker_client
) -> None:
    bundle = write_bundle(tmp_path / "bundle", scoring=SLOW_SCORING, time_limit=3)
    result = emulate(bundle, answer_submission(tmp_path), tmp_path, docker_client)
    failure = result.failure or {}
    assert (failure["stage"], failure["kind"]) == ("scoring", "timeout")
    assert "execution time limit of 3 s" in failure["message"]
    assert "loaded the reference\ncomputing" in failure["message"]
    step = result.tasks[0].steps[0]
    assert step.timed_out
    assert 3 <= step.seconds < 20
    assert "never printed" not in step.stdout
    saved = Path(result.folder or "") / "task-0" / "scoring.stdout.txt"
    assert saved.read_text() == "loaded the reference\ncomputing\n"


@docker
def test_terminating_the_command_removes_the_running_container(
    tmp_path: Path, docker_client
) -> None:
    from harness_sandboxes.docker import LABEL, _owner

    bundle = write_bundle(tmp_path / "bundle", scoring=SLOW_SCORING, time_limit=100)
    command = [
        sys.executable,
        "-m",
        "harness.cli",
        "codabench",
        "run",
        str(bundle),
        str(answer_submission(tmp_path)),
        "--results-dir",
        str(tmp_path / "r"),
    ]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    owner = _owner().rsplit(":", 1)[0] + f":{child.pid}"
    selector = {"label": f"{LABEL}.owner={owner}"}
    try:
        deadline = time.monotonic() + 60
        while not docker_client.containers.list(filters=selector):
            assert child.poll() is None, child.communicate()
            assert time.monotonic() < deadline, "no container was started"
            time.sleep(0.1)
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=30) == 128 + signal.SIGTERM
    finally:
        child.kill()
        child.communicate()
    assert docker_client.containers.list(all=True, filters=selector) == []
    (saved,) = (tmp_path / "r").glob("codabench-*/result.json")
    result = json.loads(saved.read_text())
    assert result["failure"]["kind"] == "interrupted"


@docker
def test_failing_ingestion_stops_before_scoring(tmp_path: Path, docker_client) -> None:
    bundle = write_bundle(
        tmp_path / "bundle", ingestion=INGEST, input_data={"question.txt": "6 7\n"}
    )
    submission = tmp_path / "code"
    submission.mkdir()
    (submission / "main.py").write_text("raise SystemExit('no answer today')\n")
    result = emulate(bundle, submission, tmp_path, docker_client)
    failure = result.failure or {}
    assert (failure["stage"], failure["kind"]) == ("ingestion", "exit-code")
    assert "no answer today" in failure["message"]
    assert [s.kind for s in result.tasks[0].steps] == ["ingestion"]


@docker
def test_missing_image_is_reported_with_a_fix(tmp_path: Path, docker_client) -> None:
    bundle = write_bundle(tmp_path / "bundle", image="no-such/image:0")
    with pytest.raises(SandboxUnavailableError, match="no-such/image:0 is not on"):
        emulate(bundle, answer_submission(tmp_path), tmp_path, docker_client)


# -- malformed bundles (no engine needed) ----------------------------------------------


def test_malformed_competition_yaml_lists_every_problem(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "competition.yaml").write_text(
        textwrap.dedent("""\
        version: 2
        tasks:
          - {index: 0, scoring_program: scoring_programme}
        phases:
          - {index: 0, name: Dev, tasks: [0, 1], execution_time_limit: -5}
        leaderboards:
          - primary_index: 7
            columns:
              - {key: a, index: 0, sorting: up}
              - {key: a, index: 1, computation: median, computation_indexes: [0]}
        """)
    )
    (bundle / "scoring_program").mkdir()
    (bundle / "scoring_program" / "score.py").write_text("print(1)\n")
    with pytest.raises(BundleError) as info:
        run_bundle(bundle, tmp_path, options=EmulatorOptions(results_dir=None))
    message = str(info.value)
    assert "7 problem(s)" in message
    assert "primary_index: found 7, but no column has that index" in message
    assert (
        "'scoring_programme' does not exist in the bundle; did you mean "
        "'scoring_program'?" in message
    )
    assert "task index 1 is not defined" in message
    assert "execution_time_limit: found -5" in message
    assert "sorting: found 'up'" in message
    assert "computation: found 'median'" in message
    assert "key(s) ['a'] appear more than once" in message


def test_bundle_without_competition_yaml_at_its_root(tmp_path: Path) -> None:
    inner = write_bundle(tmp_path / "outer" / "inner")
    with pytest.raises(BundleError, match="zip the bundle's files themselves"):
        run_bundle(inner.parent, tmp_path, options=EmulatorOptions(results_dir=None))


def test_unknown_phase_suggests_the_closest(tmp_path: Path) -> None:
    bundle = write_bundle(tmp_path / "bundle")
    with pytest.raises(BundleError, match="no phase 'developmnt'; did you mean"):
        run_bundle(
            bundle,
            tmp_path,
            phase="developmnt",
            options=EmulatorOptions(results_dir=None),
        )


@pytest.mark.parametrize(
    ("given", "meant"),
    [
        ("input_data/developmnt", "input_data/development"),
        ("input_dat/development", "input_data/development"),
        ("input_data/development/extra", None),
    ],
)
def test_a_misspelt_nested_path_gets_the_nearest_real_one(
    tmp_path: Path, given: str, meant: str | None
) -> None:
    from harness.codabench.bundle import _nearest_path

    (tmp_path / "input_data" / "development").mkdir(parents=True)
    (tmp_path / "input_data" / "final").mkdir()
    (tmp_path / "reference_data").mkdir()
    assert _nearest_path(tmp_path, given) == meant
