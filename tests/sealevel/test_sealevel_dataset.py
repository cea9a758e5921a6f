"""The sealevel dataset: synthetic stand-in, caching and the original file layout."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import numpy as np
import pytest

from harness.types import PreparedSplit
from harness_sealevel.dataset import (
    GRID_SHAPE,
    STATIONS,
    SeaLevelDataset,
    import_netcdf4,
    parse_options,
    read_sla,
)
from harness_sealevel.synthetic import generate, land_mask, write_original_layout

# Small enough to generate in a fraction of a second.
SMALL = {
    "synthetic": {"seed": 11, "days": {"train": 120, "validation": 60, "test": 60}}
}
START = datetime.date(2001, 1, 1)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> dict[str, PreparedSplit]:
    cache = tmp_path_factory.mktemp("sealevel-cache")
    dataset = SeaLevelDataset()
    return {
        s: dataset.prepare(s, cache_dir=cache, options=SMALL) for s in dataset.splits
    }


def load(split: PreparedSplit) -> tuple[dict, np.ndarray]:
    manifest = json.loads((split.inputs_dir / "manifest.json").read_text())
    return manifest, np.load(split.inputs_dir / manifest["array"], mmap_mode="r")


def test_shapes_dtypes_and_date_order(small: dict[str, PreparedSplit]) -> None:
    for split in small.values():
        manifest, x = load(split)
        truth = split.load_truth()
        assert manifest["format_version"] == 1 and manifest["kind"] == "array"
        assert x.dtype == np.float32 and x.shape == (len(truth), *GRID_SHAPE)
        assert truth.labels.dtype == np.int8 and truth.labels.shape == (len(truth), 12)
        assert set(np.unique(truth.labels)) <= {0, 1}
        assert manifest["ids"] == truth.ids.tolist()
        days = [datetime.date.fromisoformat(i) for i in manifest["ids"]]
        assert days == sorted(set(days))
    # Splits are consecutive blocks: train, then validation, then test.
    ends = [small[s].load_truth().ids[[0, -1]] for s in ("train", "validation", "test")]
    assert ends[0][1] < ends[1][0] and ends[1][1] < ends[2][0]
    assert ends[0][0] == "2001-01-01"


def test_land_is_nan_on_every_day_and_ocean_is_finite(
    small: dict[str, PreparedSplit],
) -> None:
    land = land_mask()
    assert 0.1 < land.mean() < 0.5
    assert not land[:, -1].any()  # the open Atlantic on the eastern edge
    _, x = load(small["validation"])
    assert np.array_equal(np.isnan(x[:, 0]), np.broadcast_to(land, x[:, 0].shape))
    assert np.abs(x[:, 0][:, ~land]).max() < 2.0  # metres


def test_generation_is_deterministic() -> None:
    a = generate(seed=5, start=START, n_days=40)
    b = generate(seed=5, start=START, n_days=40)
    c = generate(seed=6, start=START, n_days=40)
    assert np.array_equal(a.sla, b.sla, equal_nan=True)
    assert np.array_equal(a.labels, b.labels) and np.array_equal(a.present, b.present)
    assert not np.array_equal(a.sla, c.sla, equal_nan=True)


def test_positives_are_rare_uneven_and_learnable() -> None:
    data = generate(seed=20240901, start=START, n_days=1460)
    any_share = data.labels.any(axis=1).mean()
    assert 0.14 < any_share < 0.18
    per_station = data.labels.sum(axis=0)
    assert per_station[STATIONS.index("Eastport")] == 3
    assert per_station.min() == 3 and per_station.max() > 40
    # Flood days are days of high water near the station.
    ocean = ~land_mask()
    sla = data.sla.reshape(len(data.days), -1)[:, ocean.ravel()]
    coastal_mean = sla.mean(axis=1)
    flood_any = data.labels.any(axis=1)
    assert coastal_mean[flood_any].mean() > coastal_mean[~flood_any].mean()
    # Stations miss days at different rates.
    missing = (~data.present).sum(axis=0)
    assert missing.max() > missing.min()


def test_days_missing_at_any_station_are_dropped(tmp_path: Path) -> None:
    options = {
        "synthetic": {"seed": 3, "days": {"train": 400, "validation": 10, "test": 10}}
    }
    data = generate(seed=3, start=START, n_days=420)
    complete = {
        d.isoformat()
        for d, ok in zip(data.days, data.present.all(axis=1), strict=True)
        if ok
    }
    assert len(complete) < 420  # the seed has gaps to drop
    dataset = SeaLevelDataset()
    ids = set()
    for split in dataset.splits:
        prepared = dataset.prepare(split, cache_dir=tmp_path, options=options)
        ids |= set(prepared.load_truth().ids)
    assert ids == complete


def test_inputs_folder_holds_nothing_label_derived(
    small: dict[str, PreparedSplit],
) -> None:
    for split in small.values():
        files = sorted(p.name for p in split.inputs_dir.iterdir())
        assert files == ["inputs.npy", "manifest.json"]
        manifest, _ = load(split)
        assert sorted(manifest) == ["array", "format_version", "ids", "kind"]
        assert split.inputs_dir not in split.truth_file.parents


def test_prepare_reuses_the_cache(tmp_path: Path) -> None:
    dataset = SeaLevelDataset()
    first = dataset.prepare("test", cache_dir=tmp_path, options=SMALL)
    stamp = (first.inputs_dir / "inputs.npy").stat().st_mtime_ns
    again = dataset.prepare("test", cache_dir=tmp_path, options=SMALL)
    assert again == first
    assert (again.inputs_dir / "inputs.npy").stat().st_mtime_ns == stamp
    assert not list(tmp_path.rglob("*.part"))
    other = dataset.prepare(
        "test",
        cache_dir=tmp_path,
        options={
            **SMALL,
            "synthetic": {"seed": 12, "days": SMALL["synthetic"]["days"]},
        },
    )
    assert other.inputs_dir != first.inputs_dir


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="did you mean 'splits'"):
        parse_options({"split": {}})
    with pytest.raises(ValueError, match="exactly these stations"):
        parse_options({"stations": list(reversed(STATIONS))})
    with pytest.raises(ValueError, match="ends .* before it starts"):
        parse_options({"splits": {"test": ["2010-01-01", "2009-01-01"]}})
    with pytest.raises(ValueError, match="expected an ISO date"):
        parse_options({"splits": {"test": ["2010-13-01", "2011-01-01"]}})
    with pytest.raises(
        ValueError, match=r"synthetic.days is \[730\]; expected a mapping"
    ):
        parse_options({"synthetic": {"days": [730]}})
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        SeaLevelDataset().prepare("dev", cache_dir=Path("unused"))
    parsed = parse_options(
        {"splits": {"test": [datetime.date(2008, 1, 1), "2008-12-31"]}}
    )
    assert parsed.splits["test"] == (
        datetime.date(2008, 1, 1),
        datetime.date(2008, 12, 31),
    )
    assert parsed.splits["train"] == (
        datetime.date(1993, 1, 1),
        datetime.date(2005, 12, 31),
    )


# -- the original layout ---------------------------------------------------------------


REAL_SPLITS = {
    "splits": {
        "train": ["2001-01-01", "2001-01-04"],
        "validation": ["2001-01-05", "2001-01-06"],
        "test": ["2001-01-07", "2001-01-08"],
    }
}


@pytest.fixture()
def real_dir(tmp_path: Path) -> tuple[Path, object]:
    data = generate(seed=21, start=START, n_days=8)
    data.present[:] = True
    data.present[2, STATIONS.index("Lewes")] = False  # 2001-01-03 lacks a label
    folder = tmp_path / "data"
    write_original_layout(data, folder)
    (folder / "maps" / "dt_ena_20010106_vDT2021.nc").unlink()  # and 01-06 its map
    return folder, data


def test_reads_the_original_layout(
    real_dir: tuple[Path, object], tmp_path: Path
) -> None:
    folder, data = real_dir
    dataset = SeaLevelDataset()
    train = dataset.prepare(
        "train", cache_dir=tmp_path / "c", data_dir=folder, options=REAL_SPLITS
    )
    manifest, x = load(train)
    truth = train.load_truth()
    assert manifest["ids"] == ["2001-01-01", "2001-01-02", "2001-01-04"]
    rows = [0, 1, 3]
    assert np.array_equal(truth.labels, data.labels[rows])
    assert np.array_equal(np.isnan(x), np.isnan(data.sla[rows]))
    assert np.nanmax(np.abs(x - data.sla[rows])) <= 0.5e-4 + 1e-7
    validation = dataset.prepare(
        "validation", cache_dir=tmp_path / "c", data_dir=folder, options=REAL_SPLITS
    )
    assert validation.load_truth().ids.tolist() == ["2001-01-05"]


def test_missing_station_file_is_named(
    real_dir: tuple[Path, object], tmp_path: Path
) -> None:
    folder, _ = real_dir
    (folder / "stations" / "Newport_synthetic.csv").unlink()
    with pytest.raises(FileNotFoundError, match=r"\['Newport'\]"):
        SeaLevelDataset().prepare(
            "train", cache_dir=tmp_path / "c", data_dir=folder, options=REAL_SPLITS
        )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("date,anomaly\n2001-01-01,0\n", "columns are .*expected 't' and 'anomaly'"),
        ("t,anomaly\n2001-01-01,2\n", "line 2: anomaly is '2'"),
        ("t,anomaly\n01/02/2001,0\n", "line 2: t is '01/02/2001'"),
        ("t,anomaly\n2001-01-01,0\n2001-01-01 00:00:00,1\n", "labelled 1 here and 0"),
    ],
)
def test_bad_label_files_are_named(
    real_dir: tuple[Path, object], tmp_path: Path, text: str, message: str
) -> None:
    folder, _ = real_dir
    (folder / "stations" / "Portland_synthetic.csv").write_text(text)
    with pytest.raises(ValueError, match=f"Portland_synthetic.csv.*{message}"):
        SeaLevelDataset().prepare(
            "train", cache_dir=tmp_path / "c", data_dir=folder, options=REAL_SPLITS
        )


def write_nc(path: Path, name: str, shape: tuple[int, ...]) -> None:
    with import_netcdf4().Dataset(path, "w") as ds:
        dims = []
        for i, size in enumerate(shape):
            ds.createDimension(f"d{i}", size)
            dims.append(f"d{i}")
        values = np.full(shape, 0.1, dtype=np.float32)
        values[..., :3] = np.nan  # land
        ds.createVariable(name, "f4", tuple(dims))[:] = values


def test_read_sla_turns_missing_values_into_nan(tmp_path: Path) -> None:
    path = tmp_path / "dt_ena_20010101_vDT2021.nc"
    write_nc(path, "sla", GRID_SHAPE)
    sla = read_sla(path)
    assert sla.dtype == np.float32 and sla.shape == GRID_SHAPE
    assert np.isnan(sla[..., :3]).all()
    assert np.allclose(sla[..., 3:], 0.1)


@pytest.mark.parametrize(
    ("name", "shape", "message"),
    [
        ("adt", GRID_SHAPE, r"no variable 'sla'; it has \['adt'\]"),
        (
            "sla",
            (1, 50, 160),
            r"variable 'sla' has shape \(1, 50, 160\); expected \(1, 100, 160\)",
        ),
    ],
)
def test_bad_grid_files_are_named_and_leave_no_partial_split(
    real_dir: tuple[Path, object],
    tmp_path: Path,
    name: str,
    shape: tuple[int, ...],
    message: str,
) -> None:
    folder, _ = real_dir
    bad = folder / "maps" / "dt_ena_20010104_vDT2021.nc"
    bad.unlink()
    write_nc(bad, name, shape)
    cache = tmp_path / "c"
    with pytest.raises(ValueError, match=f"dt_ena_20010104_vDT2021.nc: {message}"):
        SeaLevelDataset().prepare(
            "train", cache_dir=cache, data_dir=folder, options=REAL_SPLITS
        )
    assert not [p for p in cache.rglob("*") if p.is_file()]


def test_split_without_scored_day_is_an_error(
    real_dir: tuple[Path, object], tmp_path: Path
) -> None:
    folder, _ = real_dir
    options = {"splits": {"test": ["2002-01-01", "2002-12-31"]}}
    with pytest.raises(ValueError, match="no day with both a grid file and a label"):
        SeaLevelDataset().prepare(
            "test", cache_dir=tmp_path / "c", data_dir=folder, options=options
        )
