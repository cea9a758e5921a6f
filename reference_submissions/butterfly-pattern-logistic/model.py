"""Reference model for butterfly-hybrid: logistic regression on wing patterns.

Each image is reduced to a small description of its wing pattern: the
background is used to balance the colours, every pixel is assigned to the
nearest of a few learnt colours, and the share of each colour is counted in
four regions (upper and lower wing, near and far from the body). A logistic
regression fitted on the training split turns the description into a hybrid
score (its logit). The training split holds only one kind of hybrid (the
cross of the two major subspecies), so the model learns that cross well and
other crosses, and the mimic species, less well: a supervised baseline that
shows why the challenge rewards generalisation.

Weights come from ``weights.json`` (colour centres, feature scaling and the
regression coefficients), written by ``fit.py``. Needs numpy and Pillow.

Limits: the colours and regions suit the synthetic stand-in (small centred
wings on a plain background); on real photographs the description is crude.
"""

from __future__ import annotations

import json
import os

import numpy as np
from PIL import Image

WEIGHTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights.json")
SIDE = 64
BORDER = 3


def balanced_pixels(image: Image.Image) -> np.ndarray:
    """Return the image as ``(SIDE, SIDE, 3)`` floats, background near 1.

    Dividing by the median colour of the outer frame removes the lighting
    and colour cast of each photograph.
    """
    rgb = image.convert("RGB")
    if rgb.size != (SIDE, SIDE):
        rgb = rgb.resize((SIDE, SIDE), Image.Resampling.BOX)
    pixels = np.asarray(rgb, dtype=np.float32)
    frame = np.concatenate(
        [
            pixels[:BORDER].reshape(-1, 3),
            pixels[-BORDER:].reshape(-1, 3),
            pixels[:, :BORDER].reshape(-1, 3),
            pixels[:, -BORDER:].reshape(-1, 3),
        ]
    )
    return pixels / np.maximum(np.median(frame, axis=0), 1.0)


def pattern_features(image: Image.Image, colours: np.ndarray) -> np.ndarray:
    """Share of each wing colour in four regions of the wing.

    :param colours: ``(K, 3)`` colour centres in balanced units; the one
        closest to ``(1, 1, 1)`` is the background.
    :returns: ``4 * (K - 1)`` shares, each region's shares summing to 1
        (or all 0 for a region without wing pixels).
    """
    pixels = balanced_pixels(image)
    distances = ((pixels[:, :, None, :] - colours[None, None]) ** 2).sum(axis=-1)
    nearest = distances.argmin(axis=-1)
    background = int(np.argmin(((colours - 1.0) ** 2).sum(axis=1)))
    wing = nearest != background
    others = [k for k in range(len(colours)) if k != background]
    rows, cols = np.nonzero(wing)
    if rows.size < 10:
        return np.zeros(4 * len(others), dtype=np.float64)
    centre_row, centre_col = np.median(rows), np.median(cols)
    half_span = np.percentile(np.abs(cols - centre_col), 95) + 1.0
    grid_rows, grid_cols = np.mgrid[0:SIDE, 0:SIDE]
    upper = grid_rows < centre_row
    outer = np.abs(grid_cols - centre_col) > 0.5 * half_span
    shares = []
    for region in (upper & ~outer, upper & outer, ~upper & ~outer, ~upper & outer):
        inside = region & wing
        total = max(int(inside.sum()), 1)
        shares.extend(float((inside & (nearest == k)).sum()) / total for k in others)
    return np.asarray(shares, dtype=np.float64)


class Model:
    """Logistic regression on pattern features; higher means hybrid."""

    def __init__(self) -> None:
        self.colours = np.zeros((0, 3), dtype=np.float32)
        self.mean = np.zeros(0)
        self.scale = np.ones(0)
        self.coef = np.zeros(0)
        self.intercept = 0.0

    def load(self) -> None:
        """Read ``weights.json``."""
        with open(WEIGHTS, encoding="utf-8") as handle:
            weights = json.load(handle)
        self.colours = np.asarray(weights["colours"], dtype=np.float32)
        self.mean = np.asarray(weights["mean"], dtype=np.float64)
        self.scale = np.asarray(weights["scale"], dtype=np.float64)
        self.coef = np.asarray(weights["coef"], dtype=np.float64)
        self.intercept = float(weights["intercept"])

    def predict(self, image: Image.Image) -> float:
        """Return the logit of the hybrid probability."""
        z = (pattern_features(image, self.colours) - self.mean) / self.scale
        return float(z @ self.coef + self.intercept)
