"""Challenge files: load, validate against the schema, resolve against plugins.

A challenge is data: a YAML file composing registered plugins. Loading checks
it in two passes. The schema pass names the file, the location, the value
found and what was expected. The resolution pass checks every plugin name
against the registries (with "did you mean") and every option block against
the plugin's own options schema.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema
import yaml

from harness.errors import ChallengeError
from harness.schemas import describe_error, format_location, validate, yaml_lines
from harness.types import Limits, MetricColumn

if TYPE_CHECKING:
    from harness.plugins import Plugins

__all__ = ["Challenge", "MetricColumn", "Phase", "load_challenge", "find_challenge"]

MAX_CHALLENGE_CHARS = 1_000_000
MAX_NODES = 100_000


@dataclasses.dataclass(frozen=True)
class Phase:
    name: str
    split: str
    description: str = ""


@dataclasses.dataclass(frozen=True)
class Challenge:
    """A validated challenge file."""

    name: str
    version: str
    title: str
    description: str
    dataset: str
    dataset_options: Mapping[str, Any]
    kind: str
    protocol: str
    protocol_options: Mapping[str, Any]
    positive_label: int | str
    higher_is_anomalous: bool
    columns: tuple[MetricColumn, ...]
    phases: tuple[Phase, ...]
    limits: Limits
    image: str | None
    requirements_allowed: Mapping[str, str] | None
    wheels: Path | None
    source: Path
    sha256: str
    raw: Mapping[str, Any]

    @property
    def primary(self) -> MetricColumn:
        return next(c for c in self.columns if c.primary)

    def phase(self, name: str) -> Phase:
        for phase in self.phases:
            if phase.name == name:
                return phase
        names = [p.name for p in self.phases]
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ChallengeError(
            f"challenge {self.name!r} has no phase {name!r}{hint} "
            f"(phases: {', '.join(names)})"
        )


def _limits(raw: Mapping[str, Any]) -> Limits:
    default = Limits()
    return Limits(
        wall_seconds=float(raw.get("wall_seconds", default.wall_seconds)),
        memory_bytes=int(raw.get("memory_mb", default.memory_bytes // 2**20)) * 2**20,
        processes=int(raw.get("processes", default.processes)),
        cpus=float(raw.get("cpus", default.cpus)),
        output_bytes=int(raw.get("output_mb", default.output_bytes // 2**20)) * 2**20,
    )


def _check_finite(node: Any, source: Path, where: tuple[Any, ...] = ()) -> None:
    """Refuse NaN and infinities, which YAML allows and JSON Schema lets pass."""
    if isinstance(node, float) and not math.isfinite(node):
        raise ChallengeError(
            f"{source}: {format_location(where)}: found {node}, expected a "
            "finite number"
        )
    if isinstance(node, dict):
        for key, value in node.items():
            _check_finite(value, source, (*where, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            _check_finite(value, source, (*where, index))


def _expanded_size(root: yaml.Node | None) -> int:
    """How many values the document holds once every alias is expanded."""
    sizes: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        if id(node) not in sizes:
            if isinstance(node, yaml.MappingNode):
                children = [n for pair in node.value for n in pair]
            elif isinstance(node, yaml.SequenceNode):
                children = list(node.value)
            else:
                children = []
            sizes[id(node)] = 1 + sum(size(child) for child in children)
        return sizes[id(node)]

    return 0 if root is None else size(root)


_MERGE_TAG = "tag:yaml.org,2002:merge"

# Protocol options reach a runner, where 2.0 is no axis: JSON Schema's
# "integer" would take it, so here only whole numbers written as such do.
_OptionsValidator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator,
    type_checker=jsonschema.Draft202012Validator.TYPE_CHECKER.redefine(
        "integer",
        lambda _, value: isinstance(value, int) and not isinstance(value, bool),
    ),
)


def _check_unique_keys(root: yaml.Node | None, source: Path) -> None:
    """Refuse a mapping that gives one key twice.

    YAML loaders keep the last value silently, so a second ``metric:`` or
    ``seed:`` pasted further down would change the challenge unnoticed.
    """
    constructor = yaml.constructor.SafeConstructor()
    seen: set[int] = set()
    stack = [] if root is None else [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[Any, int] = {}
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    line = key.start_mark.line + 1
                    # Keys are compared as loaded: 1, 0x1 and 1.0 are one key;
                    # two merges in one mapping would also lose one of them.
                    identity = (
                        (_MERGE_TAG,)
                        if key.tag == _MERGE_TAG
                        else constructor.construct_object(key)
                    )
                    if identity in first:
                        raise ChallengeError(
                            f"{source}: line {line}: the key {key.value!r} is "
                            f"given twice in one mapping (first at line "
                            f"{first[identity]}); keep one"
                        )
                    first[identity] = line
                stack.extend((key, value))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)


def parse_challenge(text: str, *, source: Path) -> Challenge:
    """Validate challenge ``text`` against the schema; no plugin lookups."""
    if len(text) > MAX_CHALLENGE_CHARS:
        raise ChallengeError(
            f"{source}: {len(text)} characters; a challenge file has at most "
            f"{MAX_CHALLENGE_CHARS}"
        )
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        expanded = _expanded_size(root)
        if expanded > MAX_NODES:
            raise ChallengeError(
                f"{source}: its aliases expand to more than {MAX_NODES} values; "
                "a challenge file is far smaller"
            )
        _check_unique_keys(root, source)
        raw = yaml.safe_load(text)
    except RecursionError as exc:
        raise ChallengeError(
            f"{source}: nested too deeply (or an alias refers to itself)"
        ) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ChallengeError(f"{source}: not valid YAML{where}: {problem}") from exc
    _check_finite(raw, source)
    validate(
        raw,
        "challenge",
        source=str(source),
        lines=yaml_lines(text),
        error=ChallengeError,
    )

    columns = tuple(
        MetricColumn(
            key=m["key"],
            metric=m["metric"],
            direction=m["direction"],
            primary=bool(m.get("primary", False)),
            output=m.get("output"),
            options=dict(m.get("options", {})),
            precision=int(m.get("precision", 4)),
        )
        for m in raw["metrics"]
    )
    _check_columns(columns, source)
    phases = tuple(
        Phase(p["name"], p["split"], p.get("description", "")) for p in raw["phases"]
    )
    names = [p.name for p in phases]
    if len(set(names)) != len(names):
        raise ChallengeError(f"{source}: phases: a phase name appears twice: {names}")
    submission = raw["submission"]
    requirements = submission.get("requirements", {})
    allowed = requirements.get("allowed")
    return Challenge(
        name=raw["name"],
        version=str(raw["version"]),
        title=raw.get("title", raw["name"]),
        description=raw.get("description", ""),
        dataset=raw["dataset"]["name"],
        dataset_options=dict(raw["dataset"].get("options", {})),
        kind=submission["kind"],
        protocol=submission["protocol"]["name"],
        protocol_options=dict(submission["protocol"].get("options", {})),
        positive_label=raw["labels"]["positive"],
        higher_is_anomalous=raw["labels"]["higher_is_anomalous"],
        columns=columns,
        phases=phases,
        limits=_limits(raw.get("limits", {})),
        image=raw.get("sandbox", {}).get("image"),
        requirements_allowed=dict(allowed) if allowed is not None else None,
        wheels=(source.parent / requirements["wheels"])
        if requirements.get("wheels")
        else None,
        source=source,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        raw=raw,
    )


def _check_columns(columns: tuple[MetricColumn, ...], source: Path) -> None:
    keys = [c.key for c in columns]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        raise ChallengeError(f"{source}: metrics: duplicate column key(s) {dupes}")
    primaries = [c.key for c in columns if c.primary]
    if len(primaries) != 1:
        found = ", ".join(primaries) if primaries else "none"
        raise ChallengeError(
            f"{source}: metrics: exactly one column must have 'primary: true' "
            f"(found: {found})"
        )


def resolve(challenge: Challenge, plugins: Plugins) -> None:
    """Check every plugin the challenge names, and their options.

    :raises ChallengeError: naming the location in the file, the name found
        and the closest registered name.
    """
    problems: list[str] = []

    def unknown(where: str, what: str, name: str, known: list[str]) -> None:
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        problems.append(
            f"{where}: unknown {what} {name!r}{hint} (registered: "
            f"{', '.join(known) or 'none'})"
        )

    if challenge.dataset not in plugins.datasets:
        unknown("dataset.name", "dataset", challenge.dataset, list(plugins.datasets))
    else:
        dataset = plugins.datasets[challenge.dataset]
        if dataset.options_schema is not None:
            validator = jsonschema.Draft202012Validator(dict(dataset.options_schema))
            for error in validator.iter_errors(dict(challenge.dataset_options)):
                loc = format_location(("options", *error.absolute_path))
                problems.append(f"dataset.{loc}: {describe_error(error)}")
        for phase in challenge.phases:
            if dataset.splits and phase.split not in dataset.splits:
                problems.append(
                    f"phases: phase {phase.name!r} uses split {phase.split!r}, "
                    f"which dataset {dataset.name!r} does not have (splits: "
                    f"{', '.join(dataset.splits)})"
                )
    if challenge.kind not in plugins.kinds:
        unknown(
            "submission.kind", "submission kind", challenge.kind, list(plugins.kinds)
        )
    else:
        kind = plugins.kinds[challenge.kind]
        if challenge.protocol not in kind.protocols:
            unknown(
                "submission.protocol.name",
                f"protocol of {kind.name!r}",
                challenge.protocol,
                list(kind.protocols),
            )
        elif challenge.protocol in kind.options_schemas:
            schema = dict(kind.options_schemas[challenge.protocol])
            validator = _OptionsValidator(schema)
            for error in validator.iter_errors(dict(challenge.protocol_options)):
                loc = format_location(("options", *error.absolute_path))
                problems.append(f"submission.protocol.{loc}: {describe_error(error)}")
    for index, column in enumerate(challenge.columns):
        where = f"metrics[{index}]"
        if column.metric not in plugins.metrics:
            unknown(f"{where}.metric", "metric", column.metric, list(plugins.metrics))
            continue
        metric = plugins.metrics[column.metric]
        if metric.outputs and column.output not in metric.outputs:
            found = "nothing" if column.output is None else repr(column.output)
            problems.append(
                f"{where}.output: metric {metric.name!r} gives several values; "
                f"found {found}, expected one of {', '.join(metric.outputs)}"
            )
        if not metric.outputs and column.output is not None:
            problems.append(
                f"{where}.output: metric {metric.name!r} gives one value; remove "
                f"'output: {column.output}'"
            )
        if column.greater_is_better != metric.greater_is_better:
            expected = "higher" if metric.greater_is_better else "lower"
            problems.append(
                f"{where}.direction: found {column.direction!r}, but metric "
                f"{metric.name!r} is better when {expected}"
            )
        if metric.options_schema is not None:
            validator = jsonschema.Draft202012Validator(dict(metric.options_schema))
            for error in validator.iter_errors(dict(column.options)):
                loc = format_location((index, "options", *error.absolute_path))
                problems.append(f"metrics{loc}: {describe_error(error)}")
    if problems:
        body = "\n".join(f"  - {p}" for p in problems)
        raise ChallengeError(
            f"{challenge.source}: refers to things that are not registered "
            f"or not valid ({len(problems)}):\n{body}"
        )


def load_challenge(path: Path, plugins: Plugins | None = None) -> Challenge:
    """Read, validate and (when ``plugins`` is given) resolve a challenge file."""
    path = Path(path)
    if path.exists() and not path.is_file():
        raise ChallengeError(f"{path}: not a regular file; give a .yaml file")
    if path.is_file() and path.stat().st_size > MAX_CHALLENGE_CHARS * 4:
        raise ChallengeError(
            f"{path}: {path.stat().st_size} bytes; a challenge file is far smaller"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ChallengeError(f"cannot read challenge file {path}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ChallengeError(
            f"{path}: not UTF-8 text (byte {exc.start}); a challenge file is YAML"
        ) from exc
    challenge = parse_challenge(text, source=Path(path))
    if plugins is not None:
        resolve(challenge, plugins)
    return challenge


def registered_challenges(plugins: Plugins) -> dict[str, Challenge]:
    """Load every challenge file the plugins register, keyed by name."""
    found: dict[str, Challenge] = {}
    for path, plugin in plugins.challenge_files:
        challenge = load_challenge(path, plugins)
        if challenge.name in found:
            raise ChallengeError(
                f"challenge {challenge.name!r} is registered twice: by "
                f"{found[challenge.name].source} and by plugin {plugin!r} ({path})"
            )
        found[challenge.name] = challenge
    return found


def find_challenge(name_or_path: str, plugins: Plugins) -> Challenge:
    """Return a registered challenge by name, or load one from a file path."""
    candidate = Path(name_or_path)
    if candidate.suffix in {".yaml", ".yml"} or candidate.is_file():
        return load_challenge(candidate, plugins)
    known = {path: plugin for path, plugin in plugins.challenge_files}
    names = {}
    for path in known:
        try:
            names[parse_challenge(path.read_text("utf-8"), source=path).name] = path
        except ChallengeError:
            continue
    if name_or_path not in names:
        close = difflib.get_close_matches(name_or_path, list(names), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ChallengeError(
            f"unknown challenge {name_or_path!r}{hint} (registered: "
            f"{', '.join(sorted(names)) or 'none'}; or give a path to a .yaml file)"
        )
    return load_challenge(names[name_or_path], plugins)
