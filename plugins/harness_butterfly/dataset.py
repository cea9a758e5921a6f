"""The butterfly hybrid dataset: real photographs or a synthetic stand-in.

Real layout (``data_dir`` given): a flat folder of RGB JPEG photographs named
``<X>_<CAMID>_<d|v>.<ext>``, plus one reference CSV per split with at least
the columns ``filename``, ``hybrid_stat`` (``0``/``1``, or ``non-hybrid``/
``hybrid`` as in the original training list) and ``ssp_indicator``
(``major``, ``minor`` or ``mimic``; optional for the training split). Options
(the challenge file's ``dataset.options``):

- ``csv``: mapping of split to CSV file, relative to ``data_dir``; defaults
  to the original names ``butterfly_anomaly_train.csv``, ``ref_val.csv`` and
  ``ref_test.csv``.
- ``images``: mapping of split to the image folder, relative to
  ``data_dir``; defaults to ``data_dir`` itself for every split.
- ``seed``: the seed of the synthetic stand-in (ignored for real data).

Either way :meth:`ButterflyDataset.prepare` stages a split as
``<cache>/<key>/<split>/inputs/`` (``manifest.json`` and ``images/``, nothing
else) and ``<cache>/<key>/<split>/truth.npz`` beside it, with ``ids`` (file
names), ``labels`` (``hybrid_stat``) and ``ssp_indicator``. Items are listed
in file-name order, never in CSV order, since a reference CSV sorted by group
would otherwise tell the submission the labels.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import InvalidInputError
from harness.types import DatasetPlugin, PreparedSplit
from harness_butterfly import synthetic


class ButterflyDataError(InvalidInputError, ValueError):
    """The data folder or a dataset option is not what this dataset expects."""


class ButterflyMissingFileError(ButterflyDataError, FileNotFoundError):
    """A file the requested split needs is not in the data folder."""


__all__ = ["GROUPS", "ButterflyDataset", "DEFAULT_CSV", "DEFAULT_SEED"]

logger = logging.getLogger(__name__)

#: Layout of the staged folders; bump when it changes so old caches rebuild.
STAGING_VERSION = 1
GROUPS = ("major", "minor", "mimic")
DEFAULT_SEED = 20240601
DEFAULT_CSV: Mapping[str, str] = {
    "train": "butterfly_anomaly_train.csv",
    "validation": "ref_val.csv",
    "test": "ref_test.csv",
}
KNOWN_OPTIONS = ("csv", "images", "seed")
HYBRID_VALUES = {
    "0": 0,
    "1": 1,
    "0.0": 0,
    "1.0": 1,
    "non-hybrid": 0,
    "hybrid": 1,
}
MARKER = "staged.json"


def _did_you_mean(value: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(value, list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


class ButterflyDataset(DatasetPlugin):
    """Images of Heliconius butterflies; the task is to flag hybrids.

    Each item is one photograph and its label is ``hybrid_stat`` (1 for a
    hybrid). The truth also carries ``ssp_indicator``, the group the
    challenge metric scores separately. Without ``data_dir`` a synthetic
    stand-in is generated (see :mod:`harness_butterfly.synthetic`) whose
    validation and test sets have exactly the original group sizes.

    Limits: real images are staged by hard link where the cache and the data
    share a file system and copied otherwise; a cached real split is reused
    while the CSV bytes and each image's size and modification time are
    unchanged, so an image rewritten in place with the same size within the
    file system's time resolution would go unnoticed.
    """

    name = "butterfly"
    version = "1"
    description = "Heliconius butterfly photographs: detect hybrids"
    splits = ("train", "validation", "test")

    def prepare(
        self,
        split: str,
        *,
        cache_dir: Path,
        data_dir: Path | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> PreparedSplit:
        """Stage ``split`` under ``cache_dir`` and return where it lies.

        :param split: ``train``, ``validation`` or ``test``.
        :param cache_dir: a folder owned by this dataset; a split staged
            there earlier with the same inputs is reused.
        :param data_dir: the folder of real images and CSVs; ``None`` asks
            for the synthetic stand-in.
        :param options: see the module documentation.
        :raises ValueError: for an unknown split or option, or a malformed
            CSV (the message names the file, row and value).
        :raises FileNotFoundError: for a missing CSV or image.
        """
        if split not in self.splits:
            raise ButterflyDataError(
                f"butterfly has no split {split!r}; expected one of "
                f"{', '.join(self.splits)}{_did_you_mean(split, self.splits)}"
            )
        opts = _check_options(options or {})
        cache_dir = Path(cache_dir)
        if data_dir is None:
            return self._prepare_synthetic(split, cache_dir, opts["seed"])
        return self._prepare_real(split, cache_dir, Path(data_dir), opts)

    # -- synthetic -----------------------------------------------------------

    def _prepare_synthetic(
        self, split: str, cache_dir: Path, seed: int
    ) -> PreparedSplit:
        stamp = {
            "dataset": self.name,
            "staging": STAGING_VERSION,
            "source": "synthetic",
            "generator": synthetic.GENERATOR_VERSION,
            "seed": seed,
        }
        folder = (
            f"synthetic-s{STAGING_VERSION}-g{synthetic.GENERATOR_VERSION}-seed{seed}"
        )
        target = cache_dir / folder / split
        if not _is_staged(target, stamp):
            items = synthetic.build_catalogue(seed)[split]

            def fill(images: Path) -> list[tuple[str, int, str]]:
                rows = []
                for item in items:
                    synthetic.write_jpeg(synthetic.render(item), images / item.name)
                    rows.append((item.name, item.hybrid, item.group))
                return rows

            logger.info("generating synthetic butterfly %s split in %s", split, target)
            _stage(target, stamp, fill)
        return self._prepared(split, target)

    # -- real ------------------------------------------------------------------

    def _prepare_real(
        self, split: str, cache_dir: Path, data_dir: Path, opts: Mapping[str, Any]
    ) -> PreparedSplit:
        csv_path = data_dir / opts["csv"][split]
        image_dir = data_dir / opts["images"][split]
        rows = read_reference_csv(csv_path, need_groups=split != "train")
        sources = _find_images(image_dir, [name for name, _, _ in rows], csv_path)

        digest = hashlib.sha256()
        digest.update(csv_path.read_bytes())
        digest.update(str(image_dir.resolve()).encode())
        for name in sorted(sources):
            info = sources[name].stat()
            digest.update(f"\0{name}\0{info.st_size}\0{info.st_mtime_ns}".encode())
        key = digest.hexdigest()[:20]
        stamp = {
            "dataset": self.name,
            "staging": STAGING_VERSION,
            "source": "real",
            "key": key,
        }
        target = cache_dir / f"real-s{STAGING_VERSION}-{key}" / split
        if not _is_staged(target, stamp):

            def fill(images: Path) -> list[tuple[str, int, str]]:
                for name, source in sources.items():
                    _link_or_copy(source, images / name)
                return rows

            logger.info("staging butterfly %s split from %s", split, csv_path)
            _stage(target, stamp, fill)
        return self._prepared(split, target)

    def _prepared(self, split: str, target: Path) -> PreparedSplit:
        return PreparedSplit(
            dataset=self.name,
            split=split,
            inputs_dir=target / "inputs",
            truth_file=target / "truth.npz",
        )


def _check_options(options: Mapping[str, Any]) -> dict[str, Any]:
    for key in options:
        if key not in KNOWN_OPTIONS:
            raise ButterflyDataError(
                f"unknown butterfly dataset option {key!r}; expected some of "
                f"{', '.join(KNOWN_OPTIONS)}{_did_you_mean(key, KNOWN_OPTIONS)}"
            )
    seed = options.get("seed", DEFAULT_SEED)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ButterflyDataError(
            f"butterfly option 'seed' must be a non-negative integer, got {seed!r}"
        )
    result: dict[str, Any] = {"seed": seed}
    for key, default in (("csv", DEFAULT_CSV), ("images", {})):
        given = options.get(key, {})
        if not isinstance(given, Mapping):
            raise ButterflyDataError(
                f"butterfly option {key!r} must map split names to paths, got {given!r}"
            )
        for split, path in given.items():
            if split not in ButterflyDataset.splits or not isinstance(path, str):
                raise ButterflyDataError(
                    f"butterfly option {key!r} must map split names "
                    f"({', '.join(ButterflyDataset.splits)}) to relative paths, "
                    f"got {split!r}: {path!r}"
                )
        result[key] = {
            split: given.get(split, default.get(split, "."))
            for split in ButterflyDataset.splits
        }
    return result


def read_reference_csv(path: Path, *, need_groups: bool) -> list[tuple[str, int, str]]:
    """Read a reference CSV into ``(filename, hybrid_stat, ssp_indicator)`` rows.

    :param path: the CSV file; further columns are ignored.
    :param need_groups: whether ``ssp_indicator`` must be present. When it
        may be absent and is, every row gets an empty group.
    :raises FileNotFoundError: when ``path`` does not exist.
    :raises ValueError: for a missing column, an unknown value, a duplicate
        or unsafe file name, or a CSV without rows.
    """
    if not path.is_file():
        raise ButterflyMissingFileError(f"butterfly reference CSV not found: {path}")
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        columns = [c.strip() for c in reader.fieldnames or []]
        required = ["filename", "hybrid_stat"] + (
            ["ssp_indicator"] if need_groups else []
        )
        missing = [c for c in required if c not in columns]
        if missing:
            raise ButterflyDataError(
                f"{path} lacks the column(s) {', '.join(missing)}; it has "
                f"{', '.join(columns) or 'no header'}"
            )
        has_groups = "ssp_indicator" in columns
        rows: list[tuple[str, int, str]] = []
        seen: set[str] = set()
        for line, raw in enumerate(reader, start=2):
            record = {(k or "").strip(): (v or "").strip() for k, v in raw.items()}
            name = record["filename"]
            if not name or name != os.path.basename(name) or name.startswith("."):
                raise ButterflyDataError(
                    f"{path}, line {line}: filename {name!r} must be a plain "
                    "file name in the image folder"
                )
            if name in seen:
                raise ButterflyDataError(
                    f"{path}, line {line}: filename {name!r} repeats"
                )
            seen.add(name)
            status = record["hybrid_stat"].lower()
            if status not in HYBRID_VALUES:
                raise ButterflyDataError(
                    f"{path}, line {line}: hybrid_stat {record['hybrid_stat']!r} "
                    "is not 0, 1, 'non-hybrid' or 'hybrid'"
                )
            group = record["ssp_indicator"] if has_groups else ""
            if (has_groups or need_groups) and group not in GROUPS:
                raise ButterflyDataError(
                    f"{path}, line {line}: ssp_indicator {group!r} is not one of "
                    f"{', '.join(GROUPS)}{_did_you_mean(group, GROUPS)}"
                )
            rows.append((name, HYBRID_VALUES[status], group))
    if not rows:
        raise ButterflyDataError(f"{path} has a header but no rows")
    return rows


def _find_images(image_dir: Path, names: list[str], csv_path: Path) -> dict[str, Path]:
    if not image_dir.is_dir():
        raise ButterflyMissingFileError(
            f"butterfly image folder not found: {image_dir}"
        )
    sources = {name: image_dir / name for name in names}
    missing = [name for name, path in sources.items() if not path.is_file()]
    if missing:
        shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
        raise ButterflyMissingFileError(
            f"{len(missing)} of {len(names)} images listed in {csv_path} are "
            f"missing from {image_dir}: {shown}"
        )
    return sources


def _link_or_copy(source: Path, destination: Path) -> None:
    # A hard link costs nothing and, unlike a symbolic link, still resolves
    # inside a sandbox that mounts only the inputs folder.
    try:
        os.link(source, destination)
    except OSError:
        shutil.copyfile(source, destination)


# -- staging -------------------------------------------------------------------


def _is_staged(target: Path, stamp: Mapping[str, Any]) -> bool:
    try:
        with open(target / MARKER, encoding="utf-8") as handle:
            return bool(json.load(handle) == dict(stamp))
    except (OSError, ValueError):
        return False


def _stage(
    target: Path,
    stamp: Mapping[str, Any],
    fill: Callable[[Path], list[tuple[str, int, str]]],
) -> None:
    """Build a split in a scratch folder, then move it into place in one step.

    ``fill(images_dir)`` writes the image files and returns the rows
    ``(file name, hybrid_stat, ssp_indicator)``. A reader never sees a
    half-written split: the folder appears under its final name only once
    complete, and a concurrent builder of the same split loses the race
    harmlessly.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        images = scratch / "inputs" / "images"
        images.mkdir(parents=True)
        rows = sorted(fill(images))
        names = [name for name, _, _ in rows]
        manifest = {
            "format_version": 1,
            "kind": "files",
            "ids": names,
            "files": [f"images/{name}" for name in names],
        }
        with open(scratch / "inputs" / "manifest.json", "w", encoding="utf-8") as fh:
            json.dump(manifest, fh)
        np.savez(
            scratch / "truth.npz",
            ids=np.array(names, dtype=str),
            labels=np.array([label for _, label, _ in rows], dtype=np.int64),
            ssp_indicator=np.array([group for _, _, group in rows], dtype=str),
        )
        with open(scratch / MARKER, "w", encoding="utf-8") as fh:
            json.dump(dict(stamp), fh)
        if _is_staged(target, stamp):
            return  # another process staged the same split meanwhile
        if target.exists():
            # A stale or broken earlier staging: move it aside first, since a
            # folder cannot be renamed onto a non-empty one.
            stale = Path(
                tempfile.mkdtemp(prefix=f".{target.name}-old-", dir=target.parent)
            )
            os.replace(target, stale / "old")
            shutil.rmtree(stale, ignore_errors=True)
        try:
            os.replace(scratch, target)
        except OSError:
            if not _is_staged(target, stamp):
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
