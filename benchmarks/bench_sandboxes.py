"""Benchmark what a sandbox adds to one submission, against no sandbox at all.

Run from the repository root::

    python benchmarks/bench_sandboxes.py
    python benchmarks/bench_sandboxes.py --repeats 9 --sandboxes process

A model that returns zeros is evaluated on the final phase of
``gw-anomaly`` (the synthetic test split, 4,000 items of shape (2, 200)):

- **direct**: in this process, the way the runner and the host would do it
  without isolation: import ``model.py``, load the inputs, divide each item
  and detector by its standard deviation over time, transpose to
  (N, 200, 2), call ``load()`` and ``predict``, then write the output as a
  predictions file, read and validate it as the host does (schema, ids,
  values) and score it;
- **process** and **docker**: the whole pipeline, ``run_submission`` with
  that sandbox and no bootstrap, which adds staging the submission, hashing
  the inputs and truth, a child process or container, and writing the record.

Every mode runs once to warm up (the split is staged, caches are filled),
then ``--repeats`` times; the table shows the median, the fastest and the
slowest wall time per submission, and the median as a multiple of direct.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "plugins")]

from harness.challenge import Challenge, find_challenge  # noqa: E402
from harness.evaluate import (  # noqa: E402
    RunOptions,
    prepare_split,
    run_submission,
)
from harness.plugins import Plugins, load_plugins  # noqa: E402
from harness.scoring import score_columns  # noqa: E402
from harness.validation import align_predictions, read_predictions  # noqa: E402

CHALLENGE = "gw-anomaly"
PHASE = "final"

NO_OP_MODEL = """\
import numpy as np


class Model:
    def load(self):
        pass

    def predict(self, x):
        return np.zeros(len(x))
"""


def direct(
    challenge: Challenge, plugins: Plugins, submission: Path, options: RunOptions
) -> tuple[float, dict[str, float]]:
    """Evaluate the model in this process; return the primary score."""
    split = challenge.phase(PHASE).split
    prepared = prepare_split(challenge, plugins, split, options)
    protocol = challenge.protocol_options
    spec = importlib.util.spec_from_file_location(
        "bench_model", submission / "model.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    manifest = json.loads((prepared.inputs_dir / "manifest.json").read_text())
    x = np.load(prepared.inputs_dir / manifest["array"]).astype(protocol["dtype"])
    std = x.std(axis=protocol["standardise"]["axis"], keepdims=True)
    std[std == 0] = 1.0
    x = np.ascontiguousarray(np.transpose(x / std, protocol["transpose"]))
    model = module.Model()
    model.load()
    values = np.asarray(model.predict(x), dtype=np.float64)
    path = options.results_dir / "direct-predictions.json"
    path.write_text(
        json.dumps(
            {"format_version": 1, "ids": manifest["ids"], "values": values.tolist()}
        )
    )
    document = read_predictions(path)
    truth = prepared.load_truth()
    aligned = align_predictions(document, truth.ids)
    columns = score_columns(challenge, plugins, truth, aligned)
    return next(c.value for c in columns if c.primary), {}


def sandboxed(
    challenge: Challenge,
    plugins: Plugins,
    submission: Path,
    options: RunOptions,
) -> tuple[float, dict[str, float]]:
    """Run the whole pipeline; return the score and the record's stage times."""
    record = run_submission(
        challenge, PHASE, submission, plugins=plugins, options=options
    )
    if record["status"] != "succeeded":
        raise RuntimeError(f"{options.sandbox} run failed: {record['failure']}")
    return float(record["primary"]["value"]), dict(record["timings"])


Run = Callable[[], "tuple[float, dict[str, float]]"]
STAGES = ("submission", "prepare", "sandbox", "validation", "scoring")


def timed(run: Run, repeats: int) -> tuple[list[float], list[dict[str, float]], float]:
    """Run once to warm up, then ``repeats`` times.

    :returns: wall times, the record's stage times of each run (empty for
        direct runs) and the last primary score.
    """
    score, _ = run()
    times, stages = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        score, timings = run()
        times.append(time.perf_counter() - started)
        stages.append(timings)
    return times, stages, score


def machine() -> list[str]:
    """What the numbers were measured on."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    system = platform.platform()
    try:
        release = Path("/etc/os-release").read_text()
        pretty = [x for x in release.splitlines() if x.startswith("PRETTY_NAME=")]
        if pretty:
            system = pretty[0].split("=", 1)[1].strip('"') + f", {platform.release()}"
    except OSError:
        pass
    lines = [
        f"CPUs: {os.cpu_count()} ({cpu})",
        f"OS: {system}",
        f"Python {platform.python_version()}, NumPy {np.__version__}",
    ]
    bwrap = shutil.which("bwrap")
    if bwrap:
        shown = subprocess.run([bwrap, "--version"], capture_output=True, text=True)
        lines.append(shown.stdout.strip() or "bubblewrap (version unknown)")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument(
        "--sandboxes", nargs="+", default=["process", "docker"], metavar="NAME"
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="dataset cache (default: the harness's usual one)",
    )
    args = parser.parse_args(argv)

    plugins = load_plugins()
    challenge = find_challenge(CHALLENGE, plugins)
    staged = prepare_split(
        challenge,
        plugins,
        challenge.phase(PHASE).split,
        RunOptions(cache_dir=args.cache_dir),
    )
    manifest = json.loads((staged.inputs_dir / "manifest.json").read_text())
    work = Path(tempfile.mkdtemp(prefix="bench-sandboxes-"))
    try:
        submission = work / "no-op"
        submission.mkdir()
        (submission / "model.py").write_text(NO_OP_MODEL)
        base = RunOptions(cache_dir=args.cache_dir, results_dir=work, bootstrap=0)
        modes: dict[str, Run] = {
            "direct": lambda: direct(challenge, plugins, submission, base)
        }
        for name in args.sandboxes:
            status = plugins.sandboxes[name].availability()
            if not status.ok:
                print(f"skipping {name}: {status.reason}", file=sys.stderr)
                continue
            options = RunOptions(
                sandbox=name,
                cache_dir=args.cache_dir,
                results_dir=work / "results",
                bootstrap=0,
            )
            modes[name] = lambda o=options: sandboxed(challenge, plugins, submission, o)
        results, scores = {}, {}
        for name, run in modes.items():
            times, stages, scores[name] = timed(run, args.repeats)
            results[name] = (times, stages)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"{CHALLENGE}/{PHASE}: no-op model, {len(manifest['ids'])} items, ", end="")
    print(f"median of {args.repeats} runs after one warm-up")
    for line in machine():
        print(f"  {line}")
    print("  primary scores: " + ", ".join(f"{k} {v:.4f}" for k, v in scores.items()))
    reference = statistics.median(results["direct"][0])
    print()
    print("| mode | median (s) | fastest (s) | slowest (s) | median / direct |")
    print("|---|---:|---:|---:|---:|")
    for name, (times, _) in results.items():
        median = statistics.median(times)
        print(
            f"| {name} | {median:.3f} | {min(times):.3f} | {max(times):.3f} "
            f"| {median / reference:.1f}x |"
        )
    print()
    print("Median seconds per stage of the pipeline (from the run records):")
    print()
    print("| mode | " + " | ".join(STAGES) + " | rest |")
    print("|---|" + "---:|" * (len(STAGES) + 1))
    for name, (times, stages) in results.items():
        if not any(stages):
            continue
        cells = [statistics.median(s.get(k, 0.0) for s in stages) for k in STAGES]
        # Staging, hashing, writing the record: what no stage timer covers.
        rest = statistics.median(
            t - sum(s.get(k, 0.0) for k in STAGES)
            for t, s in zip(times, stages, strict=True)
        )
        row = " | ".join(f"{c:.3f}" for c in [*cells, rest])
        print(f"| {name} | {row} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
