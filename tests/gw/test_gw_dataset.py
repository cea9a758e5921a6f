"""Tests of the ``gw`` dataset: the synthetic generator and the staged splits."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harness.errors import InvalidInputError, UnknownNameError
from harness.types import DatasetPlugin
from harness_gw import dataset as gw_dataset
from harness_gw import synthetic
from harness_gw.dataset import GWDataError, GWDataset, GWMissingFileError

SMALL = {"background": 40, "bbh": 10, "sglf": 10}
SMALL_OPTIONS = {"sizes": {split: SMALL for split in synthetic.SPLITS}}
MAX_LAG = round(synthetic.MAX_DELAY_S * synthetic.SAMPLE_RATE)


def bytes_of(path: Path) -> bytes:
    return path.read_bytes()


# -- the generator ---------------------------------------------------------------


def test_same_seed_gives_the_same_bytes() -> None:
    first = synthetic.generate_split("validation", seed=7, sizes=SMALL)
    second = synthetic.generate_split("validation", seed=7, sizes=SMALL)
    other = synthetic.generate_split("validation", seed=8, sizes=SMALL)

    assert first.data.tobytes() == second.data.tobytes()
    assert np.array_equal(first.kind, second.kind)
    assert not np.array_equal(first.data, other.data)


def test_splits_draw_from_different_streams() -> None:
    validation = synthetic.generate_split("validation", seed=7, sizes=SMALL)
    test = synthetic.generate_split("test", seed=7, sizes=SMALL)

    assert not np.array_equal(validation.data, test.data)


@pytest.mark.parametrize("split", synthetic.SPLITS)
def test_default_splits_have_the_real_shape_and_documented_sizes(split: str) -> None:
    generated = synthetic.generate_split(split)
    sizes = synthetic.DEFAULT_SIZES[split]

    assert generated.data.shape == (sum(sizes.values()), 2, 200)
    assert generated.data.dtype == np.float32
    assert generated.labels.dtype == np.int8
    for kind, count in sizes.items():
        assert int(np.sum(generated.kind == kind)) == count
    assert np.array_equal(generated.labels, generated.kind != "background")
    assert np.isfinite(generated.data).all()
    # Signals are a minority of the held-out splits, about 10 %.
    if split != "train":
        assert generated.labels.mean() == pytest.approx(0.1)


def test_train_is_in_blocks_and_held_out_splits_are_shuffled() -> None:
    train = synthetic.generate_split("train", sizes=SMALL)
    test = synthetic.generate_split("test", sizes=SMALL)

    assert train.kind.tolist() == ["background"] * 40 + ["bbh"] * 10 + ["sglf"] * 10
    assert test.kind.tolist() != sorted(test.kind.tolist())


def test_noise_has_unit_variance_and_differs_between_detectors() -> None:
    background = synthetic.generate_split(
        "train", sizes={"background": 2000, "bbh": 0, "sglf": 0}
    )
    clean = background.data[~background.glitch].astype(np.float64)

    assert clean.std() == pytest.approx(1.0, abs=0.05)
    spectra = np.mean(np.abs(np.fft.rfft(clean, axis=-1)) ** 2, axis=0)
    spectra /= spectra.mean()
    freq = np.fft.rfftfreq(200, d=1.0 / synthetic.SAMPLE_RATE)
    in_band = (freq > 50) & (freq < 1000)
    # Band-passed: little below 30 Hz and above 1500 Hz. Coloured, not white,
    # inside the band, and each detector has a spectrum of its own.
    assert spectra[:, 0].max() < 0.5
    assert spectra[:, freq > 1900].max() < 0.3
    assert (
        spectra[:, in_band].max(axis=1) > 1.5 * spectra[:, in_band].min(axis=1)
    ).all()
    assert np.abs(spectra[0] - spectra[1]).max() > 0.5
    correlation = np.corrcoef(clean[:, 0].ravel(), clean[:, 1].ravel())[0, 1]
    assert abs(correlation) < 0.02


def test_both_detectors_see_each_signal_within_ten_ms() -> None:
    sizes = {"background": 0, "bbh": 60, "sglf": 60}
    noisy = synthetic.generate_split("test", sizes=sizes)
    clean = synthetic.generate_split("test", sizes=sizes, noise=False)
    signals = clean.data.astype(np.float64)
    energy = np.sum(signals**2, axis=2)

    # Each detector carries a real share of the signal...
    assert (energy.min(axis=1) > 0.02 * energy.sum(axis=1)).all()
    # ... the two copies line up at a lag of at most 10 ms ...
    # The detectors filter a little differently and the window cuts long
    # bursts at different points in each, which moves the correlation peak by
    # up to a few samples: hence 3 ms of slack.
    slack = round(0.003 * synthetic.SAMPLE_RATE)
    lags = np.arange(-MAX_LAG - 3 * slack, MAX_LAG + 3 * slack + 1)
    best = np.array([_best_lag(item[0], item[1], lags) for item in signals])
    assert np.abs(best).max() <= MAX_LAG + slack
    # ... which is the recorded delay (Livingston after Hanford is positive).
    recorded = clean.delay * synthetic.SAMPLE_RATE
    assert np.abs(best - recorded).max() <= slack
    assert np.abs(clean.delay).max() <= synthetic.MAX_DELAY_S
    # The noise-free signals are those of the noisy data of the same seed.
    noise = noisy.data - clean.data
    assert noise.std() == pytest.approx(1.0, abs=0.1)


def _best_lag(first: np.ndarray, second: np.ndarray, lags: np.ndarray) -> float:
    """Lag in samples by which ``second`` trails ``first``: the peak of the
    magnitude of their (linear, not circular) complex cross-correlation."""
    a, b = (np.fft.fft(_analytic(x), n=1024) for x in (first, second))
    correlation = np.abs(np.fft.ifft(np.conj(a) * b))
    return float(lags[int(np.argmax(correlation[lags]))])


def _analytic(x: np.ndarray) -> np.ndarray:
    spectrum = np.fft.fft(x, n=1024)
    spectrum[513:] = 0.0
    spectrum[1:512] *= 2.0
    return np.fft.ifft(spectrum)[: x.shape[0]]


def test_glitches_are_in_one_detector_only() -> None:
    clean = synthetic.generate_split(
        "train", sizes={"background": 600, "bbh": 0, "sglf": 0}, noise=False
    )
    energy = np.sum(clean.data.astype(np.float64) ** 2, axis=2)

    assert 30 <= clean.glitch.sum() <= 90
    assert np.all((energy[clean.glitch] > 0).sum(axis=1) == 1)
    assert np.all(energy[~clean.glitch] == 0)
    assert np.all(clean.labels == 0)


def test_signal_strengths_span_the_documented_range() -> None:
    generated = synthetic.generate_split("train", sizes={"background": 0})
    clean = synthetic.generate_split("train", sizes={"background": 0}, noise=False)
    low, high = synthetic.SNR_RANGE

    assert np.allclose(synthetic.network_snr(clean.data), generated.snr, rtol=1e-4)
    assert low <= generated.snr.min() < low * 1.2
    assert high / 1.2 < generated.snr.max() <= high


def test_generator_rejects_bad_sizes() -> None:
    with pytest.raises(ValueError, match="unknown kind 'glitch'"):
        synthetic.generate_split("test", sizes={"glitch": 3})
    with pytest.raises(ValueError, match="non-negative integer, got -1"):
        synthetic.generate_split("test", sizes={"bbh": -1})


# -- staging synthetic splits -------------------------------------------------------


def test_plugin_describes_itself() -> None:
    plugin = GWDataset()

    assert isinstance(plugin, DatasetPlugin)
    assert plugin.name == "gw"
    assert plugin.splits == ("train", "validation", "test")
    assert plugin.version


def test_prepare_writes_the_documented_layout(tmp_path: Path) -> None:
    prepared = GWDataset().prepare("test", cache_dir=tmp_path, options=SMALL_OPTIONS)

    assert prepared.dataset == "gw"
    assert prepared.split == "test"
    assert sorted(p.name for p in prepared.inputs_dir.iterdir()) == [
        "inputs.npy",
        "manifest.json",
    ]
    assert prepared.inputs_dir.parent.name == "test"
    assert prepared.inputs_dir not in prepared.truth_file.parents
    manifest = json.loads((prepared.inputs_dir / "manifest.json").read_text())
    assert manifest == {
        "format_version": 1,
        "kind": "array",
        "ids": list(range(60)),
        "array": "inputs.npy",
    }
    inputs = np.load(prepared.inputs_dir / "inputs.npy", mmap_mode="r")
    expected = synthetic.generate_split("test", sizes=SMALL)
    assert inputs.dtype == np.float32
    assert np.array_equal(inputs, expected.data)

    truth = prepared.load_truth()
    assert truth.ids.dtype == np.int64
    assert truth.ids.tolist() == list(range(60))
    assert truth.labels.dtype == np.int8
    assert np.array_equal(truth.labels, expected.labels)
    assert dict(truth.columns) == {}


def test_train_truth_has_a_kind_column(tmp_path: Path) -> None:
    prepared = GWDataset().prepare("train", cache_dir=tmp_path, options=SMALL_OPTIONS)
    truth = prepared.load_truth()

    assert list(truth.columns) == ["kind"]
    assert truth.columns["kind"].tolist() == (
        ["background"] * 40 + ["bbh"] * 10 + ["sglf"] * 10
    )
    assert truth.labels.tolist() == [0] * 40 + [1] * 20


def test_staged_files_are_readable_by_other_users(tmp_path: Path) -> None:
    prepared = GWDataset().prepare("test", cache_dir=tmp_path, options=SMALL_OPTIONS)

    assert prepared.inputs_dir.stat().st_mode & 0o005 == 0o005
    for path in prepared.inputs_dir.iterdir():
        assert path.stat().st_mode & 0o004


def test_same_options_give_the_same_bytes_in_another_cache(tmp_path: Path) -> None:
    first = GWDataset().prepare("test", cache_dir=tmp_path / "a", options=SMALL_OPTIONS)
    second = GWDataset().prepare(
        "test", cache_dir=tmp_path / "b", options=SMALL_OPTIONS
    )

    for name in ("inputs.npy", "manifest.json"):
        assert bytes_of(first.inputs_dir / name) == bytes_of(second.inputs_dir / name)
    assert first.load_truth().labels.tolist() == second.load_truth().labels.tolist()


def test_second_call_reuses_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = GWDataset().prepare("test", cache_dir=tmp_path, options=SMALL_OPTIONS)
    stamp = (first.inputs_dir / "inputs.npy").stat().st_mtime_ns

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the split was generated again")

    monkeypatch.setattr(synthetic, "generate_split", refuse)
    second = GWDataset().prepare("test", cache_dir=tmp_path, options=SMALL_OPTIONS)

    assert second == first
    assert (second.inputs_dir / "inputs.npy").stat().st_mtime_ns == stamp


def test_cache_key_follows_seed_sizes_and_generator_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugin = GWDataset()
    base = plugin.prepare("test", cache_dir=tmp_path, options=SMALL_OPTIONS)
    seeded = plugin.prepare(
        "test", cache_dir=tmp_path, options={**SMALL_OPTIONS, "seed": 3}
    )
    resized = plugin.prepare(
        "test", cache_dir=tmp_path, options={"sizes": {"test": {"bbh": 11}}}
    )
    monkeypatch.setattr(synthetic, "GENERATOR_VERSION", "test-only")
    bumped = plugin.prepare("test", cache_dir=tmp_path, options=SMALL_OPTIONS)

    folders = {p.inputs_dir for p in (base, seeded, resized, bumped)}
    assert len(folders) == 4
    assert len(resized.load_truth().ids) == 3600 + 11 + 200
    # Another split's sizes do not touch this split's key.
    other = plugin.prepare(
        "validation", cache_dir=tmp_path, options={"sizes": {"test": {"bbh": 11}}}
    )
    assert other.inputs_dir.parent.parent != resized.inputs_dir.parent.parent


def test_a_failed_build_leaves_no_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    with monkeypatch.context() as patch:
        patch.setattr(gw_dataset, "_write_truth", crash)
        with pytest.raises(RuntimeError, match="disk full"):
            GWDataset().prepare("test", cache_dir=tmp_path, options=SMALL_OPTIONS)

    leftovers = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert leftovers == []
    prepared = GWDataset().prepare("test", cache_dir=tmp_path, options=SMALL_OPTIONS)
    assert len(prepared.load_truth()) == 60


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"seeds": 1}, "unknown dataset option 'seeds' (did you mean 'seed'?)"),
        ({"seed": -1}, "'seed' must be a non-negative integer, got -1"),
        ({"seed": True}, "'seed' must be a non-negative integer, got True"),
        ({"sizes": {"tset": {}}}, "(did you mean 'test'?)"),
        ({"sizes": {"test": {"bhh": 1}}}, "(did you mean 'bbh'?)"),
        ({"sizes": {"test": {"bbh": 1.5}}}, "'sizes.test.bbh' must be a non-negative"),
        ({"sizes": {"test": [1, 2]}}, "'sizes.test' must be a mapping, got list"),
        (
            {"sizes": {"test": {"background": 0, "bbh": 0, "sglf": 0}}},
            "leaves the split empty",
        ),
        ({"files": {"bakground": "b.npz"}}, "(did you mean 'background'?)"),
        ({"files": {"test": "/abs/test.npz"}}, "relative to the data folder"),
    ],
)
def test_bad_options_are_rejected_with_a_clear_message(
    tmp_path: Path, options: dict[str, object], message: str
) -> None:
    with pytest.raises(GWDataError) as caught:
        GWDataset().prepare("test", cache_dir=tmp_path, options=options)

    assert message in str(caught.value)
    assert isinstance(caught.value, InvalidInputError)
    assert list(tmp_path.iterdir()) == []


def test_unknown_split_suggests_the_right_one(tmp_path: Path) -> None:
    with pytest.raises(UnknownNameError, match="did you mean 'validation'"):
        GWDataset().prepare("valdation", cache_dir=tmp_path)


def test_options_schema_accepts_what_prepare_accepts() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(dict(gw_dataset.OPTIONS_SCHEMA))

    assert validator.is_valid({"seed": 1, "sizes": {"test": {"bbh": 5}}})
    assert validator.is_valid({"files": {"test": "held_out.npz"}})
    assert not validator.is_valid({"seeds": 1})
    assert not validator.is_valid({"sizes": {"test": {"bhh": 5}}})


# -- staging the real layout -----------------------------------------------------------


def write_real_layout(folder: Path, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Write tiny files in the original layout; return the arrays written."""
    arrays = {
        "background": rng.normal(size=(5, 2, 200)),
        "bbh": rng.normal(size=(3, 2, 200)).astype(np.float32),
        "sglf": rng.normal(size=(2, 2, 200)),
        "validation": rng.normal(size=(4, 2, 200)),
        "test": rng.normal(size=(6, 2, 200)),
    }
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / "background.npz", data=arrays["background"])
    np.save(folder / "bbh_for_challenge.npy", arrays["bbh"])
    np.save(folder / "sglf_for_challenge.npy", arrays["sglf"])
    np.savez(folder / "validation.npz", data=arrays["validation"], ids=[0, 1, 1, 0])
    np.savez(folder / "held_out.npz", data=arrays["test"], ids=[1, 0, 0, 0, 0, 1])
    return arrays


def savez_as(path: Path, **arrays: np.ndarray) -> None:
    """Write an .npz archive under exactly ``path``, whatever its suffix."""
    with path.open("wb") as handle:
        np.savez(handle, **arrays)


def save_as(path: Path, array: np.ndarray) -> None:
    """Write a single .npy array under exactly ``path``, whatever its suffix."""
    with path.open("wb") as handle:
        np.save(handle, array)


def test_real_train_concatenates_the_three_files(tmp_path: Path) -> None:
    arrays = write_real_layout(tmp_path / "data", np.random.default_rng(0))

    prepared = GWDataset().prepare(
        "train", cache_dir=tmp_path / "cache", data_dir=tmp_path / "data"
    )

    inputs = np.load(prepared.inputs_dir / "inputs.npy")
    expected = np.concatenate([arrays["background"], arrays["bbh"], arrays["sglf"]])
    assert inputs.dtype == np.float32
    assert np.array_equal(inputs, expected.astype(np.float32))
    truth = prepared.load_truth()
    assert truth.labels.tolist() == [0] * 5 + [1] * 5
    assert truth.columns["kind"].tolist() == (
        ["background"] * 5 + ["bbh"] * 3 + ["sglf"] * 2
    )
    assert prepared.inputs_dir.parent.parent.name.startswith("real-")
    assert sorted(p.name for p in prepared.inputs_dir.iterdir()) == [
        "inputs.npy",
        "manifest.json",
    ]


def test_real_held_out_split_uses_ids_as_labels(tmp_path: Path) -> None:
    arrays = write_real_layout(tmp_path / "data", np.random.default_rng(1))

    validation = GWDataset().prepare(
        "validation", cache_dir=tmp_path / "cache", data_dir=tmp_path / "data"
    )
    test = GWDataset().prepare(
        "test",
        cache_dir=tmp_path / "cache",
        data_dir=tmp_path / "data",
        options={"files": {"test": "held_out.npz"}},
    )

    assert validation.load_truth().labels.tolist() == [0, 1, 1, 0]
    assert validation.load_truth().ids.tolist() == [0, 1, 2, 3]
    assert test.load_truth().labels.tolist() == [1, 0, 0, 0, 0, 1]
    assert np.array_equal(
        np.load(test.inputs_dir / "inputs.npy"), arrays["test"].astype(np.float32)
    )
    manifest = json.loads((test.inputs_dir / "manifest.json").read_text())
    assert manifest["ids"] == [0, 1, 2, 3, 4, 5]


def test_a_changed_real_file_is_staged_again(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_real_layout(data, np.random.default_rng(2))
    first = GWDataset().prepare("validation", cache_dir=tmp_path / "c", data_dir=data)

    np.savez(data / "validation.npz", data=np.zeros((3, 2, 200)), ids=[1, 1, 0])
    second = GWDataset().prepare("validation", cache_dir=tmp_path / "c", data_dir=data)

    assert second.inputs_dir != first.inputs_dir
    assert second.load_truth().labels.tolist() == [1, 1, 0]


def test_missing_real_file_names_the_file_and_the_option(tmp_path: Path) -> None:
    write_real_layout(tmp_path / "data", np.random.default_rng(3))
    (tmp_path / "data" / "sglf_for_challenge.npy").unlink()

    with pytest.raises(GWMissingFileError) as caught:
        GWDataset().prepare(
            "train", cache_dir=tmp_path / "c", data_dir=tmp_path / "data"
        )

    message = str(caught.value)
    assert "sglf_for_challenge.npy" in message
    assert "does not exist" in message
    assert "(N, 2, 200)" in message
    assert "files.sglf" in message
    assert isinstance(caught.value, FileNotFoundError)
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize(
    ("split", "write", "expected"),
    [
        (
            "train",
            lambda d: np.savez(d / "background.npz", strain=np.zeros((2, 2, 200))),
            ["background.npz", "no array 'data'", "['strain']"],
        ),
        (
            "train",
            lambda d: np.save(d / "bbh_for_challenge.npy", np.zeros((4, 200, 2))),
            ["bbh_for_challenge.npy", "shape (4, 200, 2)", "expected (N, 2, 200)"],
        ),
        (
            "train",
            lambda d: np.save(d / "bbh_for_challenge.npy", np.zeros((4, 400))),
            ["bbh_for_challenge.npy", "shape (4, 400)", "expected (N, 2, 200)"],
        ),
        (
            "train",
            lambda d: savez_as(d / "bbh_for_challenge.npy", data=np.zeros((1, 2, 200))),
            ["bbh_for_challenge.npy", "is an .npz archive", "single array"],
        ),
        (
            "validation",
            lambda d: np.savez(
                d / "validation.npz", data=np.zeros((3, 2, 100)), ids=[0, 1, 0]
            ),
            ["array 'data' of", "validation.npz", "shape (3, 2, 100)", "(N, 2, 200)"],
        ),
        (
            "validation",
            lambda d: np.savez(d / "validation.npz", data=np.zeros((3, 2, 200))),
            ["validation.npz", "no array 'ids'", "['data']"],
        ),
        (
            "validation",
            lambda d: np.savez(
                d / "validation.npz", data=np.zeros((3, 2, 200)), ids=[0, 1]
            ),
            ["array 'ids' of", "shape (2,)", "expected (3,)"],
        ),
        (
            "validation",
            lambda d: np.savez(
                d / "validation.npz", data=np.zeros((3, 2, 200)), ids=[0, 2, -1]
            ),
            ["array 'ids' of", "values [-1, 2]", "only labels 0 and 1"],
        ),
        (
            "validation",
            lambda d: np.savez(
                d / "validation.npz",
                data=np.full((3, 2, 200), np.nan),
                ids=[0, 1, 0],
            ),
            ["validation.npz", "non-finite values in item 0"],
        ),
        (
            "validation",
            lambda d: save_as(d / "validation.npz", np.zeros((3, 2, 200))),
            ["validation.npz", "is a single array", "archive with array 'data'"],
        ),
        (
            "test",
            lambda d: (d / "test.npz").write_bytes(b"not an archive"),
            ["cannot read", "test.npz"],
        ),
        (
            "test",
            lambda d: np.savez(
                d / "test.npz", data=np.zeros((0, 2, 200)), ids=np.zeros(0)
            ),
            ["test.npz", "holds no items"],
        ),
    ],
)
def test_malformed_real_files_are_rejected_clearly(
    tmp_path: Path, split: str, write: object, expected: list[str]
) -> None:
    data = tmp_path / "data"
    write_real_layout(data, np.random.default_rng(4))
    np.savez(data / "test.npz", data=np.zeros((2, 2, 200)), ids=[0, 1])
    write(data)  # type: ignore[operator]

    with pytest.raises(GWDataError) as caught:
        GWDataset().prepare(split, cache_dir=tmp_path / "cache", data_dir=data)

    for fragment in expected:
        assert fragment in str(caught.value)
    assert [p for p in (tmp_path / "cache").rglob("*") if p.is_file()] == []
