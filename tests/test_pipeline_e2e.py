"""The whole pipeline on the demo world: planted effects, row accounting, brute-force sums."""

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from spillover.demo.published import UNKNOWN_FIRMS
from spillover.pipeline import read_output
from spillover.sql import connect, query_file

pytestmark = pytest.mark.slow

EARTH_RADIUS_KM = 6371.0088


def test_planted_opr_coefficient_is_inside_its_95_ci(demo_run, truth):
    _, _, root = demo_run
    estimates = read_output(root, "estimates").set_index(["spec_id", "term"])
    baseline = estimates.loc["baseline@r5@cluster-entity"]
    for spec_id in ("baseline@r5@cluster-entity", "baseline@r5@conley20-L7"):
        for term in ("opr", "external_demand"):
            planted = truth["coefficients"][term]
            interval = estimates.loc[(spec_id, term), ["ci_low", "ci_high"]]
            assert interval["ci_low"] <= planted <= interval["ci_high"], (spec_id, term)
    # and the OPR effect is clearly there (not a wide interval that covers anything)
    assert baseline.loc["opr", "ci_low"] > 0
    assert baseline.loc["opr", "nobs"] == truth["n_centres"] * 8


def _raw_rows(path: Path) -> int:
    """Rows of a demo raw file, counted by its own layout (not by the readers)."""
    if path.suffix == ".txt":  # fixed-width: one record per line
        return len(path.read_bytes().splitlines())
    if path.suffix == ".xlsx":  # two title rows, a header, the rows (openpyxl: not our reader)
        return len(pd.read_excel(path, skiprows=2, engine="openpyxl"))
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("cp932")
    if path.name.startswith("nme_tankan"):  # quarters × the DI series (not the 業況 one)
        lines = text.splitlines()
        series = lines[1].count("海外での製商品需給")
        return series * sum(1 for line in lines if line[:4].isdigit())
    if path.name.startswith("utiwake"):  # one ratio per 業種 and year column
        lines = text.splitlines()
        header = next(line for line in lines if line.startswith("品目番号")).split(",")
        groups = {line.split(",")[1] for line in lines if line[:2].isdigit()}
        return len(groups) * sum(cell.isdigit() for cell in header)
    return len(pd.read_csv(io.StringIO(text)))


def test_every_raw_row_is_accounted_for(demo_run):
    world, workdir, root = demo_run
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    stages = manifest["stages"]
    assert set(stages) >= {"ingest", "geocode", "firms", "exports", "neighbourhoods", "exposure"}
    # row-keeping stages (aggregations, panel and publish build new tables)
    for name in ("ingest", "geocode", "firms", "exports", "estimate"):
        counts = stages[name]
        incomplete = manifest["stage_details"][name].get("rows_incomplete", 0)
        assert counts["rows_in"] == counts["rows_out"] + counts["rows_quarantined"] + incomplete, (
            name
        )
    sources = manifest["stage_details"]["ingest"]["sources"]
    raw_rows = sum(_raw_rows(Path(s["file"])) for s in sources)
    assert stages["ingest"]["rows_in"] == raw_rows
    establishments_out = sum(s["rows_out"] for s in sources if s["table"] == "establishments")
    assert stages["geocode"]["rows_in"] == establishments_out
    assert len(manifest["inputs"]) == len(sources) and all(
        len(i["sha256"]) == 64 for i in manifest["inputs"]
    )
    assert manifest["datasets"]["public/neighbourhoods"]["class"] == "disclosure-controlled"


def test_broken_rows_land_in_quarantine_with_reasons(demo_run):
    _, _, root = demo_run
    everything = read_output(root, "quarantine")
    # the firms of the 企業活動基本調査 that the crosswalk does not know, every year
    unknown = everything[everything["table"] == "firms"]
    assert len(unknown) == UNKNOWN_FIRMS * 8 and (unknown["column"] == "firm_id").all()
    assert unknown["reason"].str.match(r"no firm_crosswalk row for kigyou_katsudou id 'K8").all()
    quarantine = everything[everything["table"] != "firms"]
    assert len(quarantine) == 9
    industry = quarantine.loc[quarantine["column"] == "industry", "reason"].item()
    assert industry == (
        "code 'ABCD' is not in concordance 'jsic_revision' for 2013 "
        "(sources.establishments[kogyo_toukei].recode.industry; unmatched: keep keeps it)"
    )
    assert set(quarantine["column"]) == {
        "shipments",
        "export_share",
        "pref_code",
        "employees",
        "industry",
        "year",
        "establishment_id",
        "year,establishment_id",
    }
    assert quarantine["reason"].str.len().min() > 10
    assert quarantine["file"].str.endswith("kogyo_2014.csv").all()
    assert (quarantine["line"] > 1).all()


def _haversine(lat1, lon1, lat2, lon2):
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = (
        np.sin((p2 - p1) / 2) ** 2
        + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(a))


@pytest.mark.parametrize("year", [2012, 2015, 2019])
def test_neighbourhood_sums_equal_all_pairs_brute_force(demo_run, year):
    _, _, root = demo_run
    plants = read_output(root, "plants")
    plants = plants[plants["year"] == year]
    published = read_output(root, "neighbourhoods")
    published = published[published["year"] == year].set_index(["radius_km", "centre_id"])
    centres = plants[plants["is_centre"]]
    eligible = plants[~plants["large_firm"]]
    distance = _haversine(
        centres["lat"].to_numpy()[:, None],
        centres["lon"].to_numpy()[:, None],
        eligible["lat"].to_numpy()[None, :],
        eligible["lon"].to_numpy()[None, :],
    )
    not_self = (
        centres["establishment_id"].to_numpy()[:, None]
        != eligible["establishment_id"].to_numpy()[None, :]
    )
    for radius in (5.0, 10.0):
        inside = (distance <= radius) & not_self
        expected = pd.DataFrame(
            {
                "n_neighbours": inside.sum(axis=1),
                "shipments": inside @ eligible["shipments"].to_numpy(),
                "exports": inside @ eligible["exports"].fillna(0).to_numpy(),
                "employees": inside @ eligible["employees"].to_numpy(dtype=float),
            },
            index=centres["establishment_id"].to_numpy(),
        )
        got = published.loc[radius].loc[expected.index]
        assert got["n_neighbours"].to_numpy() == pytest.approx(expected["n_neighbours"].to_numpy())
        for column in ("shipments", "exports", "employees"):
            assert got[column].to_numpy(dtype=float) == pytest.approx(
                expected[column].to_numpy(), rel=1e-9
            )


def test_public_table_hides_small_cells_and_identifiers(demo_run):
    _, _, root = demo_run
    public = read_output(root, "public/neighbourhoods")
    small = public["n_neighbours"].between(1, 2)
    assert public.loc[small, ["shipments", "exports", "employees"]].isna().all().all()
    assert (public.loc[small, "suppression"] == "primary").all()
    assert not {"centre_id", "lat", "lon", "pref_code"} & set(public.columns)


def test_duckdb_views_read_the_outputs(demo_run):
    _, _, root = demo_run
    connection = connect(root)
    n_estimates = connection.execute("SELECT count(*) FROM estimates").fetchone()[0]
    assert n_estimates == len(read_output(root, "estimates"))
    growth = query_file(connection, "mart_neighbourhood_totals", radius_km=5.0)
    panel = read_output(root, "panel")
    expected = panel[panel["radius_km"] == 5.0].groupby("year")["exports"].sum().round(1)
    assert growth.set_index("year")["exports_million_yen"].to_numpy() == pytest.approx(
        expected.to_numpy()
    )


def test_demo_neighbourhoods_do_not_overlap_at_5_km_but_do_at_10(demo_run):
    _, _, root = demo_run
    overlap = read_output(root, "overlap").set_index(["year", "radius_km"])
    assert (overlap.xs(5.0, level="radius_km")["n_neighbours_shared"] == 0).all()
    assert (overlap.xs(10.0, level="radius_km")["n_neighbours_shared"] > 0).all()
    neighbourhoods = read_output(root, "neighbourhoods")
    memberships = neighbourhoods.groupby(["year", "radius_km"])["n_neighbours"].sum()
    assert overlap["n_memberships"].to_dict() == memberships.to_dict()


def test_plant_exposure_equals_brute_force(demo_run):
    _, _, root = demo_run
    plants = read_output(root, "plants")
    plants = plants[plants["year"] == 2016]
    firms = read_output(root, "global_firms")
    opr = firms[firms["year"] == 2016].set_index("firm_id")["opr"]
    centres = plants[plants["is_centre"]]
    exposed = plants[~plants["is_centre"] & ~plants["large_firm"]]
    distance = _haversine(
        exposed["lat"].to_numpy()[:, None],
        exposed["lon"].to_numpy()[:, None],
        centres["lat"].to_numpy()[None, :],
        centres["lon"].to_numpy()[None, :],
    )
    exposure = read_output(root, "exposure")
    exposure = exposure[(exposure["year"] == 2016) & (exposure["radius_km"] == 10.0)]
    got = exposure.set_index("establishment_id").loc[exposed["establishment_id"]]
    inside = distance <= 10.0
    assert got["n_centres"].to_numpy() == pytest.approx(inside.sum(axis=1))
    expected = inside @ centres["firm_id"].map(opr).to_numpy()
    assert got["exposure"].to_numpy() == pytest.approx(expected, rel=1e-9)
    assert len(exposure) == len(exposed)


def test_plant_family_equals_a_hand_written_within_estimator(demo_run):
    """Demean the published plant panel by establishment, solve OLS: the same coefficients.

    Also checks the sample: radius, complete rows, singletons (an establishment with one
    complete year: its own effect fits it exactly) dropped and counted, one entity per
    establishment.
    """
    _, _, root = demo_run
    estimates = read_output(root, "estimates")
    plant = estimates[estimates["spec_id"] == "plant_exposure"].set_index("term")
    terms = ["exposure", "external_demand", "shipments"]
    rows = read_output(root, "plant_panel")
    rows = rows[rows["radius_km"] == plant["radius_km"].iloc[0]]
    rows = rows.dropna(subset=["exports", *terms])
    alone = rows.groupby("establishment_id")["year"].transform("size") == 1
    assert plant["singletons_dropped"].iloc[0] == alone.sum() > 0
    rows = rows[~alone]
    demeaned = rows[["exports", *terms]] - rows.groupby("establishment_id")[
        ["exports", *terms]
    ].transform("mean")
    coef, *_ = np.linalg.lstsq(demeaned[terms].to_numpy(), demeaned["exports"].to_numpy())
    assert plant.loc[terms, "coef"].to_numpy() == pytest.approx(coef, rel=1e-8, abs=1e-12)
    assert plant["nobs"].iloc[0] == len(rows)
    assert plant["n_entities"].iloc[0] == rows["establishment_id"].nunique()
    assert plant.loc["exposure", "ci_low"] > 0


def test_every_catalogued_dataset_opens_as_a_view_with_its_rows(demo_run):
    from spillover.datasets import DATASETS

    _, _, root = demo_run
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    connection = connect(root)
    for dataset in DATASETS:
        rows = connection.execute(f"SELECT count(*) FROM {dataset.view}").fetchone()[0]
        assert rows == manifest["datasets"][dataset.name]["rows"], dataset.name


def test_published_datasets_are_the_bytes_their_pandas_frames_would_give(demo_run, tmp_path):
    """Publish reads run tables by Arrow: every file is the one pandas' frame would write."""
    import pyarrow.parquet as pq

    from spillover.datasets import DATASETS
    from spillover.storage import _dataset_schema, write_dataset

    _, workdir, root = demo_run
    tables = {"public/neighbourhoods": "public_neighbourhoods"}
    for dataset in DATASETS:
        path = workdir / "tables" / f"{tables.get(dataset.name, dataset.name)}.parquet"
        if not path.exists():  # the per-spec and quarantine datasets: several tables
            continue
        files = {}
        for read in ("pandas", "arrow"):
            rows = pd.read_parquet(path) if read == "pandas" else pq.read_table(path)
            folder = tmp_path / read / dataset.name
            write_dataset(
                rows,
                folder,
                partition_cols=list(dataset.partitions) or None,
                schema=_dataset_schema(dataset),
                geometry=dataset.geometry,
            )
            files[read] = {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*.parquet")}
        published = {
            p.relative_to(root / dataset.name) for p in (root / dataset.name).rglob("*.parquet")
        }
        assert files["arrow"] == files["pandas"], dataset.name
        assert set(files["arrow"]) == published, dataset.name


@pytest.mark.parametrize("spec_id", ["baseline@r5@cluster-entity", "twoway_no_di"])
def test_demo_estimates_equal_pyfixest_on_the_published_panel(demo_run, spec_id):
    """A second library on the published panel: coefficients to 1e-10, CRV1 SEs to 1e-8."""
    pyfixest = pytest.importorskip("pyfixest")
    from pyfixest.demeaners import MapDemeaner

    _, _, root = demo_run
    ours = read_output(root, "estimates")
    ours = ours[ours["spec_id"] == spec_id].set_index("term")
    panel = read_output(root, "panel")
    panel = panel[panel["radius_km"] == ours["radius_km"].iloc[0]]
    effects = " + ".join(
        {"entity": "centre_id", "year": "year"}[f] for f in ours["fe"].iloc[0].split("+")
    )
    model = pyfixest.feols(
        f"exports ~ {' + '.join(ours.index)} | {effects}",
        data=panel,
        vcov={"CRV1": "centre_id"},
        demeaner=MapDemeaner(fixef_tol=1e-10),  # money in million yen: 1e-14 is below roundoff
    )
    theirs = model.tidy()
    np.testing.assert_allclose(ours["coef"], theirs.loc[ours.index, "Estimate"], rtol=1e-10)
    np.testing.assert_allclose(ours["se"], theirs.loc[ours.index, "Std. Error"], rtol=1e-8)
    assert ours["nobs"].iloc[0] == model._N


def test_membership_rules_agree_on_a_world_without_status_changes(demo_run):
    """No demo firm changes global or large status: every membership rule agrees.

    The same sums, the same fit, and the same released decomposition (spread over the
    cells' members for base_year, the margins sum to the same numbers).
    """
    from spillover.disclosure import decomposition_margins
    from spillover.estimate import fit_specs
    from spillover.neighbourhoods import neighbourhood_tables
    from spillover.panel import panel_tables
    from spillover.runs import open_run
    from spillover.specs import ModelSpec

    _, workdir, _ = demo_run
    run = open_run(workdir)
    plants, settings = run.table("plants"), run.config.neighbourhoods
    yearly, _, others = neighbourhood_tables(plants, settings, ["base_year", "ever"])
    keys = ["radius_km", "year", "centre_id"]
    expected = yearly.sort_values(keys).reset_index(drop=True)
    for rule, cells in others.groupby("membership"):
        got = cells.drop(columns="membership").sort_values(keys).reset_index(drop=True)
        pd.testing.assert_frame_equal(got, expected, check_dtype=False, obj=rule)
    panel, _, _ = panel_tables(
        yearly,
        run.table("exposure"),
        plants,
        run.table("global_firms"),
        run.table("external_demand"),
        settings=run.config.external_demand,
        membership_cells=others[others["membership"] == "base_year"],
    )
    # at 10 km neighbourhoods overlap: a member's weight sums over its cells
    specs = [
        ModelSpec(id="y", radius_km=10),
        ModelSpec(id="b", radius_km=10, sample={"membership": "base_year"}),
    ]
    fits = fit_specs({"neighbourhood": panel}, specs)
    pd.testing.assert_series_equal(fits["y"].estimates["coef"], fits["b"].estimates["coef"])
    margins = decomposition_margins({"neighbourhood": panel}, plants, specs, settings)
    released = {}
    for margin in margins:
        frame = margin.weights
        if margin.over_cells:  # the yearly spec: published cells
            value = (frame["weight"] * frame[margin.column]).sum()
        else:  # base_year: the same sum spread over the cells' members
            assert set(frame.columns) >= {"establishment_id", "export_method"}
            value = (frame["weight"] * frame[margin.column].fillna(0)).sum()
        released[margin.name.split("/", 2)[1:][0], margin.name.rsplit("/", 1)[1]] = value
    for term in ("exports", "shipments"):
        assert released[("b", term)] == pytest.approx(released[("y", term)], rel=1e-9)


def test_linkage_is_counted_in_the_manifest_and_shown_in_the_report(demo_run):
    world, _, root = demo_run
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    linkage = manifest["linkage"]
    records = sum(_raw_rows(p) for p in (world.root / "raw" / "kikatsu").glob("*.txt"))
    assert linkage["crosswalk"] == {
        "firms": {"rows_linked": records - UNKNOWN_FIRMS * 8, "rows_unlinked": UNKNOWN_FIRMS * 8}
    }
    plants = read_output(root, "plants")
    firms_by_year = {
        (r["from"], r["to"], r["year"]): r for r in linkage["match_rates"]
    }  # establishments → firms: every plant's firm is in the firm survey of its year
    for year, group in plants.groupby("year"):
        rate = firms_by_year["establishments", "firms", year]
        assert rate["linked"] <= rate["firms"] >= group["firm_id"].nunique() > 0
    report = (root / "current" / "report.html").read_text(encoding="utf-8")
    assert "調査間の企業リンク率" in report and "establishments → firms" in report
