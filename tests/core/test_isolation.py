"""The child never reaches the truth, the network or the harness's files."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from harness.challenge import load_challenge
from harness.evaluate import RunOptions, run_submission

PROBE = """
import json, os, socket
import numpy as np

TARGETS = {targets!r}

class Model:
    def predict(self, X):
        seen = {{}}
        for path in TARGETS:
            try:
                if os.path.isdir(path):
                    seen[path] = "listed: " + ",".join(os.listdir(path))
                else:
                    with open(path, "rb") as fh:
                        seen[path] = "read %d bytes" % len(fh.read())
            except OSError as exc:
                seen[path] = "blocked: " + type(exc).__name__
        try:
            socket.create_connection(("127.0.0.1", 9), timeout=2)
            seen["network"] = "connected"
        except OSError as exc:
            seen["network"] = "blocked: " + type(exc).__name__
        seen["environ"] = sorted(os.environ)
        print("PROBE " + json.dumps(seen), flush=True)
        return np.zeros(len(X))
"""


def test_truth_unreachable_from_child(
    toy_plugins, toy_challenge_file, make_submission, request
):
    # Outside /tmp, which the process sandbox replaces wholesale: the truth
    # must be hidden by the sandbox's own rules, not by that accident.
    outside = Path(tempfile.mkdtemp(prefix="harness-isolation-", dir="/var/tmp"))
    request.addfinalizer(lambda: shutil.rmtree(outside, ignore_errors=True))
    cache = outside / "cache"
    results = outside / "results"
    challenge = load_challenge(toy_challenge_file, toy_plugins)
    options = RunOptions(
        sandbox="process", cache_dir=cache, results_dir=results, bootstrap=0
    )
    # Prepare once so the truth exists before the probe looks for it.
    from harness.evaluate import prepare_split

    prepared = prepare_split(challenge, toy_plugins, "validation", options)
    truth = prepared.truth_file.resolve()
    assert truth.is_file()
    targets = [
        str(truth),
        str(truth.parent),
        str(cache),
        str(results),
        str(cache / "datasets" / "toy" / "validation" / "truth.npz"),
    ]
    submission = make_submission(PROBE.format(targets=targets))

    record = run_submission(
        challenge, "development", submission, plugins=toy_plugins, options=options
    )

    assert record["status"] == "succeeded", record["failure"]
    line = next(
        x for x in record["sandbox"]["stdout"].splitlines() if x.startswith("PROBE ")
    )
    seen = json.loads(line[len("PROBE ") :])
    for path in targets:
        assert "truth" not in seen[path], (path, seen[path])
        assert not seen[path].startswith("read"), (path, seen[path])
    assert seen["network"].startswith("blocked"), seen["network"]
    # Only the variables the sandbox sets are passed on.
    assert "HARNESS_CACHE" not in seen["environ"]
    assert set(seen["environ"]) <= {
        "PATH",
        "HOME",
        "LANG",
        "PYTHONDONTWRITEBYTECODE",
        "PYTHONUNBUFFERED",
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
        "OPENBLAS_CORETYPE",
        "OPENBLAS_L2_SIZE",
        "LC_CTYPE",
        "PWD",
    }
