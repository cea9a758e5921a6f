"""The ``harness`` command.

Exit codes (see :class:`harness.errors.ExitCode`): 0 success; 1 the
submission failed and the run record says why; 2 bad command line; 3 a
malformed input (challenge file, archive, predictions); 4 no usable sandbox;
5 a plugin failed or broke its contract; 70 a bug in the harness. Only this
module catches exceptions broadly, to map them to these codes.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from harness import __version__
from harness.errors import ExitCode, HarnessError
from harness.interrupts import Terminated
from harness.plugins import Plugins, load_plugins

F = TypeVar("F", bound=Callable[..., Any])

log = logging.getLogger("harness")


def _configure_logging(verbose: int, quiet: int) -> None:
    level = logging.WARNING - 10 * verbose + 10 * quiet
    logging.basicConfig(
        level=max(logging.DEBUG, level),
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _emit_json(document: Any) -> None:
    click.echo(json.dumps(document, indent=2, default=str))


def _table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    cells = [list(map(str, header))] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = []
    for index, row in enumerate(cells):
        lines.append(
            "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)).rstrip()
        )
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _record_note(exc: BaseException) -> str:
    path = getattr(exc, "record_path", None)
    return f"; record: {path}" if path is not None else ""


def handle_errors(func: F) -> F:
    """Map harness errors to exit codes; print a message, not a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except HarnessError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(int(exc.exit_code))
        except KeyboardInterrupt as exc:
            click.echo(f"interrupted (SIGINT){_record_note(exc)}", err=True)
            sys.exit(int(ExitCode.INTERRUPTED))
        except Terminated as exc:
            click.echo(f"interrupted ({exc.signal_name}){_record_note(exc)}", err=True)
            raise
        except (click.ClickException, click.exceptions.Exit, SystemExit):
            raise
        except Exception:
            click.echo("internal error in the harness:", err=True)
            click.echo(traceback.format_exc(), err=True)
            sys.exit(int(ExitCode.INTERNAL))

    return wrapper  # type: ignore[return-value]


class _State:
    def __init__(self, block: tuple[str, ...]) -> None:
        self.block = block
        self._plugins: Plugins | None = None

    @property
    def plugins(self) -> Plugins:
        if self._plugins is None:
            self._plugins = load_plugins(block=self.block)
        return self._plugins


pass_state = click.make_pass_decorator(_State)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="harness")
@click.option(
    "--block",
    multiple=True,
    metavar="PLUGIN",
    help="Do not load this plugin (repeatable).",
)
@click.option("-v", "--verbose", count=True, help="More log output (repeatable).")
@click.option("-q", "--quiet", count=True, help="Less log output.")
@click.pass_context
def main(ctx: click.Context, block: tuple[str, ...], verbose: int, quiet: int) -> None:
    """Evaluate submissions on scientific anomaly-detection challenges."""
    _configure_logging(verbose, quiet)
    ctx.obj = _State(block)


@main.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
@handle_errors
def plugins_command(state: _State, as_json: bool) -> None:
    """List the loaded plugins and what each provides."""
    plugins = state.plugins
    provides: dict[str, list[str]] = {info.name: [] for info in plugins.infos}
    for registry in (
        plugins.datasets,
        plugins.metrics,
        plugins.kinds,
        plugins.sandboxes,
        plugins.reporters,
    ):
        for name in registry:
            provides.setdefault(registry.provider(name), []).append(
                f"{registry.what}:{name}"
            )
    for path, plugin in plugins.challenge_files:
        provides.setdefault(plugin, []).append(f"challenge-file:{path.name}")
    rows: list[dict[str, Any]] = [
        {
            "name": i.name,
            "version": i.version,
            "distribution": i.distribution,
            "builtin": i.builtin,
            "module": i.module,
            "provides": provides[i.name],
        }
        for i in plugins.infos
    ]
    if as_json:
        _emit_json(rows)
        return
    click.echo(
        _table(
            [
                (
                    r["name"],
                    r["version"],
                    "builtin" if r["builtin"] else r["distribution"],
                    ", ".join(r["provides"]),
                )
                for r in rows
            ],
            ("plugin", "version", "source", "provides"),
        )
    )


@main.command("challenges")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
@handle_errors
def challenges_command(state: _State, as_json: bool) -> None:
    """List the registered challenges with their phases and metrics."""
    from harness.challenge import registered_challenges

    found = registered_challenges(state.plugins)
    rows: list[dict[str, Any]] = []
    for name, c in sorted(found.items()):
        rows.append(
            {
                "name": name,
                "version": c.version,
                "title": c.title,
                "dataset": c.dataset,
                "phases": {p.name: p.split for p in c.phases},
                "metrics": [
                    {
                        "key": m.key,
                        "metric": m.metric,
                        "direction": m.direction,
                        "primary": m.primary,
                    }
                    for m in c.columns
                ],
            }
        )
    if as_json:
        _emit_json(rows)
        return
    click.echo(
        _table(
            [
                (
                    r["name"],
                    r["version"],
                    ", ".join(f"{p}={s}" for p, s in r["phases"].items()),
                    ", ".join(
                        m["key"] + ("*" if m["primary"] else "") for m in r["metrics"]
                    ),
                )
                for r in rows
            ],
            ("challenge", "version", "phases (phase=split)", "metrics (* primary)"),
        )
    )


@main.command("validate")
@click.argument("path", type=click.Path(path_type=Path))
@pass_state
@handle_errors
def validate_command(state: _State, path: Path) -> None:
    """Validate a challenge file against the schema and the plugins."""
    from harness.challenge import find_challenge, load_challenge

    if not path.exists() and path.suffix not in {".yaml", ".yml"}:
        # A registered name (or a typo of one): the file it stands for.
        challenge = find_challenge(str(path), state.plugins)
    else:
        challenge = load_challenge(path, state.plugins)
    click.echo(
        f"{path}: valid challenge {challenge.name!r} version {challenge.version} "
        f"({len(challenge.columns)} metrics, phases "
        f"{', '.join(p.name for p in challenge.phases)})"
    )


def _run_options(**kwargs: Any) -> Any:
    from harness.evaluate import RunOptions

    return RunOptions(**{k: v for k, v in kwargs.items() if v is not None})


def _format_score(value: float | None, precision: int) -> str:
    return "undefined" if value is None else f"{value:.{precision}f}"


def _score_rows(scores: dict[str, Any]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for key, s in scores.items():
        interval = s.get("interval")
        band = ""
        if interval and interval.get("low") is not None:
            p = s.get("precision", 4)
            band = (
                f"[{interval['low']:.{p}f}, {interval['high']:.{p}f}] "
                f"{interval['confidence']:.0%}"
            )
        rows.append(
            (
                key + (" *" if s["primary"] else ""),
                _format_score(s["value"], s.get("precision", 4)),
                band,
                s["direction"],
            )
        )
    return rows


_run_common = [
    click.option(
        "--phase", default=None, help="Challenge phase (default: the first one listed)."
    ),
    click.option(
        "--data-dir",
        type=click.Path(path_type=Path, file_okay=False),
        help="Real data in its original layout; default synthetic.",
    ),
    click.option(
        "--cache-dir",
        type=click.Path(path_type=Path, file_okay=False),
        help="Where prepared data is cached.",
    ),
    click.option(
        "--bootstrap",
        type=click.IntRange(0, 100_000),
        default=1000,
        show_default=True,
        help="Bootstrap resamples for intervals (0: none).",
    ),
    click.option(
        "--seed",
        type=click.IntRange(min=0),
        default=0,
        show_default=True,
        help="Seed of the bootstrap.",
    ),
    click.option("--json", "as_json", is_flag=True, help="Machine-readable output."),
]


def _apply(options: list[Callable[[F], F]]) -> Callable[[F], F]:
    def decorate(func: F) -> F:
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


@main.command("run")
@click.argument("challenge")
@click.argument("submission", type=click.Path(path_type=Path, exists=True))
@_apply(_run_common)
@click.option(
    "--sandbox", default=None, help="Sandbox plugin (default: the best available)."
)
@click.option(
    "--wheels",
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder of wheels for requirements.txt (docker sandbox).",
)
@click.option(
    "--results-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("harness-results"),
    show_default=True,
    help="Where run records are written.",
)
@pass_state
@handle_errors
def run_command(
    state: _State,
    challenge: str,
    submission: Path,
    phase: str | None,
    data_dir: Path | None,
    cache_dir: Path | None,
    bootstrap: int,
    seed: int,
    as_json: bool,
    sandbox: str | None,
    wheels: Path | None,
    results_dir: Path,
) -> None:
    """Run SUBMISSION (a folder or zip) on CHALLENGE (a name or a .yaml file)."""
    from harness.challenge import find_challenge
    from harness.evaluate import run_submission

    plugins = state.plugins
    spec = find_challenge(challenge, plugins)
    options = _run_options(
        sandbox=sandbox,
        data_dir=data_dir,
        cache_dir=cache_dir,
        results_dir=results_dir,
        bootstrap=bootstrap,
        seed=seed,
        wheels=wheels,
    )
    record = run_submission(
        spec, phase or spec.phases[0].name, submission, plugins=plugins, options=options
    )
    if as_json:
        _emit_json(record)
    else:
        _print_record(record, results_dir)
    if record["status"] != "succeeded":
        sys.exit(int(failure_exit_code(record)))


def failure_exit_code(record: dict[str, Any]) -> ExitCode:
    """The exit code of a failed run: whose fault was it?"""
    stage = (record.get("failure") or {}).get("stage")
    if stage == "internal":
        return ExitCode.INTERNAL
    if stage == "plugin":
        return ExitCode.PLUGIN_ERROR
    if stage in ("challenge", "prepare"):
        return ExitCode.INVALID_INPUT
    return ExitCode.SUBMISSION_FAILED


def _print_record(record: dict[str, Any], results_dir: Path) -> None:
    c = record["challenge"]
    click.echo(
        f"{c['name']} {c['version']}, phase {c['phase']} (split {c['split']}), "
        f"sandbox {record['sandbox']['name']}"
    )
    for note in record["submission"].get("notes", []):
        click.echo(f"note: {note}")
    for note in record["sandbox"].get("notes", []):
        click.echo(f"isolation: {note}")
    if record["status"] == "succeeded":
        click.echo(
            _table(
                _score_rows(record["scores"]), ("metric", "score", "interval", "better")
            )
        )
        for key, s in record["scores"].items():
            for warning in s.get("warnings", []):
                click.echo(f"warning ({key}): {warning}")
    else:
        f = record["failure"]
        call = f.get("call")
        where = f" in {call}" if call and call not in f["message"] else ""
        click.echo(f"FAILED at stage {f['stage']} ({f['kind']}){where}: {f['message']}")
    click.echo(
        f"record: {results_dir / record['run_id'] / 'record.json'} "
        f"({record['timings'].get('total', 0):.1f} s)"
    )


@main.command("score")
@click.argument("challenge")
@click.argument(
    "predictions", type=click.Path(path_type=Path, exists=True, dir_okay=False)
)
@_apply(_run_common)
@pass_state
@handle_errors
def score_command(
    state: _State,
    challenge: str,
    predictions: Path,
    phase: str | None,
    data_dir: Path | None,
    cache_dir: Path | None,
    bootstrap: int,
    seed: int,
    as_json: bool,
) -> None:
    """Score an existing PREDICTIONS file (predictions.json) on CHALLENGE."""
    from harness.challenge import find_challenge
    from harness.evaluate import score_predictions

    plugins = state.plugins
    spec = find_challenge(challenge, plugins)
    options = _run_options(
        data_dir=data_dir, cache_dir=cache_dir, bootstrap=bootstrap, seed=seed
    )
    columns = score_predictions(
        spec,
        phase or spec.phases[0].name,
        predictions,
        plugins=plugins,
        options=options,
    )
    scores = {c.key: c.as_dict() for c in columns}
    if as_json:
        _emit_json(scores)
        return
    click.echo(_table(_score_rows(scores), ("metric", "score", "interval", "better")))


@main.command("compare")
@click.argument("run_a", type=click.Path(path_type=Path, exists=True))
@click.argument("run_b", type=click.Path(path_type=Path, exists=True))
@click.option(
    "--challenge",
    "challenge_name",
    default=None,
    help="Challenge name or file (default: the one the runs used).",
)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="The real data the runs were scored on; default synthetic.",
)
@click.option(
    "--cache-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Where prepared data is cached.",
)
@click.option(
    "--bootstrap",
    type=click.IntRange(1, 100_000),
    default=1000,
    show_default=True,
    help="Paired bootstrap resamples.",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Seed of the resampling; the same seed gives the same answer.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
@handle_errors
def compare_command(
    state: _State,
    run_a: Path,
    run_b: Path,
    challenge_name: str | None,
    data_dir: Path | None,
    cache_dir: Path | None,
    bootstrap: int,
    seed: int,
    as_json: bool,
) -> None:
    """Say whether two stored runs (record folders) differ, per metric."""
    from harness.challenge import find_challenge
    from harness.compare import compare_runs
    from harness.records import read_record

    plugins = state.plugins
    name = challenge_name or read_record(run_a)["challenge"]["name"]
    spec = find_challenge(name, plugins)
    options = _run_options(
        data_dir=data_dir, cache_dir=cache_dir, bootstrap=bootstrap, seed=seed
    )
    rows = compare_runs(run_a, run_b, spec, plugins=plugins, options=options)
    if as_json:
        _emit_json(rows)
        return

    def fmt(v: float | None) -> str:
        return "undefined" if v is None else f"{v:.4f}"

    click.echo(
        _table(
            [
                (
                    r["key"] + (" *" if r["primary"] else ""),
                    fmt(r["a"]),
                    fmt(r["b"]),
                    fmt(r["difference"]),
                    f"[{fmt(r['low'])}, {fmt(r['high'])}]",
                    "yes" if r["differ"] else "no",
                )
                for r in rows
            ],
            (
                "metric",
                "A",
                "B",
                "A - B",
                f"{rows[0]['confidence']:.0%} interval",
                "differ",
            ),
        )
    )


@main.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
@handle_errors
def doctor_command(state: _State, as_json: bool) -> None:
    """Say which sandboxes work on this machine, and how to fix the others."""
    rows: list[dict[str, Any]] = []
    for name, sandbox in state.plugins.sandboxes.items():
        status = sandbox.availability()
        rows.append(
            {
                "sandbox": name,
                "priority": sandbox.priority,
                "ok": status.ok,
                "reason": status.reason,
                "fix": status.fix,
            }
        )
    rows.sort(key=lambda r: -int(r["priority"]))
    default = next((r["sandbox"] for r in rows if r["ok"]), None)
    if as_json:
        _emit_json({"default": default, "sandboxes": rows})
    else:
        for r in rows:
            mark = "ok  " if r["ok"] else "FAIL"
            click.echo(f"{mark} {r['sandbox']}: {r['reason']}")
            if not r["ok"] and r["fix"]:
                click.echo(f"     fix: {r['fix']}")
        click.echo(f"default sandbox: {default or 'none'}")
    if default is None:
        sys.exit(int(ExitCode.SANDBOX_UNAVAILABLE))


from harness.codabench.cli import codabench  # noqa: E402

main.add_command(codabench)


if __name__ == "__main__":  # pragma: no cover
    main()
