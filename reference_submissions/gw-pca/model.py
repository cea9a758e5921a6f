"""Reference model for gw-anomaly: a PCA model of the background's spectrum.

The model has only seen background. For each item it averages each
detector's periodogram over logarithmically spaced frequency bands, takes
logarithms, and standardises them with the background's mean and spread.
A principal component analysis of the background's features gives a few
leading directions; an item's score is its distance from the background in
those directions (Hotelling's T squared) plus its reconstruction error, the
squared distance left outside them, divided by the background's mean
variance there. This is the negative log-likelihood of probabilistic PCA up
to constants, higher meaning less like background. Weights come from
``weights.npz`` beside this file, written by ``fit.py``. Needs only numpy.

Why spectra and not the raw samples: the harness divides every item by its
standard deviation, and the signals' energy lies at low frequencies, exactly
where the background varies most. A plain reconstruction error on the raw
samples therefore ranks signals *below* background. Band powers turn a
signal into a shift of several features at once, which the model sees.

Limits: the model knows no difference between a signal and a glitch in one
detector; both are unlike quiet background, so glitches cost it true
negatives. Weights were fitted on the synthetic stand-in.
"""

from __future__ import annotations

import os

import numpy as np

WEIGHTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights.npz")
TINY = 1e-12


def features(x: np.ndarray, *, band_edges: np.ndarray) -> np.ndarray:
    """Return log band powers ``(N, 2 * bands)`` of items ``(N, samples, 2)``.

    ``band_edges`` are indices into the real FFT of one detector's samples;
    band ``b`` averages the bins from ``band_edges[b]`` up to, not including,
    ``band_edges[b + 1]``.
    """
    x = np.asarray(x, dtype=np.float64)
    power = np.abs(np.fft.rfft(x, axis=1)) ** 2
    bands = [
        power[:, lo:hi, :].mean(axis=1)
        for lo, hi in zip(band_edges[:-1], band_edges[1:], strict=True)
    ]
    # (N, bands, 2) -> (N, 2 * bands), Hanford's bands first.
    stacked = np.transpose(np.stack(bands, axis=1), (0, 2, 1))
    return np.log(stacked + TINY).reshape(x.shape[0], 2 * len(bands))


class Model:
    """Probabilistic PCA of background band powers; score = negative log-likelihood."""

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
        z = (features(X, band_edges=w["band_edges"]) - w["feature_mean"]) / w[
            "feature_std"
        ]
        projected = z @ w["components"].T
        residual = z - projected @ w["components"]
        t_squared = np.sum(projected**2 / w["variances"], axis=1)
        reconstruction = np.sum(residual**2, axis=1)
        return t_squared + reconstruction / float(w["residual_variance"])
