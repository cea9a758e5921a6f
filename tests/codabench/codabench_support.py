"""Helpers for the Codabench tests: hand-written bundles and archives.

:func:`write_bundle` builds small bundles whose programs are plain Python
scripts, so that the emulator is tested on bundles the harness did not
write.
"""

from __future__ import annotations

import textwrap
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from docker import DockerClient

REPO = Path(__file__).resolve().parents[2]
REFERENCE_SUBMISSIONS = REPO / "reference_submissions"


def leftovers(client: DockerClient, run_id: str) -> list[str]:
    """Names of containers of emulator run ``run_id`` that still exist."""
    from harness_sandboxes.docker import LABEL

    found = client.containers.list(all=True, filters={"label": f"{LABEL}.run={run_id}"})
    return [c.name for c in found]


SCORE_ANSWER = """\
import json

with open("/app/input/res/answer.txt") as fh:
    given = fh.read().strip()
with open("/app/input/ref/answer.txt") as fh:
    expected = fh.read().strip()
scores = {"accuracy": 1.0 if given == expected else 0.0, "speed": 0.25}
with open("/app/output/scores.json", "w") as fh:
    json.dump(scores, fh)
print("scored", scores)
"""


def write_bundle(
    root: Path,
    *,
    scoring: str = SCORE_ANSWER,
    ingestion: str | None = None,
    columns: list[dict[str, Any]] | None = None,
    time_limit: int = 60,
    reference: dict[str, str] | None = None,
    input_data: dict[str, str] | None = None,
    image: str | None = None,
) -> Path:
    """Write a small hand-made bundle folder with plain-script programs."""
    from harness_sandboxes.docker import DEFAULT_IMAGE

    root.mkdir(parents=True)
    program = root / "scoring_program"
    program.mkdir()
    (program / "metadata.yaml").write_text("command: python3 /app/program/score.py\n")
    (program / "score.py").write_text(textwrap.dedent(scoring))
    task: dict[str, Any] = {
        "index": 0,
        "name": "only task",
        "scoring_program": "scoring_program",
    }
    ref = root / "reference"
    ref.mkdir()
    for name, text in (reference or {"answer.txt": "42\n"}).items():
        (ref / name).write_text(text)
    task["reference_data"] = "reference"
    if ingestion is not None:
        folder = root / "ingestion_program"
        folder.mkdir()
        (folder / "metadata.yaml").write_text(
            "command: python3 $ingestion_program/ingest.py\n"
        )
        (folder / "ingest.py").write_text(textwrap.dedent(ingestion))
        task["ingestion_program"] = "ingestion_program"
    if input_data is not None:
        data = root / "input_data"
        data.mkdir()
        for name, text in input_data.items():
            (data / name).write_text(text)
        task["input_data"] = "input_data"
    competition = {
        "version": 2,
        "title": "hand-written bundle",
        "docker_image": image or DEFAULT_IMAGE,
        "tasks": [task],
        "phases": [
            {
                "index": 0,
                "name": "Development",
                "tasks": [0],
                "execution_time_limit": time_limit,
            }
        ],
        "leaderboards": [
            {
                "index": 0,
                "title": "Results",
                "key": "main",
                "columns": columns
                or [
                    {
                        "title": "Accuracy",
                        "key": "accuracy",
                        "index": 0,
                        "sorting": "desc",
                        "precision": 3,
                    },
                    {"title": "Speed", "key": "speed", "index": 1, "sorting": "asc"},
                ],
            }
        ],
    }
    (root / "competition.yaml").write_text(yaml.safe_dump(competition, sort_keys=False))
    return root


def zip_folder(
    folder: Path, archive: Path, *, enclosing: str | None = None, junk: bool = False
) -> Path:
    """Zip a folder's files; optionally inside one folder, with macOS debris."""
    prefix = f"{enclosing}/" if enclosing else ""
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            name = path.relative_to(folder).as_posix()
            zf.write(path, prefix + name)
            if junk:
                zf.writestr(f"__MACOSX/{prefix}._{path.name}", b"\x00\x05\x16\x07")
        if junk:
            zf.writestr(prefix + ".DS_Store", b"\x00\x00\x00\x01Bud1")
    return archive


def answer_submission(tmp_path: Path, answer: str = "42") -> Path:
    """A result submission: one answer.txt."""
    folder = tmp_path / "answer-submission"
    folder.mkdir()
    (folder / "answer.txt").write_text(answer + "\n")
    return folder
