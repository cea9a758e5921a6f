"""Every hook a harness plugin can implement, grouped by lifecycle phase.

Each registration hook returns a list of objects describing what the plugin
provides. All implementations are called and their lists are merged; a name
provided twice is an error that names both plugins. Every hook docstring
follows one template: what it is for, its parameters, what to return, what
``None`` means and how results are combined.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from pathlib import Path

    from harness.records import RunRecord
    from harness.types import (
        DatasetPlugin,
        MetricPlugin,
        ReporterPlugin,
        SandboxPlugin,
        SubmissionKind,
    )

PROJECT = "harness"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# -- discovery -----------------------------------------------------------------


@hookspec
def harness_register_datasets() -> list[DatasetPlugin] | None:
    """Provide dataset plugins.

    :returns: the datasets this plugin provides, each with a unique ``name``.
        ``None`` means none. Results of every plugin are merged.
    """


@hookspec
def harness_register_metrics() -> list[MetricPlugin] | None:
    """Provide metric plugins.

    :returns: the metrics this plugin provides, each with a unique ``name``.
        ``None`` means none. Results of every plugin are merged.
    """


@hookspec
def harness_register_submission_kinds() -> list[SubmissionKind] | None:
    """Provide submission kinds: how a submission's code is loaded and called.

    :returns: the kinds this plugin provides, each with a unique ``name`` and
        the calling protocols it supports. ``None`` means none. Results of
        every plugin are merged.
    """


@hookspec
def harness_register_sandboxes() -> list[SandboxPlugin] | None:
    """Provide sandboxes that run submitted code in isolation.

    :returns: the sandboxes this plugin provides, each with a unique ``name``
        and a ``priority`` used to pick the default. ``None`` means none.
        Results of every plugin are merged.
    """


@hookspec
def harness_register_challenges() -> list[Path] | None:
    """Provide challenge specification files.

    :returns: paths of YAML challenge files shipped by this plugin. Each is
        validated against the challenge schema when loaded. ``None`` means
        none. Results of every plugin are merged.
    """


@hookspec
def harness_register_reporters() -> list[ReporterPlugin] | None:
    """Provide reporters that present finished runs.

    :returns: the reporters this plugin provides, each with a unique
        ``name``. ``None`` means none. Results of every plugin are merged.
    """


# -- execution -------------------------------------------------------------------


@hookspec
def harness_run_started(record: RunRecord) -> None:
    """Observe a run that is about to start.

    :param record: the run record as known before the sandbox starts; it
        must not be modified.
    :returns: nothing; every implementation is called.
    """


# -- reporting -------------------------------------------------------------------


@hookspec
def harness_run_finished(record: RunRecord) -> None:
    """Observe a finished run, successful or not.

    :param record: the complete, schema-validated run record; it must not be
        modified.
    :returns: nothing; every implementation is called.
    """
