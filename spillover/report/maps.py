"""Maps: establishment density and exposure on JIS X 0410 mesh cells, for Japan or one region.

Confidentiality. Plant locations, the global firms' plants (the centres) and their
neighbourhoods are confidential microdata (統計法 第33条). The default, *releasable* maps show
only aggregates per mesh cell (2nd order ≈ 10 km or 3rd order ≈ 1 km): a cell built from
fewer than ``min_establishments`` (METI: 3) establishments is suppressed — χ, not drawn at
all — and no centre, circle or establishment point is drawn. ``internal=True`` draws the centres,
their neighbourhood circles and (exposure map) the establishments, for use inside the secure
room only; such a figure says 「内部資料 (秘匿情報を含む)」 / "internal — contains confidential
microdata" across it and must not leave the room. Use one mesh order for every map of a
release: counts of a 2nd-order cell next to its 3rd-order cells would give the total of its
suppressed cells.

No basemap tiles or boundary files are drawn (everything runs offline); the frame is latitude
and longitude in degrees (JGD2011 ≈ WGS84), with the aspect ratio of the latitude shown.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from spillover.geocode._prefectures import PREF_CODE, PREFECTURES
from spillover.report.fonts import font_context, label
from spillover.spatial import EARTH_RADIUS_KM, neighbour_pairs

#: Mesh orders and the number of their cells per 1st-order cell side (40' × 1°).
_DIVISIONS = {2: 8, 3: 80}
_CRS = "EPSG:4326"


def mesh_cells(points: pd.DataFrame, *, order: int = 2) -> pd.DataFrame:
    """Count points per JIS X 0410 mesh cell.

    Parameters
    ----------
    points : pandas.DataFrame
        ``lat``, ``lon`` in degrees; rows with a missing coordinate are not counted.
    order : {2, 3}
        2nd-order mesh (5' × 7.5', about 10 km) or 3rd-order (30" × 45", about 1 km).

    Returns
    -------
    pandas.DataFrame
        One row per non-empty cell, sorted by code: ``mesh_code`` (6 or 8 digits),
        ``south``, ``west``, ``north``, ``east`` (cell bounds, degrees) and
        ``n_establishments`` (points in the cell).
    """
    located = points[["lat", "lon"]].dropna()
    row, col = _cell_index(located, order)
    cells = pd.DataFrame({"row": row, "col": col}).value_counts().rename("n_establishments")
    cells = cells.reset_index()
    r, c = cells["row"].to_numpy(), cells["col"].to_numpy()
    div = _DIVISIONS[order]
    return (
        pd.DataFrame(
            {
                "mesh_code": _codes(r, c, order),
                "south": r / (1.5 * div),
                "west": 100.0 + c / div,
                "north": (r + 1) / (1.5 * div),
                "east": 100.0 + (c + 1) / div,
                "n_establishments": cells["n_establishments"].to_numpy(np.int64),
            }
        )
        .sort_values("mesh_code")
        .reset_index(drop=True)
    )


def _cell_index(points: pd.DataFrame, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of each point's cell in the mesh grid of ``order`` (from 0°N, 100°E)."""
    if order not in _DIVISIONS:
        raise ValueError(f"order must be 2 or 3, got {order!r}")
    div = _DIVISIONS[order]
    row = np.floor(points["lat"].to_numpy(float) * 1.5 * div).astype(np.int64)
    col = np.floor((points["lon"].to_numpy(float) - 100.0) * div).astype(np.int64)
    return row, col


def _codes(row: np.ndarray, col: np.ndarray, order: int) -> np.ndarray:
    """JIS X 0410 codes: 1st-order ``pp uu``, then 2nd-order ``q v`` and 3rd-order ``r w``."""
    div = _DIVISIONS[order]
    parts = [(row // div, 2), (col // div, 2), ((row % div) // (div // 8), 1)]
    parts.append(((col % div) // (div // 8), 1))
    if order == 3:
        parts += [(row % 10, 1), (col % 10, 1)]
    code = np.full(len(row), "", dtype=object)
    for values, width in parts:
        code = code + np.char.zfill(values.astype(str), width).astype(object)
    return code.astype(str)


def density_map(
    plants: pd.DataFrame,
    *,
    region: str | int | None = None,
    order: int = 2,
    internal: bool = False,
    radius_km: float = 5.0,
    min_establishments: int = 3,
    lang: str = "ja",
) -> Figure:
    """Establishments per mesh cell; centres and their neighbourhoods only if ``internal``.

    Parameters
    ----------
    plants : pandas.DataFrame
        One year's rows of ``plants``: ``lat``, ``lon`` (degrees), ``pref_code``,
        ``city_code`` and ``is_centre``.
    region : str or int, optional
        A prefecture name (``"愛知県"``), JIS prefecture code (``23`` or ``"23"``) or 5-digit
        municipality code (``city_code``); all Japan by default.
    order : {2, 3}
        Mesh order of the cells (see :func:`mesh_cells`).
    internal : bool
        False (default): releasable — cells with fewer than ``min_establishments``
        establishments are not drawn, no centre or circle is drawn. True: also the centres and
        their ``radius_km`` circles (geodesic), labelled as confidential. Never release it.
    radius_km : float
        Neighbourhood radius in km, for the circles of the internal map.
    min_establishments : int
        Smallest number of establishments a drawn cell may hold (METI: 3).
    lang : {"ja", "en"}
        Language of the labels.

    Returns
    -------
    matplotlib.figure.Figure
    """
    selected = plants[_region_mask(plants, region)]
    with font_context():
        figure, ax = _canvas(lang, "density_title", region, order)
        cells = mesh_cells(selected, order=order)
        shown = cells[cells["n_establishments"] >= min_establishments]
        if not shown.empty:
            _cells_frame(shown).plot(
                column="n_establishments",
                ax=ax,
                cmap="viridis",
                norm=LogNorm(vmin=min_establishments, vmax=max(shown["n_establishments"].max(), 4)),
                legend=True,
                legend_kwds={"label": label("n_establishments", lang), "shrink": 0.7},
            )
        _suppression_note(figure, lang, n_suppressed=len(cells) - len(shown))
        if internal:
            _draw_centres(ax, selected[selected["is_centre"].fillna(False)], radius_km, lang)
            _internal_label(figure, ax, lang)
        _frame(ax, lang)
    return figure


def exposure_map(
    exposure: pd.DataFrame,
    plants: pd.DataFrame,
    *,
    region: str | int | None = None,
    order: int = 2,
    internal: bool = False,
    min_establishments: int = 3,
    lang: str = "ja",
) -> Figure:
    """Mean exposure of the establishments per mesh cell (internal: each establishment).

    Parameters
    ----------
    exposure : pandas.DataFrame
        One year and one radius of ``exposure``: ``establishment_id``, ``exposure``,
        ``radius_km``.
    plants : pandas.DataFrame
        The same year's ``plants``: ``establishment_id``, ``firm_id``, ``lat``, ``lon``,
        ``pref_code``, ``city_code``, ``is_centre``.
    region : str or int, optional
        As in :func:`density_map`.
    order : {2, 3}
        Mesh order of the cells.
    internal : bool
        False (default): releasable — a cell is drawn only when it holds at least
        ``min_establishments`` establishments and, unless its mean exposure is 0, the exposures
        behind it come from at least ``min_establishments`` distinct global firms (an
        establishment's exposure is built from the OPR of the firms of the centres within the
        radius: a cell near one firm's plants would reveal that firm's OPR). True: every
        establishment as a point, the centres and their circles, labelled as confidential.
    min_establishments : int
        Smallest number of establishments, and of distinct global firms, behind a drawn cell.
    lang : {"ja", "en"}
        Language of the labels.

    Returns
    -------
    matplotlib.figure.Figure
    """
    (radius_km,) = exposure["radius_km"].unique()
    located = exposure.merge(
        plants[["establishment_id", "lat", "lon", "pref_code", "city_code"]],
        on="establishment_id",
        validate="one_to_one",
    )
    located = located[_region_mask(located, region)].dropna(subset=["lat", "lon"])
    centres = plants[plants["is_centre"].fillna(False)]
    with font_context():
        suffix = f" ({radius_km:g} km)"
        figure, ax = _canvas(lang, "exposure_title", region, None if internal else order, suffix)
        if internal:
            points = ax.scatter(
                located["lon"], located["lat"], c=located["exposure"], s=2, cmap="magma_r"
            )
            figure.colorbar(points, ax=ax, label=label("exposure", lang), shrink=0.7)
            _draw_centres(ax, centres[_region_mask(centres, region)], radius_km, lang)
            _internal_label(figure, ax, lang)
        else:
            cells = _exposure_cells(located, centres, radius_km, order)
            shown = cells[
                (cells["n_establishments"] >= min_establishments)
                & ((cells["mean_exposure"] == 0) | (cells["n_firms"] >= min_establishments))
            ]
            if not shown.empty:
                _cells_frame(shown).plot(
                    column="mean_exposure",
                    ax=ax,
                    cmap="magma_r",
                    legend=True,
                    legend_kwds={"label": label("mean_exposure", lang), "shrink": 0.7},
                )
            _suppression_note(figure, lang, n_suppressed=len(cells) - len(shown))
        _frame(ax, lang)
    return figure


def _exposure_cells(located, centres, radius_km: float, order: int) -> pd.DataFrame:
    """Per cell: establishments, mean exposure and distinct firms of the centres in reach."""
    keys = mesh_cells(located, order=order)
    cell_of = pd.Series(_codes(*_cell_index(located, order), order), index=located.index)
    points = located.rename(columns={"establishment_id": "point_id"})[["point_id", "lat", "lon"]]
    pairs = neighbour_pairs(
        centres.rename(columns={"establishment_id": "centre_id"})[["centre_id", "lat", "lon"]],
        points,
        radius_km,
    )
    firm_of = centres.set_index("establishment_id")["firm_id"]
    cell_of_point = pd.Series(cell_of.to_numpy(), index=points["point_id"].to_numpy())
    firms = (
        pd.DataFrame(
            {
                "mesh_code": cell_of_point.reindex(pairs["point_id"]).to_numpy(),
                "firm_id": firm_of.reindex(pairs["centre_id"]).to_numpy(),
            }
        )
        .drop_duplicates()
        .groupby("mesh_code")
        .size()
    )
    exposure = pd.Series(located["exposure"].to_numpy(float), index=cell_of.to_numpy())
    means = exposure.groupby(level=0).mean()
    return keys.assign(
        mean_exposure=means.reindex(keys["mesh_code"]).to_numpy(),
        n_firms=firms.reindex(keys["mesh_code"]).fillna(0).astype(int).to_numpy(),
    )


def _region_mask(frame: pd.DataFrame, region: str | int | None) -> pd.Series:
    if region is None:
        return pd.Series(True, index=frame.index)
    text = str(region).strip()
    if text in PREF_CODE:
        return frame["pref_code"] == PREF_CODE[text]
    if text.isdigit() and len(text) <= 2 and 1 <= int(text) <= len(PREFECTURES):
        return frame["pref_code"] == int(text)
    if text.isdigit() and len(text) == 5:
        return frame["city_code"] == text
    raise ValueError(
        f"region {region!r} is neither a prefecture name, a code 1–47 nor a 5-digit city code"
    )


def _region_name(region: str | int | None, lang: str) -> str:
    if region is None:
        return label("all_japan", lang)
    text = str(region).strip()
    if text.isdigit() and len(text) <= 2:
        return PREFECTURES[int(text) - 1]
    return text


def _canvas(lang: str, title: str, region, order: int | None, suffix: str = "") -> tuple:
    """A figure with one axes titled; ``order`` None for a map of points, not cells."""
    figure = Figure(figsize=(7.0, 7.0), layout="constrained")
    ax = figure.add_subplot()
    mesh = "" if order is None else f"\n{label(f'mesh_{order}', lang)}"
    ax.set_title(f"{label(title, lang)}{suffix} — {_region_name(region, lang)}{mesh}", fontsize=11)
    return figure, ax


def _cells_frame(cells: pd.DataFrame) -> gpd.GeoDataFrame:
    sides = [cells[side].to_numpy(float) for side in ("west", "south", "east", "north")]
    boxes = shapely.box(*sides)  # an array, in the rows' order (not aligned by index)
    return gpd.GeoDataFrame(cells.reset_index(drop=True), geometry=boxes, crs=_CRS)


def _circles(centres: pd.DataFrame, radius_km: float, n: int = 72) -> gpd.GeoSeries:
    """Geodesic circles (great-circle distance ``radius_km``) as lon/lat polygons."""
    lat = np.radians(centres["lat"].to_numpy(float))[:, None]
    lon = np.radians(centres["lon"].to_numpy(float))[:, None]
    bearing = np.linspace(0.0, 2 * math.pi, n, endpoint=False)[None, :]
    delta = radius_km / EARTH_RADIUS_KM
    lat2 = np.arcsin(np.sin(lat) * np.cos(delta) + np.cos(lat) * np.sin(delta) * np.cos(bearing))
    lon2 = lon + np.arctan2(
        np.sin(bearing) * np.sin(delta) * np.cos(lat), np.cos(delta) - np.sin(lat) * np.sin(lat2)
    )
    rings = np.stack([np.degrees(lon2), np.degrees(lat2)], axis=-1)
    return gpd.GeoSeries(shapely.polygons(rings), crs=_CRS)


def _draw_centres(ax, centres: pd.DataFrame, radius_km: float, lang: str) -> None:
    _circles(centres, radius_km).plot(ax=ax, facecolor="none", edgecolor="tab:red", linewidth=0.6)
    ax.scatter(centres["lon"], centres["lat"], s=6, color="tab:red", label=label("centres", lang))
    ax.plot(
        [],
        [],
        color="tab:red",
        linewidth=0.6,
        label=label("circles", lang).format(radius=f"{radius_km:g}"),
    )
    ax.legend(loc="lower right", fontsize=8)


def _internal_label(figure: Figure, ax, lang: str) -> None:
    text = label("internal", lang)
    figure.suptitle(text, color="tab:red", fontsize=14)
    ax.text(
        0.5,
        0.5,
        text,
        transform=ax.transAxes,
        rotation=30,
        fontsize=28,
        color="tab:red",
        alpha=0.25,
        ha="center",
        va="center",
    )


def _suppression_note(figure: Figure, lang: str, *, n_suppressed: int) -> None:
    figure.text(0.01, 0.005, f"{label('suppressed', lang)} ({n_suppressed})", fontsize=8)


def _frame(ax, lang: str) -> None:
    ax.set_xlabel(label("longitude", lang))
    ax.set_ylabel(label("latitude", lang))
    ax.grid(True, linewidth=0.3, alpha=0.5)
    ax.set_aspect(1 / math.cos(math.radians(np.mean(ax.get_ylim()))))
