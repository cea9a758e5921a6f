"""The ``sealevel`` dataset: daily sea-level anomaly maps and tide-gauge flood labels.

Real layout (``data_dir``), searched recursively:

- one NetCDF file per day named ``dt_ena_YYYYMMDD_v<version>.nc`` (the
  original files end in ``_vDT2021.nc``) holding a variable ``sla``, sea-level
  anomaly in metres on ``(time=1, latitude=100, longitude=160)``, masked or
  NaN over land;
- for each station one or more CSV files named ``<Station>.csv`` or
  ``<Station>_<anything>.csv`` (the originals are
  ``<Station>_1993_2013_training_data.csv``) with columns ``t`` (a date,
  ``YYYY-MM-DD`` optionally followed by a time) and ``anomaly`` (0 or 1).

A day is kept when it lies in the split's date range, has a grid file and has
a label at every one of the 12 stations; other days are dropped, as the
original scorer did by joining the station tables on the date.

Options (the challenge's ``dataset.options``; every key optional):

- ``splits``: ``{split: [first_date, last_date]}``, inclusive ISO dates, for
  the real data.
- ``synthetic``: ``{seed, start, days: {split: n}}`` for the synthetic
  stand-in used when no ``data_dir`` is given; its splits are consecutive
  blocks of days in the order train, validation, test.
- ``stations``: the station order, which must equal :data:`STATIONS`; it lets a
  challenge file state the column order its models must follow.

Limits: the real data of one split is loaded into a single ``.npy`` of
``T * 64 KB`` (about 300 MB for the 13 training years); the cache is keyed on the
options and on the names, sizes and modification times of the data files, not
on their contents.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import difflib
import hashlib
import json
import os
import re
import shutil
import uuid
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from harness.errors import InvalidInputError
from harness.types import DatasetPlugin, PreparedSplit


class SeaLevelDataError(InvalidInputError, ValueError):
    """The data folder or a dataset option is not what this dataset expects."""


class SeaLevelMissingFileError(SeaLevelDataError, FileNotFoundError):
    """A file the requested split needs is not in the data folder."""


__all__ = [
    "GRID_SHAPE",
    "SPLITS",
    "STATIONS",
    "STATION_COORDS",
    "SeaLevelDataset",
    "SeaLevelOptions",
    "find_grid_files",
    "find_station_files",
    "import_netcdf4",
    "parse_options",
    "read_sla",
    "read_station_labels",
    "scored_days",
]

STATIONS: tuple[str, ...] = (
    "Atlantic_City",
    "Baltimore",
    "Eastport",
    "Fort_Pulaski",
    "Lewes",
    "New_London",
    "Newport",
    "Portland",
    "Sandy_Hook",
    "Sewells_Point",
    "The_Battery",
    "Washington",
)
"""The 12 tide-gauge stations, in the column order of labels and predictions."""

STATION_COORDS: Mapping[str, tuple[float, float]] = {
    "Atlantic_City": (39.36, -74.42),
    "Baltimore": (39.27, -76.58),
    "Eastport": (44.90, -66.98),
    "Fort_Pulaski": (32.03, -80.90),
    "Lewes": (38.78, -75.12),
    "New_London": (41.36, -72.09),
    "Newport": (41.50, -71.33),
    "Portland": (43.66, -70.24),
    "Sandy_Hook": (40.47, -74.01),
    "Sewells_Point": (36.95, -76.33),
    "The_Battery": (40.70, -74.01),
    "Washington": (38.87, -77.02),
}
"""Approximate (latitude, longitude) of each station, in degrees."""

GRID_SHAPE: tuple[int, int, int] = (1, 100, 160)
"""Shape of one day's ``sla`` map: (time, latitude, longitude)."""

SPLITS: tuple[str, ...] = ("train", "validation", "test")

# The original scorer's answer files covered 2008-2013 and its training files
# 1993-2013. Training here stops before the held-out years so that no scored
# day is also a training day.
DEFAULT_SPLITS: Mapping[str, tuple[str, str]] = {
    "train": ("1993-01-01", "2005-12-31"),
    "validation": ("2006-01-01", "2007-12-31"),
    "test": ("2008-01-01", "2013-12-31"),
}
DEFAULT_SYNTHETIC: Mapping[str, Any] = {
    "seed": 20240901,
    "start": "2001-01-01",
    "days": {"train": 730, "validation": 365, "test": 365},
}

_GRID_NAME = re.compile(r"^dt_ena_(\d{8})_v[^.]*\.nc$")
_OPTION_KEYS = ("splits", "synthetic", "stations")
_SYNTHETIC_KEYS = ("seed", "start", "days")
_FORMAT_VERSION = 1


# -- options -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SeaLevelOptions:
    """Parsed ``dataset.options``; see the module docstring for their meaning."""

    splits: Mapping[str, tuple[datetime.date, datetime.date]]
    seed: int
    start: datetime.date
    days: Mapping[str, int]


def _unknown_key(
    key: str, allowed: Sequence[str], where: str, *, what: str = "key"
) -> SeaLevelDataError:
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return SeaLevelDataError(
        f"unknown {what} {key!r} in {where}; expected one of {list(allowed)}{hint}"
    )


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise SeaLevelDataError(f"{where} is {value!r}; expected a mapping")
    return value


def _as_date(value: Any, where: str) -> datetime.date:
    # YAML turns an unquoted 1993-01-01 into a date already; accept both.
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            pass
    raise SeaLevelDataError(
        f"{where} is {value!r}; expected an ISO date such as '2008-01-31'"
    )


def parse_options(options: Mapping[str, Any] | None) -> SeaLevelOptions:
    """Check ``dataset.options`` and fill in defaults.

    :raises ValueError: for an unknown key, a malformed date or count, a date
        range that ends before it starts, or a station list other than
        :data:`STATIONS`.
    """
    options = dict(_mapping(options, "the sealevel dataset options"))
    for key in options:
        if key not in _OPTION_KEYS:
            raise _unknown_key(key, _OPTION_KEYS, "the sealevel dataset options")

    stations = options.get("stations")
    if stations is not None and tuple(stations) != STATIONS:
        raise SeaLevelDataError(
            f"dataset option 'stations' is {list(stations)}; the sealevel data has "
            f"exactly these stations in this order: {list(STATIONS)}"
        )

    splits: dict[str, tuple[datetime.date, datetime.date]] = {}
    given_splits = {
        **DEFAULT_SPLITS,
        **_mapping(options.get("splits"), "dataset option 'splits'"),
    }
    for split, bounds in given_splits.items():
        if split not in SPLITS:
            raise _unknown_key(split, SPLITS, "dataset option 'splits'", what="split")
        where = f"dataset option splits.{split}"
        if not isinstance(bounds, (list, tuple)) or len(bounds) != 2:
            raise SeaLevelDataError(
                f"{where} is {bounds!r}; expected [first_date, last_date]"
            )
        first, last = (_as_date(b, where) for b in bounds)
        if last < first:
            raise SeaLevelDataError(f"{where} ends ({last}) before it starts ({first})")
        splits[split] = (first, last)

    synthetic = {
        **DEFAULT_SYNTHETIC,
        **_mapping(options.get("synthetic"), "dataset option 'synthetic'"),
    }
    for key in synthetic:
        if key not in _SYNTHETIC_KEYS:
            raise _unknown_key(key, _SYNTHETIC_KEYS, "dataset option 'synthetic'")
    seed = synthetic["seed"]
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise SeaLevelDataError(f"synthetic.seed is {seed!r}; expected an integer >= 0")
    days = {
        **DEFAULT_SYNTHETIC["days"],
        **_mapping(synthetic["days"], "dataset option synthetic.days"),
    }
    for split, count in days.items():
        if split not in SPLITS:
            raise _unknown_key(
                split, SPLITS, "dataset option synthetic.days", what="split"
            )
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise SeaLevelDataError(
                f"synthetic.days.{split} is {count!r}; expected an integer >= 1"
            )
    return SeaLevelOptions(
        splits=splits,
        seed=seed,
        start=_as_date(synthetic["start"], "synthetic.start"),
        days={split: days[split] for split in SPLITS},
    )


# -- reading the original layout --------------------------------------------------


def find_grid_files(data_dir: Path) -> dict[datetime.date, Path]:
    """Map each day to its ``dt_ena_YYYYMMDD_v*.nc`` file under ``data_dir``.

    :raises ValueError: when two files claim the same day or a name holds an
        impossible date.
    """
    found: dict[datetime.date, Path] = {}
    for path in sorted(Path(data_dir).rglob("dt_ena_*.nc")):
        match = _GRID_NAME.match(path.name)
        if match is None:
            continue
        try:
            day = datetime.datetime.strptime(match.group(1), "%Y%m%d").date()
        except ValueError:
            raise SeaLevelDataError(f"{path}: the name holds no valid date") from None
        if day in found:
            raise SeaLevelDataError(
                f"two grid files for {day}: {found[day]} and {path}"
            )
        found[day] = path
    return found


def find_station_files(data_dir: Path) -> dict[str, list[Path]]:
    """Find the label CSV files of every station under ``data_dir``.

    :raises FileNotFoundError: naming the stations without any file.
    """
    files: dict[str, list[Path]] = {}
    for station in STATIONS:
        paths = set(Path(data_dir).rglob(f"{station}_*.csv"))
        paths.update(Path(data_dir).rglob(f"{station}.csv"))
        files[station] = sorted(paths)
    missing = [s for s in STATIONS if not files[s]]
    if missing:
        raise SeaLevelMissingFileError(
            f"no label file for station(s) {missing} under {data_dir}; expected "
            f"'<Station>.csv' or '<Station>_*.csv' with columns t and anomaly"
        )
    return files


_LABEL_TEXT = {"0": 0, "1": 1, "0.0": 0, "1.0": 1, "false": 0, "true": 1}


def read_station_labels(paths: Iterable[Path]) -> dict[datetime.date, int]:
    """Read one station's ``t``/``anomaly`` CSV files into ``{day: 0 or 1}``.

    :raises ValueError: naming the file and line of a missing column, a bad
        date or label, or a day labelled differently in two places.
    """
    labels: dict[datetime.date, int] = {}
    origin: dict[datetime.date, str] = {}
    for path in paths:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            columns = reader.fieldnames or []
            if "t" not in columns or "anomaly" not in columns:
                raise SeaLevelDataError(
                    f"{path}: columns are {columns}; expected 't' and 'anomaly'"
                )
            for row in reader:
                where = f"{path}, line {reader.line_num}"
                try:
                    day = datetime.date.fromisoformat((row["t"] or "").strip()[:10])
                except ValueError:
                    raise SeaLevelDataError(
                        f"{where}: t is {row['t']!r}; expected a date YYYY-MM-DD"
                    ) from None
                text = (row["anomaly"] or "").strip().lower()
                if text not in _LABEL_TEXT:
                    raise SeaLevelDataError(
                        f"{where}: anomaly is {row['anomaly']!r}; expected 0 or 1"
                    )
                value = _LABEL_TEXT[text]
                if labels.get(day, value) != value:
                    raise SeaLevelDataError(
                        f"{where}: {day} is labelled {value} here and "
                        f"{labels[day]} at {origin[day]}"
                    )
                labels[day] = value
                origin[day] = where
    return labels


def import_netcdf4() -> ModuleType:
    """Import ``netCDF4``, silencing one known-harmless binary-size warning.

    netCDF4 wheels compiled against numpy 2 warn "numpy.ndarray size changed"
    when imported under numpy 1.x; numpy's own filter for it is lost when a
    test runner resets the warning filters, turning it into an error there.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="numpy.ndarray size changed", category=RuntimeWarning
        )
        import netCDF4
    return netCDF4


def read_sla(path: Path) -> np.ndarray:
    """Read the ``sla`` map of one grid file as float32 with NaN over land.

    :raises ValueError: naming the file when it has no ``sla`` variable or the
        variable's shape is not :data:`GRID_SHAPE`.
    """
    with import_netcdf4().Dataset(path, "r") as ds:
        if "sla" not in ds.variables:
            raise SeaLevelDataError(
                f"{path}: no variable 'sla'; it has {sorted(ds.variables)}"
            )
        variable = ds.variables["sla"]
        if tuple(variable.shape) != GRID_SHAPE:
            raise SeaLevelDataError(
                f"{path}: variable 'sla' has shape {tuple(variable.shape)}; "
                f"expected {GRID_SHAPE} (time, latitude, longitude)"
            )
        values = np.ma.masked_invalid(variable[:])
    return np.ma.filled(values.astype(np.float32), np.nan)


def scored_days(
    grid_days: Iterable[datetime.date],
    station_labels: Sequence[Mapping[datetime.date, int]],
    first: datetime.date,
    last: datetime.date,
) -> tuple[list[datetime.date], np.ndarray]:
    """Select the days that are scored and stack their labels.

    A day is scored when it lies in ``[first, last]``, is in ``grid_days`` and
    has a label at every station.

    :param station_labels: one ``{day: label}`` mapping per station, in
        :data:`STATIONS` order.
    :returns: the scored days in date order and their labels, int8 of shape
        ``(len(days), len(station_labels))``.
    """
    days = sorted(
        d
        for d in set(grid_days)
        if first <= d <= last and all(d in labels for labels in station_labels)
    )
    matrix = np.array(
        [[labels[d] for labels in station_labels] for d in days], dtype=np.int8
    ).reshape(len(days), len(station_labels))
    return days, matrix


# -- writing a split ---------------------------------------------------------------


def _write_split(
    final_dir: Path,
    days: Sequence[datetime.date],
    labels: np.ndarray,
    read_row: Callable[[int], np.ndarray],
) -> None:
    """Write ``inputs/`` and ``truth.npz`` into ``final_dir`` atomically.

    The split is assembled in a sibling folder that is renamed into place, so
    a reader never sees half a split and two writers racing both succeed.
    """
    final_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = final_dir.parent / f".{final_dir.name}-{uuid.uuid4().hex}.part"
    inputs = tmp / "inputs"
    try:
        inputs.mkdir(parents=True)
        array = np.lib.format.open_memmap(
            inputs / "inputs.npy",
            mode="w+",
            dtype=np.float32,
            shape=(len(days), *GRID_SHAPE),
        )
        for index in range(len(days)):
            array[index] = read_row(index)
        array.flush()
        del array
        ids = [d.isoformat() for d in days]
        manifest = {
            "format_version": 1,
            "kind": "array",
            "ids": ids,
            "array": "inputs.npy",
        }
        (inputs / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
        np.savez(tmp / "truth.npz", ids=np.array(ids), labels=labels.astype(np.int8))
        try:
            os.replace(tmp, final_dir)
        except OSError:
            if not (final_dir / "truth.npz").is_file():
                raise
            # Another process finished the same split first; its copy is equal.
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _rows_of(array: np.ndarray, rows: Sequence[int]) -> Callable[[int], np.ndarray]:
    """Read item ``i`` of a split from row ``rows[i]`` of ``array``."""

    def read(i: int) -> np.ndarray:
        return np.asarray(array[rows[i]])

    return read


def _cache_key(payload: Mapping[str, Any]) -> str:
    text = json.dumps(payload, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _file_stamp(paths: Iterable[Path], base: Path) -> list[list[Any]]:
    stamps = []
    for path in paths:
        info = path.stat()
        stamps.append([str(path.relative_to(base)), info.st_size, info.st_mtime_ns])
    return stamps


# -- the plugin ----------------------------------------------------------------------


class SeaLevelDataset(DatasetPlugin):
    """Daily sea-level anomaly maps with flood flags at 12 tide gauges.

    Each item is one day, id ``YYYY-MM-DD``; ``inputs.npy`` is float32 of
    shape ``(T, 1, 100, 160)`` with NaN over land, rows in date order. The
    truth's ``labels`` are int8 of shape ``(T, 12)``, 1 for a flood day at that
    station, columns in :data:`STATIONS` order.
    """

    name = "sealevel"
    version = "1"
    description = (
        "Sea-level anomaly maps and flood days at 12 US East-coast tide gauges"
    )
    splits = SPLITS
    stations = STATIONS

    def prepare(
        self,
        split: str,
        *,
        cache_dir: Path,
        data_dir: Path | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> PreparedSplit:
        """Stage ``split`` under ``cache_dir``, generating or reading it once.

        :raises ValueError: for an unknown split, bad options, malformed data
            files, or a split with no scored day.
        :raises FileNotFoundError: when ``data_dir`` lacks a station's labels.
        """
        if split not in SPLITS:
            raise _unknown_key(split, SPLITS, "the sealevel dataset", what="split")
        parsed = parse_options(options)
        if data_dir is None:
            split_dir = self._prepare_synthetic(split, Path(cache_dir), parsed)
        else:
            split_dir = self._prepare_real(
                split, Path(cache_dir), Path(data_dir), parsed
            )
        return PreparedSplit(
            dataset=self.name,
            split=split,
            inputs_dir=split_dir / "inputs",
            truth_file=split_dir / "truth.npz",
        )

    def _prepare_synthetic(
        self, split: str, cache_dir: Path, options: SeaLevelOptions
    ) -> Path:
        # Imported here because the generator itself imports the station table
        # from this module.
        from . import synthetic

        payload = {
            "format": _FORMAT_VERSION,
            "generator": synthetic.GENERATOR_VERSION,
            "seed": options.seed,
            "start": options.start.isoformat(),
            "days": dict(options.days),
        }
        root = cache_dir / f"synthetic-{_cache_key(payload)}"
        if (root / split / "truth.npz").is_file():
            return root / split

        data = synthetic.generate(
            seed=options.seed, start=options.start, n_days=sum(options.days.values())
        )
        station_labels = data.station_labels()
        row_of = {day: row for row, day in enumerate(data.days)}
        offset = 0
        for name in SPLITS:
            count = options.days[name]
            block = data.days[offset : offset + count]
            offset += count
            if (root / name / "truth.npz").is_file():
                continue
            days, labels = scored_days(block, station_labels, block[0], block[-1])
            if not days:
                raise SeaLevelDataError(
                    f"synthetic split {name!r} has no day labelled at all 12 "
                    f"stations; ask for more than {count} days"
                )
            rows = [row_of[day] for day in days]
            _write_split(root / name, days, labels, _rows_of(data.sla, rows))
        return root / split

    def _prepare_real(
        self, split: str, cache_dir: Path, data_dir: Path, options: SeaLevelOptions
    ) -> Path:
        if not data_dir.is_dir():
            raise SeaLevelMissingFileError(
                f"sealevel data folder {data_dir} does not exist"
            )
        grids = find_grid_files(data_dir)
        station_files = find_station_files(data_dir)
        first, last = options.splits[split]
        in_range = sorted(d for d in grids if first <= d <= last)
        payload = {
            "format": _FORMAT_VERSION,
            "data_dir": str(data_dir.resolve()),
            "range": [first.isoformat(), last.isoformat()],
            "grids": _file_stamp((grids[d] for d in in_range), data_dir),
            "labels": _file_stamp(
                (p for s in STATIONS for p in station_files[s]), data_dir
            ),
        }
        split_dir = cache_dir / f"real-{_cache_key(payload)}" / split
        if (split_dir / "truth.npz").is_file():
            return split_dir

        station_labels = [read_station_labels(station_files[s]) for s in STATIONS]
        days, labels = scored_days(in_range, station_labels, first, last)
        if not days:
            raise SeaLevelDataError(
                f"split {split!r} ({first} to {last}) has no day with both a grid "
                f"file and a label at all 12 stations under {data_dir} "
                f"({len(in_range)} grid files in that range)"
            )
        _write_split(split_dir, days, labels, lambda i: read_sla(grids[days[i]]))
        return split_dir
