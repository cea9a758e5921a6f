"""Plugin discovery, blocking and the errors that name a faulty plugin."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness.challenge import load_challenge
from harness.errors import ChallengeError, PluginError
from harness.evaluate import RunOptions, run_submission
from harness.hookspecs import hookimpl
from harness.plugins import load_plugins
from harness.types import MetricPlugin
from tests.conftest import TOY_CHALLENGE, ToyPlugin

OUTSIDE_PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "harness-extra-metric"
version = "2.3.4"

[project.entry-points.harness]
extra-metric = "harness_extra_metric"
"""

OUTSIDE_MODULE = '''\
"""An outside plugin: the median score of anomalies minus that of the rest."""
import numpy as np
from harness.hookspecs import hookimpl
from harness.types import MetricPlugin

__version__ = "2.3.4"


def median_gap(truth, y_score):
    labels = truth.labels
    return float(np.median(y_score[labels == 1]) - np.median(y_score[labels == 0]))


@hookimpl
def harness_register_metrics():
    return [MetricPlugin(name="median-gap", func=median_gap)]
'''


@pytest.fixture(scope="module")
def outside_site(tmp_path_factory) -> Path:
    """Build and install a small outside plugin package into its own folder."""
    root = tmp_path_factory.mktemp("outside")
    source = root / "src"
    (source / "harness_extra_metric").mkdir(parents=True)
    (source / "pyproject.toml").write_text(OUTSIDE_PYPROJECT)
    (source / "harness_extra_metric" / "__init__.py").write_text(OUTSIDE_MODULE)
    site = root / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(site),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    assert (site / "harness_extra_metric" / "__init__.py").is_file()
    return site


def test_outside_metric_used_by_a_challenge_then_blocked(
    outside_site, monkeypatch, tmp_path, make_submission
):
    monkeypatch.syspath_prepend(str(outside_site))
    plugins = load_plugins(extra=[("toy", ToyPlugin())])
    info = next(i for i in plugins.infos if i.name == "extra-metric")
    assert (info.distribution, info.version, info.builtin) == (
        "harness-extra-metric",
        "2.3.4",
        False,
    )
    assert plugins.metrics.provider("median-gap") == "extra-metric"

    spec = tmp_path / "uses-outside.yaml"
    spec.write_text(TOY_CHALLENGE.replace("metric: toy-gap", "metric: median-gap"))
    challenge = load_challenge(spec, plugins)
    submission = make_submission(
        "class Model:\n    def predict(self, X):\n        return X.sum(axis=1)\n"
    )
    record = run_submission(
        challenge,
        "development",
        submission,
        plugins=plugins,
        options=RunOptions(
            sandbox="process",
            cache_dir=tmp_path / "c",
            results_dir=tmp_path / "r",
            bootstrap=0,
        ),
    )
    assert record["status"] == "succeeded", record["failure"]
    assert record["scores"]["MEAN_GAP"]["value"] == pytest.approx(15.0)
    assert record["versions"]["plugins"]["extra-metric"] == "2.3.4"

    blocked = load_plugins(block=["extra-metric"], extra=[("toy", ToyPlugin())])
    assert "median-gap" not in blocked.metrics
    with pytest.raises(ChallengeError, match="unknown metric 'median-gap'"):
        load_challenge(spec, blocked)


def test_block_through_environment(monkeypatch):
    monkeypatch.setenv("HARNESS_BLOCK_PLUGINS", "sandbox-process, models")
    plugins = load_plugins()
    assert "process" not in plugins.sandboxes
    assert "python-model" not in plugins.kinds


def _metric_plugin(name: str):
    class Provider:
        @hookimpl
        def harness_register_metrics(self):
            return [MetricPlugin(name=name, func=lambda truth, y: 0.0)]

    return Provider()


def test_duplicate_names_name_both_plugins():
    with pytest.raises(PluginError) as info:
        load_plugins(
            entry_points=False,
            extra=[
                ("first", _metric_plugin("same")),
                ("second", _metric_plugin("same")),
            ],
        )
    message = str(info.value)
    assert "metric 'same'" in message
    assert "'first'" in message and "'second'" in message


def test_unknown_hook_names_the_plugin():
    class Typo:
        @hookimpl
        def harness_register_metricz(self):
            return []

    with pytest.raises(PluginError, match="'typo'.*harness_register_metricz"):
        load_plugins(entry_points=False, extra=[("typo", Typo())])


def test_raising_plugin_is_named():
    class Broken:
        @hookimpl
        def harness_register_datasets(self):
            raise RuntimeError("no disk")

    with pytest.raises(PluginError) as info:
        load_plugins(entry_points=False, extra=[("broken", Broken())])
    assert str(info.value) == (
        "plugin 'broken' raised RuntimeError in harness_register_datasets(): no disk"
    )


def test_wrong_return_type_is_named():
    class Wrong:
        @hookimpl
        def harness_register_metrics(self):
            return ["not a metric"]

    with pytest.raises(
        PluginError, match="'wrong'.*returned a str, expected MetricPlugin"
    ):
        load_plugins(entry_points=False, extra=[("wrong", Wrong())])


def test_unknown_name_suggests_the_closest():
    plugins = load_plugins(entry_points=False, extra=[("toy", ToyPlugin())])
    with pytest.raises(KeyError, match="did you mean 'toy-gap'"):
        plugins.metrics["toy-gpa"]


def test_trace_reports_hook_calls():
    lines: list[str] = []
    plugins = load_plugins(
        entry_points=False, extra=[("toy", ToyPlugin())], trace=lines.append
    )
    plugins.notify_run_finished({"run_id": "x"})
    assert any("harness_run_finished" in line for line in lines)


def test_hook_docstrings_follow_the_template():
    from harness import hookspecs

    names = [n for n in dir(hookspecs) if n.startswith("harness_")]
    assert len(names) >= 8
    for name in names:
        doc = textwrap.dedent(getattr(hookspecs, name).__doc__ or "")
        assert ":returns:" in doc, name
