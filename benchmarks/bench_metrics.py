"""Benchmark the builtin ranking metrics and the bootstrap against scikit-learn.

Run from the repository root::

    python benchmarks/bench_metrics.py
    python benchmarks/bench_metrics.py --sizes 100000 1000000 --resamples 200

For each size and each kind of score it times ROC AUC, average precision and
TPR at FPR computed together (``ranking_metrics``: one sort) and the same
three with scikit-learn (three sorts), and measures the peak memory of each
with :mod:`tracemalloc` (NumPy reports its allocations to it). It then times
a bootstrap interval of the three metrics and divides by one evaluation.

Kinds of scores: ``tied`` are rounded to three decimals (a few thousand
distinct values, as rounded model outputs give); ``distinct`` are float64
with no ties. Labels are 1 with probability ``--positive-share``, and
positives score higher on average.
"""

from __future__ import annotations

import argparse
import functools
import gc
import os
import platform
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "plugins")]

from harness.uncertainty import bootstrap_interval  # noqa: E402
from harness_metrics._ranking import ranking_metrics  # noqa: E402

FPR = 0.01
METRICS = ("roc-auc", "average-precision", "tpr-at-fpr")


def ours(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    return ranking_metrics(labels, scores, metrics=METRICS, fpr=FPR)


def sklearn_metrics(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    from sklearn import metrics

    fpr, tpr, _ = metrics.roc_curve(labels, scores, drop_intermediate=False)
    return {
        "roc-auc": metrics.roc_auc_score(labels, scores),
        "average-precision": metrics.average_precision_score(labels, scores),
        "tpr-at-fpr": float(tpr[fpr <= FPR].max()),
    }


def make_data(n: int, kind: str, share: float, seed: int) -> tuple[Any, Any]:
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < share).astype(np.int8)
    scores = rng.normal(size=n) + 1.5 * labels
    if kind == "tied":
        scores = np.round(scores, 3)
    return labels, scores


def best_time(func: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


def peak_bytes(func: Callable[[], object]) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        func()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def machine() -> str:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import sklearn

    return (
        f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, "
        f"numpy {np.__version__}, scikit-learn {sklearn.__version__}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10**5, 10**6, 10**7])
    parser.add_argument("--kinds", nargs="+", default=["tied", "distinct"])
    parser.add_argument(
        "--bootstrap-sizes",
        type=int,
        nargs="*",
        default=[10**5, 10**6],
        help="sizes at which to time a bootstrap interval (none: skip)",
    )
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--positive-share", type=float, default=0.5)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    print(machine())
    print(
        f"metrics: {', '.join(METRICS)} (fpr={FPR}); times are the best of "
        f"{args.repeats} (1 at 10^7 and above)\n"
    )
    header = (
        f"{'n':>10} {'kind':>8} | {'ours s':>8} {'sklearn s':>9} {'speed-up':>8} | "
        f"{'ours MB':>8} {'sklearn MB':>10} {'ours/input':>10}"
    )
    print(header)
    print("-" * len(header))
    singles: dict[tuple[int, str], tuple[float, float]] = {}
    for n in args.sizes:
        repeats = 1 if n >= 10**7 else args.repeats
        for kind in args.kinds:
            labels, scores = make_data(n, kind, args.positive_share, seed=n)
            a = ours(labels, scores)
            b = sklearn_metrics(labels, scores)
            for key in METRICS:
                if abs(a[key] - b[key]) > 1e-9:
                    raise SystemExit(f"{key} differs at n={n}: {a[key]} != {b[key]}")
            t_ours = best_time(functools.partial(ours, labels, scores), repeats)
            t_sk = best_time(
                functools.partial(sklearn_metrics, labels, scores), repeats
            )
            m_ours = peak_bytes(functools.partial(ours, labels, scores))
            m_sk = peak_bytes(functools.partial(sklearn_metrics, labels, scores))
            singles[(n, kind)] = (t_ours, t_sk)
            inputs = labels.nbytes + scores.nbytes
            print(
                f"{n:>10} {kind:>8} | {t_ours:>8.3f} {t_sk:>9.3f} "
                f"{t_sk / t_ours:>7.1f}x | {m_ours / 2**20:>8.1f} "
                f"{m_sk / 2**20:>10.1f} {m_ours / inputs:>9.1f}x"
            )
            del labels, scores

    if args.bootstrap_sizes:
        print(
            f"\nbootstrap interval, {args.resamples} stratified resamples, "
            "weights over one shared sort"
        )
        header = (
            f"{'n':>10} {'kind':>8} | {'CI s':>8} {'per resample ms':>15} | "
            f"{'x ours':>7} {'x sklearn':>9}"
        )
        print(header)
        print("-" * len(header))
    for n in args.bootstrap_sizes or []:
        for kind in args.kinds:
            labels, scores = make_data(n, kind, args.positive_share, seed=n)
            if (n, kind) in singles:
                t_ours, t_sk = singles[(n, kind)]
            else:
                t_ours = best_time(
                    functools.partial(ours, labels, scores), args.repeats
                )
                t_sk = best_time(functools.partial(sklearn_metrics, labels, scores), 1)
            metric = functools.partial(ranking_metrics, metrics=METRICS, fpr=FPR)
            start = time.perf_counter()
            bootstrap_interval(
                metric, labels, scores, n_resamples=args.resamples, weighted=True
            )
            t_ci = time.perf_counter() - start
            print(
                f"{n:>10} {kind:>8} | {t_ci:>8.2f} "
                f"{1000 * t_ci / args.resamples:>15.2f} | "
                f"{t_ci / t_ours:>7.1f} {t_ci / t_sk:>9.1f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
