"""Figures of a publication: 第II-2-4-4図, coefficients by radius and across specs, overlap, maps.

Each ``*_figure`` function takes the published DataFrames (or any subset of their rows, e.g.
one region's) and returns a :class:`matplotlib.figure.Figure` drawn with the Agg backend, no
pyplot state and no global rc change; :func:`save_figure` writes it as PNG and/or SVG, and
:func:`build_figures` draws every figure of an output root. Texts come from
:data:`spillover.report.fonts.LABELS`, in Japanese (default) or English. The maps are in
:mod:`spillover.report.maps`; by default only their releasable variants are drawn (mesh
aggregates with χ cells left out, no plant or centre location).
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter
from matplotlib.transforms import ScaledTranslation

from spillover.pipeline import read_output
from spillover.report.fonts import font_context, label, term_label
from spillover.report.tables import short_vcov

FORMATS = ("png", "svg", "pdf")
_BAR = "#1f4e79"
_OTHER = "#a6a6a6"


def decomposition_figure(
    decomposition: pd.DataFrame, *, spec_ids: Sequence[str] | None = None, lang: str = "ja"
) -> Figure:
    """第II-2-4-4図: each regressor's contribution to the mean yearly export change.

    One panel per spec: a bar per regressor (coefficient × mean yearly change of the
    regressor) with its 95% CI as whiskers, a grey ``(other)`` bar (the residual, so that the
    bars add up) and a dashed line at the dependent's mean yearly change.

    Parameters
    ----------
    decomposition : pandas.DataFrame
        Rows of the ``decomposition`` dataset: spec_id, term, contribution, ci_low, ci_high,
        dependent_mean_yearly_change, unit (e.g. million yen per year).
    spec_ids : sequence of str, optional
        The specs to draw, in order; all of ``decomposition`` by default.
    lang : {"ja", "en"}
        Language of the labels.

    Returns
    -------
    matplotlib.figure.Figure
        Axes in ``spec_ids`` order; in each, the bars (``ax.patches``) in the order of the
        frame's rows and the whiskers as the one ``LineCollection`` of ``ax.collections``.
    """
    spec_ids = list(dict.fromkeys(decomposition["spec_id"])) if spec_ids is None else spec_ids
    with font_context():
        figure, axes = _panels(len(spec_ids), width=4.4, height=3.8)
        for ax, spec_id in zip(axes, spec_ids, strict=False):
            rows = decomposition[decomposition["spec_id"] == spec_id]
            if rows.empty:
                raise ValueError(f"no decomposition rows for spec {spec_id!r}")
            _contribution_bars(ax, rows.reset_index(drop=True), lang)
            ax.set_title(spec_id, fontsize=9)
        figure.suptitle(label("decomposition_title", lang), fontsize=12)
        _note(figure, label("ci95", lang))
    return figure


def _contribution_bars(ax, rows: pd.DataFrame, lang: str) -> None:
    x = np.arange(len(rows))
    other = (rows["term"] == "(other)").to_numpy()
    heights = rows["contribution"].to_numpy(float)
    ax.bar(x, heights, color=np.where(other, _OTHER, _BAR), width=0.6)
    ci = rows["ci_low"].notna().to_numpy()
    ax.errorbar(
        x[ci],
        heights[ci],
        yerr=[heights[ci] - rows["ci_low"][ci], rows["ci_high"][ci] - heights[ci]],
        fmt="none",
        ecolor="black",
        capsize=4,
        linewidth=1,
    )
    for xi, height in zip(x, heights, strict=True):
        ax.annotate(
            f"{height:,.3g}",
            (xi, height),
            xytext=(8, 2),
            textcoords="offset points",
            fontsize=7,
            va="bottom" if height >= 0 else "top",
        )
    total = float(rows["dependent_mean_yearly_change"].iloc[0])
    ax.axhline(total, color="tab:red", linestyle="--", linewidth=1)
    ax.annotate(
        f"{label('dependent_change', lang)} {total:,.3g}",
        (0, total),
        xycoords=("axes fraction", "data"),
        xytext=(2, 2),
        textcoords="offset points",
        fontsize=7,
        color="tab:red",
    )
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_xticks(x, [_wrap(term_label(t, lang), lang) for t in rows["term"]], fontsize=8)
    ax.set_ylabel(f"{label('contribution', lang)} ({label(rows['unit'].iloc[0], lang)})")


def radius_figure(
    estimates: pd.DataFrame, *, grid: str, terms: Sequence[str] | None = None, lang: str = "ja"
) -> Figure:
    """Coefficients with 95% CIs against the radius, one line per covariance (a grid's specs).

    Parameters
    ----------
    estimates : pandas.DataFrame
        Rows of the ``estimates`` dataset: grid, term, radius_km (km), coef, ci_low, ci_high,
        vcov.
    grid : str
        The grid whose specs are drawn (e.g. ``baseline``: radius × vcov).
    terms : sequence of str, optional
        One panel per term; all the grid's terms by default.
    lang : {"ja", "en"}
        Language of the labels.

    Returns
    -------
    matplotlib.figure.Figure
        In each panel one line per covariance (``vcov`` label), its points at
        (radius_km, coef) in increasing radius; the whiskers are slightly shifted sideways
        on screen so that they do not hide each other (the data stay at the radius).
    """
    rows = estimates[estimates["grid"] == grid]
    if rows.empty:
        raise ValueError(f"no estimates of grid {grid!r}")
    terms = list(dict.fromkeys(rows["term"])) if terms is None else terms
    series = list(dict.fromkeys(rows["vcov"]))
    with font_context():
        figure, axes = _panels(len(terms), width=4.2, height=3.4)
        for ax, term in zip(axes, terms, strict=False):
            for i, vcov in enumerate(series):
                line = rows[(rows["term"] == term) & (rows["vcov"] == vcov)]
                line = line.sort_values("radius_km")
                shift = ScaledTranslation(
                    (i - (len(series) - 1) / 2) * 0.06, 0, figure.dpi_scale_trans
                )
                drawn = ax.plot(
                    line["radius_km"], line["coef"], marker="o", label=_vcov_label(vcov, lang)
                )
                ax.errorbar(
                    line["radius_km"],
                    line["coef"],
                    yerr=[line["coef"] - line["ci_low"], line["ci_high"] - line["coef"]],
                    fmt="none",
                    ecolor=drawn[0].get_color(),
                    capsize=3,
                    transform=ax.transData + shift,
                )
                for bound in ("ci_low", "ci_high"):  # shifted whiskers escape autoscaling
                    ax.update_datalim(line[["radius_km", bound]].to_numpy(float))
            ax.axhline(0, color="black", linewidth=0.6)
            ax.autoscale_view()
            ax.set_xticks(sorted(rows["radius_km"].unique()))
            ax.set_title(term_label(term, lang), fontsize=10)
            ax.set_xlabel(label("radius_km", lang))
            ax.set_ylabel(label("coefficient", lang))
        axes[0].legend(fontsize=7)
        figure.suptitle(f"{label('radius_title', lang)} ({grid})", fontsize=12)
        _note(figure, label("ci95", lang))
    return figure


def coefficient_figure(
    estimates: pd.DataFrame,
    *,
    terms: Sequence[str] | None = None,
    spec_ids: Sequence[str] | None = None,
    lang: str = "ja",
) -> Figure:
    """Coefficient plot: a dot and its 95% CI per spec, one panel per term.

    Parameters
    ----------
    estimates : pandas.DataFrame
        Rows of the ``estimates`` dataset: spec_id, term, coef, ci_low, ci_high.
    terms : sequence of str, optional
        One panel per term; all terms by default. A spec without the term has no dot there.
    spec_ids : sequence of str, optional
        The specs, top to bottom; all by default.
    lang : {"ja", "en"}
        Language of the labels.

    Returns
    -------
    matplotlib.figure.Figure
    """
    spec_ids = list(dict.fromkeys(estimates["spec_id"])) if spec_ids is None else list(spec_ids)
    rows = estimates[estimates["spec_id"].isin(spec_ids)]
    terms = list(dict.fromkeys(rows["term"])) if terms is None else terms
    position = {spec_id: len(spec_ids) - 1 - i for i, spec_id in enumerate(spec_ids)}
    with font_context():
        figure, axes = _panels(len(terms), width=4.6, height=1.2 + 0.32 * len(spec_ids))
        for ax, term in zip(axes, terms, strict=False):
            dots = rows[rows["term"] == term]
            y = dots["spec_id"].map(position).to_numpy(float)
            coef, low, high = (dots[c].to_numpy(float) for c in ("coef", "ci_low", "ci_high"))
            ax.errorbar(
                coef,
                y,
                xerr=[coef - low, high - coef],
                fmt="o",
                color=_BAR,
                capsize=3,
            )
            ax.axvline(0, color="black", linewidth=0.6)
            ax.set_yticks(list(position.values()), list(position), fontsize=7)
            ax.set_ylim(-0.7, len(spec_ids) - 0.3)
            ax.set_title(term_label(term, lang), fontsize=10)
            ax.set_xlabel(label("coefficient", lang))
        figure.suptitle(label("coefficients_title", lang), fontsize=12)
        _note(figure, label("ci95", lang))
    return figure


def overlap_figure(overlap: pd.DataFrame, *, lang: str = "ja") -> Figure:
    """Share of exports counted more than once (and in shared neighbours) against the radius.

    Parameters
    ----------
    overlap : pandas.DataFrame
        Rows of the ``overlap`` dataset: year, radius_km (km), share_exports_excess (exports
        counted more than once / exports counted, 0–1), share_exports_in_shared.
    lang : {"ja", "en"}
        Language of the labels.

    Returns
    -------
    matplotlib.figure.Figure
        One line per share: the mean over years at each radius, a band from the smallest to
        the largest year.
    """
    columns = ["share_exports_excess", "share_exports_in_shared"]
    by_radius = overlap.groupby("radius_km")[columns].agg(["mean", "min", "max"]).sort_index()
    with font_context():
        figure = Figure(figsize=(6.0, 4.0), layout="constrained")
        ax = figure.add_subplot()
        radius = by_radius.index.to_numpy(float)
        for column in columns:
            stats = by_radius[column]
            drawn = ax.plot(radius, stats["mean"], marker="o", label=label(column, lang))
            ax.fill_between(
                radius, stats["min"], stats["max"], color=drawn[0].get_color(), alpha=0.2
            )
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_xticks(radius)
        ax.set_ylim(bottom=0)
        ax.set_xlabel(label("radius_km", lang))
        ax.set_ylabel(label("share", lang))
        ax.legend(fontsize=8)
        ax.set_title(label("overlap_title", lang), fontsize=11)
        _note(figure, label("year_range", lang))
    return figure


def save_figure(
    figure: Figure, out_dir: Path, name: str, formats: Sequence[str] = ("png", "svg")
) -> list[Path]:
    """Write ``figure`` as ``out_dir/<name>.<format>`` for each format; return the paths.

    PNG at 150 dpi; SVG with text drawn as paths (it renders without the Japanese font; each
    text is kept in an XML comment) and no date, so the same figure gives the same file.
    """
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise ValueError(f"formats must be among {FORMATS}, got {sorted(unknown)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    with font_context():
        for fmt in formats:
            path = out_dir / f"{name}.{fmt}"
            metadata = {"Date": None} if fmt == "svg" else {}
            figure.savefig(path, format=fmt, dpi=150, metadata=metadata)
            paths.append(path)
    return paths


def build_figures(
    output_root: Path,
    out_dir: Path,
    *,
    lang: str = "ja",
    formats: Sequence[str] = ("png", "svg"),
    internal: bool = False,
    regions: Sequence[str | int] = (),
) -> dict[str, list[Path]]:
    """Draw every figure of a publication into ``out_dir``.

    Parameters
    ----------
    output_root : pathlib.Path
        A publication's output root (``estimates``, ``decomposition``, ``overlap``,
        ``plants``, ``exposure``).
    out_dir : pathlib.Path
        Folder for the files (created).
    lang : {"ja", "en"}
        Language of every label.
    formats : sequence of {"png", "svg", "pdf"}
        One file per figure and format.
    internal : bool
        False (default): the maps are the releasable ones (mesh cells of ≥ 3 establishments,
        no location of a plant or centre). True: the maps show centres, their circles and
        establishments and say 「内部資料 (秘匿情報を含む)」 — never for a report that leaves
        the secure room.
    regions : sequence of str or int
        Regions (prefecture name or code, city code) that get their own maps.

    Returns
    -------
    dict of str to list of pathlib.Path
        Figure name → its files in ``formats`` order. Names: ``decomposition``,
        ``radius_<grid>`` per grid with more than one radius, ``coefficients``, ``overlap``,
        ``map_density``, ``map_exposure`` and ``map_density_<region>``,
        ``map_exposure_<region>``. The maps are of the latest year, the exposure map of the
        smallest radius.
    """
    root = Path(output_root)
    estimates = read_output(root, "estimates")
    figures = {
        "decomposition": lambda: decomposition_figure(
            read_output(root, "decomposition"), lang=lang
        ),
        "coefficients": lambda: coefficient_figure(estimates, lang=lang),
        "overlap": lambda: overlap_figure(read_output(root, "overlap"), lang=lang),
    }
    for grid, specs in estimates.groupby("grid", sort=False):
        if specs["radius_km"].nunique() > 1:
            figures[f"radius_{grid}"] = lambda grid=grid: radius_figure(
                estimates, grid=grid, lang=lang
            )
    from spillover.report import maps  # geopandas: the optional `geo` extra

    plants = read_output(root, "plants")
    year = plants["year"].max()
    plants = plants[plants["year"] == year]
    exposure = read_output(root, "exposure")
    exposure = exposure[exposure["year"] == year]
    exposure = exposure[exposure["radius_km"] == exposure["radius_km"].min()]
    radius_km = float(exposure["radius_km"].iloc[0])
    for region in [None, *regions]:
        suffix = "" if region is None else f"_{region}"
        options = {"region": region, "internal": internal, "lang": lang}
        figures[f"map_density{suffix}"] = lambda o=options: maps.density_map(
            plants, radius_km=radius_km, **o
        )
        figures[f"map_exposure{suffix}"] = lambda o=options: maps.exposure_map(
            exposure, plants, **o
        )
    return {
        name: save_figure(draw(), Path(out_dir), name, formats) for name, draw in figures.items()
    }


def _panels(n: int, *, width: float, height: float) -> tuple[Figure, list]:
    """A figure with ``n`` axes, up to three per row."""
    ncols = min(3, max(n, 1))
    nrows = math.ceil(max(n, 1) / ncols)
    figure = Figure(figsize=(width * ncols, height * nrows + 0.6), layout="constrained")
    axes = figure.subplots(nrows, ncols, squeeze=False).ravel().tolist()
    for ax in axes[n:]:
        ax.set_visible(False)
    return figure, axes[:n]


def _vcov_label(vcov: str, lang: str) -> str:
    kind = vcov.split("(", 1)[0]
    return f"{label(f'vcov_{kind}', lang)}: {short_vcov(vcov)}"


def _wrap(text: str, lang: str) -> str:
    return text if lang == "ja" else "\n".join(textwrap.wrap(text, 14))


def _note(figure: Figure, text: str) -> None:
    """A small note under the panels (placed by the constrained layout, never on them)."""
    figure.supxlabel(text, x=0.01, ha="left", fontsize=7)
