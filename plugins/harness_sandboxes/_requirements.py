"""A submission's ``requirements.txt``: checked against an allow-list, then
installed offline into an image derived from the sandbox base image.

Nothing is ever installed while a submission is scored. Before the run, the
pinned packages are installed with ``pip --no-index`` from a folder of wheels
that the operator provides, in a container with no network, and the result is
committed as ``harness-req:<hash>``. The hash covers the normalised pins and
the base image's id, so an identical request reuses the image.

Accepted lines are exact pins, ``name==version``, one per line; comments
(``#`` to the end of the line) and blank lines are ignored. Anything else
(ranges, extras, environment markers, URLs, pip options such as ``-e`` or
``--index-url``) is refused, because each could fetch code from elsewhere or
install something that was not reviewed.

Known limits: pip may install a pinned package's own dependencies when the
wheel folder holds them (they are the operator's choice, not the
submission's); only wheels are installed, never source distributions.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import re
import time
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from harness.errors import SandboxUnavailableError, SubmissionError
from harness.types import Limits
from harness_sandboxes.docker import (
    LABEL,
    SANDBOX_UID,
    hardened_config,
    owner_labels,
)

if TYPE_CHECKING:
    from docker import DockerClient

__all__ = [
    "Pin",
    "RequirementsBuildError",
    "RequirementsError",
    "build_requirements_image",
    "parse_requirements",
    "requirements_image_tag",
]

#: Repository of derived images; the tag is a hash of what they hold.
IMAGE_REPOSITORY = "harness-req"
# Bumped when the way images are built changes, so old ones are not reused.
_RECIPE = "pip-no-index-1"
_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")
_COMMENT = re.compile(r"(^|\s)#.*$")
_PIN = re.compile(r"^(?P<name>[^=<>!~\s\[;@]+)\s*==\s*(?P<version>[^=\s;,]+)$")


@dataclasses.dataclass(frozen=True)
class Pin:
    """One accepted line: a package pinned to one version.

    :param name: the canonical name (lower case, runs of ``-_.`` as ``-``).
    :param version: the normalised version.
    :param line: the 1-based line number in the file.
    """

    name: str
    version: str
    line: int

    def __str__(self) -> str:
        return f"{self.name}=={self.version}"


class RequirementsError(SubmissionError):
    """A ``requirements.txt`` has lines that cannot be accepted.

    :param problems: ``(line number, explanation)`` for every bad line.
    """

    def __init__(self, source: str, problems: list[tuple[int, str]]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  line {n}: {why}" for n, why in self.problems)
        count = len(self.problems)
        super().__init__(
            f"{source}: {count} line{'s' if count != 1 else ''} refused "
            f"(each must be an exact pin 'name==version' of an allowed "
            f"package):\n{lines}"
        )


class RequirementsBuildError(SubmissionError):
    """Installing accepted pins into a derived image failed."""


def _allowed_specs(allowed: Mapping[str, str]) -> dict[str, SpecifierSet]:
    """Parse the allow-list: canonical name to the versions it permits."""
    specs: dict[str, SpecifierSet] = {}
    for name, spec in allowed.items():
        try:
            specs[canonicalize_name(name)] = SpecifierSet(spec or "")
        except InvalidSpecifier as exc:
            raise ValueError(
                f"allow-list entry {name!r}: {spec!r} is not a version range"
            ) from exc
    return specs


def parse_requirements(
    text: str, allowed: Mapping[str, str], *, source: str = "requirements.txt"
) -> tuple[Pin, ...]:
    """Check a requirements file against an allow-list and return its pins.

    :param text: the file's content.
    :param allowed: package name to the versions allowed, as a specifier
        (``">=1.3,<2"``); an empty string allows any version.
    :param source: the file's name, used in the error message.
    :returns: the pins in file order.
    :raises RequirementsError: naming every refused line at once.

    >>> parse_requirements("LightGBM==4.3.0  # trees\\n", {"lightgbm": ">=4"})
    (Pin(name='lightgbm', version='4.3.0', line=1),)
    """
    specs = _allowed_specs(allowed)
    pins: list[Pin] = []
    problems: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        # As pip reads it: "#" starts a comment at the start of a line or
        # after white space, and is part of the text elsewhere (URLs).
        line = _COMMENT.sub("", raw).strip()
        if not line:
            continue
        problem, pin = _check_line(line, number, specs)
        if problem is None and pin is not None and pin.name in seen:
            problem = f"{pin.name!r} is already pinned on line {seen[pin.name]}"
        if problem is not None:
            problems.append((number, problem))
        elif pin is not None:
            seen[pin.name] = number
            pins.append(pin)
    if problems:
        raise RequirementsError(source, problems)
    return tuple(pins)


def _check_line(
    line: str, number: int, specs: Mapping[str, SpecifierSet]
) -> tuple[str | None, Pin | None]:
    """Return ``(problem, None)`` for a refused line, else ``(None, pin)``."""
    shown = line if len(line) <= 60 else line[:57] + "..."
    if line.startswith("-"):
        return f"{shown!r}: pip options are not accepted", None
    if "://" in line or "@" in line:
        return f"{shown!r}: URLs and direct references are not accepted", None
    if ";" in line:
        return f"{shown!r}: environment markers are not accepted", None
    if "[" in line:
        return f"{shown!r}: extras are not accepted", None
    match = _PIN.match(line)
    if match is None:
        return f"{shown!r} is not an exact pin 'name==version'", None
    name, version_text = match["name"], match["version"]
    if not _NAME.match(name):
        return f"{name!r} is not a valid package name", None
    try:
        version = Version(version_text)
    except InvalidVersion:
        return f"{version_text!r} is not a valid version of {name!r}", None
    canonical = canonicalize_name(name)
    if canonical not in specs:
        close = difflib.get_close_matches(canonical, list(specs), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        allowed = ", ".join(sorted(specs)) or "none"
        return f"{name!r} is not allowed{hint} (allowed: {allowed})", None
    if not specs[canonical].contains(version, prereleases=True):
        return (
            f"{name}=={version} is outside the allowed versions "
            f"{str(specs[canonical]) or 'any'}",
            None,
        )
    return None, Pin(canonical, str(version), number)


def normalise(pins: Iterable[Pin]) -> str:
    """The pins as sorted ``name==version`` lines: equal requests, equal text."""
    return "".join(f"{pin}\n" for pin in sorted(pins, key=lambda p: p.name))


def requirements_image_tag(pins: Iterable[Pin], base_image_id: str) -> str:
    """The derived image's name for these pins on this base image."""
    digest = hashlib.sha256(
        f"{_RECIPE}\n{base_image_id}\n{normalise(pins)}".encode()
    ).hexdigest()
    return f"{IMAGE_REPOSITORY}:{digest[:16]}"


def build_requirements_image(
    client: DockerClient,
    pins: Iterable[Pin],
    *,
    base_image: str,
    wheels_dir: Path,
    timeout: float = 600.0,
) -> str:
    """Install ``pins`` offline into an image derived from ``base_image``.

    The wheel folder is mounted read-only at ``/wheels`` in a container with
    no network and no capabilities, where pip (as root, so that it can write
    to the system's site folder) installs only from that folder; the
    container is then committed. An image built earlier for the same pins
    and base image is reused without starting anything.

    :param client: a connected docker client.
    :param pins: accepted pins, from :func:`parse_requirements`.
    :param base_image: the image to derive from (it needs ``python3 -m pip``).
    :param wheels_dir: host folder of ``.whl`` files.
    :param timeout: seconds the installation may take.
    :returns: the derived image's name; ``base_image`` when there are no pins.
    :raises RequirementsBuildError: when pip fails or times out, with the
        last lines of its output.
    """
    from docker.errors import ImageNotFound
    from docker.types import Mount

    pins = tuple(pins)
    if not pins:
        return base_image
    wheels = Path(wheels_dir).resolve()
    if not wheels.is_dir():
        raise RequirementsBuildError(f"wheel folder {wheels} does not exist")
    try:
        base = client.images.get(base_image)
    except ImageNotFound as exc:
        raise SandboxUnavailableError(
            f"base image {base_image} is missing; build it as root with "
            "scripts/build-base-image.sh"
        ) from exc
    tag = requirements_image_tag(pins, base.id)
    try:
        client.images.get(tag)
        return tag
    except ImageNotFound:
        pass

    run_id = uuid.uuid4().hex[:12]
    limits = Limits(memory_bytes=2 * 1024**3, processes=256, cpus=1.0)
    config = hardened_config(limits, user="0:0")
    # pip writes into the image's own folders, which a read-only root
    # would refuse; the container is thrown away after the commit.
    config["read_only"] = False
    command = [
        "python3",
        "-m",
        "pip",
        "install",
        "--no-index",
        "--find-links",
        "/wheels",
        "--only-binary",
        ":all:",
        "--no-cache-dir",
        "--disable-pip-version-check",
        "--no-input",
        "--root-user-action",
        "ignore",
        "--break-system-packages",
        *(str(pin) for pin in pins),
    ]
    container = client.containers.create(
        base_image,
        command,
        mounts=[Mount("/wheels", str(wheels), type="bind", read_only=True)],
        labels=owner_labels(run_id, "requirements-build"),
        **config,
    )
    try:
        container.start()
        deadline = time.monotonic() + timeout
        while True:
            container.reload()
            if container.status not in ("created", "running"):
                break
            if time.monotonic() > deadline:
                container.kill()
                raise RequirementsBuildError(
                    f"installing {', '.join(map(str, pins))} took more than "
                    f"{timeout:g} s"
                )
            time.sleep(0.2)
        code = container.attrs["State"]["ExitCode"]
        if code != 0:
            output = container.logs(tail=30).decode("utf-8", errors="replace")
            raise RequirementsBuildError(
                f"pip could not install {', '.join(map(str, pins))} from "
                f"{wheels} (exit status {code}):\n{output}"
            )
        repository, _, name = tag.partition(":")
        container.commit(
            repository=repository,
            tag=name,
            changes=[
                f"USER {SANDBOX_UID}:{SANDBOX_UID}",
                'CMD ["python3"]',
                # The build container's ownership labels must not be
                # inherited by the containers later made from this image.
                f'LABEL {LABEL}.run="" {LABEL}.owner="" {LABEL}.role="image"',
                f'LABEL {LABEL}.requirements="{" ".join(map(str, pins))}"',
                f'LABEL {LABEL}.base="{base.id}"',
            ],
        )
    finally:
        container.remove(force=True)
    return tag
