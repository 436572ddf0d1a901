"""Structure of docker-compose.yml and docker/Dockerfile (Docker cannot run in CI: no daemon).

Checked against the official Airflow 3 compose file: an api-server (not the Airflow 2
webserver), a separate dag-processor, the execution API URL the workers call, PostgreSQL as
the metadata DB, and the project's folders mounted where the DAG expects them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))


def test_services_and_commands(compose):
    services = compose["services"]
    assert {
        "postgres",
        "airflow-init",
        "airflow-apiserver",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
    } <= set(services)
    commands = {name: services[name].get("command") for name in services}
    assert commands["airflow-apiserver"] == "api-server"
    assert commands["airflow-scheduler"] == "scheduler"
    assert commands["airflow-dag-processor"] == "dag-processor"
    assert commands["airflow-triggerer"] == "triggerer"
    assert "webserver" not in str(commands)  # removed in Airflow 3
    assert services["postgres"]["image"] == "postgres:16"
    assert services["airflow-apiserver"]["ports"] == ["8080:8080"]


def test_every_long_running_service_has_a_healthcheck(compose):
    for name, service in compose["services"].items():
        if name not in ("airflow-init", "airflow-cli"):
            assert "healthcheck" in service, name


def test_airflow_services_wait_for_init_and_postgres(compose):
    for name in (
        "airflow-apiserver",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
    ):
        depends = compose["services"][name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy", name
        assert depends["airflow-init"]["condition"] == "service_completed_successfully", name


def test_environment(compose):
    env = compose["services"]["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert re.fullmatch(
        r"postgresql\+psycopg2://airflow:\$\{POSTGRES_PASSWORD:-airflow\}@postgres:5432/airflow",
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"],
    )
    assert (
        env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
    )
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"].startswith(
        "${AIRFLOW_JWT_SECRET:?"
    )  # no default secret
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false"
    init_env = compose["services"]["airflow-init"]["environment"]
    assert (
        init_env["_AIRFLOW_DB_MIGRATE"] == "true" and init_env["_AIRFLOW_WWW_USER_CREATE"] == "true"
    )


def test_mounts(compose):
    mounts = {}
    for volume in compose["services"]["airflow-scheduler"]["volumes"]:
        host, container, *_ = volume.split(":")
        mounts[host] = container
    assert mounts == {
        "./dags": "/opt/airflow/dags",
        "./plugins": "/opt/airflow/plugins",
        "./sql": "/opt/airflow/sql",
        "./data": "/opt/airflow/data",
        "./logs": "/opt/airflow/logs",
    }
    for host in mounts:
        if host != "./logs" and host != "./data":
            assert (REPO / host).is_dir(), host


def test_dag_default_config_is_under_the_data_mount(compose):
    dag_source = (REPO / "dags" / "spillover_yearly.py").read_text(encoding="utf-8")
    default = re.search(r'DEFAULT_CONFIG = "([^"]+)"', dag_source).group(1)
    assert default.startswith("/opt/airflow/data/")
    env = compose["services"]["airflow-scheduler"]["environment"]
    assert env["AIRFLOW_VAR_SPILLOVER_CONFIG_PATH"].endswith(default + "}")


def test_image_is_built_from_the_project_dockerfile(compose):
    build = compose["services"]["airflow-scheduler"]["build"]
    assert build == {"context": ".", "dockerfile": "docker/Dockerfile"}
    dockerfile = (REPO / "docker" / "Dockerfile").read_text(encoding="utf-8")
    assert "ARG AIRFLOW_VERSION=3.3.2" in dockerfile
    assert "FROM apache/airflow:${AIRFLOW_VERSION}-python${PYTHON_VERSION}" in dockerfile
    assert "-r requirements.lock" in dockerfile
    assert "--no-deps ." in dockerfile
    lock = (REPO / "requirements.lock").read_text(encoding="utf-8")
    assert "\napache-airflow==3.3.2\n" in lock  # the lock and the base image agree
