"""Read a Codabench competition bundle (``competition.yaml``, version 2).

Only what running a submission needs is read: the tasks and their program
and data folders, the phases with their tasks and time limits, the Docker
image, and the leaderboards with their columns. Every problem found is
reported at once, each naming the field, the value found and what was
expected, so that a hand-written bundle can be fixed in one go.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from harness.errors import InvalidInputError

__all__ = [
    "BundleError",
    "Column",
    "Competition",
    "Leaderboard",
    "BundlePhase",
    "Task",
    "read_competition",
    "read_program_command",
]

#: Codabench's default when a column gives no precision.
DEFAULT_PRECISION = 2
COMPUTATIONS = ("avg", "sum", "min", "max")


class BundleError(InvalidInputError):
    """A competition bundle is malformed or incomplete."""


@dataclasses.dataclass(frozen=True)
class Column:
    """One leaderboard column.

    :param computation: ``avg``, ``sum``, ``min`` or ``max`` over the columns
        at ``computation_indexes``, computed by the platform; such a column is
        not expected in ``scores.json``.
    """

    key: str
    title: str
    index: int
    sorting: str
    precision: int = DEFAULT_PRECISION
    computation: str | None = None
    computation_indexes: tuple[int, ...] = ()
    hidden: bool = False


@dataclasses.dataclass(frozen=True)
class Leaderboard:
    key: str
    title: str
    index: int
    columns: tuple[Column, ...]

    @property
    def scored_keys(self) -> list[str]:
        """Keys a scoring program must write (columns not computed)."""
        return [c.key for c in self.columns if c.computation is None]


@dataclasses.dataclass(frozen=True)
class Task:
    """A task: its programs and data, as paths relative to the bundle root."""

    index: int
    name: str
    scoring_program: str
    ingestion_program: str | None = None
    input_data: str | None = None
    reference_data: str | None = None


@dataclasses.dataclass(frozen=True)
class BundlePhase:
    index: int
    name: str
    tasks: tuple[int, ...]
    execution_time_limit: float | None = None


@dataclasses.dataclass(frozen=True)
class Competition:
    """A parsed ``competition.yaml`` and the folder it was unpacked into."""

    root: Path
    title: str
    docker_image: str | None
    tasks: Mapping[int, Task]
    phases: tuple[BundlePhase, ...]
    leaderboards: tuple[Leaderboard, ...]
    raw: Mapping[str, Any]

    def phase(self, name: str | None) -> BundlePhase:
        """Find a phase by name (any case) or index; ``None`` means the first."""
        if name is None:
            return self.phases[0]
        for phase in self.phases:
            if phase.name.lower() == name.lower() or str(phase.index) == name:
                return phase
        names = [p.name for p in self.phases]
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise BundleError(
            f"the bundle has no phase {name!r}{hint} (phases: {', '.join(names)})"
        )

    @property
    def scored_keys(self) -> list[str]:
        """Every key that scoring programs must write, over all leaderboards."""
        keys: list[str] = []
        for board in self.leaderboards:
            keys.extend(k for k in board.scored_keys if k not in keys)
        return keys


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{where}: {message}")


def _int(value: Any, where: str, problems: _Problems) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        problems.add(where, f"found {value!r}, expected an integer")
        return None
    return value


def _text(value: Any, where: str, problems: _Problems, *, required: bool) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        problems.add(where, f"found {value!r}, expected a non-empty text")
        return None
    return value


def _check_path(root: Path, rel: str, where: str, problems: _Problems) -> None:
    target = (root / rel).resolve()
    if not target.is_relative_to(root.resolve()):
        problems.add(where, f"{rel!r} points outside the bundle")
    elif not target.exists():
        hint = _nearest_path(root, rel)
        hint = f"; did you mean {hint!r}?" if hint else ""
        problems.add(where, f"{rel!r} does not exist in the bundle{hint}")


def _nearest_path(root: Path, rel: str) -> str | None:
    """``rel`` with its first missing part replaced by the closest name there."""
    parts = Path(rel).parts
    folder = root
    for index, part in enumerate(parts):
        if (folder / part).exists():
            folder = folder / part
            continue
        names = [p.name for p in folder.iterdir()] if folder.is_dir() else []
        near = difflib.get_close_matches(part, names, n=1)
        if not near:
            return None
        return str(Path(*parts[:index], near[0], *parts[index + 1 :]))
    return None


def _mappings(
    raw: Any, name: str, problems: _Problems
) -> list[tuple[int, str, dict[str, Any]]]:
    """The entries of the non-empty list ``name`` that are mappings, each with
    its position and location; the others are reported."""
    if not isinstance(raw, list) or not raw:
        problems.add(name, f"found {raw!r}, expected a list of {name}")
        return []
    entries = []
    for position, entry in enumerate(raw):
        where = f"{name}[{position}]"
        if isinstance(entry, dict):
            entries.append((position, where, entry))
        else:
            problems.add(where, f"found {entry!r}, expected a mapping")
    return entries


def _read_tasks(raw: Any, root: Path, problems: _Problems) -> dict[int, Task]:
    tasks: dict[int, Task] = {}
    for _, where, entry in _mappings(raw, "tasks", problems):
        index = _int(entry.get("index"), f"{where}.index", problems)
        if "key" in entry and "scoring_program" not in entry:
            problems.add(
                where,
                "refers to a task already on a server by 'key'; "
                "a local run needs the task's folders in the bundle",
            )
            continue
        paths: dict[str, str | None] = {}
        for field in (
            "scoring_program",
            "ingestion_program",
            "input_data",
            "reference_data",
        ):
            value = _text(
                entry.get(field),
                f"{where}.{field}",
                problems,
                required=field == "scoring_program",
            )
            if value is not None:
                _check_path(root, value, f"{where}.{field}", problems)
            paths[field] = value
        if index is None:
            continue
        if index in tasks:
            problems.add(f"{where}.index", f"index {index} is used by two tasks")
            continue
        tasks[index] = Task(
            index=index,
            name=str(entry.get("name", f"task {index}")),
            scoring_program=paths["scoring_program"] or "",
            ingestion_program=paths["ingestion_program"],
            input_data=paths["input_data"],
            reference_data=paths["reference_data"],
        )
    return tasks


def _time_limit(
    entry: Mapping[str, Any], where: str, problems: _Problems
) -> float | None:
    if "execution_time_limit" in entry:
        value = entry["execution_time_limit"]
        scale = 1.0
        field = "execution_time_limit"
    elif "execution_time_limit_ms" in entry:
        value = entry["execution_time_limit_ms"]
        scale = 0.001
        field = "execution_time_limit_ms"
    else:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        problems.add(f"{where}.{field}", f"found {value!r}, expected a positive number")
        return None
    return float(value) * scale


def _read_phases(
    raw: Any, tasks: Mapping[int, Task], problems: _Problems
) -> list[BundlePhase]:
    phases: list[BundlePhase] = []
    for position, where, entry in _mappings(raw, "phases", problems):
        listed = entry.get("tasks")
        if not isinstance(listed, list) or not listed:
            problems.add(
                f"{where}.tasks", f"found {listed!r}, expected a list of task indexes"
            )
            listed = []
        for task in listed:
            if task not in tasks:
                problems.add(
                    f"{where}.tasks",
                    f"task index {task!r} is not defined "
                    f"(tasks: {', '.join(map(str, tasks)) or 'none'})",
                )
        phases.append(
            BundlePhase(
                index=int(entry.get("index", position))
                if isinstance(entry.get("index", position), int)
                else position,
                name=str(entry.get("name", f"phase {position}")),
                tasks=tuple(t for t in listed if t in tasks),
                execution_time_limit=_time_limit(entry, where, problems),
            )
        )
    phases.sort(key=lambda p: p.index)
    return phases


def _read_column(entry: Any, where: str, problems: _Problems) -> Column | None:
    if not isinstance(entry, dict):
        problems.add(where, f"found {entry!r}, expected a mapping")
        return None
    key = _text(entry.get("key"), f"{where}.key", problems, required=True)
    index = _int(entry.get("index"), f"{where}.index", problems)
    sorting = entry.get("sorting", "desc")
    if sorting not in ("asc", "desc"):
        problems.add(f"{where}.sorting", f"found {sorting!r}, expected 'asc' or 'desc'")
    precision = entry.get("precision", DEFAULT_PRECISION)
    if isinstance(precision, bool) or not isinstance(precision, int) or precision < 0:
        problems.add(
            f"{where}.precision",
            f"found {precision!r}, expected an integer of 0 or more",
        )
        precision = DEFAULT_PRECISION
    computation = entry.get("computation")
    indexes = entry.get("computation_indexes") or []
    if computation is not None and computation not in COMPUTATIONS:
        problems.add(
            f"{where}.computation",
            f"found {computation!r}, expected one "
            f"of {', '.join(COMPUTATIONS)} or nothing",
        )
    usable = isinstance(indexes, list) and all(isinstance(i, int) for i in indexes)
    if computation is not None and not (usable and indexes):
        problems.add(
            f"{where}.computation_indexes",
            f"found {indexes!r}, expected the indexes of the columns to compute over",
        )
        indexes = []
    if key is None or index is None:
        return None
    return Column(
        key=key,
        title=str(entry.get("title", key)),
        index=index,
        sorting=str(sorting),
        precision=precision,
        computation=computation,
        computation_indexes=tuple(indexes),
        hidden=bool(entry.get("hidden", False)),
    )


def _read_leaderboards(raw: Any, problems: _Problems) -> list[Leaderboard]:
    boards: list[Leaderboard] = []
    for position, where, entry in _mappings(raw, "leaderboards", problems):
        columns = []
        raw_columns = entry.get("columns")
        if not isinstance(raw_columns, list) or not raw_columns:
            problems.add(
                f"{where}.columns", f"found {raw_columns!r}, expected a list of columns"
            )
            raw_columns = []
        for number, column in enumerate(raw_columns):
            parsed = _read_column(column, f"{where}.columns[{number}]", problems)
            if parsed is not None:
                columns.append(parsed)
        indexes = [c.index for c in columns]
        for c in columns:
            missing = [i for i in c.computation_indexes if i not in indexes]
            if missing:
                problems.add(
                    f"{where}.columns",
                    f"column {c.key!r} computes over "
                    f"index(es) {missing} that no column has",
                )
        if "primary_index" in entry:
            primary = _int(entry["primary_index"], f"{where}.primary_index", problems)
            if primary is not None and columns and primary not in indexes:
                problems.add(
                    f"{where}.primary_index",
                    f"found {primary}, but no column has that index (column "
                    f"indexes: {sorted(indexes)})",
                )
        keys = [c.key for c in columns]
        twice = sorted({k for k in keys if keys.count(k) > 1})
        if twice:
            problems.add(f"{where}.columns", f"key(s) {twice} appear more than once")
        boards.append(
            Leaderboard(
                key=str(entry.get("key", f"leaderboard-{position}")),
                title=str(entry.get("title", entry.get("key", position))),
                index=position,
                columns=tuple(sorted(columns, key=lambda c: c.index)),
            )
        )
    return boards


def read_competition(root: Path) -> Competition:
    """Parse ``root/competition.yaml`` of an unpacked bundle.

    :raises BundleError: listing every problem found.
    """
    path = root / "competition.yaml"
    if not path.is_file():
        alternatives = sorted(root.glob("*/competition.yaml"))
        hint = (
            (
                f"; found {alternatives[0].relative_to(root)}: zip the bundle's "
                "files themselves, not the folder around them"
            )
            if alternatives
            else ""
        )
        raise BundleError(f"no competition.yaml at the bundle root{hint}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise BundleError(f"competition.yaml is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise BundleError(
            f"competition.yaml holds a {type(raw).__name__}; expected a mapping"
        )
    problems = _Problems()
    if raw.get("version") != 2:
        problems.add(
            "version",
            f"found {raw.get('version')!r}; only version 2 "
            "bundles (Codabench) are understood",
        )
    image = raw.get("docker_image")
    if image is not None and not isinstance(image, str):
        problems.add("docker_image", f"found {image!r}, expected an image name")
        image = None
    tasks = _read_tasks(raw.get("tasks"), root, problems)
    phases = _read_phases(raw.get("phases"), tasks, problems)
    boards = _read_leaderboards(raw.get("leaderboards"), problems)
    if problems.items:
        body = "\n".join(f"  - {p}" for p in problems.items)
        raise BundleError(
            f"competition.yaml has {len(problems.items)} problem(s):\n{body}"
        )
    return Competition(
        root=root,
        title=str(raw.get("title", "")),
        docker_image=image,
        tasks=tasks,
        phases=tuple(phases),
        leaderboards=tuple(boards),
        raw=raw,
    )


def read_program_command(folder: Path) -> str | None:
    """The ``command`` of a program folder's ``metadata.yaml`` or ``metadata``.

    :returns: ``None`` when the folder has no metadata file at all.
    :raises BundleError: when the metadata exists but has no usable command.
    """
    for name in ("metadata.yaml", "metadata"):
        path = folder / name
        if path.is_file():
            break
    else:
        return None
    try:
        meta = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise BundleError(f"{folder.name}/{name} is not valid YAML: {exc}") from exc
    command = meta.get("command") if isinstance(meta, dict) else None
    if not isinstance(command, str) or not command.strip():
        raise BundleError(
            f"{folder.name}/{name} has no 'command' (found {meta!r}); a program "
            "needs one, e.g. 'command: python3 /app/program/score.py'"
        )
    return command
