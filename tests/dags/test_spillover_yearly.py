"""The spillover_yearly DAG: it imports, has the snapshot shape, and runs on a small demo world."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

pytestmark = pytest.mark.airflow

HERE = Path(__file__).resolve().parent

#: Snapshot of the DAG's shape: task id → downstream task ids. Update it deliberately.
EDGES = {
    "start_run": ["estimate", "ingest"],
    "ingest": ["geocode"],
    "geocode": ["firms"],
    "firms": ["exports"],
    "exports": ["neighbourhoods"],
    "neighbourhoods": ["exposure"],
    "exposure": ["panel"],
    "panel": ["disclose"],
    "disclose": ["estimate", "publish"],
    "estimate": ["publish"],
    "publish": [],
}


@pytest.fixture(scope="module")
def dag(dagbag):
    return dagbag.dags["spillover_yearly"]


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert sorted(dagbag.dag_ids) == [f"spillover_{n}" for n in ("deliveries", "reports", "yearly")]


def test_task_ids_and_edges(dag):
    edges = {task.task_id: sorted(task.downstream_task_ids) for task in dag.tasks}
    assert edges == EDGES


def test_stage_tasks_follow_the_pipeline_registry(dag):
    """The DAG lists its stage task ids literally; they must be the registry's, in its order."""
    from spillover.pipeline import STAGES

    chained = list(STAGES)[:-2]  # the stages before estimate and publish
    chain, task = [], dag.get_task("start_run")
    while task.downstream_task_ids:
        stage_tasks = [t for t in task.downstream_task_ids if t in chained]
        task = dag.get_task(stage_tasks[0] if len(stage_tasks) == 1 else "estimate")
        chain.append(task.task_id)
        if task.task_id == "estimate":
            chain.append("publish")
            break
    assert chain == list(STAGES)


def test_dag_settings(dag):
    from airflow.sdk import AssetOrTimeSchedule

    timetable = dag.timetable
    assert isinstance(timetable, AssetOrTimeSchedule)
    assert timetable.timetable.expression == "0 6 1 4 *"
    assert str(timetable.timetable.timezone) == "Asia/Tokyo"
    # unpausing runs no past tick (test_unpausing_never_runs_a_tick_already_past)
    assert timetable.timetable.run_immediately == timedelta(0) and dag.start_date is None
    raw = {asset.uri for asset in timetable.asset_condition.objects}
    assert "spillover://raw/establishments" in raw and len(raw) == 8
    assert dag.catchup is False
    assert set(dag.params) == {"config_path", "years", "radii_km", "specs", "fresh"}
    assert dag.dagrun_timeout is not None and dag.doc_md.startswith("Yearly spillover build")
    for task in dag.tasks:
        assert task.owner == "spillover" and task.pool == "spillover"
        assert task.execution_timeout is not None and task.on_failure_callback
        assert task.retries == (0 if task.task_id == "start_run" else 2)
    assert [asset.uri for asset in dag.get_task("publish").outlets] == ["spillover://estimates/"]
    assert type(dag.get_task("estimate")).__name__ == "DecoratedMappedOperator"


@pytest.mark.parametrize("dag_id", ["spillover_yearly", "spillover_deliveries"])
def test_unpausing_never_runs_a_tick_already_past(dagbag, dag_id, monkeypatch):
    """Unpaused a minute or two hours after its tick, a DAG without runs waits for the next one.

    (Airflow's default would run the past tick within a tenth of the period: 2.4 h for the
    daily watch, 36 days for the yearly build.)
    """
    from airflow.serialization.decoders import decode_timetable
    from airflow.serialization.encoders import encode_timetable
    from airflow.timetables import trigger
    from airflow.timetables.base import TimeRestriction

    # the timetable as the scheduler gets it: serialized with the DAG
    timetable = decode_timetable(encode_timetable(dagbag.dags[dag_id].timetable))
    cron = getattr(timetable, "timetable", timetable)  # the yearly build's cron part
    tick = {"spillover_yearly": "2026-03-31T21:00", "spillover_deliveries": "2026-12-06T22:00"}
    for after in (timedelta(minutes=1), timedelta(hours=2)):
        now = datetime.fromisoformat(tick[dag_id]).replace(tzinfo=UTC) + after
        monkeypatch.setattr(trigger, "utcnow", lambda now=now: now)
        info = cron.next_dagrun_info(
            last_automated_data_interval=None,
            restriction=TimeRestriction(earliest=None, latest=None, catchup=False),
        )
        assert info.run_after > now, (dag_id, after, info.run_after)


def test_raw_assets_cover_every_source_table():
    """One Asset per canonical source table of the config, no more, no fewer."""
    import typing

    from spillover_airflow import RAW

    from spillover.config import TableName

    assert set(RAW) == set(typing.get_args(TableName))


def test_params_reject_what_the_schema_forbids(dag):
    """Typed params: Airflow refuses a wrong type before the run is created."""
    from airflow.sdk import ParamsDict

    params = ParamsDict(dag.params)
    params["years"] = [2012, 2019]
    params["radii_km"] = [3, 5.5]
    params.validate()
    for key, bad in [("years", [2012]), ("radii_km", [-1]), ("specs", "baseline")]:
        broken = ParamsDict(dag.params)
        with pytest.raises(Exception, match=key):
            broken[key] = bad
            broken.validate()


def _parse_in_subprocess(code: str, home, airflow_settings, **env) -> str:
    """Parse dags/ into ``bag`` in a fresh interpreter, run ``code``; return its last line."""
    probe = (
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(HERE.parents[1] / 'dags')!r})\n"
        "assert bag.import_errors == {}, bag.import_errors\n" + code
    )
    home.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", probe],
        env={**os.environ, **airflow_settings(home), **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def test_parsing_the_dag_imports_neither_the_package_nor_pandas(tmp_path, airflow_settings):
    """The scheduler parses DAG files often: parse-time code stays off the package."""
    code = "import sys\nprint(sorted(m for m in ('spillover', 'pandas') if m in sys.modules))\n"
    assert _parse_in_subprocess(code, tmp_path / "airflow", airflow_settings) == "[]"


@pytest.mark.slow
def test_dag_run_on_demo_world(tmp_path, airflow_settings):
    """dag.test() on a small demo world: every task succeeds and the outputs are published."""
    from spillover.demo.world import WorldParams, build_demo_world

    home = tmp_path / "airflow"
    home.mkdir()
    # Airflow starts (imports, DB migration) in the subprocess while the world is built here;
    # the runner waits for the config path on stdin.
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "run_dag_test.py")],
        env={**os.environ, **airflow_settings(home)},
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        params = WorldParams(
            n_establishments=6000, n_global_firms=60, n_large_firms=80, n_medium_firms=700
        )
        world = build_demo_world(tmp_path / "demo", params)
        stdout, stderr = proc.communicate(f"{world.config_path}\n", timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
    lines = [line for line in stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, stdout[-4000:] + stderr[-4000:]
    result = json.loads(lines[-1].removeprefix("RESULT "))
    assert result["state"] == "success", result
    assert set(result["tasks"].values()) == {"success"}, result
    assert len([key for key in result["tasks"] if key.startswith("estimate[")]) >= 1
    assert (world.root / "output" / "manifest.json").exists()
    assert (world.root / "output" / "estimates").exists()


def test_alert_email_adds_airflows_smtp_notifier(tmp_path, airflow_settings):
    """SPILLOVER_ALERT_EMAIL (set by the operator) adds an e-mail to every failure callback."""
    code = (
        "dag = bag.dags['spillover_yearly']\n"
        "kinds = [type(c).__name__ for c in dag.get_task('ingest').on_failure_callback]\n"
        "kinds += [type(c).__name__ for c in dag.on_failure_callback]\n"
        "print(kinds)\n"
    )
    kinds = _parse_in_subprocess(
        code, tmp_path / "airflow", airflow_settings, SPILLOVER_ALERT_EMAIL="ops@example.jp"
    )
    assert kinds == "['function', 'SmtpNotifier', 'function', 'SmtpNotifier']"
