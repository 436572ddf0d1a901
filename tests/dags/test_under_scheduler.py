"""The DAGs under a real scheduler on PostgreSQL, driven through the REST API.

`scheduler_stack.SchedulerStack` starts PostgreSQL (Debian's package, a Unix socket only),
migrates Airflow into it and runs the scheduler, the DAG processor and the API server. On a
small demo world the test then does what an operator does: a trigger with a misspelt param
fails at once without retries; a param of the wrong type is refused; a good trigger runs
every task (one mapped `estimate` per spec), publishes the same estimates as the CLI, emits
the Asset event with its extra, starts `spillover_reports`, and the task logs carry the
stage metrics. With 2019 held back it builds 2012–2018; once the files are back, the
deliveries watch announces them and their Asset events start a build of 2012–2019 whose
estimates equal the CLI's. It prints the scheduling overhead per task.
"""

from __future__ import annotations

import shutil
import statistics
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from held_year import deliver, hold_back
from scheduler_stack import SchedulerStack, postgres_bin

from spillover.demo.world import WorldParams, build_demo_world
from spillover.pipeline import read_output, run_pipeline

pytestmark = [pytest.mark.airflow, pytest.mark.slow, pytest.mark.enable_socket]

#: What the `spillover://estimates` event's extra must name.
EXTRA_KEYS = {"output_root", "version", "run_id", "config_sha256", "rows", "report"}
SMALL = WorldParams(n_establishments=6000, n_global_firms=60, n_large_firms=80, n_medium_firms=700)


@pytest.fixture(scope="module")
def worlds(tmp_path_factory):
    """A small demo world for Airflow with 2019 held back, and the CLI's full publication."""
    root = tmp_path_factory.mktemp("scheduler")
    world = build_demo_world(root / "airflow", SMALL)
    shutil.copytree(world.root, root / "cli")
    run_pipeline(root / "cli" / "config.yaml")
    hold_back(world.root, root / "held")
    return world, root / "cli" / "output", root / "held"


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _overhead(instances: list[dict]) -> dict[str, float]:
    """Seconds from the end of a task's last upstream to its start, per task id (mean)."""
    ends: dict[str, datetime] = {}
    for ti in instances:
        end = _time(ti["end_date"])
        ends[ti["task_id"]] = max(end, ends.get(ti["task_id"], end))
    upstream = {
        "ingest": "start_run", "geocode": "ingest", "firms": "geocode", "exports": "firms",
        "neighbourhoods": "exports", "exposure": "neighbourhoods", "panel": "exposure",
        "estimate": "panel", "publish": "estimate",
    }  # fmt: skip
    gaps: dict[str, list[float]] = {}
    for ti in instances:
        before = upstream.get(ti["task_id"])
        if before is not None:
            gap = (_time(ti["start_date"]) - ends[before]).total_seconds()
            gaps.setdefault(ti["task_id"], []).append(gap)
    return {task: statistics.mean(values) for task, values in gaps.items()}


@pytest.mark.skipif(postgres_bin() is None, reason="PostgreSQL server not installed (.ci/run does)")
def test_the_dags_under_a_real_scheduler_on_postgresql(worlds):
    world, cli_output, held = worlds
    config = str(world.config_path)
    with SchedulerStack() as stack:
        for dag_id in ("spillover_yearly", "spillover_reports", "spillover_deliveries"):
            stack.wait_for_dag(dag_id)
        unpaused = datetime.now(UTC)
        for dag_id in ("spillover_yearly", "spillover_reports", "spillover_deliveries"):
            stack.unpause(dag_id)

        wrong_type = stack.trigger("spillover_yearly", {"config_path": config, "years": "2019"})
        assert wrong_type.status_code == 400, wrong_type.text

        misspelt = stack.trigger("spillover_yearly", {"config_path": config, "radius_km": 10})
        assert misspelt.status_code == 200, misspelt.text
        failed = stack.wait_for_run("spillover_yearly", misspelt.json()["dag_run_id"])
        assert failed["state"] == "failed"
        first = {ti["task_id"]: ti for ti in stack.task_instances(*_ids(failed))}
        assert first["start_run"]["state"] == "failed" and first["start_run"]["try_number"] == 1
        log = stack.task_log(*_ids(failed), "start_run")
        assert "run parameters ['radius_km'] are not known" in log, log[-3000:]

        # the first look of the watch records what is there and announces nothing
        look = stack.trigger("spillover_deliveries", {"config_path": config})
        watched = stack.wait_for_run("spillover_deliveries", look.json()["dag_run_id"])
        assert {ti["state"] for ti in stack.task_instances(*_ids(watched))} == {"skipped"}

        good = stack.trigger("spillover_yearly", {"config_path": config})
        run = stack.wait_for_run("spillover_yearly", good.json()["dag_run_id"])
        instances = stack.task_instances(*_ids(run))
        states = {f"{ti['task_id']}[{ti['map_index']}]": ti["state"] for ti in instances}
        assert run["state"] == "success", f"{states}\n{stack.logs()}"
        assert set(states.values()) == {"success"}, states
        specs = [ti for ti in instances if ti["task_id"] == "estimate"]
        estimates = read_output(world.root / "output", "estimates")
        assert len(specs) == estimates["spec_id"].nunique() > 1
        start_log = stack.task_log(*_ids(run), "start_run")
        assert "years 2012–2018" in start_log, start_log[-3000:]
        ingest_log = stack.task_log(*_ids(run), "ingest")
        assert "ingest: done in" in ingest_log and "rows in" in ingest_log, ingest_log[-3000:]
        overhead = _overhead(instances)

        events = [e for e in stack.asset_events("spillover://estimates") if e["extra"]]
        assert len(events) == 1 and EXTRA_KEYS <= set(events[0]["extra"]), events
        extra = events[0]["extra"]
        assert extra["rows"]["estimates"] == len(estimates)
        reports = stack.wait_for_any_run("spillover_reports")
        assert reports["state"] == "success", stack.logs()
        assert list(Path(extra["version"]).glob("brief-*.html"))

        # 2019 delivered: the watch announces four families, and their events start the build
        deliver(world.root, held)
        look = stack.trigger("spillover_deliveries", {"config_path": config})
        watched = stack.wait_for_run("spillover_deliveries", look.json()["dag_run_id"])
        announced = {
            ti["task_id"] for ti in stack.task_instances(*_ids(watched)) if ti["state"] == "success"
        }
        assert announced == {
            f"watch_{t}" for t in ("establishments", "firms", "affiliates", "parents")
        }
        delivered = stack.wait_for_any_run("spillover_yearly", run_type="asset_triggered")
        delivered_states = {
            f"{ti['task_id']}[{ti['map_index']}]": ti["state"]
            for ti in stack.task_instances(*_ids(delivered))
        }
        assert delivered["state"] == "success", f"{delivered_states}\n{stack.logs()}"
        start_log = stack.task_log(*_ids(delivered), "start_run")
        assert "years 2012–2019" in start_log, start_log[-3000:]
        for dag_id in ("spillover_yearly", "spillover_deliveries"):  # unpausing caught up none
            # (the daily watch fires at 07:00 JST: a test that spans it sees that tick's run)
            caught_up = [
                r
                for r in stack.runs(dag_id)
                if r["run_type"] == "scheduled" and _time(r["run_after"]) < unpaused
            ]
            assert not caught_up, (dag_id, caught_up)
        print("scheduling overhead per task (s):", {k: round(v, 1) for k, v in overhead.items()})

    pd.testing.assert_frame_equal(
        read_output(world.root / "output", "estimates"), read_output(cli_output, "estimates")
    )


def _ids(run: dict) -> tuple[str, str]:
    return run["dag_id"], run["dag_run_id"]
