"""End to end through the process sandbox on the toy challenge."""

from __future__ import annotations

import pytest

from harness.challenge import load_challenge
from harness.evaluate import RunOptions, run_submission
from harness.records import read_record

GOOD = """
import numpy as np

class Model:
    def load(self):
        self.offset = 0.0

    def predict(self, X):
        return X.mean(axis=1) + self.offset
"""


def run(toy_plugins, toy_challenge_file, submission, tmp_path, **limits):
    challenge = load_challenge(toy_challenge_file, toy_plugins)
    options = RunOptions(
        sandbox="process",
        cache_dir=tmp_path / "cache",
        results_dir=tmp_path / "results",
        bootstrap=50,
    )
    return run_submission(
        challenge, "development", submission, plugins=toy_plugins, options=options
    )


def test_good_submission_is_scored(
    toy_plugins, toy_challenge_file, make_submission, tmp_path
):
    record = run(toy_plugins, toy_challenge_file, make_submission(GOOD), tmp_path)
    assert record["status"] == "succeeded", record["failure"]
    assert record["scores"]["MEAN_GAP"]["value"] == pytest.approx(5.0)
    stored = read_record(tmp_path / "results" / record["run_id"])
    assert stored["primary"] == {"key": "MEAN_GAP", "value": pytest.approx(5.0)}
    assert len(stored["submission"]["sha256"]) == 64
    assert len(stored["data"]["truth_sha256"]) == 64
    assert stored["versions"]["plugins"]["toy"]


@pytest.mark.parametrize(
    ("source", "stage", "fragment"),
    [
        (
            "return X.mean(axis=1, keepdims=True)",
            "runner",
            "shape (20, 1) where (20,) was expected",
        ),
        ("return [float('nan')] * len(X)", "validation", "not finite"),
        ("return X.mean(axis=1)[:-1]", "runner", "shape (19,) where (20,)"),
        ("return ['a'] * len(X)", "runner", "expected numbers"),
    ],
)
def test_bad_outputs_are_named(
    toy_plugins, toy_challenge_file, make_submission, tmp_path, source, stage, fragment
):
    code = f"class Model:\n    def predict(self, X):\n        {source}\n"
    record = run(toy_plugins, toy_challenge_file, make_submission(code), tmp_path)
    assert record["status"] == "failed"
    assert record["failure"]["stage"] == stage
    assert fragment in record["failure"]["message"]


def test_raise_in_load(toy_plugins, toy_challenge_file, make_submission, tmp_path):
    code = """
class Model:
    def load(self):
        raise RuntimeError("weights missing")
    def predict(self, X):
        return X.sum(1)
"""
    record = run(toy_plugins, toy_challenge_file, make_submission(code), tmp_path)
    failure = record["failure"]
    assert failure["stage"] == "runner"
    assert failure["call"] == "load()"
    assert "RuntimeError: weights missing" in failure["message"]


def test_sleep_past_deadline(
    toy_plugins, toy_challenge_file, make_submission, tmp_path
):
    toy_challenge_file.write_text(
        toy_challenge_file.read_text().replace("wall_seconds: 20", "wall_seconds: 2")
    )
    code = """
import time
class Model:
    def predict(self, X):
        print("starting to think", flush=True)
        time.sleep(60)
"""
    record = run(toy_plugins, toy_challenge_file, make_submission(code), tmp_path)
    assert record["failure"]["kind"] == "timeout"
    assert "wall-clock limit of 2 s" in record["failure"]["message"]
    assert "starting to think" in record["failure"]["message"]
    assert record["timings"]["sandbox"] < 15


def test_memory_past_limit(toy_plugins, toy_challenge_file, make_submission, tmp_path):
    code = """
import numpy as np
class Model:
    def predict(self, X):
        hog = np.ones((4, 1024, 1024, 1024), dtype=np.uint8)
        return hog.sum()
"""
    record = run(toy_plugins, toy_challenge_file, make_submission(code), tmp_path)
    assert record["status"] == "failed"
    assert "MemoryError" in record["failure"]["message"]
    assert "memory limit is 1024 MB" in record["failure"]["message"]


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ("transpose: [0, 2]", "transpose [0, 2] must name each axis of the inputs"),
        ("standardise: {axis: 3}", "standardise.axis 3 is not an axis of the inputs"),
    ],
)
def test_protocol_options_that_do_not_fit_the_data_are_the_challenges_fault(
    toy_plugins, toy_challenge_file, make_submission, tmp_path, options, fragment
):
    text = toy_challenge_file.read_text().replace(
        "output_shape: []}", f"output_shape: [], {options}}}"
    )
    path = tmp_path / "options.yaml"
    path.write_text(text)
    record = run(toy_plugins, path, make_submission(GOOD), tmp_path)
    assert record["status"] == "failed"
    failure = record["failure"]
    assert (failure["stage"], failure["kind"]) == ("challenge", "protocol-options")
    assert fragment in failure["message"] and "shape (20, 3)" in failure["message"]
    assert "not the submission" in failure["message"]
    # No submission code ran.
    assert "sandbox" not in record["timings"]
    assert record["sandbox"].get("exit_code") is None


def test_a_kill_for_output_is_not_hidden_by_the_runners_own_report(
    toy_plugins, toy_challenge_file, make_submission, tmp_path
):
    text = toy_challenge_file.read_text().replace(
        "processes: 32}", "processes: 32, output_mb: 1}"
    )
    path = tmp_path / "small-output.yaml"
    path.write_text(text)
    source = """
        import os, sys
        class Model:
            def predict(self, X):
                output = sys.argv[sys.argv.index("--output") + 1]
                for i in range(3):
                    with open(os.path.join(output, f"junk-{i}.bin"), "wb") as fh:
                        fh.write(b"j" * 900_000)
                raise ValueError("all fine, nothing to see")
        """
    record = run(toy_plugins, path, make_submission(source), tmp_path)
    failure = record["failure"]
    assert (failure["stage"], failure["kind"]) == ("sandbox", "killed"), failure
    assert "output limit of 1048576 bytes" in failure["message"]
    assert "nothing to see" not in failure["message"]


def test_only_files_inside_the_data_folder_count_as_missing_data(tmp_path):
    from harness.evaluate import _missing_data

    inside = FileNotFoundError(2, "No such file or directory", str(tmp_path / "a.csv"))
    assert _missing_data(inside, tmp_path)
    assert not _missing_data(inside, None)
    elsewhere = FileNotFoundError(2, "No such file or directory", "/nonexistent/a.csv")
    assert not _missing_data(elsewhere, tmp_path)
    assert not _missing_data(ValueError("bad"), tmp_path)
