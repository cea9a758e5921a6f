"""A synthetic stand-in for the butterfly hybrid data: small painted wings.

Each subspecies has a wing pattern made of a few heritable elements (ground
colour, a forewing band with its colour and position, a hindwing bar,
hindwing rays, forewing tip spots). A hybrid inherits each element from one
parent or the other, sometimes an intermediate of both, so most hybrids show
a combination no subspecies has; a hybrid that happens to take every element
from one parent looks like that parent and cannot be told apart. Individuals
vary in pose, size, colour, lighting, view (dorsal or ventral) and pixel
noise, so a simple model beats chance without being perfect.

Two species are drawn. Species A has two *major* subspecies (the parents of
the signal hybrid) and four *minor* ones; its hybrids are ``major`` when both
parents are major and ``minor`` otherwise. Species B copies the patterns of
four species A subspecies on a slimmer wing shape; all its items are in the
``mimic`` group. The training split holds the signal hybrid as its only kind
of hybrid, as the original training set did.

Limits: the images are 64 by 64 pixels and carry nothing of real wing
morphology beyond the idea that hybrids mix parental pattern elements; they
are for exercising the harness and for sanity checks of models, not for
judging a method meant for the real photographs.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = [
    "COMPOSITION",
    "GENERATOR_VERSION",
    "IMAGE_SIZE",
    "Item",
    "build_catalogue",
    "render",
    "write_jpeg",
]

#: Bumped whenever a seed would draw different images, so caches rebuild.
GENERATOR_VERSION = 1
IMAGE_SIZE = 64
JPEG_QUALITY = 90

#: Items per split and group, as (non-hybrid, hybrid) counts. Validation and
#: test match the original held-out sets; the test set contains every
#: validation item. The training split is this stand-in's own choice.
COMPOSITION: Mapping[str, Mapping[str, tuple[int, int]]] = {
    "train": {"major": (500, 200), "minor": (400, 0), "mimic": (400, 0)},
    "validation": {"major": (219, 190), "minor": (201, 17), "mimic": (423, 125)},
    "test": {"major": (455, 365), "minor": (407, 28), "mimic": (847, 248)},
}

Colour = tuple[float, float, float]

BLACK: Colour = (22.0, 20.0, 18.0)
BROWN: Colour = (70.0, 42.0, 25.0)
RED: Colour = (205.0, 35.0, 30.0)
ORANGE: Colour = (235.0, 125.0, 25.0)
YELLOW: Colour = (240.0, 215.0, 55.0)
WHITE: Colour = (235.0, 235.0, 225.0)

MEDIAL = 0.45
DISTAL = 0.72


@dataclasses.dataclass(frozen=True)
class Pattern:
    """The heritable wing pattern of one subspecies (or one hybrid).

    ``None`` for a band or bar colour means the element is absent; ``rays``
    and ``spots`` are strengths in [0, 1] so that a hybrid can show them
    faintly.
    """

    ground: Colour
    band: Colour | None
    band_pos: float
    bar: Colour | None
    rays: float
    spots: float


SPECIES_A = (
    Pattern(BLACK, RED, MEDIAL, YELLOW, 0.0, 0.0),  # major
    Pattern(BLACK, YELLOW, DISTAL, None, 1.0, 0.0),  # major
    Pattern(BLACK, RED, DISTAL, None, 0.0, 1.0),
    Pattern(BLACK, YELLOW, MEDIAL, YELLOW, 0.0, 1.0),
    Pattern(BROWN, WHITE, MEDIAL, None, 1.0, 0.0),
    Pattern(BLACK, None, MEDIAL, YELLOW, 1.0, 1.0),
)
MAJOR = (0, 1)
MINOR = (2, 3, 4, 5)
MINOR_CROSSES = ((0, 2), (1, 3), (2, 3), (2, 4), (3, 5), (4, 5), (0, 4), (1, 5))
#: Species B mimics these species A subspecies.
MIMICKED = (0, 1, 2, 3)
MIMIC_CROSSES = ((0, 1), (0, 2), (1, 3), (2, 3))


@dataclasses.dataclass(frozen=True)
class Item:
    """One synthetic image: its file name, labels and how to draw it."""

    name: str
    group: str
    hybrid: int
    species: str
    parents: tuple[int, int]
    seed: int


def _draw_names(rng: np.random.Generator, count: int, taken: set[str]) -> list[str]:
    # Names follow <X>_<CAMID>_<d|v>.jpg with every part drawn at random, so
    # that neither a name nor the sorted order of names says anything about
    # an item's group or label.
    names: list[str] = []
    while len(names) < count:
        x = int(rng.integers(1, 100_000))
        camid = int(rng.integers(0, 1_000_000))
        view = "d" if rng.random() < 0.5 else "v"
        name = f"{x}_CAM{camid:06d}_{view}.jpg"
        if name not in taken:
            taken.add(name)
            names.append(name)
    return names


def _draw_items(
    rng: np.random.Generator, counts: Mapping[str, tuple[int, int]], taken: set[str]
) -> list[Item]:
    specs: list[tuple[str, int, str, tuple[int, int]]] = []
    for group, (negatives, positives) in counts.items():
        for hybrid, count in ((0, negatives), (1, positives)):
            for _ in range(count):
                specs.append((group, hybrid, *_draw_parents(rng, group, hybrid)))
    names = _draw_names(rng, len(specs), taken)
    seeds = rng.integers(0, 2**63, size=len(specs)).tolist()
    return [
        Item(name, group, hybrid, species, parents, seed)
        for name, (group, hybrid, species, parents), seed in zip(
            names, specs, seeds, strict=True
        )
    ]


def _draw_parents(
    rng: np.random.Generator, group: str, hybrid: int
) -> tuple[str, tuple[int, int]]:
    if group == "mimic":
        if hybrid:
            pair = MIMIC_CROSSES[int(rng.integers(len(MIMIC_CROSSES)))]
            return "B", (MIMICKED[pair[0]], MIMICKED[pair[1]])
        one = MIMICKED[int(rng.integers(len(MIMICKED)))]
        return "B", (one, one)
    if hybrid:
        if group == "major":
            return "A", MAJOR
        return "A", MINOR_CROSSES[int(rng.integers(len(MINOR_CROSSES)))]
    pool = MAJOR if group == "major" else MINOR
    one = pool[int(rng.integers(len(pool)))]
    return "A", (one, one)


def build_catalogue(seed: int) -> dict[str, list[Item]]:
    """Return the items of every split, in a fixed order, for ``seed``.

    The test split starts with the validation items (same names, same
    drawing seeds, hence the same image bytes) followed by its own. The
    lists are ordered by group and label; callers sort by name before
    exposing an order.
    """
    rng = np.random.default_rng([seed, 0x42])
    taken: set[str] = set()
    validation = _draw_items(rng, COMPOSITION["validation"], taken)
    extra = {}
    for group, (negatives, positives) in COMPOSITION["test"].items():
        shared_negatives, shared_positives = COMPOSITION["validation"][group]
        extra[group] = (negatives - shared_negatives, positives - shared_positives)
    test_only = _draw_items(rng, extra, taken)
    train = _draw_items(rng, COMPOSITION["train"], taken)
    return {"train": train, "validation": validation, "test": validation + test_only}


# -- drawing ---------------------------------------------------------------------


def _mix_colour(
    rng: np.random.Generator, a: Colour | None, b: Colour | None, ground: Colour
) -> Colour | None:
    roll = rng.random()
    if roll < 0.4:
        return a
    if roll < 0.8:
        return b
    # An intermediate: the average of both parents, where an absent element
    # counts as the ground colour, so a band shows faded rather than gone.
    first = a if a is not None else ground
    second = b if b is not None else ground
    return (
        (first[0] + second[0]) / 2.0,
        (first[1] + second[1]) / 2.0,
        (first[2] + second[2]) / 2.0,
    )


def _phenotype(rng: np.random.Generator, item: Item) -> Pattern:
    first, second = (SPECIES_A[i] for i in item.parents)
    if item.hybrid == 0:
        return first

    def pick(a: float, b: float) -> float:
        roll = rng.random()
        return a if roll < 0.4 else b if roll < 0.8 else (a + b) / 2.0

    ground = first.ground if rng.random() < 0.5 else second.ground
    return Pattern(
        ground=ground,
        band=_mix_colour(rng, first.band, second.band, ground),
        band_pos=pick(first.band_pos, second.band_pos),
        bar=_mix_colour(rng, first.bar, second.bar, ground),
        rays=pick(first.rays, second.rays),
        spots=pick(first.spots, second.spots),
    )


_GRID = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE].astype(np.float32)


def _jitter(rng: np.random.Generator, colour: Colour, sd: float) -> np.ndarray:
    return np.asarray(colour) + rng.normal(0.0, sd, 3)


def render(item: Item) -> np.ndarray:
    """Draw ``item`` as an ``(IMAGE_SIZE, IMAGE_SIZE, 3)`` uint8 RGB array.

    The result depends only on the item (its seed, parents, species and the
    view letter in its name), never on which split asks for it.
    """
    rng = np.random.default_rng(item.seed)
    pattern = _phenotype(rng, item)
    ventral = item.name.endswith("_v.jpg")
    slim = item.species == "B"

    size = IMAGE_SIZE
    scale = 0.40 * size * rng.uniform(0.88, 1.12)
    angle = math.radians(rng.uniform(-12.0, 12.0))
    cy = size * 0.52 + rng.normal(0.0, 1.5)
    cx = size * 0.50 + rng.normal(0.0, 1.5)
    y = (_GRID[0] - np.float32(cy)) / np.float32(scale)
    x = (_GRID[1] - np.float32(cx)) / np.float32(scale)
    # Body frame: u across the body (mirrored, wings are symmetric), v along
    # it, pointing to the tail.
    u = np.abs(x * math.cos(angle) + y * math.sin(angle))
    v = -x * math.sin(angle) + y * math.cos(angle)

    image = np.empty((size, size, 3), dtype=np.float32)
    image[:] = _jitter(rng, (205.0, 203.0, 196.0), 6.0)

    # Hindwing: an ellipse behind and below the forewing.
    hw_rx, hw_ry = (0.42, 0.34) if slim else (0.46, 0.40)
    hu, hv = u - 0.34, v - 0.34
    hind = (hu / hw_rx) ** 2 + (hv / hw_ry) ** 2 <= 1.0
    # Forewing: an ellipse along an axis tilted forwards from the body.
    tilt = math.radians(32.0 if slim else 28.0)
    along = u * math.cos(tilt) - v * math.sin(tilt)
    across = u * math.sin(tilt) + v * math.cos(tilt)
    fw_len = 1.2 if slim else 1.12
    fw_half = 0.25 if slim else 0.31
    t = along / fw_len
    fore = ((t - 0.5) / 0.5) ** 2 + (across / fw_half) ** 2 <= 1.0

    ground = _jitter(rng, pattern.ground, 8.0)
    image[hind] = ground
    if pattern.bar is not None:
        bar_at = rng.normal(0.03, 0.02)
        bar = hind & (np.abs(hv - bar_at) < 0.09 * rng.uniform(0.8, 1.2))
        image[bar] = _jitter(rng, pattern.bar, 10.0)
    if pattern.rays > 0.0:
        theta = np.arctan2(hv, hu)
        ray = hind & (np.cos(9.0 * theta) > 0.55) & (hu**2 + hv**2 > 0.04)
        red = _jitter(rng, RED, 10.0)
        image[ray] = pattern.rays * red + (1.0 - pattern.rays) * image[ray]

    image[fore] = ground
    if pattern.band is not None:
        width = 0.10 * rng.uniform(0.8, 1.25)
        pos = pattern.band_pos + rng.normal(0.0, 0.025)
        band = fore & (np.abs(t - pos) < width)
        image[band] = _jitter(rng, pattern.band, 10.0)
    if pattern.spots > 0.0:
        spots = np.zeros_like(fore)
        for centre in (-0.09, 0.09):
            spots |= (t - 0.88) ** 2 + (across - centre) ** 2 < 0.055**2
        spots &= fore
        white = _jitter(rng, WHITE, 6.0)
        image[spots] = pattern.spots * white + (1.0 - pattern.spots) * image[spots]

    body = (u < 0.045) & (np.abs(v - 0.1) < 0.5)
    image[body] = _jitter(rng, BLACK, 4.0)

    if ventral:
        # Undersides are paler and washed out.
        wing = hind | fore
        image[wing] = 0.72 * image[wing] + 0.28 * 200.0
    image *= rng.uniform(0.85, 1.15)
    image += 5.0 * rng.standard_normal(image.shape, dtype=np.float32)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def write_jpeg(pixels: np.ndarray, path: Path) -> None:
    """Save an RGB array as a baseline JPEG with no metadata."""
    Image.fromarray(pixels).save(path, format="JPEG", quality=JPEG_QUALITY)
