"""Requirements files: the allow-list check, and the offline derived image."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from harness.errors import SubmissionError
from harness_sandboxes._requirements import (
    Pin,
    RequirementsBuildError,
    RequirementsError,
    build_requirements_image,
    normalise,
    parse_requirements,
    requirements_image_tag,
)
from harness_sandboxes.docker import DEFAULT_IMAGE, LABEL, _owner

ALLOWED = {"lightgbm": ">=4,<5", "PyWavelets": "", "tiny_pkg": "==1.0"}


def test_accepts_pins_with_comments_and_blank_lines() -> None:
    text = (
        "# models\n\nlightgbm==4.3.0  # trees\n  pywavelets == 1.4.1\nTiny.Pkg==1.0\n"
    )
    pins = parse_requirements(text, ALLOWED)
    assert pins == (
        Pin("lightgbm", "4.3.0", 3),
        Pin("pywavelets", "1.4.1", 4),
        Pin("tiny-pkg", "1.0", 5),
    )


def test_reports_every_bad_line_at_once() -> None:
    text = "\n".join(
        [
            "lightgbm==4.3.0",  # 1: fine
            "lightgbn==4.3.0",  # 2: unknown, close to an allowed name
            "torch==2.1.0",  # 3: unknown
            "lightgbm>=4",  # 4: a range, not a pin
            "pywavelets",  # 5: no version
            "lightgbm==3.3.5",  # 6: outside the allowed range
            "-e git+https://example.org/x.git#egg=x",  # 7: pip option
            "--index-url https://example.org/simple",  # 8: pip option
            "https://example.org/x-1.0-py3-none-any.whl",  # 9: URL
            "tiny_pkg[extra]==1.0",  # 10: extras
            "pywavelets==1.4.1; python_version < '3.12'",  # 11: marker
            "pywavelets==not.a.version!",  # 12: bad version
            "LightGBM==4.3.0",  # 13: duplicate of line 1
            "x @ file:///tmp/x.whl",  # 14: direct reference
        ]
    )
    with pytest.raises(RequirementsError) as caught:
        parse_requirements(text, ALLOWED, source="sub/requirements.txt")
    problems = dict(caught.value.problems)
    message = str(caught.value)
    assert sorted(problems) == list(range(2, 15))
    assert message.startswith("sub/requirements.txt: 13 lines refused")
    assert "did you mean 'lightgbm'?" in problems[2]
    assert "'torch' is not allowed" in problems[3]
    assert "not an exact pin" in problems[4] and "not an exact pin" in problems[5]
    assert "outside the allowed versions <5,>=4" in problems[6]
    assert "pip options" in problems[7] and "pip options" in problems[8]
    assert "URLs" in problems[9] and "URLs" in problems[14]
    assert "extras" in problems[10]
    assert "markers" in problems[11]
    assert "not a valid version" in problems[12]
    assert "already pinned on line 1" in problems[13]
    for number in range(2, 15):
        assert f"  line {number}: " in message
    assert isinstance(caught.value, SubmissionError)


def test_empty_file_has_no_pins() -> None:
    assert parse_requirements("# nothing\n\n", ALLOWED) == ()


def test_bad_allow_list_is_an_error() -> None:
    with pytest.raises(ValueError, match="'numpy': 'latest' is not a version range"):
        parse_requirements("numpy==1.0", {"numpy": "latest"})


def test_tag_depends_on_pins_and_base_not_order() -> None:
    one = parse_requirements("lightgbm==4.3.0\npywavelets==1.4.1\n", ALLOWED)
    two = parse_requirements("PyWavelets==1.4.1\nLightGBM==4.3.0\n", ALLOWED)
    other = parse_requirements("lightgbm==4.2.0\npywavelets==1.4.1\n", ALLOWED)
    assert normalise(one) == "lightgbm==4.3.0\npywavelets==1.4.1\n"
    assert requirements_image_tag(one, "sha256:a") == requirements_image_tag(
        two, "sha256:a"
    )
    assert requirements_image_tag(one, "sha256:a") != requirements_image_tag(
        one, "sha256:b"
    )
    assert requirements_image_tag(one, "sha256:a") != requirements_image_tag(
        other, "sha256:a"
    )
    assert requirements_image_tag(one, "sha256:a").startswith("harness-req:")


def _wheel(folder: Path, version: str) -> Path:
    """Write a minimal pure-Python wheel of ``tiny-pkg``."""
    dist = f"tiny_pkg-{version}.dist-info"
    files = {
        "tiny_pkg/__init__.py": f"VERSION = {version!r}\n",
        f"{dist}/METADATA": "Metadata-Version: 2.1\nName: tiny-pkg\n"
        f"Version: {version}\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\n"
        "Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for name, text in files.items():
        digest = hashlib.sha256(text.encode()).digest()
        encoded = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        record.append(f"{name},sha256={encoded},{len(text.encode())}")
    record.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = "\n".join(record) + "\n"
    path = folder / f"tiny_pkg-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path


@pytest.fixture
def fresh_tag(docker_client: Any) -> Any:
    """Remove the derived image of the test pins before and after the test."""
    base = docker_client.images.get(DEFAULT_IMAGE)
    tags = []

    def tag_for(pins: tuple[Pin, ...]) -> str:
        tag = requirements_image_tag(pins, base.id)
        tags.append(tag)
        _remove_image(docker_client, tag)
        return tag

    yield tag_for
    for tag in tags:
        _remove_image(docker_client, tag)
    mine = {"label": f"{LABEL}.owner={_owner()}"}
    assert docker_client.containers.list(all=True, filters=mine) == []


def _remove_image(client: Any, tag: str) -> None:
    from docker.errors import ImageNotFound

    with contextlib.suppress(ImageNotFound):
        client.images.remove(tag, force=True)


@pytest.mark.docker
def test_builds_derived_image_offline_and_reuses_it(
    docker_client: Any, fresh_tag: Any, tmp_path: Path
) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    _wheel(wheels, "1.0")
    pins = parse_requirements("tiny-pkg==1.0\n", ALLOWED)
    expected = fresh_tag(pins)

    tag = build_requirements_image(
        docker_client, pins, base_image=DEFAULT_IMAGE, wheels_dir=wheels
    )
    started = time.monotonic()
    again = build_requirements_image(
        docker_client, pins, base_image=DEFAULT_IMAGE, wheels_dir=wheels
    )
    reuse_seconds = time.monotonic() - started
    output = docker_client.containers.run(
        tag,
        ["python3", "-c", "import os, tiny_pkg; print(tiny_pkg.VERSION, os.getuid())"],
        network_mode="none",
        remove=True,
    )
    image = docker_client.images.get(tag)
    assert tag == again == expected
    assert reuse_seconds < 1.0
    assert output.decode().split() == ["1.0", "1000"]
    assert image.labels[f"{LABEL}.requirements"] == "tiny-pkg==1.0"
    assert image.labels[f"{LABEL}.owner"] == ""


@pytest.mark.docker
def test_missing_wheel_fails_with_pip_output(
    docker_client: Any, fresh_tag: Any, tmp_path: Path
) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    _wheel(wheels, "0.9")
    pins = (Pin("tiny-pkg", "1.0", 1),)
    fresh_tag(pins)
    with pytest.raises(RequirementsBuildError) as caught:
        build_requirements_image(
            docker_client, pins, base_image=DEFAULT_IMAGE, wheels_dir=wheels
        )
    message = str(caught.value)
    assert "pip could not install tiny-pkg==1.0" in message
    assert "exit status 1" in message
    assert "No matching distribution found for tiny-pkg==1.0" in message


def test_no_pins_means_the_base_image(tmp_path: Path) -> None:
    tag = build_requirements_image(
        None,
        (),
        base_image="harness-base:x",
        wheels_dir=tmp_path,  # type: ignore[arg-type]
    )
    assert tag == "harness-base:x"
