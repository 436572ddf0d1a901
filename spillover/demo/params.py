"""Size and shape of the demo world, shared by every step that builds it."""

from __future__ import annotations

from dataclasses import dataclass

CAPITAL_THRESHOLD = 1000.0
"""Capital (million yen) from which a firm is large: its plants are never neighbours."""

OVERLAP_SEPARATION_KM = 3.0
"""Smallest distance (km) between two centres in the overlap setting."""

EXPOSURE_KERNEL = "uniform"
"""Exposure kernel of the overlap setting, in its config and its planted effect."""


@dataclass(frozen=True)
class WorldParams:
    """Size and shape of the demo world.

    Attributes
    ----------
    seed : int
        Seed of the world; the same parameters give the same files byte for byte.
    first_year, last_year : int
        Accounts years covered (inclusive).
    n_establishments : int
        Establishments in the pool (about the rows per year; entry and exit thin it).
    n_global_firms, n_large_firms, n_medium_firms : int
        Firms of each kind: global firms own the centres, large firms (capital at or
        above :data:`CAPITAL_THRESHOLD`) are excluded from neighbourhoods, medium firms
        are below it.
    radius_km : float
        Neighbourhood radius (km) under which the effects are planted.
    broken_rows : bool
        Whether one 工業統計 file gets the rows a real file contains (bad codes,
        impossible values, a duplicate) that must land in quarantine.
    overlap : bool
        The dense setting: centres stand only :data:`OVERLAP_SEPARATION_KM` apart, so that
        neighbourhoods overlap, and the effect is planted at plant level (on the exposure
        of each establishment) instead of neighbourhood level; see :mod:`spillover.demo.dgp`.
    published_layouts : bool
        Write the firm, overseas, Tankan and 鉱工業 sources in the layouts the agencies
        publish (fixed-width with a firm crosswalk, Excel, letter-prefixed codes, a JSIC
        revision, the BOJ download, the 鉱工業出荷内訳表; :mod:`spillover.demo.published`)
        instead of plain CSVs of the canonical tables.
    gazetteer : str, optional
        A real gazetteer (file or folder) whose towns the plants stand in, for the national
        scale (:mod:`spillover.demo.national`); the demo's synthetic towns if omitted.
    n_municipalities : int
        Real municipalities drawn from ``gazetteer`` (unused without one).
    address_rewrite_share : float
        Probability (0–1) that an establishment's address is written in a newly drawn style
        in a year after its first; 1 draws every row's style afresh.
    """

    seed: int = 2023
    first_year: int = 2012
    last_year: int = 2019
    n_establishments: int = 23_000
    n_global_firms: int = 150
    n_large_firms: int = 260
    n_medium_firms: int = 2_600
    radius_km: float = 5.0
    broken_rows: bool = True
    overlap: bool = False
    published_layouts: bool = True
    gazetteer: str | None = None
    n_municipalities: int = 400
    address_rewrite_share: float = 1.0

    @property
    def centre_separation_km(self) -> float:
        """Smallest distance (km) between two centres: ``2 · radius + 0.5`` unless overlapping."""
        return OVERLAP_SEPARATION_KM if self.overlap else 2 * self.radius_km + 0.5
