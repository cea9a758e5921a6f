"""Load the JSON Schemas in ``schemas/`` and validate documents against them.

Errors are turned into messages a person can act on: the file, the location
inside it (with a line number for YAML), the value found and what the schema
expected. Every problem in a document is reported at once.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from jsonschema import Draft202012Validator

from harness.errors import InvalidInputError, did_you_mean

__all__ = ["schema_path", "load_schema", "validate", "format_location", "yaml_lines"]

_MAX_SHOWN = 80


def _schema_dir() -> Path:
    here = Path(__file__).resolve().parent
    for candidate in (here / "schemas", here.parent / "schemas"):
        if (candidate / "challenge.schema.json").is_file():
            return candidate
    raise FileNotFoundError(f"the harness's schemas are not installed next to {here}")


def schema_path(name: str) -> Path:
    """Return the path of ``schemas/<name>.schema.json``."""
    return _schema_dir() / f"{name}.schema.json"


@functools.cache
def load_schema(name: str) -> dict[str, Any]:
    """Return the parsed schema ``name`` (for example ``"challenge"``)."""
    with open(schema_path(name), encoding="utf-8") as fh:
        schema: dict[str, Any] = json.load(fh)
    Draft202012Validator.check_schema(schema)
    return schema


def format_location(path: Iterable[Any]) -> str:
    """Render a JSON path such as ``metrics[0].direction``; ``(top level)``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


def _shorten(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def describe_error(error: jsonschema.ValidationError) -> str:
    """One schema error as a sentence a person can act on."""
    return _describe(error)


def _describe(error: jsonschema.ValidationError) -> str:
    validator = error.validator
    expected = error.validator_value
    if validator == "required":
        missing = [k for k in expected if k not in error.instance]
        return f"missing required key(s): {', '.join(repr(k) for k in missing)}"
    if validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = [k for k in error.instance if k not in allowed]
        text = (
            f"unexpected key(s) {', '.join(repr(k) for k in extra)}; "
            f"allowed: {', '.join(allowed) or 'none'}"
        )
        if len(extra) == 1 and (hint := did_you_mean(str(extra[0]), allowed)):
            text += "." + hint
        return text
    if validator == "enum":
        options = ", ".join(_shorten(v) for v in expected)
        return f"found {_shorten(error.instance)}, expected one of: {options}"
    if validator == "const":
        return f"found {_shorten(error.instance)}, expected {_shorten(expected)}"
    if validator == "type":
        kinds = expected if isinstance(expected, list) else [expected]
        return (
            f"found {_shorten(error.instance)} ({type(error.instance).__name__}), "
            f"expected {' or '.join(kinds)}"
        )
    return f"found {_shorten(error.instance)}: {error.message}"


def yaml_lines(text: str) -> dict[tuple[Any, ...], int]:
    """Map each JSON path of a YAML document to its 1-based line number."""
    lines: dict[tuple[Any, ...], int] = {}

    def walk(node: yaml.Node, path: tuple[Any, ...]) -> None:
        lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                child = (*path, key.value)
                walk(value, child)
                lines[child] = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, (*path, index))

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return lines
    if root is not None:
        walk(root, ())
    return lines


def problems(
    document: Any,
    schema_name: str,
    *,
    lines: Mapping[tuple[Any, ...], int] | None = None,
) -> list[str]:
    """Return one readable line per schema violation, in document order."""
    validator = Draft202012Validator(load_schema(schema_name))
    found = []
    for error in validator.iter_errors(document):
        path = tuple(error.absolute_path)
        where = format_location(path)
        if lines:
            line = _nearest_line(path, lines)
            if line is not None:
                where += f" (line {line})"
        found.append((path, f"{where}: {_describe(error)}"))
    found.sort(key=lambda item: [str(p) for p in item[0]])
    # One error per missing key, but each message names all of them.
    return list(dict.fromkeys(text for _, text in found))


def _nearest_line(
    path: Sequence[Any], lines: Mapping[tuple[Any, ...], int]
) -> int | None:
    for end in range(len(path), -1, -1):
        line = lines.get(tuple(path[:end]))
        if line is not None:
            return line
    return None


def validate(
    document: Any,
    schema_name: str,
    *,
    source: str,
    lines: Mapping[tuple[Any, ...], int] | None = None,
    error: type[InvalidInputError] = InvalidInputError,
) -> None:
    """Raise ``error`` listing every violation of ``schema_name`` in ``document``.

    :param source: what the document is, for the message (usually a path).
    :param lines: line numbers from :func:`yaml_lines`, when the source is YAML.
    """
    found = problems(document, schema_name, lines=lines)
    if found:
        noun = "problem" if len(found) == 1 else "problems"
        body = "\n".join(f"  - {p}" for p in found)
        raise error(
            f"{source} does not match the {schema_name} schema "
            f"({len(found)} {noun}):\n{body}"
        )
