"""What the Airflow DAGs call, tested without Airflow: params, years, deliveries, step runs.

The DAG tasks are thin; `spillover.scheduled`, `spillover.deliveries` and
`spillover.pipeline.run_or_reuse` hold the logic. These tests drive them as the tasks do, on
a small demo world whose yearly source families are open, so a held-back year's files can be
"delivered" by moving them back.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest
import yaml
from held_year import FILES_2019, deliver, hold_back

from spillover import deliveries, pipeline, runs, scheduled
from spillover.config import ConfigError, load_config
from spillover.demo.world import WorldParams, build_demo_world

SMALL = WorldParams(n_establishments=3000, n_global_firms=20, n_large_firms=30, n_medium_firms=300)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """A small demo world, built once; tests copy it.

    Its config has `years: [2012, latest]` and open yearly families (no `years` lists;
    kogyo skips the census year 2015).
    """
    return build_demo_world(tmp_path_factory.mktemp("scheduled") / "world", SMALL).root


@pytest.fixture
def world(pristine, tmp_path):
    root = tmp_path / "world"
    shutil.copytree(pristine, root)
    return root


# ------------------------------------------------------------------ parameters


def test_unknown_run_parameters_are_refused():
    with pytest.raises(ConfigError, match=r"\['radius_km'\] are not known.*radii_km"):
        scheduled.check_parameters({"config_path": None, "radius_km": 10})
    scheduled.check_parameters({"config_path": None, "years": [2012, 2019], "fresh": True})


def test_parameters_become_config_overrides(world):
    config_path = str(world / "config.yaml")
    ids = [model.id for model in load_config(config_path).models]
    conf = {"years": [2013, 2018], "radii_km": [5, 10], "specs": [ids[0]]}
    assignments = scheduled.overrides(conf, config_path)
    config = load_config(config_path, overrides=assignments)
    assert config.years == (2013, 2018)
    assert config.neighbourhoods.radii_km == [5, 10]
    assert [model.id for model in config.models] == [ids[0]]
    assert config.overrides == tuple(assignments)  # the manifest says what the run changed
    with pytest.raises(ConfigError, match=r"specs = \['nope'\]: \['nope'\] not among"):
        scheduled.overrides({"specs": ["nope"]}, config_path)


# ------------------------------------------------------------------ years and deliveries


def test_latest_is_the_newest_year_every_family_has(world, tmp_path):
    config_path = world / "config.yaml"
    assert load_config(config_path).years == (2012, 2019)
    assert load_config(config_path, latest_up_to=2016).years == (2012, 2016)
    config = load_config(config_path, latest_up_to=2016)
    kogyo = config.sources["establishments"][0]
    assert kogyo.years == [2012, 2013, 2014, 2016]  # open family: run years minus skip_years
    shutil.move(world / FILES_2019[1], tmp_path / "held.csv")  # one family lacks 2019
    assert load_config(config_path).years == (2012, 2018)
    with pytest.raises(ConfigError, match=r"no year from 2012 to 2011"):
        load_config(config_path, latest_up_to=2011)


def test_deliveries_announce_new_and_changed_files_only(world, tmp_path):
    config = load_config(world / "config.yaml")
    hold_back(world, tmp_path / "held")
    first = deliveries.detect(config, "firms", up_to=2026)
    assert first.first_look and not first.delivered and first.files == 7
    again = deliveries.detect(config, "firms", up_to=2026)
    assert not again.first_look and not again.delivered
    deliver(world, tmp_path / "held")
    found = deliveries.detect(config, "firms", up_to=2026)
    assert found.new == ("raw/kikatsu/kigyou_katsudou_2019.txt",) and found.changed == ()
    target = world / "raw/kikatsu/kigyou_katsudou_2013.txt"
    os.utime(target, ns=(1, 1))  # touched, same bytes: not a delivery
    assert not deliveries.detect(config, "firms", up_to=2026).delivered
    data = bytearray(target.read_bytes())  # a corrected file of the same size
    digit = max(i for i, byte in enumerate(data) if chr(byte) in "12345678")
    data[digit] += 1
    target.write_bytes(bytes(data))
    changed = deliveries.detect(config, "firms", up_to=2026)
    assert changed.changed == ("raw/kikatsu/kigyou_katsudou_2013.txt",) and changed.new == ()
    with pytest.raises(deliveries.DeliveryError, match="sources.nope: not in the config"):
        deliveries.detect(config, "nope", up_to=2026)


# ------------------------------------------------------------------ step-by-step runs


def _step_run(config_path, name: str, conf: dict | None = None, up_to: int = 2026):
    """What the DAG's tasks do, in order; return (workdir, {stage: decision line})."""
    started = scheduled.begin(
        {"config_path": str(config_path), **(conf or {})},
        run_name=name,
        up_to=up_to,
        default_config="unused",
    )
    workdir = started["workdir"]
    for stage in list(pipeline.STAGES)[:-2]:
        pipeline.run_or_reuse(stage, workdir)
    for spec_id in started["spec_ids"]:
        pipeline.run_or_reuse("estimate", workdir, spec_ids=[spec_id])
    report = pipeline.run_or_reuse("publish", workdir)
    return started, report


def _decisions(caplog) -> dict[str, str]:
    lines = [r.getMessage() for r in caplog.records if r.name == "spillover.pipeline"]
    return {
        line.split(":")[0]: line.split(": ", 1)[1]
        for line in lines
        if ": runs (" in line or ": re-used from run" in line
    }


@pytest.mark.slow
def test_a_delivered_year_reruns_what_depends_on_it_and_equals_a_fresh_run(world, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="spillover")
    config_path = world / "config.yaml"
    hold_back(world, tmp_path / "held")
    started, _ = _step_run(config_path, "first")
    assert started["years"] == [2012, 2018] and started["base_run"] is None

    caplog.clear()
    started, report = _step_run(config_path, "second")  # nothing delivered
    assert started["base_run"] == "first"
    decided = _decisions(caplog)
    assert all(decided[s].startswith("re-used from run first") for s in ("ingest", "panel"))
    assert decided["estimate"].startswith("re-used") and decided["publish"].startswith("runs")

    deliver(world, tmp_path / "held")
    caplog.clear()
    started, report = _step_run(config_path, "third")
    assert started["years"] == [2012, 2019] and started["base_run"] == "second"
    assert _decisions(caplog)["ingest"].startswith("runs (")
    manifest = json.loads((world / "output" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["run_id"] == "third" and manifest["years"] == [2012, 2019]
    extra = scheduled.publication(report)
    assert extra["run_id"] == "third" and extra["version"].endswith(".third")
    assert extra["rows"]["estimates"] == len(pipeline.read_output(world / "output", "estimates"))
    assert extra["config_sha256"] == manifest["config_sha256"]
    stepped = pipeline.read_output(world / "output", "estimates")

    fresh = tmp_path / "fresh"
    shutil.copytree(world, fresh, ignore=shutil.ignore_patterns("work", "output"))
    pipeline.run_pipeline(fresh / "config.yaml")
    pd.testing.assert_frame_equal(stepped, pipeline.read_output(fresh / "output", "estimates"))


@pytest.mark.slow
def test_specs_param_fits_and_publishes_only_those_models(world):
    config_path = world / "config.yaml"
    first = load_config(config_path).models[0].id
    started, _ = _step_run(config_path, "only", {"specs": [first], "radii_km": None})
    assert {spec.split("@")[0] for spec in started["spec_ids"]} == {first}
    estimates = pipeline.read_output(world / "output", "estimates")
    assert set(estimates["spec_id"]) == set(started["spec_ids"])


# ------------------------------------------------------------------ retention and failures

HOLD_LOCK = (
    "import fcntl, os, sys, time\n"
    "fd = os.open(sys.argv[1], os.O_RDWR)\n"
    "fcntl.flock(fd, fcntl.LOCK_SH)\n"
    "print('held', flush=True)\n"
    "time.sleep(300)\n"
)


@pytest.mark.slow
def test_keep_runs_prunes_old_run_directories_but_never_the_published_or_held(world):
    config_path = world / "config.yaml"
    pipeline.run_incremental(config_path, run_id="r1")
    pipeline.run_incremental(config_path, run_id="r2", selection=pipeline.Selection(fresh=True))
    data = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    data["keep_runs"] = 1
    config_path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    work = world / "work"
    config = load_config(config_path)
    holder = subprocess.Popen(  # another process re-using r1 holds its lock
        [sys.executable, "-c", HOLD_LOCK, str(work / "r1" / runs.LOCK_NAME)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        result = pipeline.run_incremental(
            config_path, run_id="r3", selection=pipeline.Selection(only=("publish",))
        )
        # beyond keep_runs = 1 but in use: r1 by another process, r2 as r3's base
        assert (work / "r1").is_dir() and (work / "r2").is_dir()
    finally:
        holder.kill()
        holder.wait()
    publish = json.loads((work / "r3" / "reports" / "publish.json").read_text("utf-8"))
    assert publish["pruned_runs"] == [] and result.workdir.name == "r3"
    removed = runs.prune_runs(config, str(config_path.resolve()), keep=1, current="r3")
    assert removed == ["r1", "r2"] and sorted(p.name for p in work.iterdir()) == ["r3"]


def test_failure_summary_says_what_failed_why_and_where(tmp_path):
    from spillover.rawfiles import IngestError

    workdir = tmp_path / "run"
    (workdir / "reports").mkdir(parents=True)
    (workdir / "reports" / "ingest.json").write_text("{}", encoding="utf-8")
    error = IngestError("source 'kogyo': no file for year 2019 (looked for raw/kogyo_2020.csv)")
    text = scheduled.failure_summary(str(workdir), task="geocode", try_number=1, error=error)
    assert text == (workdir / scheduled.FAILURE_FILE).read_text(encoding="utf-8")
    assert "task geocode failed (try 1)" in text
    assert "IngestError: source 'kogyo': no file for year 2019" in text
    assert "data or config error" in text and "stages done: ingest" in text
    transient = scheduled.failure_summary(None, task="ingest", try_number=2, error=OSError("x"))
    assert "transient" in transient


@pytest.mark.slow
def test_stage_logs_carry_rows_timings_and_warnings(world, caplog):
    caplog.set_level(logging.INFO, logger="spillover")
    workdir = pipeline.start_run(world / "config.yaml")
    pipeline.run_stage("ingest", workdir)
    lines = [r.getMessage() for r in caplog.records if r.name == "spillover.pipeline"]
    report = json.loads((workdir / "reports" / "ingest.json").read_text(encoding="utf-8"))
    done = [line for line in lines if line.startswith("ingest: done in")]
    assert len(done) == 1
    assert f"rows in {report['rows_in']:,}, out {report['rows_out']:,}" in done[0]
    assert f"{report['rows_quarantined']:,} quarantined" in done[0]
