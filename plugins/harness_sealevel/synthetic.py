"""A seeded stand-in for the sea-level data, small enough for tests.

The generator draws one continuous daily series on a grid of the original's
size (100 x 160 cells of 0.25 degrees, placed here at 25-50 N, 85-45 W) with a
fixed, roughly US-East-coast land mask (NaN over land). Sea level is the sum of

- smooth, spatially correlated background modes whose amplitudes persist for a
  few days (an AR(1) process),
- a seasonal cycle that peaks in autumn and grows to the north,
- storm surges: coherent events that raise sea level along a stretch of coast
  for two to five days, strongest next to the shore,
- a little white noise.

A station's label is 1 on days when the mean sea level over the ocean cells
near it, plus a station-specific gauge error, exceeds a per-station threshold.
The thresholds make positives rare and uneven: Eastport has three positive
days in the whole series (fewer if it missed one of them) and about 16 % of
days have a positive at some station. Each station misses runs of days at its own rate.

Limits: the land mask is a coarse sketch, not a coastline; the statistics are
chosen to look plausible, not fitted to the real data. Generating the default
1,460 days takes one to two seconds and peaks at about 300 MB of memory.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy import ndimage

from .dataset import GRID_SHAPE, STATION_COORDS, STATIONS, import_netcdf4

__all__ = [
    "GENERATOR_VERSION",
    "LATITUDES",
    "LONGITUDES",
    "SyntheticSeaLevel",
    "generate",
    "land_mask",
    "station_cells",
    "write_original_layout",
]

GENERATOR_VERSION = "1"
"""Bumped whenever the generator's output changes; part of the cache key."""

LATITUDES = 25.125 + 0.25 * np.arange(GRID_SHAPE[1])
"""Cell-centre latitudes in degrees north, ascending with the row index."""

LONGITUDES = -84.875 + 0.25 * np.arange(GRID_SHAPE[2])
"""Cell-centre longitudes in degrees east, ascending with the column index."""

# Land outline as (longitude, latitude): the Gulf coast, Florida, the Atlantic
# coast with Long Island and Cape Cod folded in, the Gulf of Maine, Nova Scotia,
# the Gulf of St Lawrence shore, and back along the northern edge.
_LAND = np.array(
    [
        (-85.5, 50.5),
        (-85.5, 30.0),
        (-84.0, 30.0),
        (-83.0, 29.0),
        (-82.6, 27.5),
        (-81.5, 25.8),
        (-80.4, 25.2),
        (-80.1, 26.5),
        (-80.6, 28.5),
        (-81.3, 30.0),
        (-81.2, 31.5),
        (-80.7, 32.2),
        (-79.2, 33.2),
        (-77.9, 33.9),
        (-76.5, 34.7),
        (-75.5, 35.3),
        (-75.8, 36.6),
        (-75.9, 37.0),
        (-75.2, 38.0),
        (-75.05, 38.8),
        (-74.9, 38.95),
        (-74.4, 39.4),
        (-74.0, 40.4),
        (-73.9, 40.55),
        (-72.8, 40.75),
        (-71.9, 41.05),
        (-71.4, 41.4),
        (-70.7, 41.5),
        (-69.95, 41.6),
        (-70.0, 42.05),
        (-70.8, 42.6),
        (-70.6, 43.1),
        (-70.2, 43.6),
        (-69.0, 44.1),
        (-67.8, 44.5),
        (-67.0, 44.85),
        (-66.0, 45.2),
        (-64.6, 45.6),
        (-64.4, 45.3),
        (-66.0, 44.6),
        (-65.7, 43.6),
        (-63.5, 44.5),
        (-61.0, 45.2),
        (-60.0, 46.0),
        (-60.5, 47.0),
        (-61.8, 46.0),
        (-64.0, 46.3),
        (-65.0, 47.2),
        (-64.5, 48.5),
        (-66.0, 49.2),
        (-68.0, 49.0),
        (-64.0, 50.5),
    ]
)

# Bays and sounds cut back into the land: (start, end, half width), degrees.
_WATERWAYS = (
    ((-76.0, 36.95), (-76.3, 38.0), 0.22),  # lower Chesapeake Bay
    ((-76.3, 38.0), (-76.45, 39.3), 0.2),  # upper Chesapeake Bay
    ((-76.3, 38.0), (-77.05, 38.85), 0.15),  # Potomac
    ((-75.0, 38.85), (-75.45, 39.5), 0.2),  # Delaware Bay
    ((-74.05, 40.45), (-74.0, 40.75), 0.15),  # New York harbour
    ((-73.8, 40.85), (-72.0, 41.2), 0.15),  # Long Island Sound
)

# Target share of days flagged per station before the common scaling that
# sets the share of days with any flag; None marks the nearly silent station.
_BASE_RATES: dict[str, float | None] = {
    "Atlantic_City": 0.05,
    "Baltimore": 0.03,
    "Eastport": None,
    "Fort_Pulaski": 0.02,
    "Lewes": 0.04,
    "New_London": 0.03,
    "Newport": 0.03,
    "Portland": 0.025,
    "Sandy_Hook": 0.05,
    "Sewells_Point": 0.045,
    "The_Battery": 0.04,
    "Washington": 0.035,
}
_RARE_POSITIVES = 3
_ANY_POSITIVE_SHARE = 0.16


@dataclasses.dataclass(frozen=True)
class SyntheticSeaLevel:
    """One generated series.

    :param days: the calendar, one entry per row.
    :param sla: float32 ``(T, 1, 100, 160)``, metres, NaN over land.
    :param labels: int8 ``(T, 12)``, station columns in ``STATIONS`` order;
        meaningful only where ``present``.
    :param present: bool ``(T, 12)``, whether the station reported that day.
    """

    days: list[datetime.date]
    sla: np.ndarray
    labels: np.ndarray
    present: np.ndarray

    def station_labels(self) -> list[dict[datetime.date, int]]:
        """Return ``{day: label}`` per station over the days it reported."""
        return [
            {
                day: int(self.labels[t, s])
                for t, day in enumerate(self.days)
                if self.present[t, s]
            }
            for s in range(len(STATIONS))
        ]


def _inside_polygon(polygon: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Even-odd test of points ``(x, y)`` against a closed polygon."""
    inside = np.zeros(x.shape, dtype=bool)
    for (x1, y1), (x2, y2) in zip(polygon, np.roll(polygon, -1, axis=0), strict=True):
        if y1 == y2:
            continue
        crosses = (y1 > y) != (y2 > y)
        x_cross = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
        inside ^= crosses & (x < x_cross)
    return inside


def _near_segment(
    a: tuple[float, float], b: tuple[float, float], x: np.ndarray, y: np.ndarray
) -> np.ndarray:
    """Distance from points ``(x, y)`` to the segment ``a``-``b``."""
    ax, ay = a
    dx, dy = b[0] - ax, b[1] - ay
    t = np.clip(((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy), 0.0, 1.0)
    return np.hypot(x - (ax + t * dx), y - (ay + t * dy))


def land_mask() -> np.ndarray:
    """Return the fixed land mask, bool ``(100, 160)``, True over land."""
    lon, lat = np.meshgrid(LONGITUDES, LATITUDES)
    land = _inside_polygon(_LAND, lon, lat)
    for a, b, half_width in _WATERWAYS:
        land &= _near_segment(a, b, lon, lat) > half_width
    return land


def station_cells(ocean: np.ndarray, *, radius: float = 0.6) -> list[np.ndarray]:
    """Flat indices of the ocean cells within ``radius`` degrees of each station.

    A station with fewer than two such cells gets its four nearest ocean cells
    instead, so that every station has a neighbourhood.
    """
    lon, lat = np.meshgrid(LONGITUDES, LATITUDES)
    flat_ocean = np.flatnonzero(ocean)
    cells = []
    for station in STATIONS:
        s_lat, s_lon = STATION_COORDS[station]
        distance = np.hypot(lon.ravel() - s_lon, lat.ravel() - s_lat)[flat_ocean]
        near = flat_ocean[distance <= radius]
        if near.size < 2:
            near = flat_ocean[np.argsort(distance, kind="stable")[:4]]
        cells.append(np.sort(near))
    return cells


def _background_modes(
    rng: np.random.Generator, ocean: np.ndarray, count: int
) -> np.ndarray:
    """Smooth random fields, each with unit standard deviation over the ocean."""
    sigma, pad = 9, 27
    # Smoothing a padded field and cropping it keeps the variance even up to
    # the edges, which any boundary rule of the filter would distort.
    noise = rng.standard_normal(
        (count, ocean.shape[0] + 2 * pad, ocean.shape[1] + 2 * pad)
    )
    modes = ndimage.gaussian_filter(noise, sigma=(0, sigma, sigma), mode="wrap")
    modes = modes[:, pad:-pad, pad:-pad]
    modes /= modes[:, ocean].std(axis=1)[:, None, None]
    return np.asarray(modes.reshape(count, -1))


def _ar1(rng: np.random.Generator, n_days: int, count: int, phi: float) -> np.ndarray:
    """Unit-variance AR(1) series, shape ``(n_days, count)``."""
    shocks = rng.standard_normal((n_days, count)) * np.sqrt(1.0 - phi * phi)
    series = np.empty((n_days, count))
    series[0] = rng.standard_normal(count)
    for t in range(1, n_days):
        series[t] = phi * series[t - 1] + shocks[t]
    return series


def _storm_surges(
    rng: np.random.Generator, ocean: np.ndarray, n_days: int
) -> tuple[np.ndarray, np.ndarray]:
    """Draw storm surges: daily amplitudes ``(T, E)`` and footprints ``(E, cells)``."""
    # Distance to the nearest land cell, in cells: surges pile up at the shore.
    to_land = ndimage.distance_transform_edt(ocean)
    count = rng.poisson(0.045 * n_days)
    amplitudes = np.zeros((n_days, count))
    footprints = np.zeros((count, ocean.size))
    lat = np.broadcast_to(LATITUDES[:, None], ocean.shape)
    for e in range(count):
        first = int(rng.integers(-4, n_days))
        duration = int(rng.integers(2, 6))
        height = 0.12 + rng.exponential(0.18)
        centre = rng.uniform(31.0, 45.5)
        reach = rng.uniform(1.0, 3.5)
        profile = np.sin(np.pi * (np.arange(duration) + 0.5) / duration)
        for k in range(duration):
            if 0 <= first + k < n_days:
                amplitudes[first + k, e] = height * profile[k]
        shape = np.exp(-(to_land - 1.0) / 5.0) * np.exp(
            -0.5 * ((lat - centre) / reach) ** 2
        )
        footprints[e] = np.where(ocean, shape, 0.0).ravel()
    return amplitudes, footprints


def _gaps(rng: np.random.Generator, n_days: int) -> np.ndarray:
    """Days each station did not report, bool ``(T, 12)``: runs at uneven rates."""
    missing = np.zeros((n_days, len(STATIONS)), dtype=bool)
    rates = rng.uniform(0.0003, 0.003, size=len(STATIONS))
    for s, rate in enumerate(rates):
        for _ in range(rng.poisson(rate * n_days)):
            first = int(rng.integers(0, n_days))
            missing[first : first + 1 + int(rng.geometric(0.2)), s] = True
    return missing


def _thresholds(observed: np.ndarray) -> np.ndarray:
    """Per-station thresholds giving rare, uneven positives (see module doc)."""
    n_days = observed.shape[0]
    rates = np.array([r if r is not None else 0.0 for r in _BASE_RATES.values()])
    rare = [r is None for r in _BASE_RATES.values()]

    def at_scale(scale: float) -> np.ndarray:
        shares = np.clip(rates * scale, 0.0, 0.5)
        levels = np.quantile(observed, 1.0 - shares, axis=0).diagonal().copy()
        for s in np.flatnonzero(rare):
            levels[s] = np.sort(observed[:, s])[-min(_RARE_POSITIVES, n_days)]
            # Labels use a strict >, so sit just below the third largest value.
            levels[s] = np.nextafter(levels[s], -np.inf)
        return np.asarray(levels)

    low, high = 0.05, 4.0
    for _ in range(40):
        scale = 0.5 * (low + high)
        share = np.mean((observed > at_scale(scale)).any(axis=1))
        low, high = (scale, high) if share < _ANY_POSITIVE_SHARE else (low, scale)
    return at_scale(0.5 * (low + high))


def generate(*, seed: int, start: datetime.date, n_days: int) -> SyntheticSeaLevel:
    """Generate ``n_days`` consecutive days from ``start``, reproducibly.

    The same arguments give bit-identical output on any platform with the same
    numpy and scipy versions.

    >>> data = generate(seed=1, start=datetime.date(2001, 1, 1), n_days=30)
    >>> data.sla.shape, data.labels.shape
    ((30, 1, 100, 160), (30, 12))
    """
    if n_days < 1:
        raise ValueError(f"n_days is {n_days}; expected at least 1")
    rng = np.random.default_rng(seed)
    ocean = ~land_mask()
    days = [start + datetime.timedelta(days=t) for t in range(n_days)]

    n_modes = 16
    modes = 0.025 * _background_modes(rng, ocean, n_modes)
    weights = _ar1(rng, n_days, n_modes, phi=0.85)
    day_of_year = np.array([d.timetuple().tm_yday for d in days], dtype=float)
    season = np.cos(2.0 * np.pi * (day_of_year - 280.0) / 365.25)[:, None]
    season_map = (0.04 + 0.04 * (LATITUDES[:, None] - 25.0) / 25.0) * np.ones(
        ocean.shape
    )
    surge, footprints = _storm_surges(rng, ocean, n_days)

    # One product builds every day: each component is a map times a daily weight.
    daily = np.hstack([weights, season, surge]).astype(np.float32)
    maps = np.vstack([modes, season_map.reshape(1, -1), footprints]).astype(np.float32)
    field = daily @ maps
    field += 0.008 * rng.standard_normal(field.shape, dtype=np.float32)

    cells = station_cells(ocean)
    local = np.stack([field[:, c].mean(axis=1) for c in cells], axis=1)
    observed = local + 0.03 * rng.standard_normal(local.shape)
    labels = (observed > _thresholds(observed)).astype(np.int8)
    present = ~_gaps(rng, n_days)

    field[:, ~ocean.ravel()] = np.nan
    return SyntheticSeaLevel(
        days=days,
        sla=field.reshape(n_days, *GRID_SHAPE),
        labels=labels,
        present=present,
    )


def write_original_layout(
    data: SyntheticSeaLevel, folder: Path, *, rows: Sequence[int] | None = None
) -> None:
    """Write ``data`` in the original layout: daily NetCDF files and station CSVs.

    ``sla`` is stored as scaled 32-bit integers (0.1 mm steps) with a fill
    value over land, as the original product does, so reading it back gives
    the maps to within 0.05 mm. Each station's CSV lists only the days it
    reported.

    :param rows: the rows to write, all by default.
    """
    netcdf4 = import_netcdf4()
    folder = Path(folder)
    grids = folder / "maps"
    labels = folder / "stations"
    grids.mkdir(parents=True, exist_ok=True)
    labels.mkdir(parents=True, exist_ok=True)
    rows = range(len(data.days)) if rows is None else rows
    for t in rows:
        day = data.days[t]
        path = grids / f"dt_ena_{day:%Y%m%d}_vDT2021.nc"
        with netcdf4.Dataset(path, "w") as ds:
            ds.createDimension("time", 1)
            ds.createDimension("latitude", GRID_SHAPE[1])
            ds.createDimension("longitude", GRID_SHAPE[2])
            ds.createVariable("latitude", "f4", ("latitude",))[:] = LATITUDES
            ds.createVariable("longitude", "f4", ("longitude",))[:] = LONGITUDES
            sla = ds.createVariable(
                "sla", "i4", ("time", "latitude", "longitude"), fill_value=-2147483647
            )
            sla.scale_factor = 0.0001
            sla.units = "m"
            land = np.isnan(data.sla[t])
            # Land goes in as the fill value; NaN itself cannot be cast to int.
            sla[:] = np.ma.array(np.where(land, 0.0, data.sla[t]), mask=land)
    for s, station in enumerate(STATIONS):
        lines = ["t,anomaly"]
        lines += [
            f"{data.days[t].isoformat()},{int(data.labels[t, s])}"
            for t in rows
            if data.present[t, s]
        ]
        (labels / f"{station}_synthetic.csv").write_text(
            "\n".join(lines) + "\n", encoding="utf-8"
        )
