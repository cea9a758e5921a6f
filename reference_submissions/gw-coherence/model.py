"""Reference model for gw-anomaly: coincident signal-band power in both detectors.

A real transient reaches Hanford and Livingston within about 10 ms, while
noise and glitches are independent between the sites. For each item the
model keeps each detector's signal band (30-400 Hz as fitted), forms its
analytic signal, and computes three features:

- the coherence: the largest magnitude of the normalised complex
  cross-correlation of the two detectors over lags up to the light travel
  time between the sites; taking the magnitude ignores the phase difference
  a signal has between detectors;
- the logarithm of the signal-band share of the energy in the weaker
  detector, and in the stronger one. Inputs arrive divided by their standard
  deviation, so an item's total energy is fixed and a signal shows up as a
  larger share in its band.

A logistic model weighs the features; the score is its logit, higher meaning
more likely a signal. The band, the lag window and the logistic weights come
from ``weights.npz`` beside this file, written by ``fit.py``. Needs only
numpy.

Limits: the weights were fitted on the synthetic stand-in; real data would
need a fit of their own.
"""

from __future__ import annotations

import os

import numpy as np

WEIGHTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights.npz")
TINY = 1e-12


def features(
    x: np.ndarray, *, band_hz: np.ndarray, max_lag_s: float, sample_rate: float
) -> np.ndarray:
    """Return the features ``(N, 3)`` of items ``x`` of shape ``(N, samples, 2)``.

    Columns: log coherence, log band share of the weaker detector, log band
    share of the stronger one.
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[1]
    # Zero-padding to twice the length keeps the correlation linear, not
    # circular, over the lags that are used.
    size = 1 << int(np.ceil(np.log2(2 * n)))
    freq = np.fft.fftfreq(size, d=1.0 / sample_rate)
    keep = (freq >= band_hz[0]) & (freq <= band_hz[1])
    spectrum = np.fft.fft(x, n=size, axis=1) * (2.0 * keep)[None, :, None]
    analytic = np.fft.ifft(spectrum, axis=1)[:, :n, :]

    band_energy = np.sum(np.abs(analytic) ** 2, axis=1) / 2.0
    total_energy = np.sum(x**2, axis=1)
    share = np.log((band_energy + TINY) / (total_energy + TINY))

    first = np.fft.fft(analytic[:, :, 0], n=size, axis=1)
    second = np.fft.fft(analytic[:, :, 1], n=size, axis=1)
    correlation = np.abs(np.fft.ifft(first * np.conj(second), axis=1))
    max_lag = int(round(max_lag_s * sample_rate))
    lags = np.r_[0 : max_lag + 1, size - max_lag : size]
    norm = np.sqrt(np.prod(2.0 * band_energy, axis=1)) + TINY
    coherence = correlation[:, lags].max(axis=1) / norm

    return np.column_stack(
        [np.log(coherence + TINY), share.min(axis=1), share.max(axis=1)]
    )


class Model:
    """Logistic regression on cross-detector coherence and signal-band power."""

    def __init__(self) -> None:
        self.weights: dict[str, np.ndarray] | None = None

    def load(self) -> None:
        """Read ``weights.npz`` from the folder this file lives in."""
        with np.load(WEIGHTS, allow_pickle=False) as data:
            self.weights = {key: data[key] for key in data.files}

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Return one score per item of ``X`` ``(N, samples, 2)``, shape ``(N,)``."""
        if self.weights is None:
            self.load()
        w = self.weights
        X = np.asarray(X)
        if X.ndim != 3 or X.shape[2] != 2:
            raise ValueError(f"expected X of shape (N, samples, 2), got {X.shape}")
        f = features(
            X,
            band_hz=w["band_hz"],
            max_lag_s=float(w["max_lag_s"]),
            sample_rate=float(w["sample_rate"]),
        )
        z = (f - w["feature_mean"]) / w["feature_std"]
        return z @ w["coef"] + float(w["intercept"])
