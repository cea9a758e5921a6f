"""The ``gw`` dataset: two-detector strain snippets, real or synthetic.

:class:`GWDataset` stages one split under the harness's cache folder::

    <cache_dir>/<source>-<key>/<split>/
        inputs/manifest.json   ids 0..N-1, kind "array", array "inputs.npy"
        inputs/inputs.npy      float32 (N, 2, 200)
        truth.npz              ids int64, labels int8 (1 = signal), kind (train)
        source.json            what the key was computed from, for people

``source`` is ``synthetic`` or ``real`` and ``key`` is a hash of everything
that decides the split's bytes: the plugin and generator versions, the seed
and the split's sizes for synthetic data; the data folder, the file names and
each file's size and modification time for real data. A split is built in a
hidden temporary folder beside its final place and renamed into place when
complete, so an interrupted build never looks like a cache. Folders of
earlier keys are left where they are; delete the cache folder to reclaim the
space.

The real layout, inside ``data_dir``:

``train``
    ``background.npz`` (array ``data``), ``bbh_for_challenge.npy`` and
    ``sglf_for_challenge.npy``, each ``(N, 2, 200)``, staged in that order
    with labels 0, 1, 1 and a ``kind`` column.
``validation``, ``test``
    one ``.npz`` each with ``data (N, 2, 200)`` and ``ids (N,)``. Despite its
    name, ``ids`` holds each row's label in {0, 1}; items are numbered by
    row.

Real arrays are converted to float32. Labels are copied as they are: which
value means "signal" is the challenge file's ``labels.positive`` setting.

Options (the challenge file's ``dataset.options``):

``seed``
    integer seed of the synthetic data (default
    :data:`harness_gw.synthetic.DEFAULT_SEED`).
``sizes``
    items per kind for each synthetic split, for example ``{"test":
    {"background": 900, "bbh": 50, "sglf": 50}}``; omitted entries keep
    :data:`harness_gw.synthetic.DEFAULT_SIZES`.
``files``
    file names inside ``data_dir`` for the roles ``background``, ``bbh``,
    ``sglf``, ``validation`` and ``test``; omitted roles keep
    :data:`DEFAULT_FILES`.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import InvalidInputError, UnknownNameError
from harness.types import DatasetPlugin, PreparedSplit
from harness_gw import synthetic

__all__ = [
    "DEFAULT_FILES",
    "OPTIONS_SCHEMA",
    "GWDataError",
    "GWDataset",
    "GWMissingFileError",
]

logger = logging.getLogger(__name__)

DEFAULT_FILES: Mapping[str, str] = {
    "background": "background.npz",
    "bbh": "bbh_for_challenge.npy",
    "sglf": "sglf_for_challenge.npy",
    "validation": "validation.npz",
    "test": "test.npz",
}

# JSON schema of ``dataset.options``, for a host that validates challenge files
# before any data is touched; :func:`_parse_options` checks the same rules.
OPTIONS_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "seed": {"type": "integer", "minimum": 0},
        "sizes": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                split: {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        kind: {"type": "integer", "minimum": 0}
                        for kind in synthetic.KINDS
                    },
                }
                for split in synthetic.SPLITS
            },
        },
        "files": {
            "type": "object",
            "additionalProperties": False,
            "properties": {role: {"type": "string"} for role in DEFAULT_FILES},
        },
    },
}

_ITEM_SHAPE = (len(synthetic.DETECTORS), synthetic.N_SAMPLES)
_EXPECTED = f"(N, {_ITEM_SHAPE[0]}, {_ITEM_SHAPE[1]})"
_TRAIN_ROLES = ("background", "bbh", "sglf")
_ROLE_CONTENT = {
    "background": f"an .npz with array 'data' of shape {_EXPECTED}",
    "bbh": f"a .npy array of shape {_EXPECTED}",
    "sglf": f"a .npy array of shape {_EXPECTED}",
    "validation": f"an .npz with arrays 'data' {_EXPECTED} and 'ids' (N,)",
    "test": f"an .npz with arrays 'data' {_EXPECTED} and 'ids' (N,)",
}
_COPY_ROWS = 8192


class GWDataError(InvalidInputError, ValueError):
    """A data file or a dataset option is not what the ``gw`` dataset expects."""


class GWMissingFileError(GWDataError, FileNotFoundError):
    """A real data file the requested split needs is not in the data folder."""


class GWDataset(DatasetPlugin):
    """Strain snippets from two detectors, labelled signal (1) or background (0).

    Without ``data_dir`` the splits come from :mod:`harness_gw.synthetic`;
    with it, from the challenge's original files (see the module docstring).
    """

    name = "gw"
    version = "1"
    description = (
        "Two-detector gravitational-wave strain, (N, 2, 200) float32 at 4096 Hz; "
        "label 1 = transient signal, 0 = background."
    )
    splits = synthetic.SPLITS
    options_schema = OPTIONS_SCHEMA

    def prepare(
        self,
        split: str,
        *,
        cache_dir: Path,
        data_dir: Path | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> PreparedSplit:
        """Stage ``split`` under ``cache_dir``, reusing an earlier build.

        :param split: ``train``, ``validation`` or ``test``.
        :param cache_dir: folder owned by this dataset; created if missing.
        :param data_dir: folder with the original files, or ``None`` for the
            synthetic data.
        :param options: the challenge file's ``dataset.options``.
        :returns: where the inputs and the truth lie.
        :raises UnknownNameError: for an unknown split.
        :raises GWDataError: for a bad option, or a real file that is
            unreadable or has the wrong keys, shape, dtype or values.
        :raises GWMissingFileError: for a missing real file (also a
            :class:`FileNotFoundError`).
        """
        if split not in self.splits:
            raise UnknownNameError("split of dataset 'gw'", split, self.splits)
        seed, sizes, files = _parse_options(options)

        stage: Callable[[Path], None]
        if data_dir is None:
            source = "synthetic"
            recipe: dict[str, Any] = {
                "seed": seed,
                "sizes": dict(sizes[split]),
                "generator_version": synthetic.GENERATOR_VERSION,
            }
            stage = functools.partial(
                _stage_synthetic, split=split, seed=seed, sizes=sizes[split]
            )
        else:
            source = "real"
            roles = _TRAIN_ROLES if split == "train" else (split,)
            paths = [Path(data_dir).resolve() / files[role] for role in roles]
            recipe = {
                "files": [
                    _describe(path, role)
                    for path, role in zip(paths, roles, strict=True)
                ]
            }
            stage = functools.partial(_stage_real, split=split, paths=paths)
        recipe = {"dataset": self.name, "plugin_version": self.version, **recipe}
        digest = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode())
        split_dir = Path(cache_dir) / f"{source}-{digest.hexdigest()[:16]}" / split

        if not _is_complete(split_dir):
            started = time.monotonic()
            _build(split_dir, recipe, stage)
            logger.info(
                "staged %s split %r of dataset 'gw' in %.2f s at %s",
                source,
                split,
                time.monotonic() - started,
                split_dir,
            )
        else:
            logger.debug("reusing staged split %r at %s", split, split_dir)
        return PreparedSplit(
            dataset=self.name,
            split=split,
            inputs_dir=split_dir / "inputs",
            truth_file=split_dir / "truth.npz",
        )


# -- options -------------------------------------------------------------------


def _parse_options(
    options: Mapping[str, Any] | None,
) -> tuple[int, dict[str, dict[str, int]], dict[str, str]]:
    """Check ``dataset.options`` and fill in defaults: seed, sizes, files."""
    options = dict(options or {})
    _check_keys(options, ("seed", "sizes", "files"), "dataset option")

    seed = options.get("seed", synthetic.DEFAULT_SEED)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise GWDataError(
            f"dataset option 'seed' must be a non-negative integer, got {seed!r}"
        )

    sizes = {split: dict(synthetic.DEFAULT_SIZES[split]) for split in synthetic.SPLITS}
    given_sizes = _mapping(options.get("sizes", {}), "sizes")
    _check_keys(given_sizes, synthetic.SPLITS, "split in dataset option 'sizes'")
    for split, per_kind in given_sizes.items():
        per_kind = _mapping(per_kind, f"sizes.{split}")
        _check_keys(
            per_kind, synthetic.KINDS, f"kind in dataset option 'sizes.{split}'"
        )
        for kind, count in per_kind.items():
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise GWDataError(
                    f"dataset option 'sizes.{split}.{kind}' must be a non-negative "
                    f"integer, got {count!r}"
                )
            sizes[split][kind] = count
        if sum(sizes[split].values()) == 0:
            raise GWDataError(f"dataset option 'sizes.{split}' leaves the split empty")

    files = dict(DEFAULT_FILES)
    given_files = _mapping(options.get("files", {}), "files")
    _check_keys(given_files, tuple(DEFAULT_FILES), "role in dataset option 'files'")
    for role, name in given_files.items():
        if not isinstance(name, str) or not name or Path(name).is_absolute():
            raise GWDataError(
                f"dataset option 'files.{role}' must be a file name relative to the "
                f"data folder, got {name!r}"
            )
        files[role] = name
    return seed, sizes, files


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise GWDataError(
            f"dataset option {where!r} must be a mapping, got {type(value).__name__}"
        )
    return value


def _check_keys(given: Mapping[str, Any], known: Sequence[str], what: str) -> None:
    for key in given:
        if key not in known:
            raise GWDataError(
                f"unknown {what} {key!r}{_suggest(str(key), known)}; "
                f"known: {', '.join(known)}"
            )


def _suggest(name: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


# -- staging -------------------------------------------------------------------


def _is_complete(split_dir: Path) -> bool:
    # A split folder only ever appears by renaming a finished build into place.
    return (split_dir / "inputs" / "manifest.json").is_file() and (
        split_dir / "truth.npz"
    ).is_file()


def _build(
    split_dir: Path, recipe: Mapping[str, Any], stage: Callable[[Path], None]
) -> None:
    """Run ``stage(folder)`` in a temporary folder, then rename it into place."""
    split_dir.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(
        tempfile.mkdtemp(prefix=f".{split_dir.name}.partial-", dir=split_dir.parent)
    )
    try:
        (partial / "inputs").mkdir()
        stage(partial)
        _write_json(partial / "source.json", recipe)
        # The inputs are read inside a sandbox, possibly by another user;
        # mkdtemp makes its folder private.
        for path in (partial, partial / "inputs"):
            path.chmod(0o755)
        for path in (*partial.glob("*.*"), *(partial / "inputs").iterdir()):
            path.chmod(0o644)
        try:
            os.rename(partial, split_dir)
        except OSError:
            # Another process finished the same split first; its copy is
            # identical, so keep it.
            if not _is_complete(split_dir):
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def _stage_synthetic(
    out: Path, *, split: str, seed: int, sizes: Mapping[str, int]
) -> None:
    generated = synthetic.generate_split(split, seed=seed, sizes=sizes)
    np.save(out / "inputs" / "inputs.npy", generated.data, allow_pickle=False)
    columns = {"kind": generated.kind} if split == "train" else {}
    _write_truth(out, generated.labels, columns)


def _stage_real(out: Path, *, split: str, paths: Sequence[Path]) -> None:
    if split == "train":
        sources = [
            _read_items(paths[0], "data"),
            _read_items(paths[1], None),
            _read_items(paths[2], None),
        ]
        counts = [array.shape[0] for array, _ in sources]
        labels = np.repeat(np.array([0, 1, 1], dtype=np.int8), counts)
        columns = {"kind": np.repeat(np.array(_TRAIN_ROLES), counts)}
    else:
        data, where = _read_items(paths[0], "data")
        labels = _read_labels(paths[0], data.shape[0])
        sources, columns = [(data, where)], {}
    _copy_items(out / "inputs" / "inputs.npy", sources)
    _write_truth(out, labels, columns)


def _write_truth(
    out: Path, labels: np.ndarray, columns: Mapping[str, np.ndarray]
) -> None:
    ids = np.arange(labels.shape[0], dtype=np.int64)
    arrays: dict[str, Any] = {
        "ids": ids,
        "labels": labels.astype(np.int8),
        **columns,
    }
    np.savez(out / "truth.npz", **arrays)
    manifest = {
        "format_version": 1,
        "kind": "array",
        "ids": ids.tolist(),
        "array": "inputs.npy",
    }
    _write_json(out / "inputs" / "manifest.json", manifest)


def _write_json(path: Path, payload: Any) -> None:
    path.write_text(json.dumps(payload, sort_keys=True) + "\n", encoding="utf-8")


# -- real files ----------------------------------------------------------------


def _describe(path: Path, role: str) -> dict[str, Any]:
    """Name, size and modification time of a real file, for the cache key."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise GWMissingFileError(
            f"dataset 'gw': data file {str(path)!r} does not exist; expected "
            f"{_ROLE_CONTENT[role]} there (file names are set by the dataset "
            f"option 'files.{role}')"
        ) from None
    return {"path": str(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _read_items(path: Path, key: str | None) -> tuple[np.ndarray, str]:
    """Load the ``(N, 2, 200)`` items of a ``.npy`` file or of ``key`` in an ``.npz``.

    ``.npy`` files are memory-mapped, so large training files are copied in
    chunks rather than held in memory; an ``.npz`` member is read whole.
    """
    where = f"{path}" if key is None else f"array {key!r} of {path}"
    array = _load_array(path, key)
    if array.ndim != 3 or tuple(array.shape[1:]) != _ITEM_SHAPE:
        raise GWDataError(
            f"dataset 'gw': {where} has shape {tuple(array.shape)}, "
            f"expected {_EXPECTED}"
        )
    if array.shape[0] == 0:
        raise GWDataError(f"dataset 'gw': {where} holds no items")
    if not (
        np.issubdtype(array.dtype, np.floating)
        or np.issubdtype(array.dtype, np.integer)
    ):
        raise GWDataError(
            f"dataset 'gw': {where} has dtype {array.dtype}, expected real numbers"
        )
    return array, where


def _read_labels(path: Path, count: int) -> np.ndarray:
    """Load the per-row labels that held-out files store under ``ids``."""
    labels = _load_array(path, "ids")
    where = f"array 'ids' of {path}"
    if labels.shape != (count,):
        raise GWDataError(
            f"dataset 'gw': {where} has shape {labels.shape}, expected ({count},) "
            "to match its array 'data'"
        )
    if not (np.issubdtype(labels.dtype, np.number) or labels.dtype == np.bool_):
        raise GWDataError(
            f"dataset 'gw': {where} has dtype {labels.dtype}, expected labels 0 and 1"
        )
    unexpected = np.setdiff1d(np.unique(labels), [0, 1])
    if unexpected.size:
        raise GWDataError(
            f"dataset 'gw': {where} holds values {unexpected[:5].tolist()}; "
            "expected only labels 0 and 1"
        )
    return labels.astype(np.int8)


def _load_array(path: Path, key: str | None) -> np.ndarray:
    if not path.is_file():
        raise GWMissingFileError(
            f"dataset 'gw': data file {str(path)!r} does not exist"
            + ("" if key is None else f"; expected an .npz with array {key!r}")
        )
    try:
        loaded = np.load(path, mmap_mode="r", allow_pickle=False)
        if key is None:
            if not isinstance(loaded, np.ndarray):
                loaded.close()
                raise GWDataError(
                    f"dataset 'gw': {path} is an .npz archive, expected a single "
                    f"array (.npy) of shape {_EXPECTED}"
                )
            return loaded
        if isinstance(loaded, np.ndarray):
            raise GWDataError(
                f"dataset 'gw': {path} is a single array, expected an .npz "
                f"archive with array {key!r}"
            )
        with loaded as archive:
            if key not in archive.files:
                raise GWDataError(
                    f"dataset 'gw': {path} has no array {key!r}; it holds "
                    f"{sorted(archive.files)}"
                )
            return np.asarray(archive[key])
    except GWDataError:
        raise
    except (OSError, ValueError, EOFError) as exc:
        raise GWDataError(f"dataset 'gw': cannot read {path}: {exc}") from exc


def _copy_items(target: Path, sources: Sequence[tuple[np.ndarray, str]]) -> None:
    """Write the sources one after another as float32, rejecting non-finite values."""
    total = sum(array.shape[0] for array, _ in sources)
    out = np.lib.format.open_memmap(
        target, mode="w+", dtype=np.float32, shape=(total, *_ITEM_SHAPE)
    )
    row = 0
    for array, where in sources:
        for start in range(0, array.shape[0], _COPY_ROWS):
            chunk = np.asarray(array[start : start + _COPY_ROWS], dtype=np.float32)
            bad = ~np.isfinite(chunk).all(axis=(1, 2))
            if bad.any():
                raise GWDataError(
                    f"dataset 'gw': {where} has non-finite values in item "
                    f"{start + int(np.argmax(bad))}"
                )
            out[row : row + chunk.shape[0]] = chunk
            row += chunk.shape[0]
    out.flush()
    del out
