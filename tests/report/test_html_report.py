"""The run report and the regional briefs: content, self-containment, what may appear on them."""

import json
import re

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from spillover.cli import app
from spillover.report import html as report_html
from spillover.report.brief import Region, build_brief, region_of, region_tables
from spillover.report.cache import RenderCache
from spillover.report.html import (
    ReportError,
    build_report,
    html_table,
    public_summary,
    publication_folder,
    quarantine_counts,
    reason_kind,
    render_report,
    text,
)
from spillover.storage import read_dataset


@pytest.mark.parametrize(
    ("reason", "kind"),
    [
        ("check in_range(0, 100) failed for value 150.0", "check in_range(0, 100) failed"),
        (
            "check greater_than_or_equal_to(0) failed for value -50.0",
            "check greater_than_or_equal_to(0) failed",
        ),
        ("cannot parse '約500' as float", "cannot parse '…' as float"),
        (
            "year column says 2011 but the file is for year 2014",
            "year column says … but the file is for year …",
        ),
        ("duplicate key; first seen at /secure/kogyo_2014.csv:3", "duplicate key"),
        ("missing value in a required column", "missing value in a required column"),
    ],
)
def test_reason_kind_drops_the_rows_values(reason, kind):
    assert reason_kind(reason) == kind


def test_quarantine_counts_are_counts_by_kind_without_row_content():
    quarantine = pd.DataFrame(
        {
            "stage": ["ingest", "ingest", "ingest", "geocode"],
            "table": ["establishments"] * 4,
            "column": ["shipments", "shipments", "shipments", "address"],
            "reason": [
                "cannot parse '約500' as float",
                "cannot parse '千二百' as float",
                "check greater_than_or_equal_to(0) failed for value -50.0",
                "unplaced",
            ],
            "raw": ['{"address": "愛知県豊田市元町1"}'] * 4,
        }
    )
    counts = quarantine_counts(quarantine)
    assert counts.to_dict("list") == {
        "stage": ["geocode", "ingest", "ingest"],
        "table": ["establishments"] * 3,
        "column": ["address", "shipments", "shipments"],
        "reason": [
            "unplaced",
            "cannot parse '…' as float",
            "check greater_than_or_equal_to(0) failed",
        ],
        "rows": [1, 2, 1],
    }
    shown = counts.to_string()
    assert "約500" not in shown and "-50" not in shown and "豊田" not in shown


def test_public_summary_adds_published_values_only_and_counts_chi():
    public = pd.DataFrame(
        {
            "radius_km": [5.0, 5.0, 5.0, 10.0],
            "year": [2019, 2019, 2019, 2019],
            "exports": [10.0, np.nan, 2.5, np.nan],
            "suppression_exports": ["", "primary", "", "secondary"],
        }
    )
    assert public_summary(public) == [
        ("5", "2019", 3, 2, 1, 0, 12.5),
        ("10", "2019", 1, 0, 0, 1, 0.0),
    ]


def test_html_table_escapes_and_numbers():
    table = html_table(["<b>", "n"], [("<script>x</script>", 1234567), ("a&b", float("nan"))])
    assert "<script>" not in table and "&lt;script&gt;" in table and "&lt;b&gt;" in table
    assert '<td class="num">1,234,567</td>' in table
    assert '<td class="num">χ</td>' in table  # a suppressed (NaN) value shows as χ
    assert "<thead>" not in html_table(["", ""], [("k", "v")])


def test_publication_folder_and_language_errors(tmp_path):
    with pytest.raises(ReportError, match="no published manifest.json"):
        publication_folder(tmp_path)
    with pytest.raises(ReportError, match="lang must be"):
        text("title", "fr")


@pytest.mark.parametrize(
    ("given", "region"),
    [
        ("愛知県", Region("pref_code", 23, "愛知県")),
        (23, Region("pref_code", 23, "愛知県")),
        ("01", Region("pref_code", 1, "北海道")),
        ("23211", Region("city_code", "23211", "愛知県 23211")),
    ],
)
def test_region_of(given, region):
    assert region_of(given) == region


@pytest.mark.parametrize("given", ["48", "0", "愛知", "2321", "Aichi"])
def test_region_of_refuses_anything_else(given):
    with pytest.raises(ReportError, match="neither a prefecture name"):
        region_of(given)


# --- on the demo publication -------------------------------------------------------------


@pytest.fixture(scope="module")
def report_ja(demo_run):
    _, _, output_root = demo_run
    path = build_report(output_root)
    return output_root, path, path.read_text(encoding="utf-8")


@pytest.mark.slow
def test_report_goes_into_the_current_version_folder(report_ja):
    output_root, path, _ = report_ja
    assert path == (output_root / "current").resolve() / "report.html"
    assert (output_root / "current" / "report.html").is_file()


@pytest.mark.slow
def test_report_is_self_contained(report_ja):
    _, _, page = report_ja
    assert "<script" not in page
    # every src and url() is a data: URI; no link to anything outside the file
    assert re.findall(r'src="([^"]*)"', page)
    assert all(
        src.startswith("data:image/png;base64,") for src in re.findall(r'src="([^"]*)"', page)
    )
    assert all(url.startswith('"data:') for url in re.findall(r"url\(([^)]{0,10})", page))
    assert "href=" not in page and "http://" not in page and "https://" not in page


@pytest.mark.slow
def test_kept_figures_make_the_same_page_and_only_changed_ones_are_drawn(demo_run, tmp_path):
    """Kept pieces make the page that drawing everything makes.

    A changed estimate redraws its figures only; pruning keeps the last report's pieces.
    """
    _, _, output_root = demo_run
    folder = publication_folder(output_root)
    drawn = render_report(folder)  # no cache: everything drawn
    first = RenderCache(tmp_path / "cache")
    assert render_report(folder, cache=first) == drawn
    assert first.reused == 0 and first.drawn == len(list((tmp_path / "cache").iterdir()))
    again = RenderCache(tmp_path / "cache")
    assert render_report(folder, cache=again) == drawn
    assert again.drawn == 0 and again.reused == first.drawn

    estimates = read_dataset(folder / "estimates")
    decomposition = read_dataset(folder / "decomposition")
    changed = estimates.copy()
    no_radius_figure = changed.groupby("grid")["radius_km"].transform("nunique") == 1
    changed.loc[no_radius_figure.idxmax(), "coef"] += 1.0
    after = RenderCache(tmp_path / "cache")
    figures = report_html._Figures(after)
    figures.fill([report_html._figures(changed, decomposition, "ja", figures)])
    assert after.drawn == 1  # the comparison figure; decomposition and radius figures kept
    kept = set((tmp_path / "cache").iterdir())
    after.prune()
    assert set((tmp_path / "cache").iterdir()) == {tmp_path / "cache" / n for n in after.used}
    assert len(kept) > len(after.used)


@pytest.mark.slow
def test_report_shows_the_manifest(report_ja, demo_run):
    _, _, output_root = demo_run
    _, _, page = report_ja
    manifest = json.loads((output_root / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["run_id"] in page and manifest["config_sha256"] in page
    for source in manifest["inputs"]:
        assert source["sha256"] in page
    for name, stage in manifest["stages"].items():
        assert f'<td>{name}</td><td class="num">{stage["rows_in"]:,}</td>' in page
    for section in (
        "summary",
        "accounting",
        "sources",
        "estimates",
        "figures",
        "maps",
        "public",
        "quarantine",
        "disclosure",
    ):
        assert f'<section id="{section}">' in page
    assert page.count("<img ") >= 6  # accounting, decomposition, coefficients, radius, 2 maps
    assert "公表可能な結果" in page and "実行レポート" in page


@pytest.mark.slow
def test_report_shows_no_confidential_row(report_ja, demo_run):
    _, _, output_root = demo_run
    _, _, page = report_ja
    plants = read_dataset(output_root / "plants")
    quarantine = read_dataset(output_root / "quarantine")
    assert not re.search(r"E\d{7}", page)  # establishment and centre ids
    for address in plants["address"].dropna().sample(200, random_state=1):
        assert address not in page
    for raw in quarantine["raw"]:  # ids, addresses and bad values of quarantined rows
        for value in json.loads(raw).values():
            if isinstance(value, str) and not value.isdigit() and len(value) > 3:
                assert value not in page
    assert "約500" not in page and "2613932" not in page


@pytest.mark.slow
def test_report_public_sums_equal_the_published_table(report_ja, demo_run):
    _, _, output_root = demo_run
    _, _, page = report_ja
    public = read_dataset(output_root / "public" / "neighbourhoods")
    latest = public[(public["radius_km"] == 5.0) & (public["year"] == public["year"].max())]
    total = latest["exports"].sum()
    assert f'<td class="num">{total:,.1f}</td>' in page


@pytest.mark.slow
def test_report_cli_english(demo_run, tmp_path):
    _, _, output_root = demo_run
    out = tmp_path / "report-en.html"
    result = CliRunner().invoke(
        app, ["report", "--output-root", str(output_root), "--out", str(out), "--lang", "en"]
    )
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert "Run report" in page and "Row accounting by stage" in page
    assert "実行レポート" not in page


@pytest.mark.slow
def test_brief_numbers_are_counts_and_sums_of_published_values(demo_run):
    _, _, output_root = demo_run
    folder = publication_folder(output_root)
    tables = region_tables(folder, region_of("愛知県"))
    plants = read_dataset(output_root / "plants")
    aichi = plants[plants["pref_code"] == 23]
    counts = tables["counts"].set_index("year")
    assert counts["establishments"].to_dict() == aichi.groupby("year").size().to_dict()
    cells = tables["neighbourhoods"]
    assert (cells["published"] + cells["chi"] == cells["n"]).all()
    centres = aichi[aichi["is_centre"]].groupby("year").size()
    assert (cells["n"].to_numpy() == centres.loc[cells["year"]].to_numpy()).all()
    # where nothing is suppressed, the sum is the true (confidential) total of the region
    truth = read_dataset(output_root / "neighbourhoods").merge(
        aichi.loc[aichi["is_centre"], ["establishment_id", "year"]].rename(
            columns={"establishment_id": "centre_id"}
        ),
        on=["centre_id", "year"],
    )
    true_sums = truth.groupby(["radius_km", "year"])["exports"].sum()
    complete = cells[cells["chi"] == 0]
    assert len(complete) > 0
    for row in complete.itertuples():
        assert row.sum_exports == pytest.approx(true_sums[(row.radius_km, row.year)])
    # with χ cells, less than the truth: suppressed values are never added in
    partial = cells[cells["chi"] > 0]
    for row in partial.itertuples():
        assert row.sum_exports < true_sums[(row.radius_km, row.year)]
    exposure = tables["exposure"]
    assert (exposure["exposed"] <= exposure["establishments"]).all()


@pytest.mark.slow
def test_brief_page(demo_run, tmp_path):
    _, _, output_root = demo_run
    path = build_brief(output_root, "23", tmp_path / "aichi.html")
    page = path.read_text(encoding="utf-8")
    assert "愛知県 地域概要" in page
    assert "neighbourhood_no" in page  # the note says numbers are not tied to the region
    assert not re.search(r"E\d{7}", page) and "<script" not in page
    assert page.count("<img ") == 3  # trend, density map, exposure map
    result = CliRunner().invoke(
        app, ["report", "--output-root", str(output_root), "--region", "沖縄"]
    )
    assert result.exit_code == 1 and "neither a prefecture name" in result.output
