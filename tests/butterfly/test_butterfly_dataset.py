"""The butterfly dataset: synthetic composition, caching, and the real layout."""

from __future__ import annotations

import csv
import json
import os
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harness.types import PreparedSplit
from harness_butterfly import synthetic
from harness_butterfly.dataset import ButterflyDataset

NAME = re.compile(r"^[0-9]+_CAM[0-9]{6}_[dv]\.jpg$")


def composition(split: PreparedSplit) -> dict[str, tuple[int, int]]:
    truth = split.load_truth()
    counts = Counter(
        zip(truth.columns["ssp_indicator"].tolist(), truth.labels.tolist(), strict=True)
    )
    return {g: (counts[(g, 0)], counts[(g, 1)]) for g in ("major", "minor", "mimic")}


def test_validation_matches_the_original_composition(validation_split):
    assert composition(validation_split) == {
        "major": (219, 190),
        "minor": (201, 17),
        "mimic": (423, 125),
    }
    assert len(validation_split.load_truth()) == 1175


def test_test_matches_the_original_composition(testing_split):
    assert composition(testing_split) == {
        "major": (455, 365),
        "minor": (407, 28),
        "mimic": (847, 248),
    }
    assert len(testing_split.load_truth()) == 2350


def test_train_holds_only_the_signal_hybrid(butterfly_cache):
    split = ButterflyDataset().prepare("train", cache_dir=butterfly_cache)
    assert composition(split) == {
        "major": (500, 200),
        "minor": (400, 0),
        "mimic": (400, 0),
    }


def test_test_contains_every_validation_image(validation_split, testing_split):
    validation = validation_split.load_truth()
    test = testing_split.load_truth()
    position = {name: i for i, name in enumerate(test.ids.tolist())}
    assert set(position) >= set(validation.ids.tolist())
    for i, name in enumerate(validation.ids.tolist()):
        j = position[name]
        assert test.labels[j] == validation.labels[i]
        assert (
            test.columns["ssp_indicator"][j] == validation.columns["ssp_indicator"][i]
        )
    for name in validation.ids.tolist()[::50]:
        left = (validation_split.inputs_dir / "images" / name).read_bytes()
        assert left == (testing_split.inputs_dir / "images" / name).read_bytes()


def test_generation_is_deterministic(validation_split, tmp_path):
    again = ButterflyDataset().prepare("validation", cache_dir=tmp_path)
    first, second = validation_split.load_truth(), again.load_truth()
    assert first.ids.tolist() == second.ids.tolist()
    assert first.labels.tolist() == second.labels.tolist()
    for name in first.ids.tolist()[::25]:
        assert (validation_split.inputs_dir / "images" / name).read_bytes() == (
            again.inputs_dir / "images" / name
        ).read_bytes()


def test_another_seed_gives_other_images(tmp_path):
    items = synthetic.build_catalogue(1)["validation"]
    other = synthetic.build_catalogue(2)["validation"]
    assert [i.name for i in items] != [i.name for i in other]
    assert [(i.group, i.hybrid) for i in items] == [(i.group, i.hybrid) for i in other]


def test_inputs_hold_no_labels(validation_split):
    inputs = validation_split.inputs_dir
    assert sorted(p.name for p in inputs.iterdir()) == ["images", "manifest.json"]
    assert validation_split.truth_file.parent == inputs.parent
    assert not validation_split.truth_file.is_relative_to(inputs)
    manifest = json.loads((inputs / "manifest.json").read_text())
    assert set(manifest) == {"format_version", "kind", "ids", "files"}
    assert manifest["kind"] == "files"
    names = manifest["ids"]
    assert names == sorted(names)
    assert manifest["files"] == [f"images/{n}" for n in names]
    assert sorted(p.name for p in (inputs / "images").iterdir()) == names
    assert all(NAME.match(n) for n in names)
    assert validation_split.load_truth().ids.tolist() == names
    text = json.dumps(manifest).lower()
    for word in ("hybrid", "major", "minor", "mimic", "label"):
        assert word not in text


def test_names_and_order_say_nothing_about_the_label(testing_split):
    """Views, numbers and sorted position are drawn independently of labels."""
    truth = testing_split.load_truth()
    names = truth.ids.tolist()
    hybrid = truth.labels.astype(bool)
    ventral = np.array([n.endswith("_v.jpg") for n in names])
    assert abs(hybrid[ventral].mean() - hybrid[~ventral].mean()) < 0.05
    camid = np.array([int(n.split("_")[1][3:]) for n in names])
    assert abs(np.median(camid[hybrid]) - np.median(camid[~hybrid])) < 60_000
    first_half = np.arange(len(names)) < len(names) // 2
    assert abs(hybrid[first_half].mean() - hybrid[~first_half].mean()) < 0.05


def test_images_are_plain_small_jpegs(validation_split):
    folder = validation_split.inputs_dir / "images"
    for name in validation_split.load_truth().ids.tolist()[::97]:
        with Image.open(folder / name) as image:
            assert image.format == "JPEG"
            assert image.mode == "RGB"
            assert image.size == (64, 64)
            assert "exif" not in image.info and "comment" not in image.info


def test_hybrids_look_different_from_their_parents():
    """Pixels of a major hybrid differ from both major subspecies on average
    more than two members of one subspecies differ from each other."""
    items = synthetic.build_catalogue(0)["train"]
    by_kind: dict[tuple[int, ...], list[np.ndarray]] = {}
    for item in items:
        if item.group == "major":
            key = item.parents if item.hybrid else (item.parents[0],)
            if len(by_kind.setdefault(key, [])) < 40:
                by_kind[key].append(synthetic.render(item).astype(float).mean(axis=2))
    mean = {key: np.mean(images, axis=0) for key, images in by_kind.items()}
    parents = np.abs(mean[(0,)] - mean[(1,)]).mean()
    assert np.abs(mean[(0, 1)] - mean[(0,)]).mean() > 0.1 * parents
    assert np.abs(mean[(0, 1)] - mean[(1,)]).mean() > 0.1 * parents


def test_cached_split_is_reused(butterfly_cache, validation_split):
    stamp = os.stat(validation_split.truth_file).st_mtime_ns
    again = ButterflyDataset().prepare("validation", cache_dir=butterfly_cache)
    assert again == validation_split
    assert os.stat(again.truth_file).st_mtime_ns == stamp


@pytest.mark.parametrize(
    ("split", "options", "message"),
    [
        ("valid", {}, "did you mean 'validation'"),
        ("test", {"sed": 1}, "did you mean 'seed'"),
        ("test", {"seed": -1}, "non-negative integer"),
        ("test", {"csv": "ref.csv"}, "must map split names"),
        ("test", {"csv": {"dev": "ref.csv"}}, "must map split names"),
    ],
)
def test_bad_arguments_are_named(tmp_path, split, options, message):
    with pytest.raises(ValueError, match=message):
        ButterflyDataset().prepare(split, cache_dir=tmp_path, options=options)


# -- real layout -----------------------------------------------------------------


def tiny_jpeg(path: Path, colour: tuple[int, int, int]) -> None:
    Image.new("RGB", (8, 6), colour).save(path, format="JPEG")


REAL_ROWS = [
    # Grouped by label, the way a reference file may well be sorted.
    ("42_CAM017821_v.jpg", "1", "major"),
    ("7_CAM000457_d.jpg", "1", "mimic"),
    ("13_F995_d.jpg", "1", "minor"),
    ("5_CAM011430_d.jpg", "0", "major"),
    ("21_CAM000124_v.jpg", "0", "minor"),
    ("3_CAM018291_d.jpg", "0", "mimic"),
]


def write_real(folder: Path, rows=REAL_ROWS, name="ref_val.csv", header=None):
    folder.mkdir(parents=True, exist_ok=True)
    header = header or ["CAMID", "filename", "hybrid_stat", "ssp_indicator", "notes"]
    with open(folder / name, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for i, row in enumerate(rows):
            record = dict(
                zip(["filename", "hybrid_stat", "ssp_indicator"], row, strict=True)
            )
            record.update(CAMID=f"CAM{i}", notes="x, y")
            writer.writerow([record.get(column, "") for column in header])
    for i, (filename, *_rest) in enumerate(rows):
        tiny_jpeg(folder / filename, (10 * i, 100, 200))


def test_real_layout_is_staged_in_name_order(tmp_path):
    data = tmp_path / "data"
    write_real(data)
    split = ButterflyDataset().prepare(
        "validation", cache_dir=tmp_path / "cache", data_dir=data
    )
    truth = split.load_truth()
    expected = sorted(REAL_ROWS)
    assert truth.ids.tolist() == [name for name, _, _ in expected]
    assert truth.labels.tolist() == [int(label) for _, label, _ in expected]
    assert truth.columns["ssp_indicator"].tolist() == [g for _, _, g in expected]
    manifest = json.loads((split.inputs_dir / "manifest.json").read_text())
    assert manifest["ids"] == truth.ids.tolist()
    for name in manifest["ids"]:
        assert (split.inputs_dir / "images" / name).read_bytes() == (
            data / name
        ).read_bytes()
    assert sorted(p.name for p in split.inputs_dir.iterdir()) == [
        "images",
        "manifest.json",
    ]


def test_real_layout_options_and_training_list(tmp_path):
    """The original training list spells labels out and has no groups."""
    data = tmp_path / "data"
    rows = [("1_CAM1_d.jpg", "hybrid", ""), ("2_CAM2_d.jpg", "non-hybrid", "")]
    write_real(
        data / "photos",
        rows,
        name="train.csv",
        header=["CAMID", "filename", "hybrid_stat"],
    )
    (data / "photos" / "train.csv").rename(data / "train.csv")
    split = ButterflyDataset().prepare(
        "train",
        cache_dir=tmp_path / "cache",
        data_dir=data,
        options={"csv": {"train": "train.csv"}, "images": {"train": "photos"}},
    )
    truth = split.load_truth()
    assert truth.ids.tolist() == ["1_CAM1_d.jpg", "2_CAM2_d.jpg"]
    assert truth.labels.tolist() == [1, 0]
    assert truth.columns["ssp_indicator"].tolist() == ["", ""]


def test_real_cache_follows_the_data(tmp_path):
    data = tmp_path / "data"
    write_real(data)
    dataset = ButterflyDataset()
    first = dataset.prepare("validation", cache_dir=tmp_path / "c", data_dir=data)
    assert (
        dataset.prepare("validation", cache_dir=tmp_path / "c", data_dir=data) == first
    )
    Image.new("RGB", (9, 9), (1, 2, 3)).save(data / REAL_ROWS[0][0], format="JPEG")
    second = dataset.prepare("validation", cache_dir=tmp_path / "c", data_dir=data)
    assert second.inputs_dir != first.inputs_dir
    with Image.open(second.inputs_dir / "images" / REAL_ROWS[0][0]) as image:
        assert image.size == (9, 9)


def test_broken_cache_is_rebuilt(tmp_path):
    """A staged split whose stamp does not match is replaced as a whole."""
    data = tmp_path / "data"
    write_real(data)
    dataset = ButterflyDataset()
    first = dataset.prepare("validation", cache_dir=tmp_path / "c", data_dir=data)
    (first.inputs_dir / "images" / REAL_ROWS[0][0]).unlink()
    (first.inputs_dir.parent / "staged.json").write_text("{}")
    again = dataset.prepare("validation", cache_dir=tmp_path / "c", data_dir=data)
    assert again == first
    assert (again.inputs_dir / "images" / REAL_ROWS[0][0]).is_file()
    # No scratch or stale folder is left beside the split.
    assert [p.name for p in again.inputs_dir.parent.parent.iterdir()] == ["validation"]


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ("no-csv", FileNotFoundError, "reference CSV not found: .*ref_val.csv"),
        ("no-image", FileNotFoundError, "1 of 6 images .* missing .*: 7_CAM000457_d"),
        ("no-column", ValueError, "lacks the column.*ssp_indicator"),
        ("bad-label", ValueError, "line 3: hybrid_stat 'maybe'"),
        ("bad-group", ValueError, "line 2: ssp_indicator 'majr'.*did you mean 'major'"),
        ("repeat", ValueError, "line 3: filename '42_CAM017821_v.jpg' repeats"),
        ("escape", ValueError, "'../secret.jpg' must be a plain file name"),
        ("empty", ValueError, "no rows"),
    ],
)
def test_real_layout_errors_are_clear(tmp_path, change, error, message):
    data = tmp_path / "data"
    rows = list(REAL_ROWS)
    header = None
    if change == "no-column":
        header = ["filename", "hybrid_stat"]
    elif change == "bad-label":
        rows[1] = (rows[1][0], "maybe", rows[1][2])
    elif change == "bad-group":
        rows[0] = (rows[0][0], "1", "majr")
    elif change == "repeat":
        rows[1] = (rows[0][0], "0", "minor")
    elif change == "empty":
        rows = []
    write_real(data, rows, header=header)
    if change == "no-csv":
        (data / "ref_val.csv").unlink()
    elif change == "no-image":
        (data / REAL_ROWS[1][0]).unlink()
    elif change == "escape":
        text = (
            (data / "ref_val.csv").read_text().replace(REAL_ROWS[2][0], "../secret.jpg")
        )
        (data / "ref_val.csv").write_text(text)
    with pytest.raises(error, match=message):
        ButterflyDataset().prepare(
            "validation", cache_dir=tmp_path / "c", data_dir=data
        )
    assert not any((tmp_path / "c").glob("*/validation"))
