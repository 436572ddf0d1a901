"""``spillover report``: one self-contained HTML page per publication.

The page shows what may leave the secure room and nothing else: the run summary and row
accounting of ``manifest.json``, the input files with their SHA-256, the regression tables
(``estimates``, ``decomposition``: releasable), the figures, the maps in their releasable
variant (mesh aggregates, χ cells not drawn), aggregates of the disclosure-controlled
``public/neighbourhoods``, the quarantine counts by stage and kind of reason (never a row),
and the disclosure summary. Images are PNG ``data:`` URIs, the CSS is inline and the
Japanese font is embedded as a subset of IPAexGothic (matplotlib-fontja), so the file opens
offline, on a machine without Japanese fonts, with no JavaScript.

By default the page is written into the publication's version folder,
``<output_root>/current/report.html`` (resolved, so a rollback brings back the report of
that version); ``out`` writes it elsewhere.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from spillover.errors import SpilloverError

if TYPE_CHECKING:
    from spillover.report.cache import RenderCache

__all__ = ["ReportError", "build_report", "publication_folder", "reason_kind", "render_report"]

#: Name of the page inside a version folder.
REPORT_NAME = "report.html"

#: Page texts (figures and tables take theirs from :data:`spillover.report.fonts.LABELS`).
TEXT: dict[str, dict[str, str]] = {
    "title": {"ja": "実行レポート", "en": "Run report"},
    "release_note": {
        "ja": "このページには公表可能な結果（推計結果 estimates、寄与分解 decomposition）、"
        "秘匿処理済みの表（public/neighbourhoods とその集計）、件数、および秘匿処理済みの"
        "地図（メッシュ集計、1〜2事業所のセルは描画しない）だけを載せています。"
        "秘匿対象のデータセット（{confidential}）の行や値は載せていません。",
        "en": "This page shows only releasable results (estimates, decomposition), the "
        "disclosure-controlled table (public/neighbourhoods and sums of its published "
        "values), counts, and disclosure-controlled maps (mesh aggregates; cells of 1–2 "
        "establishments are not drawn). No row or value of the confidential datasets "
        "({confidential}) appears on it.",
    },
    "summary": {"ja": "実行の概要", "en": "Run summary"},
    "run_id": {"ja": "実行ID", "en": "Run id"},
    "project": {"ja": "プロジェクト", "en": "Project"},
    "created": {"ja": "作成日時 (UTC)", "en": "Created (UTC)"},
    "config_path": {"ja": "設定ファイル", "en": "Config file"},
    "config_sha256": {"ja": "設定のハッシュ (SHA-256)", "en": "Config hash (SHA-256)"},
    "years": {"ja": "対象年", "en": "Years"},
    "radii": {"ja": "半径 (km)", "en": "Radii (km)"},
    "packages": {"ja": "パッケージのバージョン", "en": "Package versions"},
    "package": {"ja": "パッケージ", "en": "Package"},
    "version": {"ja": "バージョン", "en": "Version"},
    "accounting": {"ja": "行数の収支（段階別）", "en": "Row accounting by stage"},
    "stage": {"ja": "段階", "en": "Stage"},
    "rows_in": {"ja": "入力行数", "en": "Rows in"},
    "rows_out": {"ja": "出力行数", "en": "Rows out"},
    "rows_quarantined": {"ja": "隔離行数", "en": "Rows quarantined"},
    "seconds": {"ja": "秒", "en": "Seconds"},
    "rows_axis": {"ja": "行数（対数目盛）", "en": "Rows (log scale)"},
    "sources": {"ja": "データソースとチェックサム", "en": "Data sources and checksums"},
    "linkage": {"ja": "調査間の企業リンク率", "en": "Firm linkage between the surveys"},
    "linkage_note": {
        "ja": "各セル: リンクできた企業数 / 企業数（率）。年は会計年。",
        "en": "Each cell: firms linked / firms (rate). Years are accounts years.",
    },
    "pair": {"ja": "調査の組（→ 照合先）", "en": "Survey pair (→ matched in)"},
    "without_firm_id": {"ja": "企業番号のない事業所", "en": "Establishments without a firm id"},
    "crosswalk_rows": {
        "ja": "クロスウォーク: リンク済み行 / 未リンク行",
        "en": "Crosswalk: rows linked / rows unlinked",
    },
    "table": {"ja": "表", "en": "Table"},
    "source": {"ja": "ソース", "en": "Source"},
    "file": {"ja": "ファイル", "en": "File"},
    "estimates": {"ja": "回帰結果", "en": "Regression tables"},
    "family_neighbourhood": {
        "ja": "近隣（センター×年）の推計",
        "en": "Neighbourhood (centre × year) specs",
    },
    "family_plant": {"ja": "事業所（事業所×年）の推計", "en": "Plant (establishment × year) specs"},
    "decomposition": {
        "ja": "第II-2-4-4図：係数×年平均変化（95%信頼区間）",
        "en": "第II-2-4-4図: coefficient × mean yearly change (95% CI)",
    },
    "spec": {"ja": "推計式", "en": "Spec"},
    "term": {"ja": "説明変数", "en": "Term"},
    "contribution": {"ja": "寄与", "en": "Contribution"},
    "ci": {"ja": "95%信頼区間", "en": "95% CI"},
    "share": {"ja": "被説明変数の年平均変化に占める割合", "en": "Share of the mean yearly change"},
    "unit": {"ja": "単位", "en": "Unit"},
    "figures": {"ja": "図", "en": "Figures"},
    "maps": {"ja": "地図", "en": "Maps"},
    "maps_missing": {
        "ja": "地図には geopandas が必要です: pip install 'spillover[geo]'",
        "en": "Maps need geopandas: pip install 'spillover[geo]'",
    },
    "map_note": {
        "ja": "{year}年、半径{radius:g} km。メッシュ集計で、{minimum}事業所未満のセルは"
        "描画していません（センターの位置と円は秘匿のため内部資料のみ）。",
        "en": "{year}, radius {radius:g} km. Mesh aggregates; cells of fewer than {minimum} "
        "establishments are not drawn (centres and their circles are internal only).",
    },
    "public": {
        "ja": "近隣の公表表（public/neighbourhoods）の集計",
        "en": "The published neighbourhood table (public/neighbourhoods)",
    },
    "public_note": {
        "ja": "合計は公表値だけの和（χ のセルは含まない）で、公表済みの数値から計算できる値です。",
        "en": "Sums are over published values only (χ cells left out), so they follow from "
        "numbers already released.",
    },
    "year": {"ja": "年", "en": "Year"},
    "radius": {"ja": "半径 (km)", "en": "Radius (km)"},
    "neighbourhoods": {"ja": "近隣数", "en": "Neighbourhoods"},
    "published": {"ja": "公表", "en": "Published"},
    "suppressed_primary": {"ja": "χ（一次秘匿）", "en": "χ (primary)"},
    "suppressed_secondary": {"ja": "χ（二次秘匿）", "en": "χ (secondary)"},
    "sum_exports": {
        "ja": "公表された輸出額の合計（百万円）",
        "en": "Sum of published exports (million yen)",
    },
    "quarantine": {"ja": "隔離の概要", "en": "Quarantine summary"},
    "quarantine_note": {
        "ja": "段階・表・列・理由の種類ごとの件数（行の内容や値は載せていません）。",
        "en": "Counts by stage, table, column and kind of reason (no row content, no value).",
    },
    "column": {"ja": "列", "en": "Column"},
    "reason": {"ja": "理由", "en": "Reason"},
    "rows": {"ja": "行数", "en": "Rows"},
    "no_quarantine": {"ja": "隔離された行はありません。", "en": "No row was quarantined."},
    "disclosure": {"ja": "秘匿処理の概要", "en": "Disclosure control"},
    "rule": {"ja": "規則", "en": "Rule"},
    "applied_to": {"ja": "適用先", "en": "Applied to"},
    "checked_against": {"ja": "照合した公表物", "en": "Checked against"},
    "not_for_release": {"ja": "公表しないデータセット", "en": "Not for release"},
    "secondary_rounds": {"ja": "二次秘匿の反復回数", "en": "Rounds of secondary suppression"},
    "values_by_reason": {"ja": "列・理由別の値の数", "en": "Values by column and reason"},
    "cells": {"ja": "セル", "en": "Cells"},
    "count": {"ja": "件数", "en": "Count"},
}


class ReportError(SpilloverError, ValueError):
    """The report cannot be built: no publication, or a region that is not known."""


def text(key: str, lang: str, **values) -> str:
    """The page text ``key`` in ``lang``, formatted with ``values``."""
    if lang not in ("ja", "en"):
        raise ReportError(f"lang must be 'ja' or 'en', got {lang!r}")
    return TEXT[key][lang].format(**values)


def publication_folder(output_root: str | Path) -> Path:
    """The version folder of a publication: ``current`` resolved, or the folder itself.

    Raises
    ------
    ReportError
        Neither ``output_root/current/manifest.json`` nor ``output_root/manifest.json`` exists.
    """
    root = Path(output_root)
    for folder in (root / "current", root):
        if (folder / "manifest.json").is_file():
            return folder.resolve()
    raise ReportError(
        f"{root} has no published manifest.json: run the pipeline (spillover run) first"
    )


def build_report(
    output_root: str | Path,
    out: str | Path | None = None,
    lang: str = "ja",
    *,
    cache_dir: str | Path | None = None,
) -> Path:
    """Write the HTML report of a publication; return its path.

    Parameters
    ----------
    output_root : str or pathlib.Path
        An output root (its ``current`` publication is reported) or a version folder.
    out : str or pathlib.Path, optional
        The HTML file to write (default: ``report.html`` in the version folder).
    lang : {"ja", "en"}
        Language of the page, figures and tables.
    cache_dir : str or pathlib.Path, optional
        Keep the figures and the font subset here and draw only those whose content changed
        since the last report built with this folder (:mod:`spillover.report.cache`).

    Returns
    -------
    pathlib.Path
        The file written (atomically: readers never see half a page).
    """
    from spillover.report.cache import RenderCache
    from spillover.storage import replace_atomically

    folder = publication_folder(output_root)
    cache = RenderCache(None if cache_dir is None else Path(cache_dir))
    page = render_report(folder, lang=lang, cache=cache)
    cache.prune()
    path = Path(out) if out is not None else folder / REPORT_NAME
    replace_atomically(path, lambda temporary: temporary.write_text(page, encoding="utf-8"))
    return path


def render_report(folder: Path, lang: str = "ja", cache: RenderCache | None = None) -> str:
    """The report of the publication in version folder ``folder`` as one HTML string.

    ``cache`` keeps the drawn figures and font subset (default: everything is drawn).
    """
    from spillover.report.cache import RenderCache
    from spillover.storage import read_dataset

    figures = _Figures(cache or RenderCache(None))

    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    confidential = ", ".join(manifest["disclosure"]["not_for_release"])
    estimates = read_dataset(folder / "estimates")
    decomposition = read_dataset(folder / "decomposition")
    sections = [
        f'<p class="note">{_e(text("release_note", lang, confidential=confidential))}</p>',
        _summary(manifest, lang),
        _accounting(manifest, lang, figures),
        _sources(manifest, lang),
        _linkage(manifest.get("linkage", {}), lang),
        _estimates(estimates, decomposition, lang),
        _figures(estimates, decomposition, lang, figures),
        _maps(folder, manifest, lang, figures),
        _public(read_dataset(folder / "public" / "neighbourhoods"), lang),
        _quarantine(read_dataset(folder / "quarantine"), lang),
        _disclosure(manifest["disclosure"], lang),
    ]
    title = f"spillover {text('title', lang)}: {manifest['project']} / {manifest['run_id']}"
    return page(title, figures.fill(sections), lang, figures.cache)


# --- page and building blocks ------------------------------------------------------------

_CSS = """
body { font-family: "SpilloverJP", sans-serif; margin: 2em auto; max-width: 1200px;
       padding: 0 1em; color: #1a1a1a; line-height: 1.5; }
h1 { font-size: 1.6em; border-bottom: 2px solid #1f4e79; }
h2 { font-size: 1.25em; color: #1f4e79; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }
th, td { border: 1px solid #c8c8c8; padding: 0.2em 0.6em; vertical-align: top;
         overflow-wrap: anywhere; }
th { background: #eef3f8; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.note { background: #fff8e1; border-left: 4px solid #f0b400; padding: 0.5em 1em; }
.wide { overflow-x: auto; }
figure { margin: 1em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { font-size: 0.9em; color: #444; }
.spillover-table td { text-align: right; }
"""


def page(title: str, sections: Sequence[str], lang: str, cache: RenderCache | None = None) -> str:
    """A whole HTML page: ``sections`` under an ``<h1>``, CSS and the font subset inline."""
    body = f"<h1>{_e(title)}</h1>\n" + "\n".join(sections)
    fonts = font_face(body, cache)
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>\n{fonts}{_CSS}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )


def font_face(markup: str, cache: RenderCache | None = None) -> str:
    """A CSS ``@font-face`` rule embedding IPAexGothic cut down to the characters of ``markup``.

    The subset holds the glyphs the page needs (tens of kB instead of the font's 4 MB), so
    Japanese renders the same on every machine, with no font installed and no network.
    ``cache`` keeps the subset of each character set.
    """
    from spillover.report.cache import RenderCache

    shown = html.unescape(re.sub(r"<[^>]*>", " ", markup))
    characters = "".join(sorted(set(shown) | set(_PRINTABLE)))
    data = (cache or RenderCache(None)).get("ttf", characters, lambda: _subset(characters))
    encoded = base64.b64encode(data).decode("ascii")
    return (
        '@font-face { font-family: "SpilloverJP"; '
        f'src: url("data:font/ttf;base64,{encoded}") format("truetype"); }}\n'
    )


def _subset(characters: str) -> bytes:
    """IPAexGothic with the glyphs of ``characters`` only (TrueType bytes)."""
    from fontTools import subset

    from spillover.report.fonts import font_path

    options = subset.Options()
    options.name_IDs = ["*"]
    buffer = io.BytesIO()
    with subset.load_font(str(font_path()), options) as font:  # the file is read lazily
        subsetter = subset.Subsetter(options)
        subsetter.populate(text=characters)
        subsetter.subset(font)
        subset.save_font(font, buffer, options)
    return buffer.getvalue()


_PRINTABLE = "".join(chr(code) for code in range(0x20, 0x7F)) + "χ×−–—…"


def _e(value: object) -> str:
    return html.escape(str(value))


def section(title: str, *parts: str, anchor: str) -> str:
    """``<section id=anchor>`` with an ``<h2>``."""
    return f'<section id="{anchor}">\n<h2>{_e(title)}</h2>\n' + "\n".join(parts) + "\n</section>"


def html_table(
    headers: Sequence[str], rows: Iterable[Sequence[object]], *, caption: str = ""
) -> str:
    """A plain table; ``int`` and ``float`` cells are right-aligned, everything is escaped.

    With every header empty the table has no header row (a list of label/value pairs).
    """
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    head = f"<thead><tr>{head}</tr></thead>" if any(headers) else ""
    lines = []
    for row in rows:
        cells = "".join(
            f'<td class="num">{_e(_number(v))}</td>'
            if isinstance(v, int | float)
            else f"<td>{_e(v)}</td>"
            for v in row
        )
        lines.append(f"<tr>{cells}</tr>")
    title = f"<caption>{_e(caption)}</caption>" if caption else ""
    return f'<div class="wide"><table>{title}{head}<tbody>{"".join(lines)}</tbody></table></div>'


def _number(value: float) -> str:
    if isinstance(value, int):
        return f"{value:,}"
    if pd.isna(value):
        return "χ"
    return f"{value:,.1f}" if abs(value) >= 10 else f"{value:.3g}"


def figure_html(figure, caption: str) -> str:
    """A matplotlib figure as ``<figure>`` with a PNG ``data:`` URI (the figure is closed)."""
    return png_html(figure_png(figure), caption)


def figure_png(figure) -> bytes:
    """A matplotlib figure as PNG bytes (100 dpi, tight bounding box); the figure is closed."""
    from matplotlib import pyplot as plt

    from spillover.report.fonts import font_context

    buffer = io.BytesIO()
    with font_context():
        figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


class _Figures:
    """The figures of one page: a placeholder each while the sections are written, then drawn.

    :meth:`fill` takes the kept ones from the cache and draws the others side by side in
    forked worker processes (:meth:`~spillover.report.cache.RenderCache.get_all`): one after
    the other, a national report's maps and charts took ~10 s.
    """

    def __init__(self, cache: RenderCache) -> None:
        self.cache = cache
        self._pieces: list[tuple[object, Callable[[], object], str]] = []

    def add(self, inputs: object, draw: Callable[[], object], caption: str) -> str:
        """A placeholder for the ``<figure>`` of ``draw()``, a matplotlib figure of ``inputs``."""
        self._pieces.append((inputs, draw, caption))
        return f"<!--spillover-figure-{len(self._pieces) - 1}-->"  # text of a page is escaped

    def fill(self, sections: list[str]) -> list[str]:
        """``sections`` with each placeholder replaced by its ``<figure>``."""
        # the page's last figures (the maps) take longest: drawn first, not left to the end
        pieces = [(inputs, partial(_drawn_png, draw)) for inputs, draw, _ in self._pieces]
        pngs = self.cache.get_all("png", pieces[::-1])[::-1]
        shown = [
            png_html(png, caption) for png, (_, _, caption) in zip(pngs, self._pieces, strict=True)
        ]
        return [
            re.sub(r"<!--spillover-figure-(\d+)-->", lambda m: shown[int(m.group(1))], part)
            for part in sections
        ]


def _drawn_png(draw: Callable[[], object]) -> bytes:
    """PNG bytes of the matplotlib figure ``draw()`` returns."""
    return figure_png(draw())


def png_html(png: bytes, caption: str) -> str:
    """PNG bytes as ``<figure>`` with a ``data:`` URI and a caption."""
    encoded = base64.b64encode(png).decode("ascii")
    return (
        f'<figure><img src="data:image/png;base64,{encoded}" alt="{_e(caption)}">'
        f"<figcaption>{_e(caption)}</figcaption></figure>"
    )


# --- sections ----------------------------------------------------------------------------


def _summary(manifest: dict, lang: str) -> str:
    rows = [
        (text("run_id", lang), manifest["run_id"]),
        (text("project", lang), manifest["project"]),
        (text("created", lang), manifest["created"]),
        (text("config_path", lang), manifest["config_path"]),
        (text("config_sha256", lang), manifest["config_sha256"]),
        (text("years", lang), "–".join(str(y) for y in manifest["years"])),
        (text("radii", lang), ", ".join(f"{r:g}" for r in manifest["radii_km"])),
    ]
    packages = html_table(
        [text("package", lang), text("version", lang)],
        manifest["packages"].items(),
        caption=text("packages", lang),
    )
    return section(text("summary", lang), html_table(["", ""], rows), packages, anchor="summary")


def _stages(manifest: dict) -> list[tuple[str, dict]]:
    """The manifest's stage summaries in pipeline order."""
    from spillover.pipeline import STAGES

    stages = manifest["stages"]
    return [(name, stages[name]) for name in STAGES if name in stages]


def _accounting(manifest: dict, lang: str, figures: _Figures) -> str:
    stages = _stages(manifest)
    keys = ("rows_in", "rows_out", "rows_quarantined")
    rows = [(name, *(int(s[k]) for k in keys), float(s["seconds"])) for name, s in stages]
    table = html_table(
        [text("stage", lang), *(text(k, lang) for k in keys), text("seconds", lang)], rows
    )
    chart = figures.add(
        ["accounting", lang, [[name, [int(s[k]) for k in keys]] for name, s in stages]],
        lambda: accounting_figure(stages, lang),
        text("accounting", lang),
    )
    return section(text("accounting", lang), chart, table, anchor="accounting")


def accounting_figure(stages: list[tuple[str, dict]], lang: str):
    """Rows in, out and quarantined per stage: grouped horizontal bars on a log scale."""
    import numpy as np
    from matplotlib.figure import Figure

    from spillover.report.fonts import font_context

    keys = ("rows_in", "rows_out", "rows_quarantined")
    colours = ("#1f4e79", "#6fa8dc", "#e06666")
    with font_context():
        figure = Figure(figsize=(9, 0.5 + 0.55 * len(stages)))
        axes = figure.add_subplot()
        position = np.arange(len(stages))
        for offset, (key, colour) in enumerate(zip(keys, colours, strict=True)):
            values = [max(int(s[key]), 0) for _, s in stages]
            bars = axes.barh(
                position + (offset - 1) * 0.27,
                values,
                height=0.27,
                color=colour,
                label=text(key, lang),
            )
            labels = [f"{v:,}" if v else "" for v in values]
            axes.bar_label(bars, labels=labels, padding=2, fontsize=7)
        axes.set_yticks(position, [name for name, _ in stages])
        axes.invert_yaxis()
        axes.set_xscale("log")
        axes.set_xlabel(text("rows_axis", lang))
        axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
        figure.tight_layout()
    return figure


def _sources(manifest: dict, lang: str) -> str:
    rows = [(s["table"], s["source"], s["file"], s["sha256"]) for s in manifest["inputs"]]
    headers = [text("table", lang), text("source", lang), text("file", lang), "SHA-256"]
    return section(text("sources", lang), html_table(headers, rows), anchor="sources")


def _linkage(linkage: dict, lang: str) -> str:
    """Match rates per survey pair (rows) and year (columns); establishments without a firm."""
    rates = linkage.get("match_rates", [])
    if not rates:
        return ""
    years = sorted({r["year"] for r in rates})
    cells: dict[tuple[str, str], dict[int, str]] = {}
    for r in rates:
        share = "–" if r["rate"] is None else f"{r['rate']:.1%}"
        cells.setdefault((r["from"], r["to"]), {})[r["year"]] = (
            f"{r['linked']:,} / {r['firms']:,} ({share})"
        )
    rows = [
        (f"{source} → {target}", *(by_year.get(year, "") for year in years))
        for (source, target), by_year in cells.items()
    ]
    plants = linkage.get("establishments_by_year", {})
    if plants:
        rows.append(
            (
                text("without_firm_id", lang),
                *(
                    f"{plants[str(y)]['without_firm_id']:,} / {plants[str(y)]['establishments']:,}"
                    if str(y) in plants
                    else ""
                    for y in years
                ),
            )
        )
    parts = [html_table([text("pair", lang), *map(str, years)], rows)]
    crosswalk = linkage.get("crosswalk", {})
    if crosswalk:
        parts.append(
            html_table(
                [text("table", lang), text("crosswalk_rows", lang)],
                [
                    (table, f"{c['rows_linked']:,} / {c['rows_unlinked']:,}")
                    for table, c in crosswalk.items()
                ],
            )
        )
    note = f"<p>{_e(text('linkage_note', lang))}</p>"
    return section(text("linkage", lang), note, *parts, anchor="linkage")


def _estimates(estimates: pd.DataFrame, decomposition: pd.DataFrame, lang: str) -> str:
    from spillover.report.fonts import label, term_label
    from spillover.report.tables import regression_table, to_html

    parts = []
    for family, rows in estimates.groupby("family", sort=False):
        spec_ids = list(dict.fromkeys(rows["spec_id"]))
        caption = text(f"family_{family}", lang)
        cells = regression_table(estimates, spec_ids)
        parts.append(f'<div class="wide">{to_html(cells, lang=lang, caption=caption)}</div>')
    rows = [
        (
            row.spec_id,
            term_label(row.term, lang),
            float(row.contribution),
            "" if pd.isna(row.ci_low) else f"[{_number(row.ci_low)}, {_number(row.ci_high)}]",
            f"{row.share:.1%}",
            label(row.unit, lang),
        )
        for row in decomposition.itertuples()
    ]
    headers = [text(k, lang) for k in ("spec", "term", "contribution", "ci", "share", "unit")]
    parts.append(html_table(headers, rows, caption=text("decomposition", lang)))
    return section(text("estimates", lang), *parts, anchor="estimates")


def _figures(
    estimates: pd.DataFrame, decomposition: pd.DataFrame, lang: str, figures: _Figures
) -> str:
    from spillover.report.fonts import label

    def drawing():  # lazy: matplotlib, only when a figure is drawn
        from spillover.report import figures

        return figures

    parts = [
        figures.add(
            ["decomposition", lang, decomposition],
            lambda: drawing().decomposition_figure(decomposition, lang=lang),
            text("decomposition", lang),
        ),
        figures.add(
            ["coefficients", lang, estimates],
            lambda: drawing().coefficient_figure(estimates, lang=lang),
            label("coefficients_title", lang),
        ),
    ]
    radii = estimates.groupby("grid", sort=False)["radius_km"].nunique()
    for grid in radii[radii > 1].index:
        parts.append(
            figures.add(
                ["radius", lang, grid, estimates[estimates["grid"] == grid]],
                lambda grid=grid: drawing().radius_figure(estimates, grid=grid, lang=lang),
                f"{label('radius_title', lang)}: {grid}",
            )
        )
    return section(text("figures", lang), *parts, anchor="figures")


def _maps(folder: Path, manifest: dict, lang: str, figures: _Figures) -> str:
    import importlib.util

    from spillover.report.fonts import label

    if importlib.util.find_spec("geopandas") is None:  # the optional `geo` extra
        return section(
            text("maps", lang), f"<p>{_e(text('maps_missing', lang))}</p>", anchor="maps"
        )
    from spillover.storage import read_dataset

    minimum = min_establishments(manifest)
    year = max(manifest["years"])
    radius = float(manifest["radii_km"][0])
    plants = read_dataset(folder / "plants", year=year)
    exposure = read_dataset(folder / "exposure", year=year)
    exposure = exposure[exposure["radius_km"] == radius]
    note = text("map_note", lang, year=year, radius=radius, minimum=minimum)

    def density():
        from spillover.report import maps  # lazy: geopandas, only when a map is drawn

        return maps.density_map(
            plants, radius_km=radius, min_establishments=minimum, internal=False, lang=lang
        )

    def exposed():
        from spillover.report import maps

        return maps.exposure_map(
            exposure, plants, min_establishments=minimum, internal=False, lang=lang
        )

    shown = [lang, minimum, radius, plants.drop(columns="geometry", errors="ignore")]
    return section(
        text("maps", lang),
        f"<p>{_e(note)}</p>",
        figures.add(["density", *shown], density, label("density_title", lang)),
        figures.add(["exposure", *shown, exposure], exposed, label("exposure_title", lang)),
        anchor="maps",
    )


def min_establishments(manifest: dict) -> int:
    """The publication's ``disclosure.min_establishments``, from the config it names.

    The config must still give the rule the manifest records (``disclosure.rule``).

    Raises
    ------
    ReportError
        The config is gone, or its disclosure rule is not the one of the publication.
    """
    from spillover.config import load_config
    from spillover.disclosure import describe_rule

    path = manifest["config_path"]
    if not Path(path).is_file():
        raise ReportError(f"the config of this publication, {path}, is gone")
    rule = load_config(path).disclosure
    if describe_rule(rule) != manifest["disclosure"]["rule"]:
        raise ReportError(
            f"the disclosure rule of {path} is not the one this publication applied "
            "(manifest.json, disclosure.rule): restore the config to report it"
        )
    return rule.min_establishments


def public_summary(public: pd.DataFrame) -> list[tuple]:
    """Per radius and year: neighbourhoods, exports published / χ primary / χ secondary, sum.

    The sum is over published values only, a number that follows from the released table.
    """
    rows = []
    for (radius, year), cells in public.groupby(["radius_km", "year"], sort=True):
        status = cells["suppression_exports"]
        rows.append(
            (
                f"{float(radius):g}",
                str(year),
                len(cells),
                int((status == "").sum()),
                int((status == "primary").sum()),
                int((status == "secondary").sum()),
                float(cells["exports"].sum(skipna=True)),
            )
        )
    return rows


def _public(public: pd.DataFrame, lang: str) -> str:
    keys = (
        "radius",
        "year",
        "neighbourhoods",
        "published",
        "suppressed_primary",
        "suppressed_secondary",
        "sum_exports",
    )
    table = html_table([text(k, lang) for k in keys], public_summary(public))
    return section(
        text("public", lang), f"<p>{_e(text('public_note', lang))}</p>", table, anchor="public"
    )


_QUOTED = re.compile(r"'[^']*'")
_TAIL = re.compile(r"[;,]?\s*(?:for value|first seen at)\b.*$")
_NUMBER = re.compile(r"(?<![\w(,.\-])-?\d[\d.,]*(?![\w)])")


def reason_kind(reason: str) -> str:
    """A quarantine reason without the row's values: what was wrong, not what it said.

    >>> reason_kind("check in_range(0, 100) failed for value 150.0")
    'check in_range(0, 100) failed'
    >>> reason_kind("cannot parse '約500' as float")
    "cannot parse '…' as float"
    >>> reason_kind("year column says 2011 but the file is for year 2014")
    'year column says … but the file is for year …'
    """
    return _NUMBER.sub("…", _QUOTED.sub("'…'", _TAIL.sub("", reason)))


def quarantine_counts(quarantine: pd.DataFrame) -> pd.DataFrame:
    """Rows by stage, table, column and :func:`reason_kind` (counts only), largest first."""
    kinds = quarantine.assign(reason=quarantine["reason"].map(reason_kind))
    keys = ["stage", "table", "column", "reason"]
    counts = kinds.groupby(keys, sort=True).size().rename("rows").reset_index()
    return counts.sort_values(["stage", "rows"], ascending=[True, False], kind="stable")


def _quarantine(quarantine: pd.DataFrame, lang: str) -> str:
    if quarantine.empty:
        return section(
            text("quarantine", lang),
            f"<p>{_e(text('no_quarantine', lang))}</p>",
            anchor="quarantine",
        )
    counts = quarantine_counts(quarantine)
    headers = [text(k, lang) for k in ("stage", "table", "column", "reason", "rows")]
    rows = [(*row[:4], int(row[4])) for row in counts.itertuples(index=False)]
    return section(
        text("quarantine", lang),
        f"<p>{_e(text('quarantine_note', lang))}</p>",
        html_table(headers, rows),
        anchor="quarantine",
    )


def _disclosure(summary: dict, lang: str) -> str:
    facts = [
        (text("rule", lang), summary["rule"]),
        (text("applied_to", lang), ", ".join(summary["applied_to"])),
        (text("not_for_release", lang), ", ".join(summary["not_for_release"])),
        (text("secondary_rounds", lang), str(summary["secondary_rounds"])),
    ]
    checked = [
        (name, what if isinstance(what, str) else ", ".join(what))
        for name, what in summary["checked_against"].items()
    ]
    reasons = list(dict.fromkeys(r for counts in summary["values"].values() for r in counts))
    values = [
        (column, *(int(counts.get(r, 0)) for r in reasons))
        for column, counts in summary["values"].items()
    ]
    cells = [(name, int(count)) for name, count in summary["cells"].items()]
    return section(
        text("disclosure", lang),
        html_table(["", ""], facts),
        html_table(["", text("checked_against", lang)], checked),
        html_table(
            [text("column", lang), *reasons], values, caption=text("values_by_reason", lang)
        ),
        html_table([text("cells", lang), text("count", lang)], cells),
        anchor="disclosure",
    )
