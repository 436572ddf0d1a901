"""Analyst access on a real demo publication: readers, dictionary, GeoParquet, marts, export."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import geopandas as gpd
import numpy as np
import pandas as pd
import polars as pl
import pyarrow.parquet as pq
import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from spillover.cli import app
from spillover.datasets import DATASETS, dataset
from spillover.export import ExportError, export_dataset
from spillover.pipeline import read_output
from spillover.sql import connect, query_file

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]


def _for_analysts() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    return readme.split("## For analysts", 1)[1].split("\n## ", 1)[0]


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", _for_analysts(), flags=re.S)


def test_every_dataset_reads_with_pandas_polars_and_duckdb(demo_run):
    _, _, root = demo_run
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    views = connect(root)
    for d in DATASETS:
        rows = manifest["datasets"][d.name]["rows"]
        frame = pd.read_parquet(root / d.name)
        lazy = pl.read_parquet(root / d.name)
        relation = duckdb.sql(f"SELECT * FROM '{root / d.name}/**/*.parquet'")
        [(in_view,)] = views.execute(f"SELECT count(*) FROM {d.view}").fetchall()
        assert len(frame) == lazy.height == relation.shape[0] == in_view == rows, d.name
        assert list(frame.columns) == lazy.columns == relation.columns == d.column_names
        if "radius_km" in d.column_names:
            assert frame["radius_km"].dtype == "float64" and lazy["radius_km"].dtype == pl.Float64
            assert dict(zip(relation.columns, relation.types, strict=True))["radius_km"] == "DOUBLE"


def test_written_columns_and_types_equal_the_dictionary(demo_run):
    _, _, root = demo_run
    for d in DATASETS:
        for path in (root / d.name).rglob("*.parquet"):
            schema = pq.read_schema(path)
            assert [f.name for f in schema] == d.column_names, path
            units = [f.metadata[b"unit"].decode() for f in schema]
            assert units == [c.unit for c in d.columns], path


def test_plants_and_neighbourhoods_are_geoparquet(demo_run):
    _, _, root = demo_run
    plants = gpd.read_parquet(root / "plants")
    assert (plants.geom_type == "Point").all()
    np.testing.assert_array_equal(plants.geometry.x, plants["lon"])
    np.testing.assert_array_equal(plants.geometry.y, plants["lat"])
    circles = gpd.read_parquet(root / "neighbourhoods")
    assert (circles.geom_type == "Polygon").all() and circles.crs.to_string() == "OGC:CRS84"
    ring = np.asarray(circles.geometry.iloc[0].exterior.coords)
    centre = circles.iloc[0]
    latitude = np.radians(ring[:, 1])
    h = (
        np.sin((latitude - np.radians(centre["lat"])) / 2) ** 2
        + np.cos(latitude)
        * np.cos(np.radians(centre["lat"]))
        * np.sin(np.radians(ring[:, 0] - centre["lon"]) / 2) ** 2
    )
    np.testing.assert_allclose(2 * 6371.0088 * np.arcsin(np.sqrt(h)), centre["radius_km"])
    geo = json.loads(
        pq.read_schema(next((root / "neighbourhoods").rglob("*.parquet"))).metadata[b"geo"]
    )
    assert geo["version"] == "1.1.0" and geo["columns"]["geometry"]["encoding"] == "WKB"
    assert isinstance(pd.read_parquet(root / "plants")["geometry"].iloc[0], bytes)
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["datasets"]["plants"]["class"] == "confidential"
    assert manifest["datasets"]["neighbourhoods"]["class"] == "confidential"


def test_readme_queries_run(demo_run):
    _, _, root = demo_run
    connection = connect(root)
    queries = _blocks("sql")
    assert len(queries) == 3
    results = [connection.execute(query).df() for query in queries]
    assert all(len(result) for result in results)
    estimates = read_output(root, "estimates")
    assert (
        results[0]["spec_id"].tolist()
        == estimates.loc[estimates["term"] == "opr", "spec_id"].tolist()
    )


def _cli() -> str:
    """The `duckdb` shell of the dev extra (duckdb-cli), next to this Python or on PATH."""
    found = shutil.which("duckdb", path=str(Path(sys.executable).parent)) or shutil.which("duckdb")
    assert found is not None, "the DuckDB CLI is missing: it is in the dev extra (duckdb-cli)"
    return found


def test_readme_duckdb_cli_commands_work(demo_run):
    _, _, root = demo_run
    cli = _cli()
    shell = [
        line
        for block in _blocks("bash")
        for line in block.splitlines()
        if line.startswith("duckdb")
    ]
    assert len(shell) == 2
    interactive, mart = (shlex.split(line.replace("demo/output", str(root))) for line in shell)
    query = "SELECT count(*) FROM estimates;"
    done = subprocess.run(
        [cli, *interactive[1:], "-csv", "-noheader"],
        input=query,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == str(len(read_output(root, "estimates")))
    done = subprocess.run(
        [cli, "-csv", *mart[1:]], cwd=REPO, capture_output=True, text=True, timeout=60, check=True
    )
    expected = query_file(connect(root), "mart_public_neighbourhood_growth")
    assert done.stdout.count("\n") == len(expected) + 1 and not done.stderr


def test_marts_answer_the_first_questions(demo_run):
    _, _, root = demo_run
    connection = connect(root)
    public = read_output(root, "public/neighbourhoods")
    growth = query_file(connection, "mart_public_neighbourhood_growth", radius_km=5.0)
    five = public[public["radius_km"] == 5.0].pivot(
        index="neighbourhood_no", columns="year", values="exports"
    )
    change = (five[five.columns.max()] - five[five.columns.min()]).dropna()
    top = change.sort_values(ascending=False, kind="stable").head(10)
    assert growth["neighbourhood_no"].tolist() == top.index.tolist()
    assert growth["growth_million_yen"].to_numpy() == pytest.approx(top.round(1).to_numpy())
    secret = query_file(connection, "mart_neighbourhood_growth", radius_km=5.0, top=3)
    assert secret["rank"].tolist() == [1, 2, 3] and secret["centre_id"].notna().all()
    plants = read_output(root, "plants")
    by_prefecture = query_file(connection, "mart_exports_by_prefecture")
    assert by_prefecture["establishments"].sum() == len(plants)
    assert by_prefecture["exports_million_yen"].sum() == pytest.approx(
        plants["exports"].sum(), rel=1e-6
    )
    assert by_prefecture.loc[by_prefecture["pref_code"] == 23, "pref_name"].eq("愛知県").all()
    reasons = query_file(connection, "mart_quarantine_summary")
    assert reasons["rows"].sum() == len(read_output(root, "quarantine"))
    totals = query_file(connection, "mart_neighbourhood_totals", radius_km=5.0)
    panel = read_output(root, "panel")
    expected = panel[panel["radius_km"] == 5.0].groupby("year")["exports"].sum().round(1)
    assert totals["exports_million_yen"].to_numpy() == pytest.approx(expected.to_numpy())


def test_export_xlsx_has_japanese_headers_with_units(demo_run, tmp_path):
    _, _, root = demo_run
    done = export_dataset(root, "public/neighbourhoods", "xlsx", tmp_path / "n.xlsx")
    public = read_output(root, "public/neighbourhoods")
    workbook = load_workbook(done.path, read_only=True)
    rows = list(workbook["data"].values)
    entry = dataset("public/neighbourhoods")
    assert rows[0] == tuple(c.header_ja for c in entry.columns)
    assert "輸出額（百万円）" in rows[0] and len(rows) == len(public) + 1
    exports = [row[rows[0].index("輸出額（百万円）")] for row in rows[1:]]
    np.testing.assert_allclose(  # Excel keeps 15 significant digits
        np.array([np.nan if v is None else v for v in exports], dtype=float),
        public["exports"],
        rtol=1e-14,
    )
    about = list(workbook["列の説明"].values)
    assert about[1][:2] == ("近隣地域番号", "neighbourhood_no")


def test_export_csv_and_parquet_round_trip(demo_run, tmp_path):
    _, _, root = demo_run
    estimates = read_output(root, "estimates")
    csv = export_dataset(root, "estimates", "csv", tmp_path / "e.csv").path
    assert csv.read_bytes().startswith(b"\xef\xbb\xbfspec_id,term,")
    again = pd.read_csv(csv, encoding="utf-8-sig")
    assert again["coef"].to_numpy() == pytest.approx(estimates["coef"].to_numpy(), rel=1e-15)
    single = export_dataset(
        root, "neighbourhoods", "parquet", tmp_path / "n.parquet", confidential=True
    ).path
    circles = gpd.read_parquet(single)
    assert len(circles) == len(read_output(root, "neighbourhoods"))
    geo = json.loads(pq.read_schema(single).metadata[b"geo"])  # the bbox of every row's circle
    assert geo["columns"]["geometry"]["bbox"] == list(circles.total_bounds)


def test_export_refuses_with_clear_messages(demo_run, tmp_path):
    _, _, root = demo_run
    with pytest.raises(ExportError, match="plants is confidential: it may not leave"):
        export_dataset(root, "plants", "csv", tmp_path / "p.csv")
    (tmp_path / "e.csv").write_text("mine")
    with pytest.raises(ExportError, match="exists; add --force"):
        export_dataset(root, "estimates", "csv", tmp_path / "e.csv")
    assert (tmp_path / "e.csv").read_text() == "mine"
    export_dataset(root, "estimates", "csv", tmp_path / "e.csv", force=True)
    assert (tmp_path / "e.csv").read_text(encoding="utf-8-sig").startswith("spec_id")
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "export",
            "nope",
            "--format",
            "csv",
            "--out",
            str(tmp_path / "x.csv"),
            "--output-root",
            str(root),
        ],
    )
    assert result.exit_code != 0 and "the datasets are: plants (confidential)" in result.output
    result = runner.invoke(
        app,
        [
            "export",
            "decomposition",
            "--format",
            "xlsx",
            "--out",
            str(tmp_path / "d.xlsx"),
            "--output-root",
            str(root),
        ],
    )
    assert result.exit_code == 0 and "decomposition:" in result.output
