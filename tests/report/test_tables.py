"""Regression tables as Markdown, HTML and LaTeX, on a hand-made estimates frame."""

import re

import pandas as pd

from spillover.report.tables import regression_table, to_html, to_latex, to_markdown


def _cells():
    common = {"nobs": 1234, "n_entities": 85, "ssc": "fixest", "n_clusters": 85}
    rows = [
        {"spec_id": "base_5", "term": "opr", "coef": 24.1054, "se": 3.9761, "p": 1e-9},
        {"spec_id": "base_5", "term": "shipments", "coef": 0.0114, "se": 0.0091, "p": 0.21},
        {"spec_id": "b&c", "term": "opr", "coef": -2.5, "se": 1.25, "p": 0.04},
    ]
    frame = pd.DataFrame([{**common, **row} for row in rows])
    frame["fe"] = ["entity", "entity", "entity+year"]
    frame["vcov"] = ["cluster(entity)", "cluster(entity)", "cluster(firm)"]
    return regression_table(frame, ["base_5", "b&c"])


def test_markdown_rows_labels_and_escapes():
    text = to_markdown(_cells(), lang="en", caption="Table 1")
    lines = text.splitlines()
    assert lines[0] == "**Table 1**"
    assert lines[2] == r"| | base\_5 | b&c |"
    assert lines[3] == "|:--|--:|--:|"
    assert lines[4] == r"| Overseas production ratio | 24.105\*\*\* | -2.500\*\* |"
    assert lines[5] == "|  | (3.976) | (1.250) |"
    assert "| N | 1,234 | 1,234 |" in lines
    assert "| Fixed effects | entity | entity+year |" in lines
    assert lines[-1].startswith("Standard errors in parentheses.")
    assert "| 海外生産比率 |" in to_markdown(_cells())  # Japanese by default


def test_html_is_one_escaped_table_with_classes():
    text = to_html(_cells(), lang="en", caption="<b>A</b> & B")
    assert text.startswith('<table class="spillover-table regression" lang="en">')
    assert text.endswith("</table>")
    assert "<caption>&lt;b&gt;A&lt;/b&gt; &amp; B</caption>" in text
    assert '<th scope="col">b&amp;c</th>' in text
    assert "<b>" not in text and "b&c" not in text
    assert len(re.findall(r'<tr class="coef">', text)) == 2
    assert len(re.findall(r'<tr class="se">', text)) == 2
    assert len(re.findall(r'<tr class="footer">', text)) == 6
    row = re.search(
        r'<tr class="coef"><th scope="row">Overseas production ratio</th>(.*?)</tr>', text
    )
    assert row.group(1) == "<td>24.105***</td><td>-2.500**</td>"
    assert '<tfoot><tr><td colspan="3">Standard errors' in text and "p&lt;0.01" in text


def test_latex_booktabs_and_escapes():
    text = to_latex(_cells(), caption="50% of_x", label="tab:reg")
    lines = text.splitlines()
    assert lines[:4] == [
        r"\begin{table}[htbp]",
        r"\centering",
        r"\caption{50\% of\_x}",
        r"\label{tab:reg}",
    ]
    assert lines[4] == r"\begin{tabular}{lrr}"
    assert lines[5:8] == [r"\toprule", r" & base\_5 & b\&c \\", r"\midrule"]
    assert lines[8] == r"Overseas production ratio & 24.105*** & -2.500** \\"
    assert lines.count(r"\midrule") == 2 and lines.count(r"\bottomrule") == 1
    assert r"N & 1,234 & 1,234 \\" in lines
    assert r"p\textless{}0.01" in text
    assert lines[-2:] == [r"\end{tabular}", r"\end{table}"]
    bare = to_latex(_cells())
    assert bare.startswith(r"\begin{tabular}") and r"\begin{table}" not in bare
