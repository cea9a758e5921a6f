"""Export a challenge as a Codabench competition bundle (version 2).

The bundle is a zip whose root holds ``competition.yaml``, the pages, a
logo, and one folder per program and per phase's data:

- ``ingestion_program/``: ``metadata.yaml``, ``ingestion.py``, the
  submission kind's runner (standard library and numpy) and
  ``challenge.json``, a JSON snapshot of the resolved challenge;
- ``scoring_program/``: ``metadata.yaml``, ``score.py``, ``challenge.json``
  and copies of the harness, of the plugin packages that provide the
  challenge's metrics and of pluggy, so the platform's image needs only
  Python and numpy (and whatever the metric plugins import: the export
  checks that and says so);
- ``input_data/<phase>/``: the prepared split's inputs folder, exactly what
  ``harness run`` shows a sandbox;
- ``reference_data/<phase>/truth.npz``: the truth, and nothing else.

One task per phase; each phase's leaderboard columns are the challenge's
metric columns, the primary one first.

Known limits: phase dates are placeholders (a start date and a length per
phase) for the organiser to adjust; ``requirements.txt`` in a submission is
not installed by the exported ingestion step; the bundle holds the data
itself, so a large real data set makes a large bundle.
"""

from __future__ import annotations

import ast
import dataclasses
import datetime as _dt
import hashlib
import json
import logging
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
import zlib
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

import harness
from harness.challenge import Challenge
from harness.codabench.checks import MAX_PREDICTIONS_BYTES
from harness.codabench.scoring import (
    SNAPSHOT_NAME,
    TRUTH_NAME,
    ChallengeSnapshot,
)
from harness.errors import InvalidInputError, PluginError
from harness.evaluate import RunOptions, prepare_split
from harness.plugins import Plugins
from harness.submission import stage_submission

__all__ = [
    "ExportOptions",
    "ExportResult",
    "build_snapshot",
    "default_image",
    "export_bundle",
    "write_bundle_tree",
]

log = logging.getLogger(__name__)

PROGRAMS = Path(__file__).with_name("programs")
FALLBACK_IMAGE = "harness-base:1"
#: Modules the scoring program may import besides the standard library and
#: what it carries itself.
PLATFORM_MODULES = ("numpy", "PIL")
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", ".DS_Store")


def default_image() -> str:
    """The image the docker sandbox uses, which carries Python and numpy."""
    try:
        from harness_sandboxes.docker import DEFAULT_IMAGE
    except ImportError:
        return FALLBACK_IMAGE
    return str(DEFAULT_IMAGE)


@dataclasses.dataclass(frozen=True)
class ExportOptions:
    """How to export.

    :param docker_image: the image the platform runs both programs in; the
        challenge's ``sandbox.image``, else the docker sandbox's base image,
        when ``None``. It needs Python 3.10 or newer and numpy.
    :param phases: names of the challenge phases to export; all when empty.
    :param start: first day of the first phase; today (UTC) when ``None``.
    :param phase_days: length of each phase in days; phases follow each other.
    :param solution: a reference submission (folder or zip) to attach as the
        bundle's solution for every task.
    """

    data_dir: Path | None = None
    cache_dir: Path | None = None
    docker_image: str | None = None
    phases: tuple[str, ...] = ()
    start: _dt.date | None = None
    phase_days: int = 90
    max_submissions_per_day: int = 5
    max_submissions: int = 100
    solution: Path | None = None


@dataclasses.dataclass(frozen=True)
class ExportResult:
    """What was written.

    :param notes: things the organiser should know (imports the platform's
        image must provide, a solution archive's enclosing folder).
    """

    path: Path
    phases: tuple[str, ...]
    columns: tuple[str, ...]
    items: dict[str, int]
    files: int
    bytes: int
    notes: tuple[str, ...] = ()


# -- snapshot --------------------------------------------------------------------------


def _metric_modules(
    challenge: Challenge, plugins: Plugins
) -> list[tuple[str, ModuleType]]:
    """The plugin modules that provide the challenge's metrics, in column order."""
    found: dict[str, ModuleType] = {}
    for column in challenge.columns:
        name = plugins.metrics.provider(column.metric)
        module = plugins.pm.get_plugin(name)
        if not isinstance(module, ModuleType):
            raise PluginError(
                f"metric {column.metric!r} comes from plugin {name!r}, an object "
                "registered in this process rather than an importable module, so it "
                "cannot be shipped in a bundle; register it through an entry point"
            )
        found.setdefault(name, module)
    return list(found.items())


def build_snapshot(challenge: Challenge, plugins: Plugins) -> ChallengeSnapshot:
    """The JSON-ready view of a resolved challenge that the programs read."""
    kind = plugins.kinds[challenge.kind]
    return ChallengeSnapshot(
        name=challenge.name,
        version=challenge.version,
        sha256=challenge.sha256,
        positive_label=challenge.positive_label,
        higher_is_anomalous=challenge.higher_is_anomalous,
        columns=challenge.columns,
        item_shape=tuple(challenge.protocol_options.get("output_shape", ())),
        protocol={
            "name": challenge.protocol,
            "options": dict(challenge.protocol_options),
        },
        plugins=tuple((n, m.__name__) for n, m in _metric_modules(challenge, plugins)),
        max_prediction_bytes=min(challenge.limits.output_bytes, MAX_PREDICTIONS_BYTES),
        required_files=tuple(kind.required_files),
    )


# -- program folders -------------------------------------------------------------------


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _copy_package(module_name: str, destination: Path) -> None:
    """Copy the top-level package of ``module_name`` into ``destination``."""
    top = __import__(module_name.partition(".")[0])
    paths = list(getattr(top, "__path__", []))
    if len(paths) != 1:
        raise PluginError(
            f"package {top.__name__!r} spans {len(paths)} folders; only a package "
            "in one folder can be copied into a bundle"
        )
    shutil.copytree(paths[0], destination / top.__name__, ignore=_IGNORED)


def _copy_pluggy(destination: Path) -> None:
    import pluggy

    target = destination / "pluggy"
    shutil.copytree(Path(pluggy.__file__).parent, target, ignore=_IGNORED)
    try:
        files = metadata.distribution("pluggy").files or []
    except metadata.PackageNotFoundError:
        files = []
    for entry in files:
        if Path(str(entry)).name.upper().startswith("LICENSE"):
            shutil.copyfile(Path(str(entry.locate())), target / "LICENSE")
            break


def _write_ingestion_program(
    folder: Path, snapshot: ChallengeSnapshot, runner: Path
) -> None:
    folder.mkdir(parents=True)
    _write(
        folder / "metadata.yaml",
        "command: python3 /app/program/ingestion.py\n"
        "description: runs a code submission, or passes a result submission on\n",
    )
    shutil.copyfile(PROGRAMS / "ingestion.py", folder / "ingestion.py")
    shutil.copyfile(runner, folder / "runner.py")
    _write(folder / SNAPSHOT_NAME, json.dumps(snapshot.as_dict(), indent=2) + "\n")


def _write_scoring_program(folder: Path, snapshot: ChallengeSnapshot) -> None:
    folder.mkdir(parents=True)
    _write(
        folder / "metadata.yaml",
        "command: python3 /app/program/score.py\n"
        "description: checks the predictions and writes scores.json\n",
    )
    shutil.copyfile(PROGRAMS / "score.py", folder / "score.py")
    _write(folder / SNAPSHOT_NAME, json.dumps(snapshot.as_dict(), indent=2) + "\n")
    _copy_package("harness", folder)
    for _, module in snapshot.plugins:
        if not (folder / module.partition(".")[0]).exists():
            _copy_package(module, folder)
    _copy_imported_plugin_packages(folder)
    _copy_pluggy(folder)


def _plugin_packages() -> set[str]:
    """Top-level packages of every module in the ``harness`` entry-point group."""
    from importlib import metadata

    from harness.plugins import ENTRY_POINT_GROUP

    return {
        ep.value.partition(":")[0].partition(".")[0]
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)
    }


def _copy_imported_plugin_packages(folder: Path) -> None:
    """Copy plugin packages that the copied code imports, until none is missing.

    A metric plugin may build on another plugin package (the butterfly
    metric uses the ranking metrics' average precision); those travel too.
    """
    candidates = _plugin_packages()
    while True:
        wanted: set[str] = set()
        for source in folder.rglob("*.py"):
            try:
                tree = ast.parse(source.read_text(encoding="utf-8"))
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    wanted.update(a.name.partition(".")[0] for a in node.names)
                elif (
                    isinstance(node, ast.ImportFrom)
                    and node.module
                    and not (node.level)
                ):
                    wanted.add(node.module.partition(".")[0])
        missing = {name for name in wanted & candidates if not (folder / name).exists()}
        if not missing:
            return
        for name in sorted(missing):
            _copy_package(name, folder)


def self_check(program: Path) -> dict[str, Any]:
    """Import the scoring program's plugins in a fresh interpreter.

    :returns: ``{"outside": [...], "harness": path}``: the top-level modules
        imported beyond the standard library, numpy, Pillow and what the
        program folder carries, and where the harness was imported from.
    :raises PluginError: when the program cannot even load its plugins.
    """
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "from harness.codabench.scoring import main; "
        "sys.exit(main(['--self-check', '--program', sys.argv[1]]))"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-B", "-c", code, str(program)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise PluginError(
            f"the exported scoring program cannot load its metric plugins:\n"
            f"{(done.stderr or done.stdout).strip()[-2000:]}"
        )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# -- pages -----------------------------------------------------------------------------


def _table(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    head = list(header)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _pages(
    challenge: Challenge, snapshot: ChallengeSnapshot, items: dict[str, int], limit: int
) -> dict[str, str]:
    phases = [p for p in challenge.phases if p.name in items]
    overview = (
        f"# {challenge.title}\n\n{challenge.description.strip()}\n\n"
        f"Challenge `{challenge.name}` version {challenge.version} (challenge file "
        f"sha256 `{challenge.sha256[:16]}`), exported by harness "
        f"{harness.__version__}.\n\n## Phases\n\n"
        + _table(
            ("phase", "split", "items", "time limit (s)"),
            ((p.name, p.split, items[p.name], limit) for p in phases),
        )
    )
    columns = _table(
        ("column", "metric", "options", "better", "primary"),
        (
            (
                c.key,
                c.metric,
                json.dumps(dict(c.options)) if c.options else "",
                c.direction,
                "yes" if c.primary else "",
            )
            for c in challenge.columns
        ),
    )
    polarity = "higher" if challenge.higher_is_anomalous else "lower"
    evaluation = (
        "# Evaluation\n\n"
        f"Items labelled `{challenge.positive_label}` are the anomalies; a model "
        f"answers with values where {polarity} means more anomalous. The ranking "
        f"column is `{challenge.primary.key}`.\n\n"
        + columns
        + "\nBefore any score is computed, the predictions are checked: one value "
        "per item id (missing, extra and duplicated ids are named), the shape "
        f"of each value ({list(snapshot.item_shape) or 'a single number'}), and "
        "every value a finite number. A submission that fails a check gets no "
        "score, and the detailed results say why. A column whose value is "
        "undefined for a submission (NaN) fails the submission rather than "
        "being left blank.\n"
    )
    options = json.dumps(dict(snapshot.protocol["options"]), indent=2)
    submitting = (
        "# Submitting\n\n## Code submissions\n\n"
        "Zip the files themselves, not the folder around them: `model.py` must "
        "be at the root of the archive. It defines `class Model` with "
        "`predict()` and, as the protocol's `load` option says, `load()`. Weight "
        "files go beside it; store them as `.npz` or `.json`. Extra packages "
        "(`requirements.txt`) are not installed.\n\n"
        f"Calling protocol `{snapshot.protocol['name']}`, with options:\n\n"
        f"```json\n{options}\n```\n\n"
        "## Result submissions\n\n"
        "A zip holding only `predictions.json` at its root is scored as it is:\n\n"
        '```json\n{"format_version": 1, "ids": [0, 1, 2], "values": [0.1, 0.9, '
        "0.3]}\n```\n\nThe ids are those of the inputs' `manifest.json`.\n"
    )
    data = (
        "# Data\n\n"
        f"Dataset `{challenge.dataset}`. Each phase's input data is a folder "
        "holding `manifest.json` (the item ids in call order, and where each "
        "item's data lies) and the items themselves; the labels are kept apart "
        "and only the scoring step reads them.\n\n"
        + _table(
            ("phase", "split", "items"),
            ((p.name, p.split, items[p.name]) for p in phases),
        )
    )
    terms = (
        "# Terms\n\nSubmissions are run without network access, within the time "
        "limit of the phase. Code and weights must be your own or used under "
        "their licences. Scores may be re-computed after the competition.\n"
    )
    return {
        "overview": overview,
        "evaluation": evaluation,
        "data": data,
        "submitting": submitting,
        "terms": terms,
    }


def _logo_png(size: int = 64) -> bytes:
    """A plain square PNG; the platform refuses a bundle without a logo."""
    row = b"\x00" + bytes((40, 90, 160)) * size
    raw = zlib.compress(row * size, 9)

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", raw)
        + chunk(b"IEND", b"")
    )


# -- data ------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _copy_split(
    challenge: Challenge,
    plugins: Plugins,
    split: str,
    options: ExportOptions,
    inputs: Path,
    reference: Path,
) -> int:
    run_options = RunOptions(data_dir=options.data_dir, cache_dir=options.cache_dir)
    prepared = prepare_split(challenge, plugins, split, run_options)
    shutil.copytree(prepared.inputs_dir, inputs, ignore=_IGNORED)
    reference.mkdir(parents=True)
    shutil.copyfile(prepared.truth_file, reference / TRUTH_NAME)
    truth_hash = _sha256(reference / TRUTH_NAME)
    for path in inputs.rglob("*"):
        if path.is_file() and (path.name == TRUTH_NAME or _sha256(path) == truth_hash):
            raise PluginError(
                f"dataset {challenge.dataset!r} put a copy of the truth in the inputs "
                f"of split {split!r} ({path.relative_to(inputs)}), where submitted "
                "code could read it"
            )
    manifest = json.loads((inputs / "manifest.json").read_text(encoding="utf-8"))
    return len(manifest.get("ids", []))


# -- competition.yaml ------------------------------------------------------------------


def _competition(
    challenge: Challenge,
    phases: list[Any],
    limit: int,
    image: str,
    options: ExportOptions,
    has_solution: bool,
) -> dict[str, Any]:
    start = options.start or _dt.datetime.now(_dt.timezone.utc).date()
    length = _dt.timedelta(days=options.phase_days)
    ordered = sorted(challenge.columns, key=lambda c: not c.primary)
    summary = " ".join(challenge.description.split())
    tasks, bundle_phases = [], []
    for index, phase in enumerate(phases):
        tasks.append(
            {
                "index": index,
                "name": f"{challenge.title}: {phase.name}",
                "description": f"Split {phase.split} of dataset {challenge.dataset}.",
                "is_public": False,
                "input_data": f"input_data/{phase.name}",
                "reference_data": f"reference_data/{phase.name}",
                "ingestion_program": "ingestion_program",
                "scoring_program": "scoring_program",
            }
        )
        entry: dict[str, Any] = {
            "index": index,
            "name": phase.name,
            "description": phase.description or f"Scored on split {phase.split}.",
            "start": start + index * length,
            "end": start + (index + 1) * length,
            "max_submissions_per_day": options.max_submissions_per_day,
            "max_submissions": options.max_submissions,
            "execution_time_limit": limit,
            "tasks": [index],
        }
        if index > 0:
            entry["auto_migrate_to_this_phase"] = True
        if has_solution:
            entry["solutions"] = [0]
        bundle_phases.append(entry)
    competition: dict[str, Any] = {
        "version": 2,
        "title": challenge.title,
        "description": summary[:500],
        "image": "logo.png",
        "registration_auto_approve": True,
        "docker_image": image,
        "enable_detailed_results": True,
        "terms": "pages/terms.md",
        "pages": [
            {"title": "Overview", "file": "pages/overview.md"},
            {"title": "Evaluation", "file": "pages/evaluation.md"},
            {"title": "Submitting", "file": "pages/submitting.md"},
            {"title": "Data", "file": "pages/data.md"},
        ],
        "tasks": tasks,
        "phases": bundle_phases,
        "leaderboards": [
            {
                "index": 0,
                "title": "Results",
                "key": "main",
                "primary_index": 0,
                "columns": [
                    {
                        "title": c.key,
                        "key": c.key,
                        "index": i,
                        "sorting": "desc" if c.greater_is_better else "asc",
                        "precision": c.precision,
                    }
                    for i, c in enumerate(ordered)
                ],
            }
        ],
    }
    if has_solution:
        competition["solutions"] = [
            {
                "index": 0,
                "name": "reference submission",
                "tasks": [t["index"] for t in tasks],
                "path": "solution",
            }
        ]
    return competition


# -- the bundle ------------------------------------------------------------------------


def write_bundle_tree(
    challenge: Challenge,
    plugins: Plugins,
    root: Path,
    options: ExportOptions | None = None,
) -> ExportResult:
    """Write the unzipped bundle into the empty or missing folder ``root``."""
    options = options or ExportOptions()
    wanted = list(options.phases) or [p.name for p in challenge.phases]
    phases = [challenge.phase(name) for name in wanted]
    snapshot = build_snapshot(challenge, plugins)
    kind = plugins.kinds[challenge.kind]
    image = options.docker_image or challenge.image or default_image()
    limit = int(math.ceil(challenge.limits.wall_seconds))
    notes: list[str] = []
    root.mkdir(parents=True, exist_ok=True)
    if any(root.iterdir()):
        raise InvalidInputError(f"{root} is not empty; the bundle needs a fresh folder")

    items = {}
    for phase in phases:
        log.info(
            "codabench export: staging split %s for phase %s", phase.split, phase.name
        )
        items[phase.name] = _copy_split(
            challenge,
            plugins,
            phase.split,
            options,
            root / "input_data" / phase.name,
            root / "reference_data" / phase.name,
        )
    _write_ingestion_program(root / "ingestion_program", snapshot, kind.runner)
    _write_scoring_program(root / "scoring_program", snapshot)
    check = self_check(root / "scoring_program")
    outside = [m for m in check["outside"] if m not in PLATFORM_MODULES]
    if outside:
        message = (
            f"the scoring program imports {', '.join(outside)} (through its metric "
            "plugins), beyond the standard library, numpy and Pillow: the bundle's "
            f"docker_image ({image}) must provide them"
        )
        log.info("codabench export: %s", message)
        notes.append(message)
    if options.solution is not None:
        staged = stage_submission(
            options.solution, root / "solution", required=kind.required_files
        )
        notes.extend(staged.notes)
    for name, text in _pages(challenge, snapshot, items, limit).items():
        _write(root / "pages" / f"{name}.md", text)
    (root / "logo.png").write_bytes(_logo_png())
    competition = _competition(
        challenge, phases, limit, image, options, options.solution is not None
    )
    _write(
        root / "competition.yaml",
        f"# Codabench bundle of challenge {challenge.name} {challenge.version}, "
        "written by the harness.\n"
        + yaml.safe_dump(competition, sort_keys=False, allow_unicode=True, width=88),
    )
    files = [p for p in root.rglob("*") if p.is_file()]
    return ExportResult(
        path=root,
        phases=tuple(p.name for p in phases),
        columns=tuple(c["key"] for c in competition["leaderboards"][0]["columns"]),
        items=items,
        files=len(files),
        bytes=sum(p.stat().st_size for p in files),
        notes=tuple(notes),
    )


def _zip_tree(root: Path, destination: Path) -> None:
    tmp = destination.with_name(destination.name + ".part")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        files = (p for p in root.rglob("*") if p.is_file())
        for path in sorted(p for p in files if "__pycache__" not in p.parts):
            info = zipfile.ZipInfo(path.relative_to(root).as_posix(), _ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            with open(path, "rb") as src, archive.open(info, "w") as out:
                shutil.copyfileobj(src, out, 1 << 20)
    os.replace(tmp, destination)


def export_bundle(
    challenge: Challenge,
    plugins: Plugins,
    destination: Path,
    options: ExportOptions | None = None,
) -> ExportResult:
    """Write the bundle of ``challenge`` to the zip file ``destination``.

    Files sit at the root of the archive, in a fixed order with fixed
    timestamps, so the same challenge and data give the same bytes.

    :raises PluginError: when a metric plugin cannot travel in a bundle or
        the exported scoring program cannot load it; when a dataset leaks its
        truth into the inputs.
    """
    destination = Path(destination)
    work = Path(tempfile.mkdtemp(prefix="harness-codabench-export-"))
    try:
        result = write_bundle_tree(challenge, plugins, work / "bundle", options)
        destination.parent.mkdir(parents=True, exist_ok=True)
        _zip_tree(work / "bundle", destination)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log.info("codabench export: %s (%d files)", destination, result.files)
    return dataclasses.replace(result, path=destination)
