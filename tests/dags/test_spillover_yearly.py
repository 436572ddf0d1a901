"""The spillover_yearly DAG: it imports, has the snapshot shape, and runs on a small demo world."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.airflow

HERE = Path(__file__).resolve().parent

#: Snapshot of the DAG's shape: task id → downstream task ids. Update it deliberately.
EDGES = {
    "start_run": ["ingest"],
    "ingest": ["geocode"],
    "geocode": ["firms"],
    "firms": ["exports"],
    "exports": ["neighbourhoods"],
    "neighbourhoods": ["exposure"],
    "exposure": ["panel"],
    "panel": ["estimate", "publish", "spec_ids"],
    "spec_ids": ["estimate"],
    "estimate": ["publish"],
    "publish": [],
}


@pytest.fixture(scope="module")
def dag(dagbag):
    return dagbag.dags["spillover_yearly"]


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert dagbag.dag_ids == ["spillover_yearly"]


def test_task_ids_and_edges(dag):
    edges = {task.task_id: sorted(task.downstream_task_ids) for task in dag.tasks}
    assert edges == EDGES


def test_stage_tasks_follow_the_pipeline_registry(dag):
    """The DAG lists its stage task ids literally; they must be the registry's, in its order."""
    from spillover.pipeline import STAGES

    chain, task = [], dag.get_task("start_run")
    while task.downstream_task_ids:
        stage_tasks = [t for t in task.downstream_task_ids if t in STAGES]
        task = dag.get_task(stage_tasks[0] if len(stage_tasks) == 1 else "estimate")
        chain.append(task.task_id)
        if task.task_id == "estimate":
            chain.append("publish")
            break
    assert chain == list(STAGES)


def test_dag_settings(dag):
    assert dag.schedule == "@yearly"
    assert dag.catchup is False
    assert dict(dag.params) == {"config_path": None}
    assert dag.doc_md and dag.doc_md.startswith("Yearly spillover build")
    assert all(task.retries >= 1 for task in dag.tasks)
    assert [asset.uri for asset in dag.get_task("publish").outlets] == ["spillover://estimates/"]
    assert type(dag.get_task("estimate")).__name__ == "DecoratedMappedOperator"


def test_parsing_the_dag_imports_neither_the_package_nor_pandas(tmp_path, airflow_settings):
    """The scheduler parses DAG files often: parse-time code stays off the package."""
    probe = (
        "import sys\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(HERE.parents[1] / 'dags')!r})\n"
        "assert bag.import_errors == {}, bag.import_errors\n"
        "print(sorted(m for m in ('spillover', 'pandas') if m in sys.modules))\n"
    )
    home = tmp_path / "airflow"
    home.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", probe],
        env={**os.environ, **airflow_settings(home)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


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
