"""Helpers and pytest fixtures for testing plugins against the harness.

Installed as a pytest plugin (entry point ``pytest11``), so a plugin
author's test suite gets the ``harness_run`` fixture without importing
anything::

    def test_my_metric_in_a_challenge(harness_run, tmp_path):
        record = harness_run("my-challenge.yaml", "my_submission/",
                             plugins=[("mine", my_plugin_module)])
        assert record["status"] == "succeeded"

:func:`metric_contract_problems` checks a metric plugin against the contract
the scorer relies on.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness.types import MetricPlugin, Truth

__all__ = ["harness_run", "metric_contract_problems"]


def metric_contract_problems(
    metric: MetricPlugin,
    options: Mapping[str, Any] | None = None,
    *,
    columns: Mapping[str, np.ndarray] | None = None,
    seed: int = 0,
) -> list[str]:
    """Return what ``metric`` does that the scorer does not accept.

    It is called on 200 random items (and their per-item ``columns``, whose
    values are drawn from the given array) and on the same items with every
    label 0. Checked: the result is a float or, when ``outputs`` are
    declared, a mapping with those keys; values are finite for the random
    items; the single-class input gives NaN or a number rather than raising;
    with ``weighted``, counts of 2 give what duplicating the items gives.
    """
    options = dict(options or {})
    rng = np.random.default_rng(seed)
    n = 200
    labels = np.zeros(n, dtype=np.int8)
    labels[rng.permutation(n)[: n // 4]] = 1
    scores = rng.normal(size=n) + labels
    extra = {k: rng.choice(np.asarray(v), size=n) for k, v in (columns or {}).items()}
    truth = Truth(ids=np.arange(n), labels=labels, columns=extra)
    problems: list[str] = []

    def values(result: Any, what: str) -> dict[str, float] | None:
        if metric.outputs:
            if not isinstance(result, Mapping):
                problems.append(
                    f"{what}: returned {type(result).__name__}, "
                    f"expected a mapping with {metric.outputs}"
                )
                return None
            missing = [k for k in metric.outputs if k not in result]
            if missing:
                problems.append(f"{what}: outputs {missing} missing")
                return None
            return {k: float(result[k]) for k in metric.outputs}
        try:
            return {"": float(result)}
        except (TypeError, ValueError):
            problems.append(f"{what}: returned {result!r}, expected a float")
            return None

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = values(metric.func(truth, scores, **options), "random items")
        if first is not None:
            bad = [k for k, v in first.items() if not math.isfinite(v)]
            if bad:
                problems.append(f"random items: non-finite value(s) for {bad}")
        flat = Truth(ids=truth.ids, labels=np.zeros(n, dtype=np.int8), columns=extra)
        try:
            values(metric.func(flat, scores, **options), "one class only")
        except Exception as exc:  # the contract says: warn and return NaN
            problems.append(f"one class only: raised {type(exc).__name__}: {exc}")
        if metric.weighted and first is not None:
            twice = values(
                metric.func(truth, scores, sample_weight=np.full(n, 2), **options),
                "weights of 2",
            )
            doubled = truth.take(np.repeat(np.arange(n), 2))
            copy = values(
                metric.func(doubled, np.repeat(scores, 2), **options),
                "duplicated items",
            )
            problems += _disagreements(
                twice,
                copy,
                "weights of 2 give {a!r} for {key} but duplicated items give {b!r}",
            )
            # The bootstrap passes its counts as bytes: arithmetic on them
            # must not wrap around.
            as_bytes = values(
                metric.func(
                    truth, scores, sample_weight=np.full(n, 200, np.uint8), **options
                ),
                "weights of 200 as uint8",
            )
            as_int64 = values(
                metric.func(truth, scores, sample_weight=np.full(n, 200), **options),
                "weights of 200 as int64",
            )
            problems += _disagreements(
                as_bytes,
                as_int64,
                "weights of 200 give {a!r} for {key} as uint8 but {b!r} as int64; "
                "compute with the weights in a wider type",
            )
    return problems


def _disagreements(
    a: dict[str, float] | None, b: dict[str, float] | None, message: str
) -> list[str]:
    """``message`` for each output where two evaluations of a metric differ."""
    if a is None or b is None:
        return []
    return [
        message.format(a=a[key], b=b[key], key=key or "value")
        for key in a
        if not math.isclose(a[key], b[key], rel_tol=1e-9, abs_tol=1e-12)
    ]


@pytest.fixture
def harness_run(tmp_path: Path) -> Callable[..., dict[str, Any]]:
    """Run a submission through the full pipeline; return the run record.

    Call it as ``harness_run(challenge, submission, *, plugins=(), phase=None,
    sandbox="process", bootstrap=0, data_dir=None)``; ``challenge`` is a
    registered name or a file, ``plugins`` are ``(name, module)`` pairs
    registered besides the installed ones.
    """
    from harness.challenge import find_challenge
    from harness.evaluate import RunOptions, run_submission
    from harness.plugins import load_plugins

    def run(
        challenge: str | Path,
        submission: str | Path,
        *,
        plugins: Iterable[tuple[str, object]] = (),
        phase: str | None = None,
        sandbox: str | None = "process",
        bootstrap: int = 0,
        data_dir: Path | None = None,
    ) -> dict[str, Any]:
        loaded = load_plugins(extra=list(plugins))
        spec = find_challenge(str(challenge), loaded)
        options = RunOptions(
            sandbox=sandbox,
            data_dir=data_dir,
            cache_dir=tmp_path / "harness-cache",
            results_dir=tmp_path / "harness-results",
            bootstrap=bootstrap,
        )
        return run_submission(
            spec,
            phase or spec.phases[0].name,
            Path(submission),
            plugins=loaded,
            options=options,
        )

    return run
