"""Airflow test setup: a throw-away AIRFLOW_HOME with a SQLite metadata DB.

Airflow reads its configuration when ``airflow`` is first imported, so the environment is set
here, at conftest import (before any test module of this folder imports Airflow). The DAG run
itself (``dag.test()``) happens in a subprocess that migrates its own DB first
(``tests/dags/run_dag_test.py``), so it does not depend on what else this pytest process
imported.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAGS_FOLDER = REPO / "dags"
PLUGINS_FOLDER = REPO / "plugins"

_HOME = Path(tempfile.mkdtemp(prefix="spillover-airflow-"))
atexit.register(shutil.rmtree, _HOME, ignore_errors=True)


def airflow_env(home: Path) -> dict[str, str]:
    """Return the Airflow settings of a test process whose AIRFLOW_HOME is ``home``."""
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PLUGINS_FOLDER),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
    }


os.environ.update(airflow_env(_HOME))


@pytest.fixture(scope="session")
def airflow_settings():
    """:func:`airflow_env`, for tests that start an Airflow subprocess with its own home."""
    return airflow_env


@pytest.fixture(scope="session")
def dagbag():
    """Parse the repo's dags/ folder once (parsing needs no metadata DB)."""
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_FOLDER))
