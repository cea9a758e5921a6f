"""Turn a submission (a folder or a zip archive) into a clean staged folder.

Archives are checked before anything is written: members under
``__MACOSX/`` and ``.DS_Store`` files are skipped, one enclosing folder is
accepted (and noted), absolute paths, ``..`` and links are refused, and the
total size and file count are capped, both as declared in the archive and as
actually extracted.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath

from harness.errors import SubmissionError

__all__ = ["SubmissionCaps", "StagedSubmission", "stage_submission", "tree_sha256"]

_JUNK_DIRS = {"__MACOSX", "__pycache__", ".git", ".ipynb_checkpoints"}
_JUNK_FILES = {".DS_Store", "Thumbs.db"}
_CHUNK = 1 << 20


@dataclasses.dataclass(frozen=True)
class SubmissionCaps:
    """Limits on what a submission may contain."""

    max_bytes: int = 512 * 1024**2
    max_files: int = 2000
    max_ratio: float = 200.0


@dataclasses.dataclass(frozen=True)
class StagedSubmission:
    """A submission copied into a folder the harness owns."""

    path: Path
    source: Path
    sha256: str
    files: int
    bytes: int
    notes: tuple[str, ...] = ()


def _is_junk(parts: tuple[str, ...]) -> bool:
    return (
        bool(set(parts[:-1]) & _JUNK_DIRS)
        or parts[0] in _JUNK_DIRS
        or (parts[-1] in _JUNK_FILES or parts[-1].startswith("._"))
    )


def _safe_parts(name: str, source: Path) -> tuple[str, ...]:
    if "\\" in name:
        name = name.replace("\\", "/")
    posix = PurePosixPath(name)
    if posix.is_absolute() or (len(name) > 1 and name[1] == ":"):
        raise SubmissionError(
            f"{source}: archive member {name!r} has an absolute path; members "
            "must be relative to the archive root"
        )
    parts = tuple(p for p in posix.parts if p not in ("", "."))
    if ".." in parts:
        raise SubmissionError(
            f"{source}: archive member {name!r} climbs out of the archive with "
            "'..'; refusing to extract it"
        )
    return parts


def _strip_enclosing(
    members: list[tuple[tuple[str, ...], zipfile.ZipInfo]],
) -> tuple[list[tuple[tuple[str, ...], zipfile.ZipInfo]], str | None]:
    tops = {parts[0] for parts, _ in members}
    if len(tops) == 1 and all(len(parts) > 1 for parts, _ in members):
        top = tops.pop()
        return [(parts[1:], info) for parts, info in members], top
    return members, None


def _extract_zip(source: Path, dest: Path, caps: SubmissionCaps) -> list[str]:
    notes: list[str] = []
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise SubmissionError(f"{source}: not a readable zip archive: {exc}") from exc
    with archive:
        members: list[tuple[tuple[str, ...], zipfile.ZipInfo]] = []
        skipped = 0
        declared = 0
        for info in archive.infolist():
            parts = _safe_parts(info.filename, source)
            if not parts:
                continue
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise SubmissionError(
                    f"{source}: archive member {info.filename!r} is a symbolic "
                    "link; links are not accepted in submissions"
                )
            if _is_junk(parts):
                skipped += not info.is_dir()
                continue
            if info.is_dir():
                continue
            declared += info.file_size
            if (
                info.compress_size
                and info.file_size / info.compress_size > (caps.max_ratio)
                and info.file_size > 1024**2
            ):
                raise SubmissionError(
                    f"{source}: archive member {info.filename!r} expands "
                    f"{info.file_size / info.compress_size:.0f}-fold "
                    f"({info.file_size} bytes); refusing a likely zip bomb"
                )
            members.append((parts, info))
        if skipped:
            notes.append(
                f"skipped {skipped} system file(s) (from __MACOSX/, __pycache__/, "
                ".git/, .ipynb_checkpoints/, .DS_Store, Thumbs.db)"
            )
        _check_caps(source, len(members), declared, caps)
        members, top = _strip_enclosing(members)
        if top is not None:
            notes.append(
                f"the archive holds one enclosing folder {top!r}; using its "
                "contents as the root"
            )
        written = 0
        for parts, info in members:
            target = dest.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with archive.open(info) as src, open(target, "wb") as out:
                    while chunk := src.read(_CHUNK):
                        written += len(chunk)
                        if written > caps.max_bytes:
                            raise SubmissionError(
                                f"{source}: extracts to more than {caps.max_bytes} "
                                "bytes (the archive under-declares its sizes)"
                            )
                        out.write(chunk)
            except (
                zipfile.BadZipFile,
                zipfile.LargeZipFile,
                OSError,
                EOFError,
                NotImplementedError,
            ) as exc:
                raise SubmissionError(
                    f"{source}: member {info.filename!r} cannot be extracted "
                    f"(truncated or corrupt archive?): {exc}"
                ) from exc
    return notes


def _check_caps(source: Path, files: int, size: int, caps: SubmissionCaps) -> None:
    if files > caps.max_files:
        raise SubmissionError(
            f"{source}: holds {files} files; at most {caps.max_files} are accepted"
        )
    if size > caps.max_bytes:
        raise SubmissionError(
            f"{source}: holds {size} bytes; at most {caps.max_bytes} are accepted"
        )


def _copy_folder(source: Path, dest: Path, caps: SubmissionCaps) -> list[str]:
    root = source.resolve()
    files: list[tuple[Path, tuple[str, ...]]] = []
    size = 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        rel_dir = Path(dirpath).relative_to(root)
        dirnames[:] = [d for d in dirnames if d not in _JUNK_DIRS]
        for name in dirnames:
            if (Path(dirpath) / name).is_symlink():
                raise SubmissionError(
                    f"{source}: {rel_dir / name} is a symbolic link to a folder; "
                    "links are not accepted in submissions"
                )
        for name in filenames:
            path = Path(dirpath) / name
            parts = (*rel_dir.parts, name)
            if _is_junk(parts):
                continue
            if path.is_symlink():
                target = path.resolve()
                if not target.is_relative_to(root):
                    raise SubmissionError(
                        f"{source}: {Path(*parts)} is a link leaving the "
                        f"submission folder (to {target}); refusing it"
                    )
            if not path.is_file():
                continue
            size += path.stat().st_size
            files.append((path, parts))
            _check_caps(source, len(files), size, caps)
    for path, parts in files:
        target = dest.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return []


def tree_sha256(root: Path) -> str:
    """Hash a folder's relative paths and contents, independent of timestamps."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode("utf-8") + b"\0")
        with open(path, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
        digest.update(b"\0")
    return digest.hexdigest()


def stage_submission(
    source: Path,
    dest: Path,
    *,
    caps: SubmissionCaps | None = None,
    required: tuple[str, ...] = (),
) -> StagedSubmission:
    """Copy or extract ``source`` into the empty folder ``dest``.

    :param required: files that must sit at the submission root; when one is
        found deeper, the message says how to re-pack the archive.
    :raises SubmissionError: naming the problem; ``dest`` is then left empty.
    """
    caps = caps or SubmissionCaps()
    source = Path(source)
    dest.mkdir(parents=True, exist_ok=True)
    try:
        if source.is_dir():
            notes = _copy_folder(source, dest, caps)
        elif source.is_file() and source.suffix == ".py":
            raise SubmissionError(
                f"{source} is a single Python file; give the folder that holds "
                "it, or a zip of that folder's contents"
            )
        elif source.is_file():
            notes = _extract_zip(source, dest, caps)
        else:
            raise SubmissionError(f"submission {source} does not exist")
        _check_required(source, dest, required)
    except SubmissionError:
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True, exist_ok=True)
        raise
    for path in dest.rglob("*"):
        # World-readable so a sandbox user other than the owner can import it.
        path.chmod(0o755 if path.is_dir() else 0o644)
    dest.chmod(0o755)
    files = [p for p in dest.rglob("*") if p.is_file()]
    return StagedSubmission(
        path=dest,
        source=source,
        sha256=tree_sha256(dest),
        files=len(files),
        bytes=sum(p.stat().st_size for p in files),
        notes=tuple(notes),
    )


def _check_required(source: Path, dest: Path, required: tuple[str, ...]) -> None:
    for name in required:
        if (dest / name).is_file():
            continue
        deeper = sorted(dest.rglob(name))
        if deeper:
            found = deeper[0].relative_to(dest).as_posix()
            raise SubmissionError(
                f"{source}: {name} must be at the submission root but was found "
                f"at {found}; zip the files themselves, not the folder around them"
            )
        raise SubmissionError(f"{source}: no {name} at the submission root")
