"""Incremental runs: what `spillover run` re-uses, what it runs again, and that it is exact.

Each test builds a small demo world, runs the pipeline once (the base), changes one thing and
runs again: stages whose fingerprint is unchanged are re-used from the base, the others run,
and the results equal a fresh full run's byte for byte.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from held_year import FILES_2019, deliver, hold_back

from spillover import fingerprints
from spillover.concordance import load_concordance
from spillover.demo.layouts import RAW_COLUMNS
from spillover.demo.world import WorldParams, build_demo_world
from spillover.pipeline import (
    STAGES,
    PipelineError,
    Selection,
    read_output,
    run_incremental,
    run_stage,
)

pytestmark = pytest.mark.slow  # runs the pipeline on a small world several times

SMALL = WorldParams(n_establishments=3000, n_global_firms=20, n_large_firms=30, n_medium_firms=300)
EARLY = ["ingest", "geocode", "firms", "exports"]


@pytest.fixture
def world(tmp_path):
    """A small demo world with one complete run (the base of the next)."""
    world = build_demo_world(tmp_path / "world", SMALL)
    run_incremental(world.config_path)
    return world


def _edit(world, change) -> None:
    data = yaml.safe_load(world.config_path.read_text(encoding="utf-8"))
    change(data)
    world.config_path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def _ran(result) -> list[str]:
    return [decision.stage for decision in result.decisions if decision.runs]


def _published(world) -> dict[str, pd.DataFrame]:
    """The current publication's estimates and public table (numbers left out: random)."""
    root = world.root / "output"
    public = read_output(root, "public/neighbourhoods").drop(columns="neighbourhood_no")
    return {
        "estimates": read_output(root, "estimates"),
        "decomposition": read_output(root, "decomposition"),
        "public": public.sort_values(list(public.columns)).reset_index(drop=True),
    }


def _report(result, stage: str) -> dict:
    return json.loads((result.workdir / "reports" / f"{stage}.json").read_text("utf-8"))


def _assert_equals_a_fresh_run(world, incremental) -> None:
    """The incremental run's estimates and publication equal a fresh full run's exactly."""
    published = _published(world)
    for kept in ("spatial", "disclosure", "disclosure_blocks"):  # a full rebuild
        shutil.rmtree(world.root / "cache" / kept, ignore_errors=True)
    fresh = run_incremental(world.config_path, selection=Selection(fresh=True))
    assert _ran(fresh) == list(STAGES)
    assert not _report(fresh, "disclose")["suppression_from_cache"]
    assert _report(fresh, "disclose")["blocks_from_store"] == 0
    for name, frame in _published(world).items():
        pd.testing.assert_frame_equal(published[name], frame, check_exact=True)
    ours = fingerprints.table_hashes(incremental.workdir)
    theirs = fingerprints.table_hashes(fresh.workdir)
    estimates = [name for name in theirs if name.startswith(("estimates/", "decomposition/"))]
    assert estimates and {n: ours[n] for n in estimates} == {n: theirs[n] for n in estimates}
    for spec_id in (name.split("/", 1)[1] for name in estimates):
        path = f"tables/estimates/{spec_id}.parquet"
        pd.testing.assert_frame_equal(
            pd.read_parquet(incremental.workdir / path),
            pd.read_parquet(fresh.workdir / path),
            check_exact=True,
        )
    report, expected = (
        json.loads((result.workdir / "reports" / "estimate.json").read_text(encoding="utf-8"))
        for result in (incremental, fresh)
    )
    for key in ("seconds", "reused_specs"):
        report.pop(key, None)
        expected.pop(key, None)
    assert report == expected


def test_an_unchanged_config_reuses_everything_and_publishes_nothing_new(world):
    runs_before = sorted((world.root / "work").iterdir())

    again = run_incremental(world.config_path)

    assert again.up_to_date and _ran(again) == []
    assert again.workdir == runs_before[0]
    assert sorted((world.root / "work").iterdir()) == runs_before  # no new run directory

    republished = run_incremental(world.config_path, selection=Selection(only=("publish",)))
    assert _ran(republished) == ["publish"]
    manifest = json.loads((world.root / "output" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["run_id"] == republished.workdir.name
    assert manifest["stage_details"]["geocode"]["reused_from"] == again.workdir.name


def test_an_added_spec_fits_only_that_spec_then_publishes(world):
    def add_spec(data):
        data["models"].append(
            {
                "id": "added",
                "dependent": "log1p(exports)",
                "regressors": ["opr", "external_demand", "log1p(shipments)"],
                "radius_km": 5,
            }
        )

    earlier = (world.root / "output" / "current").resolve()
    _edit(world, add_spec)
    result = run_incremental(world.config_path)

    assert _ran(result) == ["disclose", "estimate", "publish"]
    estimate = result.decisions[list(STAGES).index("estimate")]
    assert estimate.refit == {"added": ("new spec",)}
    assert (
        len(estimate.reused)
        == len(
            [name for name in fingerprints.records(result.workdir) if name.startswith("estimate/")]
        )
        - 1
    )
    assert "added" in set(read_output(world.root / "output", "estimates")["spec_id"])
    _assert_unchanged_datasets_are_linked(result, earlier, changed={"estimates", "decomposition"})
    _assert_equals_a_fresh_run(world, result)


def _assert_unchanged_datasets_are_linked(result, earlier, *, changed: set[str]) -> None:
    """Datasets made from unchanged tables are the earlier publication's files (hard links)."""
    report = json.loads((result.workdir / "reports" / "publish.json").read_text("utf-8"))
    version = Path(report["version"])
    manifest = json.loads((version / "manifest.json").read_text(encoding="utf-8"))
    linked = set(report["linked"])
    before = json.loads((earlier / "manifest.json").read_text(encoding="utf-8"))["datasets"]
    for name, entry in manifest["datasets"].items():
        same = entry["source_sha256"] == before[name]["source_sha256"]
        assert (name in linked) == same, name
        if name in changed:
            assert not same, name
        elif name != "public/neighbourhoods":  # the disclosure ran again: it may differ
            assert same, name
        files = sorted(p.relative_to(version) for p in (version / name).rglob("*.parquet"))
        assert files, name
        inodes = [(version / f).stat().st_ino == (earlier / f).stat().st_ino for f in files]
        assert all(inodes) if same else not any(inodes), name


def test_a_changed_spec_refits_only_that_spec_and_spec_forces_another(world):
    _edit(world, lambda data: data["models"][-1].update(vcov={"type": "hetero"}))
    changed = run_incremental(world.config_path, selection=Selection(specs=("twoway_no_di",)))

    estimate = changed.decisions[list(STAGES).index("estimate")]
    assert estimate.refit == {
        "twoway_no_di": ("--spec twoway_no_di",),
        "plant_exposure": ("spec changed",),
    }
    with pytest.raises(PipelineError, match="unknown spec id"):
        run_incremental(world.config_path, selection=Selection(specs=("nope",)))


def test_an_added_radius_reruns_neighbourhoods_onward(world):
    _edit(world, lambda data: data["neighbourhoods"]["radii_km"].append(20))
    result = run_incremental(world.config_path)

    assert _ran(result) == [
        "neighbourhoods",
        "exposure",
        "panel",
        "disclose",
        "estimate",
        "publish",
    ]
    neighbourhoods = result.decisions[list(STAGES).index("neighbourhoods")]
    assert neighbourhoods.reasons == ("config neighbourhoods.radii_km changed",)
    cells = pd.read_parquet(result.workdir / "tables" / "neighbourhoods.parquet")
    assert 20.0 in set(cells["radius_km"])
    _assert_equals_a_fresh_run(world, result)


def test_a_changed_raw_file_reruns_ingest_onward(world):
    path = world.root / "raw" / "kikatsu" / "kigyou_katsudou_2016.txt"
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[1:]))  # one firm fewer in 2016

    result = run_incremental(world.config_path)

    ingest = result.decisions[0]
    assert ingest.runs and ingest.reasons == ("file raw/kikatsu/kigyou_katsudou_2016.txt changed",)
    assert "firms" in _ran(result)
    _assert_equals_a_fresh_run(world, result)


def test_a_revised_establishment_file_recomputes_only_its_year(world):
    path = world.root / "raw" / "establishments" / "kogyo_2018.csv"  # accounts year 2017
    raw = pd.read_csv(path, encoding="cp932", dtype=str, keep_default_na=False)
    shipments = RAW_COLUMNS["kogyo_toukei"]["shipments"]
    raw[shipments] = [str(int(v) * 2) if v else v for v in raw[shipments]]
    raw.to_csv(path, index=False, encoding="cp932")

    result = run_incremental(world.config_path)

    report = json.loads((result.workdir / "reports" / "neighbourhoods.json").read_text("utf-8"))
    assert report["years_computed"] == [2017]  # the other years' plants are unchanged
    assert not _report(result, "disclose")["suppression_from_cache"]
    _assert_equals_a_fresh_run(world, result)


def test_a_new_survey_year_reads_only_its_files(tmp_path):
    world = build_demo_world(tmp_path / "world", SMALL)
    hold_back(world.root, tmp_path / "held")
    first = run_incremental(world.config_path)
    assert json.loads((first.workdir / "config.json").read_text("utf-8"))["years"] == [2012, 2018]

    deliver(world.root, tmp_path / "held")
    result = run_incremental(world.config_path)

    report = json.loads((result.workdir / "reports" / "ingest.json").read_text("utf-8"))
    read = sorted(s["file"] for s in report["sources"] if not s["from_cache"])
    assert read == sorted(str(world.root / name) for name in FILES_2019)
    assert len(report["sources"]) > 4 * len(read)
    for stage in ("neighbourhoods", "exposure"):  # 2012–2018 come from the year cache
        report = json.loads((result.workdir / "reports" / f"{stage}.json").read_text("utf-8"))
        assert report["years_computed"] == [2019], stage
        assert sorted(report["years_from_cache"]) == list(range(2012, 2019)), stage
    blocks = _report(result, "disclose")  # 2012–2018's blocks searched by the first run
    assert blocks["blocks_from_store"] > blocks["blocks_searched"] > 0
    _assert_equals_a_fresh_run(world, result)


def test_from_runs_a_stage_and_every_later_one_fresh_runs_all(world):
    result = run_incremental(world.config_path, selection=Selection(from_stage="panel"))
    assert _ran(result) == ["panel", "disclose", "estimate", "publish"]
    for decision in result.decisions[list(STAGES).index("panel") :]:
        reasons = decision.refit.values() if decision.refit else [decision.reasons]
        assert set(reasons) == {("--from panel",)}
    assert _report(result, "disclose")["suppression_from_cache"]  # same tables: kept
    _assert_equals_a_fresh_run(world, result)  # ... and equal to searching again

    fresh = run_incremental(world.config_path, selection=Selection(fresh=True))
    assert _ran(fresh) == list(STAGES)
    with pytest.raises(PipelineError, match="unknown stage 'nope'"):
        run_incremental(world.config_path, selection=Selection(only=("nope",)))


def test_a_stage_killed_halfway_is_not_reused(world, monkeypatch):
    base = run_incremental(world.config_path).workdir
    registered = STAGES["exposure"]

    def killed(run):
        run.write("exposure", pd.DataFrame({"torn": [1]}))  # a table written, then it dies
        raise KeyboardInterrupt

    monkeypatch.setitem(
        STAGES, "exposure", registered.__class__(**{**registered.__dict__, "function": killed})
    )
    with pytest.raises(KeyboardInterrupt):
        run_stage("exposure", base)
    monkeypatch.setitem(STAGES, "exposure", registered)

    result = run_incremental(world.config_path)

    exposure = result.decisions[list(STAGES).index("exposure")]
    assert exposure.reasons == (f"not done in run {base.name}",)
    assert _ran(result)[:1] == ["exposure"] and set(EARLY).isdisjoint(_ran(result))
    assert "torn" not in pd.read_parquet(result.workdir / "tables" / "exposure.parquet")


def test_a_changed_concordance_reruns_ingest_and_the_exports_concordance_reruns_exports(world):
    path = world.root / "raw" / "concordances" / "jsic_revision.csv"
    path.write_text("# reviewed\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    result = run_incremental(world.config_path)
    assert result.decisions[0].reasons == ("file raw/concordances/jsic_revision.csv changed",)

    shipped = load_concordance("jsic_to_iip_group").rows
    own = world.root / "iip_groups.csv"
    own.write_text(
        "# the shipped groups with 24 moved to その他工業\nfrom,to\n"
        + "".join(
            f"{code},{'その他工業' if code == '24' else group}\n"
            for code, group in zip(shipped["from"], shipped["to"], strict=True)
        ),
        encoding="utf-8",
    )
    data = yaml.safe_load(world.config_path.read_text(encoding="utf-8"))
    data["exports"]["concordance"] = "iip_groups.csv"
    world.config_path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    run_incremental(world.config_path)
    own.write_text(own.read_text(encoding="utf-8").replace("24,その他工業", "24,金属製品工業"))
    result = run_incremental(world.config_path)
    exports = result.decisions[list(STAGES).index("exports")]
    assert exports.runs and exports.reasons == ("file iip_groups.csv changed",)
