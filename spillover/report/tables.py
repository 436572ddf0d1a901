"""Regression tables: several specs side by side, coefficients over their standard errors.

Rows are the terms (coefficient with significance marks, standard error in parentheses
below it) and then N, entities, clusters, fixed effects, covariance and small-sample rule;
columns are spec ids. Numbers are never truncated: wide tables are split into blocks of
columns (:func:`column_blocks`) rather than cut.

The cells of :func:`regression_table` are written as Markdown (:func:`to_markdown`), an HTML
fragment (:func:`to_html`, styled by :data:`TABLE_CSS` if the page wants) and LaTeX with
booktabs rules (:func:`to_latex`); row labels in Japanese or English (:mod:`.fonts`).
"""

from __future__ import annotations

import html
import math
import re

import pandas as pd

from spillover.report import fonts

#: Significance marks and their p-value thresholds (two-sided).
STARS = ((0.01, "***"), (0.05, "**"), (0.1, "*"))
FOOTER = ("N", "Entities", "Clusters", "Fixed effects", "Covariance", "Small-sample rule")


def _number(value: float, digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if value != 0 and (abs(value) >= 1e6 or abs(value) < 10**-digits):
        return f"{value:.{digits}g}"
    return f"{value:,.{digits}f}"


def short_vcov(label: str) -> str:
    """A covariance label for narrow tables: ``conley(20 km, bartlett, L=7)``."""
    for long, short in (
        ("cutoff_km=", ""),
        ("kernel=", ""),
        ("serial_lags=", "L="),
        ("weights=", ""),
        ("cluster=", ""),
    ):
        label = label.replace(long, short)
    return re.sub(r"\(([\d.]+),", r"(\1 km,", label) if label.startswith("conley") else label


def _stars(p: float) -> str:
    return next((mark for threshold, mark in STARS if p < threshold), "")


def regression_table(estimates: pd.DataFrame, spec_ids: list[str], digits: int = 3) -> pd.DataFrame:
    """Cells as strings: index = row labels, one column per spec id (in the given order).

    ``estimates`` has the columns of the ``estimates`` dataset (spec_id, term, coef, se, p,
    nobs, n_entities, n_clusters, fe, vcov, ssc).
    """
    rows = estimates[estimates["spec_id"].isin(spec_ids)]
    by_spec = {spec_id: rows[rows["spec_id"] == spec_id] for spec_id in spec_ids}
    terms = list(dict.fromkeys(t for fit in by_spec.values() for t in fit["term"]))
    labels = [label for term in terms for label in (term, f"{term} (se)")] + list(FOOTER)
    table = pd.DataFrame("", index=labels, columns=spec_ids)
    for spec_id, fit in by_spec.items():
        if fit.empty:
            continue
        for row in fit.itertuples():
            table.at[row.term, spec_id] = _number(row.coef, digits) + _stars(row.p)
            table.at[f"{row.term} (se)", spec_id] = f"({_number(row.se, digits)})"
        first = fit.iloc[0]
        clusters = first["n_clusters"]
        table.loc[list(FOOTER), spec_id] = [
            f"{int(first['nobs']):,}",
            f"{int(first['n_entities']):,}",
            "" if pd.isna(clusters) else f"{int(clusters):,}",
            first["fe"],
            short_vcov(first["vcov"]),
            first["ssc"],
        ]
    return table.rename(index={f"{t} (se)": "" for t in terms})


def column_blocks(spec_ids: list[str], width: int, label_width: int, column_width: int) -> list:
    """Split ``spec_ids`` into blocks whose table fits ``width`` characters."""
    per_block = max(1, (width - label_width) // column_width)
    return [spec_ids[i : i + per_block] for i in range(0, len(spec_ids), per_block)]


#: A short stylesheet for :func:`to_html` tables (the page embeds it; the table needs none).
TABLE_CSS = """
table.spillover-table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
table.spillover-table caption { caption-side: top; font-weight: bold; text-align: left; }
table.spillover-table th, table.spillover-table td { padding: 0.1em 0.8em; text-align: right; }
table.spillover-table th[scope=row] { text-align: left; font-weight: normal; }
table.spillover-table thead th { border-top: 2px solid; border-bottom: 1px solid; }
table.spillover-table tbody.footer tr:first-child > * { border-top: 1px solid; }
table.spillover-table tfoot td { border-top: 2px solid; text-align: left; font-size: 0.85em; }
"""


def _rows(cells: pd.DataFrame, lang: str) -> tuple[list, list]:
    """(term rows, footer rows), each a list of (kind, row label, cells as strings)."""
    terms, footer = [], []
    for name, values in zip(cells.index, cells.to_numpy().tolist(), strict=True):
        if name in FOOTER:
            footer.append(("footer", fonts.label(name, lang), values))
        elif name == "":
            terms.append(("se", "", values))
        else:
            terms.append(("coef", fonts.term_label(name, lang), values))
    return terms, footer


def _note(lang: str) -> str:
    marks = ", ".join(f"{mark} p<{threshold:g}" for threshold, mark in STARS)
    space = "" if lang == "ja" else " "  # Japanese runs on after 。
    return f"{fonts.label('se_note', lang)}{space}{marks}"


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|])")


def _md(text: str) -> str:
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def to_markdown(cells: pd.DataFrame, *, lang: str = "ja", caption: str | None = None) -> str:
    """A GitHub-flavoured Markdown table of :func:`regression_table` cells.

    Parameters
    ----------
    cells : pandas.DataFrame
        The output of :func:`regression_table` (row labels as index, one column per spec).
    lang : {"ja", "en"}
        Language of the row labels (terms, footer) and of the note under the table.
    caption : str, optional
        A bold line above the table.

    Returns
    -------
    str
        Markdown; Markdown's special characters in cells (``*`` of the significance marks,
        ``_`` and ``|`` of spec ids) are escaped with a backslash.
    """
    terms, footer = _rows(cells, lang)
    lines = [f"**{_md(caption)}**", ""] if caption else []
    lines.append("| | " + " | ".join(_md(str(c)) for c in cells.columns) + " |")
    lines.append("|:--|" + "--:|" * len(cells.columns))
    for _kind, name, values in terms + footer:
        lines.append(f"| {_md(name)} | " + " | ".join(_md(v) for v in values) + " |")
    return "\n".join([*lines, "", _md(_note(lang)), ""])


def to_html(cells: pd.DataFrame, *, lang: str = "ja", caption: str | None = None) -> str:
    """An HTML ``<table>`` of :func:`regression_table` cells, every text escaped.

    Parameters
    ----------
    cells : pandas.DataFrame
        The output of :func:`regression_table`.
    lang : {"ja", "en"}
        Language of the row labels and of the note in ``<tfoot>``.
    caption : str, optional
        The table's ``<caption>``.

    Returns
    -------
    str
        A fragment needing no script or stylesheet: ``<table class="spillover-table
        regression">`` with ``<thead>`` (spec ids), ``<tbody class="terms">`` (rows
        ``tr.coef`` and ``tr.se``), ``<tbody class="footer">`` (N, entities, …) and
        ``<tfoot>`` (the note). :data:`TABLE_CSS` styles it.
    """
    terms, footer = _rows(cells, lang)
    esc = html.escape
    width = len(cells.columns) + 1

    def body(rows: list, css: str) -> list[str]:
        out = [f'<tbody class="{css}">']
        for kind, name, values in rows:
            tds = "".join(f"<td>{esc(v)}</td>" for v in values)
            out.append(f'<tr class="{kind}"><th scope="row">{esc(name)}</th>{tds}</tr>')
        return [*out, "</tbody>"]

    head = "".join(f'<th scope="col">{esc(str(c))}</th>' for c in cells.columns)
    return "\n".join(
        [
            f'<table class="spillover-table regression" lang="{esc(lang)}">',
            *([f"<caption>{esc(caption)}</caption>"] if caption else []),
            f'<thead><tr><th scope="col"></th>{head}</tr></thead>',
            *body(terms, "terms"),
            *body(footer, "footer"),
            f'<tfoot><tr><td colspan="{width}">{esc(_note(lang))}</td></tr></tfoot>',
            "</table>",
        ]
    )


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
}
_LATEX_PATTERN = re.compile("|".join(re.escape(c) for c in _LATEX_SPECIAL))


def _tex(text: str) -> str:
    return _LATEX_PATTERN.sub(lambda m: _LATEX_SPECIAL[m.group()], text)


def to_latex(
    cells: pd.DataFrame, *, lang: str = "en", caption: str | None = None, label: str | None = None
) -> str:
    r"""A booktabs ``tabular`` of :func:`regression_table` cells (needs ``\usepackage{booktabs}``).

    Parameters
    ----------
    cells : pandas.DataFrame
        The output of :func:`regression_table`.
    lang : {"en", "ja"}
        Language of the row labels and the note; English by default (Japanese needs a
        Japanese-capable engine such as LuaLaTeX with luatexja).
    caption, label : str, optional
        With either, the tabular is wrapped in a ``table`` float with ``\caption`` and
        ``\label`` (the label is used as given, not escaped).

    Returns
    -------
    str
        LaTeX with ``\toprule``, a ``\midrule`` under the header and above the footer rows,
        ``\bottomrule`` and the note; ``\ & % $ # _ { } ~ ^ < >`` in any text are escaped.
    """
    terms, footer = _rows(cells, lang)
    ncol = len(cells.columns)

    def row(name: str, values: list) -> str:
        return " & ".join([_tex(name), *(_tex(v) for v in values)]) + r" \\"

    lines = [
        rf"\begin{{tabular}}{{l{'r' * ncol}}}",
        r"\toprule",
        row("", [str(c) for c in cells.columns]),
        r"\midrule",
        *(row(name, values) for _kind, name, values in terms),
        r"\midrule",
        *(row(name, values) for _kind, name, values in footer),
        r"\bottomrule",
        rf"\multicolumn{{{ncol + 1}}}{{l}}{{\footnotesize {_tex(_note(lang))}}} \\",
        r"\end{tabular}",
    ]
    if caption is None and label is None:
        return "\n".join(lines) + "\n"
    head = [r"\begin{table}[htbp]", r"\centering"]
    head += [rf"\caption{{{_tex(caption)}}}"] if caption is not None else []
    head += [rf"\label{{{label}}}"] if label is not None else []
    return "\n".join([*head, *lines, r"\end{table}"]) + "\n"
