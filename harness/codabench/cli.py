"""The ``harness codabench`` commands: export a bundle, run one locally.

Exit codes are those of the ``harness`` command: 0 success; 1 the
submission (or a program of the bundle) failed, and the output says why; 3 a
malformed bundle, challenge or archive; 4 no Docker engine or image; 5 a
plugin that cannot travel in a bundle.
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def _guarded(func: F) -> F:
    """Map errors to exit codes the way every ``harness`` command does."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        # Imported here: harness.cli imports this module at its end.
        from harness.cli import handle_errors

        return handle_errors(func)(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _plugins() -> Any:
    """The plugins of the enclosing ``harness`` command, or freshly loaded."""
    root = click.get_current_context().find_root().obj
    if root is not None and hasattr(root, "plugins"):
        return root.plugins
    from harness.plugins import load_plugins

    return load_plugins()


def _emit_json(document: Any) -> None:
    click.echo(json.dumps(document, indent=2, default=str))


@click.group("codabench")
def codabench() -> None:
    """Export challenges as Codabench bundles and test bundles locally."""


@codabench.command("export")
@click.argument("challenge")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The bundle zip to write.",
)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Real data in its original layout; default synthetic.",
)
@click.option(
    "--cache-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Where prepared data is cached.",
)
@click.option(
    "--docker-image",
    default=None,
    help="Image the platform runs the programs in (default: the challenge's "
    "sandbox image, else the docker sandbox's base image).",
)
@click.option(
    "--phase",
    "phases",
    multiple=True,
    help="Export only this phase (repeatable; default: all).",
)
@click.option(
    "--start",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="First day of the first phase (default: today).",
)
@click.option(
    "--phase-days",
    type=click.IntRange(1, 3650),
    default=90,
    show_default=True,
    help="Days per phase.",
)
@click.option(
    "--max-submissions-per-day",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
)
@click.option(
    "--solution",
    type=click.Path(path_type=Path, exists=True),
    default=None,
    help="A reference submission to attach as the bundle's solution.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_guarded
def export_command(
    challenge: str,
    output: Path,
    data_dir: Path | None,
    cache_dir: Path | None,
    docker_image: str | None,
    phases: tuple[str, ...],
    start: _dt.datetime | None,
    phase_days: int,
    max_submissions_per_day: int,
    solution: Path | None,
    as_json: bool,
) -> None:
    """Write CHALLENGE (a name or a .yaml file) as a Codabench bundle zip."""
    from harness.challenge import find_challenge
    from harness.codabench.export import ExportOptions, export_bundle

    plugins = _plugins()
    spec = find_challenge(challenge, plugins)
    options = ExportOptions(
        data_dir=data_dir,
        cache_dir=cache_dir,
        docker_image=docker_image,
        phases=phases,
        start=start.date() if start else None,
        phase_days=phase_days,
        max_submissions_per_day=max_submissions_per_day,
        solution=solution,
    )
    result = export_bundle(spec, plugins, output, options)
    if as_json:
        _emit_json(
            {
                "path": str(result.path),
                "phases": list(result.phases),
                "columns": list(result.columns),
                "items": result.items,
                "files": result.files,
                "bytes": result.bytes,
                "notes": list(result.notes),
            }
        )
        return
    items = ", ".join(f"{p} {n} items" for p, n in result.items.items())
    click.echo(
        f"{result.path}: bundle of {spec.name} {spec.version} ({items}; "
        f"{result.files} files, {result.bytes / 1e6:.1f} MB unpacked)"
    )
    click.echo(f"leaderboard columns: {', '.join(result.columns)}")
    for note in result.notes:
        click.echo(f"note: {note}")


def _print_emulation(result: Any) -> None:
    kinds = {
        "ingested": "submission handed to the ingestion program",
        "results": "result submission",
        "program": "submission with its own command",
    }
    click.echo(
        f"{result.title or result.bundle}: phase {result.phase}, image "
        f"{result.image}, {kinds.get(result.submission_kind, 'submission')}"
    )
    for note in result.notes:
        click.echo(f"note: {note}")
    for task in result.tasks:
        steps = ", ".join(
            f"{s.kind} {s.seconds:.1f} s (exit {s.exit_code})" for s in task.steps
        )
        click.echo(f"task {task.index} ({task.name}): {steps or 'not run'}")
    if result.status == "succeeded":
        for board in result.leaderboards:
            click.echo(f"leaderboard {board['title']}:")
            width = max(len(c["title"]) for c in board["columns"])
            for c in board["columns"]:
                click.echo(
                    f"  {c['title'].ljust(width)}  {c['text']}  ({c['sorting']})"
                )
    else:
        f = result.failure or {}
        where = f" in task {f['task']}" if f.get("task") is not None else ""
        click.echo(
            f"FAILED at {f.get('stage')} ({f.get('kind')}){where}: {f.get('message')}"
        )
    if result.folder:
        click.echo(f"logs and scores: {result.folder}")


@codabench.command("run")
@click.argument("bundle", type=click.Path(path_type=Path, exists=True))
@click.argument("submission", type=click.Path(path_type=Path, exists=True))
@click.option("--phase", default=None, help="Phase name or index (default: first).")
@click.option("--image", default=None, help="Run in this image instead.")
@click.option(
    "--time-limit",
    type=click.FloatRange(min=0, min_open=True, max=7 * 86400),
    default=None,
    help="Seconds per step instead of the phase's execution_time_limit.",
)
@click.option(
    "--memory-mb", type=click.IntRange(16, 1024**2), default=4096, show_default=True
)
@click.option(
    "--results-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("harness-results"),
    show_default=True,
    help="Where logs, scores and result.json are kept.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_guarded
def run_command(
    bundle: Path,
    submission: Path,
    phase: str | None,
    image: str | None,
    time_limit: float | None,
    memory_mb: int,
    results_dir: Path,
    as_json: bool,
) -> None:
    """Run SUBMISSION on BUNDLE (folders or zips) like the compute worker."""
    from harness.codabench.emulate import EmulatorOptions, run_bundle
    from harness.errors import ExitCode

    options = EmulatorOptions(
        image=image,
        time_limit=time_limit,
        memory_mb=memory_mb,
        results_dir=results_dir,
    )
    result = run_bundle(bundle, submission, phase=phase, options=options)
    if as_json:
        _emit_json(result.as_dict())
    else:
        _print_emulation(result)
    if result.status != "succeeded":
        sys.exit(int(ExitCode.SUBMISSION_FAILED))
