"""Regional briefs: one short page per prefecture or municipality, for local support bodies.

``spillover report --region 愛知県`` (or ``23``, or a 5-digit municipality code) writes a page
about one region: how many of its establishments and global-firm plants there are, the
neighbourhoods centred on its global-firm plants and the trend of their exports, how many of
its establishments lie near a global firm's plant, and two maps.

What it shows, and why that may leave the secure room:

* **counts** (establishments, global-firm plants, neighbourhoods, establishments within the
  radius of a global firm's plant): counts stay public under the disclosure rule, as
  ``n_neighbours`` does in ``public/neighbourhoods``;
* **sums of published values** of ``public/neighbourhoods`` over the neighbourhoods centred in
  the region: the cells are lined up with the confidential ones exactly as the disclosure
  audit does (:func:`spillover.disclosure_audit.load_release`) and only values the
  publication released are added (χ cells are left out and counted), so every number is a
  linear combination of numbers already released and discloses nothing the rule protects;
  the trend adds, per year, the neighbourhoods whose exports are published in *every* year;
* **maps** in their releasable variant (:mod:`spillover.report.maps`, χ cells not drawn).

Neighbourhood numbers are not listed: a brief does not tie a public ``neighbourhood_no`` to a
place. Building a brief needs the confidential datasets, so it runs inside the secure room.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from html import escape
from pathlib import Path

import pandas as pd

from spillover.report.html import TEXT as REPORT_TEXT
from spillover.report.html import (
    ReportError,
    figure_html,
    html_table,
    min_establishments,
    page,
    publication_folder,
    section,
)

__all__ = ["Region", "build_brief", "region_of", "region_tables"]

TEXT: dict[str, dict[str, str]] = {
    "title": {"ja": "地域概要", "en": "Regional brief"},
    "note": {
        "ja": "数値はすべて件数か、公表済みの近隣表（public/neighbourhoods）の公表値の和です"
        "（χ のセルは含めず、その数を示します）。1〜2事業所から成る値や、公表値から差し引き"
        "で求まる値は載せていません。近隣の番号（neighbourhood_no）は地域と結び付けません。",
        "en": "Every number is a count or a sum of values published in public/neighbourhoods "
        "(χ cells are left out and counted). No value of 1–2 establishments, and nothing "
        "that differencing published values would give, is shown; neighbourhood numbers "
        "(neighbourhood_no) are not tied to the region.",
    },
    "counts": {"ja": "事業所数", "en": "Establishments"},
    "establishments": {"ja": "製造事業所", "en": "Manufacturing establishments"},
    "centres": {"ja": "グローバル企業の事業所", "en": "Global firms' plants"},
    "neighbourhoods": {
        "ja": "域内のグローバル企業の事業所を中心とする近隣",
        "en": "Neighbourhoods centred on the region's global-firm plants",
    },
    "n": {"ja": "近隣数", "en": "Neighbourhoods"},
    "published": {"ja": "輸出額を公表", "en": "Exports published"},
    "chi": {"ja": "χ", "en": "χ"},
    "trend": {
        "ja": "近隣の輸出額の推移（全年で公表された近隣の合計）",
        "en": "Neighbourhood exports over time (neighbourhoods published in every year)",
    },
    "trend_axis": {"ja": "輸出額（百万円）", "en": "Exports (million yen)"},
    "trend_none": {
        "ja": "全年で輸出額が公表された近隣がないため、推移は示しません。",
        "en": "No neighbourhood has its exports published in every year: no trend shown.",
    },
    "exposure": {
        "ja": "グローバル企業の事業所の近くにある域内事業所",
        "en": "The region's establishments near a global firm's plant",
    },
    "exposed": {
        "ja": "半径内にグローバル企業の事業所がある事業所",
        "en": "Establishments within the radius of a global firm's plant",
    },
    "share": {"ja": "割合", "en": "Share"},
}


def _t(key: str, lang: str) -> str:
    """The brief's own text ``key``, else the run report's (``spillover.report.html.TEXT``)."""
    return (TEXT.get(key) or REPORT_TEXT[key])[lang]


@dataclass(frozen=True)
class Region:
    """A prefecture (``pref_code``) or a municipality (``city_code``) and how to print it."""

    column: str
    code: int | str
    name: str


def region_of(region: str | int) -> Region:
    """Parse ``愛知県``, ``23`` / ``"23"`` or a 5-digit municipality code such as ``23211``.

    Raises
    ------
    ReportError
        Anything else (the message says what is accepted).
    """
    from spillover.geocode._prefectures import PREF_CODE, PREFECTURES

    value = str(region).strip()
    if value in PREF_CODE:
        return Region("pref_code", PREF_CODE[value], value)
    if value.isdigit() and len(value) <= 2 and 1 <= int(value) <= len(PREFECTURES):
        return Region("pref_code", int(value), PREFECTURES[int(value) - 1])
    if value.isdigit() and len(value) == 5:
        return Region("city_code", value, f"{PREFECTURES[int(value[:2]) - 1]} {value}")
    raise ReportError(
        f"region {region!r} is neither a prefecture name (愛知県), a prefecture code 1–47 nor a "
        "5-digit municipality code (23211)"
    )


def region_tables(folder: Path, region: Region) -> dict[str, pd.DataFrame]:
    """The releasable tables of a brief (see the module docstring for why they are).

    Returns
    -------
    dict
        ``counts`` (year, establishments, centres), ``neighbourhoods`` (radius_km, year, n,
        published, chi, sum_exports), ``trend`` (radius_km, year, exports: sums over the
        neighbourhoods published in every year, empty when there is none) and ``exposure``
        (radius_km, year, establishments, exposed).
    """
    from spillover.disclosure_audit import load_release
    from spillover.storage import read_dataset

    plants = read_dataset(folder / "plants")
    inside = plants[plants[region.column] == region.code]
    if inside.empty:
        raise ReportError(f"no establishment of this publication lies in {region.name}")
    counts = inside.groupby("year").agg(
        establishments=("establishment_id", "size"), centres=("is_centre", "sum")
    )
    released = load_release(folder)
    public = read_dataset(folder / "public" / "neighbourhoods")
    exports = public["exports"].to_numpy(dtype=float)[released.row_order]
    cells = released.cells.assign(exports=exports, published=~pd.isna(exports))
    centres = inside.loc[inside["is_centre"], ["establishment_id", "year"]]
    cells = cells.merge(
        centres.rename(columns={"establishment_id": "centre_id"}), on=["centre_id", "year"]
    )
    neighbourhoods = (
        cells.groupby(["radius_km", "year"])
        .agg(
            n=("centre_id", "size"), published=("published", "sum"), sum_exports=("exports", "sum")
        )
        .reset_index()
    )
    neighbourhoods.insert(4, "chi", neighbourhoods["n"] - neighbourhoods["published"])
    years = cells["year"].nunique()
    always = cells.groupby(["radius_km", "centre_id"])["published"].transform("sum") == years
    trend = cells[always].groupby(["radius_km", "year"])["exports"].sum().reset_index()
    exposure = read_dataset(folder / "exposure")
    exposure = exposure[exposure["establishment_id"].isin(inside["establishment_id"])]
    near = (
        exposure.assign(exposed=exposure["n_centres"] > 0)
        .merge(inside[["establishment_id", "year"]], on=["establishment_id", "year"])
        .groupby(["radius_km", "year"])
        .agg(establishments=("exposed", "size"), exposed=("exposed", "sum"))
        .reset_index()
    )
    return {
        "counts": counts.reset_index(),
        "neighbourhoods": neighbourhoods,
        "trend": trend,
        "exposure": near,
    }


def build_brief(
    output_root: str | Path, region: str | int, out: str | Path | None = None, lang: str = "ja"
) -> Path:
    """Write the brief of one region; return its path.

    Parameters
    ----------
    output_root : str or pathlib.Path
        An output root (its ``current`` publication) or a version folder.
    region : str or int
        ``愛知県``, a prefecture code (``23``) or a 5-digit municipality code.
    out : str or pathlib.Path, optional
        The HTML file (default: ``brief-<code>.html`` in the version folder).
    lang : {"ja", "en"}
        Language of the page.
    """
    from spillover.storage import replace_atomically

    folder = publication_folder(output_root)
    where = region_of(region)
    html = render_brief(folder, where, lang)
    path = Path(out) if out is not None else folder / f"brief-{where.code}.html"
    replace_atomically(path, lambda temporary: temporary.write_text(html, encoding="utf-8"))
    return path


def render_brief(folder: Path, region: Region, lang: str = "ja") -> str:
    """The brief of ``region`` for the publication in version folder ``folder``."""
    if lang not in ("ja", "en"):
        raise ReportError(f"lang must be 'ja' or 'en', got {lang!r}")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    tables = region_tables(folder, region)
    counts = html_table(
        [_t(k, lang) for k in ("year", "establishments", "centres")],
        [
            (str(r.year), int(r.establishments), int(r.centres))
            for r in tables["counts"].itertuples()
        ],
    )
    cells = html_table(
        [_t(k, lang) for k in ("radius", "year", "n", "published", "chi", "sum_exports")],
        [
            (
                f"{r.radius_km:g}",
                str(r.year),
                int(r.n),
                int(r.published),
                int(r.chi),
                float(r.sum_exports),
            )
            for r in tables["neighbourhoods"].itertuples()
        ],
    )
    near = html_table(
        [_t(k, lang) for k in ("radius", "year", "establishments", "exposed", "share")],
        [
            (
                f"{r.radius_km:g}",
                str(r.year),
                int(r.establishments),
                int(r.exposed),
                f"{r.exposed / r.establishments:.1%}",
            )
            for r in tables["exposure"].itertuples()
        ],
    )
    trend = tables["trend"]
    shown = (
        figure_html(trend_figure(trend, lang), _t("trend", lang))
        if not trend.empty
        else f"<p>{escape(_t('trend_none', lang))}</p>"
    )
    sections = [
        f'<p class="note">{escape(_t("note", lang))}</p>',
        section(_t("counts", lang), counts, anchor="counts"),
        section(_t("neighbourhoods", lang), cells, shown, anchor="neighbourhoods"),
        section(_t("exposure", lang), near, anchor="exposure"),
        _maps(folder, manifest, region, lang),
    ]
    title = f"{region.name} {_t('title', lang)}: {manifest['project']} / {manifest['run_id']}"
    return page(title, sections, lang)


def trend_figure(trend: pd.DataFrame, lang: str):
    """Exports of the always-published neighbourhoods by year, one line per radius."""
    from matplotlib.figure import Figure

    from spillover.report.fonts import font_context

    with font_context():
        figure = Figure(figsize=(7, 3.2))
        axes = figure.add_subplot()
        for radius, rows in trend.groupby("radius_km"):
            axes.plot(rows["year"].astype(int), rows["exports"], marker="o", label=f"{radius:g} km")
        axes.set_ylabel(_t("trend_axis", lang))
        axes.legend()
        axes.grid(alpha=0.3)
        figure.tight_layout()
    return figure


def _maps(folder: Path, manifest: dict, region: Region, lang: str) -> str:
    from spillover.report import maps
    from spillover.report.fonts import label
    from spillover.storage import read_dataset

    minimum = min_establishments(manifest)
    year = max(manifest["years"])
    radius = float(manifest["radii_km"][0])
    plants = read_dataset(folder / "plants")
    plants = plants[plants["year"] == year]
    exposure = read_dataset(folder / "exposure")
    exposure = exposure[(exposure["year"] == year) & (exposure["radius_km"] == radius)]
    density = maps.density_map(
        plants, region=region.code, radius_km=radius, min_establishments=minimum, lang=lang
    )
    exposed = maps.exposure_map(
        exposure, plants, region=region.code, min_establishments=minimum, lang=lang
    )
    return section(
        _t("maps", lang),
        figure_html(density, label("density_title", lang)),
        figure_html(exposed, label("exposure_title", lang)),
        anchor="maps",
    )
