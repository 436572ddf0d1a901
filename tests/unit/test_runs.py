"""Run directories: run ids, re-use of a run id, and the locks around stages."""

from __future__ import annotations

import json
import re
import time

import pandas as pd
import pytest
import yaml

from spillover import locks, pipeline
from spillover.demo.world import WorldParams, demo_config
from spillover.registry import STAGES, Stage, StageResult
from spillover.runs import PipelineError, check_run_id, new_run_id, safe_name, started_run
from spillover.storage import PublishError


def _config(folder, **changes):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump({**demo_config(WorldParams()), **changes}, allow_unicode=True))
    return path


def test_default_run_ids_started_in_the_same_second_differ():
    ids = [new_run_id() for _ in range(200)]
    assert all(re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{6}", run_id) for run_id in ids)
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize(
    "bad", ["..", ".", "", "a/b", "../x", "-x", ".hidden", "a b", "x" * 65, "manual__1+00:00"]
)
def test_a_run_id_that_is_not_a_plain_name_is_refused(bad):
    with pytest.raises(PipelineError, match=re.escape(f"run id {bad!r} is not a plain name")):
        check_run_id(bad)


def test_dot_dot_as_run_id_leaves_the_work_roots_parent_alone(tmp_path):
    config = _config(tmp_path)
    for name in ("tables", "reports"):  # the parent of work_root holds folders of the same names
        (tmp_path / name).mkdir()
        (tmp_path / name / "keep.txt").write_text("mine")
    with pytest.raises(PipelineError, match="'..' is not a plain name"):
        pipeline.start_run(config, run_id="..")
    assert (tmp_path / "tables" / "keep.txt").exists() and (
        tmp_path / "reports" / "keep.txt"
    ).exists()


def test_safe_name_maps_airflow_run_ids_to_distinct_plain_names():
    airflow = "manual__2026-01-31T00:00:00+00:00"
    name = safe_name(airflow)
    assert check_run_id(name) == name and name.startswith("manual__2026-01-31T00_00_00_00_00-")
    assert safe_name(airflow) == name  # the same for every retry of the DAG run
    assert safe_name("plain-id_1.2") == "plain-id_1.2"
    variants = ["a:b", "a+b", "a b", "a_b", "a:b" + "x" * 100, "a:b" + "y" * 100, "::", "+"]
    names = [safe_name(text) for text in variants]
    assert len(set(names)) == len(names) and all(check_run_id(n) for n in names)


def test_a_run_id_is_reused_only_with_the_same_config(tmp_path):
    work_root = str(tmp_path / "work")
    first = _config(tmp_path / "a", work_root=work_root)
    workdir = pipeline.start_run(first, run_id="nightly")
    (workdir / "tables").mkdir()
    (workdir / "tables" / "old.parquet").write_bytes(b"stale")
    frozen = (workdir / "config.json").read_text()
    # the same config again: the run starts clean
    assert pipeline.start_run(first, run_id="nightly") == workdir
    assert not (workdir / "tables").exists()
    # another config (other radii), or the same file in another folder (other input files):
    # refused, and the run is left as it was
    other = _config(tmp_path / "b", work_root=work_root, neighbourhoods={"radii_km": [5, 10, 20]})
    elsewhere = _config(tmp_path / "c", work_root=work_root)
    for config in (other, elsewhere):
        with pytest.raises(PipelineError, match=r"run id 'nightly' is taken: .*config\.json holds"):
            pipeline.start_run(config, run_id="nightly")
    assert (workdir / "config.json").read_text() == frozen
    run_info = json.loads((workdir / "run.json").read_text())
    assert run_info["config_path"] == str(first.resolve())


def test_a_folder_that_is_not_a_run_directory_is_refused(tmp_path):
    config = _config(tmp_path)
    (tmp_path / "work" / "mine").mkdir(parents=True)
    (tmp_path / "work" / "mine" / "notes.txt").write_text("x")
    with pytest.raises(PipelineError, match=r"not a run directory \(no run.json; it holds notes"):
        pipeline.start_run(config, run_id="mine")


def test_a_run_into_a_foreign_output_root_is_refused_before_any_stage(tmp_path):
    config = _config(tmp_path)
    (tmp_path / "output").mkdir()
    (tmp_path / "output" / "thesis.docx").write_text("mine")
    with pytest.raises(PublishError, match=r"output .* is not empty .* \(it holds thesis\.docx\)"):
        pipeline.start_run(config, run_id="r")
    assert not (tmp_path / "work").exists()
    assert [p.name for p in (tmp_path / "output").iterdir()] == ["thesis.docx"]


@pytest.fixture
def probe(monkeypatch):
    """Stages 'probe' and 'publish' (a publishing stage) that record which locks they hold."""
    seen = []

    def function(run, spec_ids=None):
        root = run.config.resolve(run.config.output_root)
        seen.append((locks.holds(run.workdir / ".lock"), locks.holds(root / ".lock"), spec_ids))
        return StageResult(rows_in=0, rows_out=0, tables={"t": pd.DataFrame({"x": [1]})})

    for name in ("probe", "publish"):
        stage = Stage(name, function, False, None, publishes=name == "publish")
        monkeypatch.setitem(STAGES, name, stage)
    return seen


def test_every_stage_holds_the_run_lock_and_publish_the_output_roots(tmp_path, probe):
    workdir = pipeline.start_run(_config(tmp_path), run_id="r")
    pipeline.run_stage("probe", workdir)
    pipeline.run_stage("publish", workdir)
    assert probe == [(True, False, None), (True, True, None)]
    assert (tmp_path / "output" / ".spillover-output-root").exists()


def test_a_stage_waits_for_another_process_on_the_run_then_names_it(
    tmp_path, probe, hold_lock, monkeypatch
):
    workdir = pipeline.start_run(_config(tmp_path), run_id="r")
    holder = hold_lock(workdir / ".lock", "run r, stage geocode")
    monkeypatch.setenv(locks.TIMEOUT_ENV, "0.3")
    started = time.monotonic()
    with pytest.raises(locks.LockTimeout) as caught:
        pipeline.run_stage("probe", workdir)
    assert time.monotonic() - started >= 0.3
    assert f"run directory {workdir} is locked by run r, stage geocode (pid {holder.pid}" in str(
        caught.value
    )
    with pytest.raises(locks.LockTimeout, match="locked by run r, stage geocode"):
        pipeline.start_run(_config(tmp_path), run_id="r")
    assert probe == []


def test_the_per_spec_estimate_tasks_share_the_run_lock(tmp_path, probe, hold_lock, monkeypatch):
    workdir = pipeline.start_run(_config(tmp_path), run_id="r")
    hold_lock(workdir / ".lock", "run r, stage estimate", shared=True)
    monkeypatch.setenv(locks.TIMEOUT_ENV, "0.3")
    pipeline.run_stage("probe", workdir, spec_ids=["baseline"])  # shared: runs alongside
    assert probe == [(True, False, ["baseline"])]
    with pytest.raises(locks.LockTimeout):
        pipeline.run_stage("probe", workdir)  # exclusive: waits for the other task


def test_publish_waits_for_another_publication_on_the_output_root(
    tmp_path, probe, hold_lock, monkeypatch
):
    workdir = pipeline.start_run(_config(tmp_path), run_id="r")
    pipeline.run_stage("publish", workdir)  # claims the output root
    hold_lock(tmp_path / "output" / ".lock", "run other, stage publish")
    monkeypatch.setenv(locks.TIMEOUT_ENV, "0.3")
    with pytest.raises(locks.LockTimeout, match=r"output root .*output is locked by run other"):
        pipeline.run_stage("publish", workdir)
    assert len(probe) == 1


def test_a_run_holds_its_lock_from_start_to_its_last_stage(tmp_path, probe, monkeypatch):
    monkeypatch.setenv(locks.TIMEOUT_ENV, "0.5")
    config = _config(tmp_path)
    with started_run(config, run_id="r") as workdir:
        pipeline.run_stage("probe", workdir)  # the same thread: no wait for its own lock
        assert locks.holds(workdir / ".lock")
    assert not locks.holds(workdir / ".lock")
    assert probe == [(True, False, None)]
