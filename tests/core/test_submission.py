"""Submission folders and archives: normalisation and refusal."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import pytest

from harness.errors import SubmissionError
from harness.submission import SubmissionCaps, stage_submission

MODEL = b"class Model:\n    def predict(self, X):\n        return X.sum(1)\n"


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def staged_files(dest: Path) -> list[str]:
    return sorted(
        p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()
    )


def test_plain_zip(tmp_path):
    src = make_zip(tmp_path / "s.zip", {"model.py": MODEL, "w/a.npz": b"x"})
    staged = stage_submission(src, tmp_path / "out", required=("model.py",))
    assert staged_files(staged.path) == ["model.py", "w/a.npz"]
    assert staged.files == 2 and staged.notes == ()


def test_enclosing_folder_and_macos_junk_are_handled(tmp_path):
    src = make_zip(
        tmp_path / "s.zip",
        {
            "mysub/model.py": MODEL,
            "mysub/.DS_Store": b"junk",
            "__MACOSX/mysub/._model.py": b"junk",
        },
    )
    staged = stage_submission(src, tmp_path / "out", required=("model.py",))
    assert staged_files(staged.path) == ["model.py"]
    assert any("enclosing folder 'mysub'" in n for n in staged.notes)
    assert any("__MACOSX" in n for n in staged.notes)


def test_same_content_same_hash(tmp_path):
    a = stage_submission(
        make_zip(tmp_path / "a.zip", {"model.py": MODEL}), tmp_path / "a"
    )
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "model.py").write_bytes(MODEL)
    b = stage_submission(folder, tmp_path / "b")
    assert a.sha256 == b.sha256


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("/etc/evil.py", "absolute path"),
        ("../evil.py", "climbs out"),
        ("a/../../evil.py", "climbs out"),
        ("C:/evil.py", "absolute path"),
    ],
)
def test_zip_slip_refused(tmp_path, name, fragment):
    src = make_zip(tmp_path / "s.zip", {"model.py": MODEL, name: b"x"})
    with pytest.raises(SubmissionError, match=fragment):
        stage_submission(src, tmp_path / "out")
    assert not (tmp_path / "evil.py").exists()
    assert list((tmp_path / "out").iterdir()) == []


def test_symlink_member_refused(tmp_path):
    src = tmp_path / "s.zip"
    with zipfile.ZipFile(src, "w") as archive:
        archive.writestr("model.py", MODEL)
        link = zipfile.ZipInfo("truth.npz")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    with pytest.raises(SubmissionError, match="symbolic link"):
        stage_submission(src, tmp_path / "out")


def test_folder_link_leaving_tree_refused(tmp_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "model.py").write_bytes(MODEL)
    os.symlink("/etc/hostname", folder / "host")
    with pytest.raises(SubmissionError, match="link leaving the submission"):
        stage_submission(folder, tmp_path / "out")


def test_caps_on_count_and_size(tmp_path):
    many = {f"f{i}.txt": b"x" for i in range(30)}
    with pytest.raises(SubmissionError, match="holds 31 files; at most 10"):
        stage_submission(
            make_zip(tmp_path / "m.zip", {"model.py": MODEL, **many}),
            tmp_path / "o1",
            caps=SubmissionCaps(max_files=10),
        )
    with pytest.raises(SubmissionError, match="at most 1000 are accepted"):
        stage_submission(
            make_zip(tmp_path / "b.zip", {"model.py": b"#" * 5000}),
            tmp_path / "o2",
            caps=SubmissionCaps(max_bytes=1000),
        )


def test_zip_bomb_refused(tmp_path):
    src = make_zip(
        tmp_path / "bomb.zip", {"model.py": MODEL, "zeros.bin": b"\0" * (50 * 2**20)}
    )
    assert src.stat().st_size < 2**20
    with pytest.raises(SubmissionError, match="zip bomb"):
        stage_submission(src, tmp_path / "out")


def test_truncated_archive(tmp_path):
    src = make_zip(tmp_path / "s.zip", {"model.py": MODEL * 100})
    src.write_bytes(src.read_bytes()[:60])
    with pytest.raises(SubmissionError, match="not a readable zip archive"):
        stage_submission(src, tmp_path / "out")


def test_model_nested_one_level_too_deep(tmp_path):
    src = make_zip(tmp_path / "s.zip", {"a/b/model.py": MODEL, "a/c.txt": b""})
    with pytest.raises(
        SubmissionError, match="found at b/model.py; zip the files themselves"
    ):
        stage_submission(src, tmp_path / "out", required=("model.py",))


def test_missing_submission(tmp_path):
    with pytest.raises(SubmissionError, match="does not exist"):
        stage_submission(tmp_path / "nope.zip", tmp_path / "out")


def test_single_python_file_is_refused_with_advice(tmp_path):
    src = tmp_path / "model.py"
    src.write_bytes(MODEL)
    with pytest.raises(SubmissionError, match="give the folder that holds it"):
        stage_submission(src, tmp_path / "out")
