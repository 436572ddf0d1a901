"""Run ``spillover_yearly`` once with ``dag.test()``; print the outcome as one JSON line.

Usage: ``python tests/dags/run_dag_test.py [CONFIG_PATH]`` with AIRFLOW_HOME,
AIRFLOW__DATABASE__SQL_ALCHEMY_CONN and AIRFLOW__CORE__DAGS_FOLDER set (see conftest.py).
Without CONFIG_PATH it reads the path from stdin once the DB is ready, so the caller can build
the demo world while Airflow starts.
Run as a subprocess by ``test_spillover_yearly.py`` so that Airflow reads those settings at
import, whatever the pytest process imported before. Retries are switched off so a failing
stage fails the run at once instead of waiting for its retry delay.
"""

from __future__ import annotations

import json
import os
import sys

from airflow.dag_processing.dagbag import DagBag
from airflow.utils.db import initdb


def main(config_path: str | None) -> None:
    initdb()  # creates and migrates the SQLite metadata DB (Airflow 3.3)
    dag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"]).dags["spillover_yearly"]
    for task in dag.tasks:
        task.retries = 0
    config_path = config_path or sys.stdin.readline().strip()
    run = dag.test(run_conf={"config_path": config_path})  # pool and timeouts as deployed
    states = {f"{ti.task_id}[{ti.map_index}]": str(ti.state) for ti in run.get_task_instances()}
    print("RESULT " + json.dumps({"state": str(run.state), "tasks": states}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
