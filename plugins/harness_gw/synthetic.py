"""A seeded synthetic stand-in for the gravitational-wave challenge data.

Each item is a float32 array of shape ``(2, 200)``: 200 samples at 4096 Hz
(about 49 ms) from the Hanford and Livingston detectors, shaped like data
that were whitened and then band-passed. Items are of three kinds:

``background``
    Coloured Gaussian noise, independent in the two detectors. Each detector
    has its own smooth spectrum: a 30-1500 Hz band-pass with a little
    residual colour left by imperfect whitening. One background item in ten
    (:data:`GLITCH_FRACTION`) carries a short broadband burst, a *glitch*,
    in one detector only, as loud as a signal may be; it is still
    background, which is what makes a two-detector view pay off.
``bbh``
    A binary-merger chirp on top of background: frequency and amplitude rise
    towards a merger, followed by an exponentially damped ringdown.
``sglf``
    A low-frequency sine-Gaussian burst on top of background.

A signal reaches the two detectors at most :data:`MAX_DELAY_S` apart, with
its own amplitude and phase in each. Its strength is drawn as a network
signal-to-noise ratio (see :func:`network_snr`) between the bounds of
:data:`SNR_RANGE`, uniformly in its logarithm, so that loud signals are easy
and the quietest are close to the noise.

Signals and glitches pass through the same detector response as the noise,
as they would through real whitening and band-passing. Everything is drawn
from one :class:`numpy.random.Generator` per split, seeded by the seed and
the split's position in :data:`SPLITS`, so a split depends only on the seed
and its own sizes.

Default sizes (:data:`DEFAULT_SIZES`): ``train`` has 4,000 background items
then 1,000 of each signal kind, in blocks like the real training files;
``validation`` (2,000 items) and ``test`` (4,000 items) are shuffled and 90 %
background, 5 % of each signal kind. All three take about a second to make.

Limits: the noise is stationary and Gaussian apart from the glitches, the
waveforms are phenomenological (not solutions of general relativity), and
the signal-to-noise ratio is the nominal one defined in
:func:`network_snr`, not a matched-filter value against the true spectrum.
Changing anything that alters the bytes produced must bump
:data:`GENERATOR_VERSION`, which is part of every cache key.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

import numpy as np

__all__ = [
    "DEFAULT_SEED",
    "DEFAULT_SIZES",
    "DETECTORS",
    "GENERATOR_VERSION",
    "GLITCH_FRACTION",
    "KINDS",
    "MAX_DELAY_S",
    "N_SAMPLES",
    "SAMPLE_RATE",
    "SNR_RANGE",
    "SPLITS",
    "SyntheticSplit",
    "detector_response",
    "generate_split",
    "network_snr",
]

GENERATOR_VERSION = "1"
SAMPLE_RATE = 4096
N_SAMPLES = 200
DETECTORS = ("H1", "L1")
KINDS = ("background", "bbh", "sglf")
SPLITS = ("train", "validation", "test")
MAX_DELAY_S = 0.010
SNR_RANGE = (5.0, 30.0)
GLITCH_FRACTION = 0.1
DEFAULT_SEED = 20240601

# Held-out splits are mostly background, as a detector's data are; 10 %
# signals keeps a few hundred of them, enough for a stable 10th percentile.
DEFAULT_SIZES: Mapping[str, Mapping[str, int]] = {
    "train": {"background": 4000, "bbh": 1000, "sglf": 1000},
    "validation": {"background": 1800, "bbh": 100, "sglf": 100},
    "test": {"background": 3600, "bbh": 200, "sglf": 200},
}

# Items are synthesised in a longer frame and cut from its middle, so that the
# circular filtering in the frequency domain leaves no wrap-around at the
# edges of what is kept.
_FRAME = 512
_START = (_FRAME - N_SAMPLES) // 2
_CHUNK = 1024


@dataclasses.dataclass(frozen=True)
class SyntheticSplit:
    """One generated split, with everything known about each item.

    :param data: float32, shape ``(N, 2, 200)``, detectors in the order of
        :data:`DETECTORS`.
    :param labels: int8, 1 for a signal (``bbh`` or ``sglf``), 0 for
        background.
    :param kind: one of :data:`KINDS` per item.
    :param snr: network signal-to-noise ratio of the signal, or of the glitch
        for a glitchy background item; 0 otherwise.
    :param delay: arrival time at Livingston minus at Hanford, in seconds;
        NaN for background.
    :param glitch: whether a background item carries a single-detector glitch.
    """

    data: np.ndarray
    labels: np.ndarray
    kind: np.ndarray
    snr: np.ndarray
    delay: np.ndarray
    glitch: np.ndarray

    def __len__(self) -> int:
        return int(self.data.shape[0])


def detector_response(detector: int) -> np.ndarray:
    """Return the amplitude response of one detector's synthetic pipeline.

    The response is applied to white noise (and to signals) on the real FFT
    grid of a 512-sample frame. It is scaled so that filtered unit white noise
    has unit variance per sample.

    :param detector: 0 for Hanford, 1 for Livingston.
    :returns: float64 array of shape ``(257,)``.
    """
    f = np.fft.rfftfreq(_FRAME, d=1.0 / SAMPLE_RATE)
    with np.errstate(divide="ignore"):
        highpass = 1.0 / np.sqrt(1.0 + (30.0 / f) ** 8)
    lowpass = 1.0 / np.sqrt(1.0 + (f / 1500.0) ** 8)
    # Whitening is never perfect: leave each detector a gentle tilt and a bump
    # where its real noise is steepest, so the two spectra differ.
    if detector == 0:
        colour = (1.0 + 0.9 * np.exp(-0.5 * ((f - 55.0) / 20.0) ** 2)) * (
            1.0 + 0.25 * np.exp(-0.5 * ((f - 420.0) / 60.0) ** 2)
        )
        colour *= (np.maximum(f, 30.0) / 300.0) ** -0.12
    else:
        colour = 1.0 + 0.6 * np.exp(-0.5 * ((f - 80.0) / 30.0) ** 2)
        colour *= (np.maximum(f, 30.0) / 300.0) ** 0.08
    response = highpass * lowpass * colour
    response[0] = 0.0
    weights = np.full(f.shape, 2.0)
    weights[0] = weights[-1] = 1.0
    variance = float(np.sum(weights * response**2)) / _FRAME
    normalised: np.ndarray = response / math.sqrt(variance)
    return normalised


def network_snr(signal: np.ndarray) -> np.ndarray:
    """Return the nominal network signal-to-noise ratio of signals as recorded.

    It is the root-sum-square, over both detectors and all 200 samples, of the
    signal as it appears in the data, in units of the noise standard
    deviation per sample (which is 1 here). For white noise that is the
    optimal matched-filter value; for the band-limited noise used here it is
    a nominal scale, smaller than the optimal value.

    :param signal: shape ``(..., 2, 200)``, the signal alone, after the
        detector response.
    :returns: shape ``(...)``.
    """
    energy = np.sum(np.square(signal, dtype=np.float64), axis=(-2, -1))
    snr: np.ndarray = np.sqrt(energy)
    return snr


def generate_split(
    split: str,
    *,
    seed: int = DEFAULT_SEED,
    sizes: Mapping[str, int] | None = None,
    noise: bool = True,
) -> SyntheticSplit:
    """Generate one split of the synthetic data set.

    :param split: one of :data:`SPLITS`; it selects the random stream and
        whether items are shuffled (held-out splits) or kept in one block per
        kind (``train``).
    :param seed: the data set's seed; each split draws from its own stream.
    :param sizes: number of items of each kind, keys from :data:`KINDS`;
        missing kinds take the split's default from :data:`DEFAULT_SIZES`.
    :param noise: ``False`` leaves the detector noise out and keeps the
        signals and glitches alone, exactly as they are in the noisy data of
        the same seed (the noise is still drawn, so nothing else changes).
    :returns: the generated split.
    :raises ValueError: for an unknown split or kind, or a negative size.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    counts = dict(DEFAULT_SIZES[split])
    for name, count in (sizes or {}).items():
        if name not in KINDS:
            raise ValueError(f"unknown kind {name!r}; expected one of {KINDS}")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(
                f"size of {name!r} must be a non-negative integer, got {count!r}"
            )
        counts[name] = count

    rng = np.random.default_rng([seed, SPLITS.index(split)])
    kind = np.repeat(np.array(KINDS), [counts[k] for k in KINDS])
    if split != "train":
        kind = kind[rng.permutation(kind.shape[0])]

    n = kind.shape[0]
    data = np.empty((n, len(DETECTORS), N_SAMPLES), dtype=np.float32)
    snr = np.zeros(n)
    delay = np.full(n, np.nan)
    glitch = np.zeros(n, dtype=bool)
    responses = np.stack([detector_response(d) for d in range(len(DETECTORS))])
    for start in range(0, n, _CHUNK):
        part = slice(start, min(start + _CHUNK, n))
        _fill_chunk(
            rng,
            responses,
            kind[part],
            data[part],
            snr[part],
            delay[part],
            glitch[part],
            noise=noise,
        )

    labels = (kind != "background").astype(np.int8)
    return SyntheticSplit(
        data=data, labels=labels, kind=kind, snr=snr, delay=delay, glitch=glitch
    )


def _fill_chunk(
    rng: np.random.Generator,
    responses: np.ndarray,
    kind: np.ndarray,
    data: np.ndarray,
    snr: np.ndarray,
    delay: np.ndarray,
    glitch: np.ndarray,
    *,
    noise: bool,
) -> None:
    """Synthesise one chunk of items in place."""
    n = kind.shape[0]
    white = rng.standard_normal((n, len(DETECTORS), _FRAME))
    data[:] = _filter(white, responses) if noise else 0.0

    for name, waveform in (("bbh", _chirp), ("sglf", _sine_gaussian)):
        index = np.flatnonzero(kind == name)
        if index.size == 0:
            continue
        dt = rng.uniform(-MAX_DELAY_S, MAX_DELAY_S, index.size)
        centre = rng.uniform(0.35, 0.75, index.size) * N_SAMPLES / SAMPLE_RATE
        arrival = np.stack([centre - dt / 2, centre + dt / 2], axis=1)
        amplitude = rng.uniform(0.35, 1.0, (index.size, len(DETECTORS)))
        phase = rng.uniform(0.0, 2.0 * np.pi, (index.size, len(DETECTORS)))
        signal = waveform(rng, arrival, amplitude, phase)
        target = _draw_snr(rng, index.size)
        snr[index] = target
        delay[index] = dt
        data[index] += _scaled(_filter(signal, responses), target)

    background = np.flatnonzero(kind == "background")
    index = background[rng.random(background.size) < GLITCH_FRACTION]
    if index.size:
        detector = rng.integers(0, len(DETECTORS), index.size)
        amplitude = np.zeros((index.size, len(DETECTORS)))
        amplitude[np.arange(index.size), detector] = 1.0
        arrival = np.repeat(
            rng.uniform(0.2, 0.8, (index.size, 1)) * N_SAMPLES / SAMPLE_RATE, 2, 1
        )
        phase = rng.uniform(0.0, 2.0 * np.pi, (index.size, len(DETECTORS)))
        signal = _blip(rng, arrival, amplitude, phase)
        target = _draw_snr(rng, index.size)
        snr[index] = target
        glitch[index] = True
        data[index] += _scaled(_filter(signal, responses), target)


def _draw_snr(rng: np.random.Generator, size: int) -> np.ndarray:
    """Network signal-to-noise ratios, uniform in their logarithm over the range."""
    low, high = (math.log(bound) for bound in SNR_RANGE)
    return np.exp(rng.uniform(low, high, size))


def _filter(frames: np.ndarray, responses: np.ndarray) -> np.ndarray:
    """Apply each detector's response to frames and keep the middle samples."""
    spectrum = np.fft.rfft(frames, axis=-1) * responses
    out = np.fft.irfft(spectrum, n=_FRAME, axis=-1)
    return out[..., _START : _START + N_SAMPLES]


def _scaled(signal: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Scale each item's signal to the target network signal-to-noise ratio."""
    current = network_snr(signal)
    scaled: np.ndarray = signal * (target / current)[:, None, None]
    return scaled


def _frame_times() -> np.ndarray:
    """Times of the frame's samples, zero at the first sample that is kept."""
    return (np.arange(_FRAME) - _START) / SAMPLE_RATE


def _chirp(
    rng: np.random.Generator,
    arrival: np.ndarray,
    amplitude: np.ndarray,
    phase: np.ndarray,
) -> np.ndarray:
    """Binary-merger-like chirps merging at ``arrival``, shape ``(n, 2, frame)``.

    Before the merger the frequency follows ``f_m (1 + tau / tau0) ** -3/8``
    of the time ``tau`` left, the shape of a Newtonian inspiral, with
    ``tau0`` set so that the frequency is ``f_low`` 40 ms before the merger.
    The strain amplitude grows as ``f ** 2/3``, and whitening against a
    detector noise that falls roughly as ``1 / f`` at these frequencies adds
    one power more, so the amplitude here grows as ``f ** 5/3``. After the
    merger comes a damped sinusoid.
    """
    n = arrival.shape[0]
    f_merge = rng.uniform(110.0, 350.0, (n, 1, 1))
    f_low = rng.uniform(30.0, 60.0, (n, 1, 1))
    f_ring = f_merge * rng.uniform(1.1, 1.5, (n, 1, 1))
    damping = rng.uniform(0.0015, 0.004, (n, 1, 1))
    tau0 = 0.040 / ((f_merge / f_low) ** (8.0 / 3.0) - 1.0)

    t = _frame_times()[None, None, :]
    tau = arrival[:, :, None] - t
    before = tau > 0
    stretch = 1.0 + np.where(before, tau, 0.0) / tau0
    freq = f_merge * stretch ** (-3.0 / 8.0)
    inspiral_phase = -2.0 * np.pi * f_merge * tau0 * 1.6 * (stretch**0.625 - 1.0)
    ringdown_phase = 2.0 * np.pi * f_ring * np.where(before, 0.0, -tau)
    wave_phase = np.where(before, inspiral_phase, ringdown_phase) + phase[:, :, None]
    envelope = np.where(
        before,
        (freq / f_merge) ** (5.0 / 3.0),
        np.exp(np.where(before, 0.0, tau) / damping),
    )
    # The inspiral starts inside the frame; fade it in well before the kept
    # samples so the frame has no step that filtering would smear.
    envelope = envelope * _fade_in()[None, None, :]
    chirp: np.ndarray = amplitude[:, :, None] * envelope * np.cos(wave_phase)
    return chirp


def _sine_gaussian(
    rng: np.random.Generator,
    arrival: np.ndarray,
    amplitude: np.ndarray,
    phase: np.ndarray,
) -> np.ndarray:
    """Low-frequency sine-Gaussian bursts centred at ``arrival``."""
    n = arrival.shape[0]
    f0 = rng.uniform(40.0, 250.0, (n, 1, 1))
    quality = rng.uniform(3.0, 12.0, (n, 1, 1))
    width = np.minimum(quality / (np.sqrt(2.0) * np.pi * f0), 0.012)
    return _gabor(arrival, amplitude, phase, f0, width)


def _blip(
    rng: np.random.Generator,
    arrival: np.ndarray,
    amplitude: np.ndarray,
    phase: np.ndarray,
) -> np.ndarray:
    """Short, broadband single-detector glitches (``amplitude`` zero elsewhere)."""
    n = arrival.shape[0]
    f0 = rng.uniform(60.0, 400.0, (n, 1, 1))
    quality = rng.uniform(1.5, 5.0, (n, 1, 1))
    width = quality / (np.sqrt(2.0) * np.pi * f0)
    return _gabor(arrival, amplitude, phase, f0, width)


def _gabor(
    arrival: np.ndarray,
    amplitude: np.ndarray,
    phase: np.ndarray,
    f0: np.ndarray,
    width: np.ndarray,
) -> np.ndarray:
    """Gaussian-windowed sinusoids, shape ``(n, 2, frame)``."""
    t = _frame_times()[None, None, :] - arrival[:, :, None]
    wave = np.exp(-((t / width) ** 2)) * np.cos(
        2.0 * np.pi * f0 * t + phase[:, :, None]
    )
    scaled: np.ndarray = amplitude[:, :, None] * wave
    return scaled


def _fade_in() -> np.ndarray:
    """A raised-cosine ramp over the first quarter of the frame."""
    ramp = np.ones(_FRAME)
    length = _START // 2
    ramp[:length] = 0.5 - 0.5 * np.cos(np.pi * np.arange(length) / length)
    return ramp
