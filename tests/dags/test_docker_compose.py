"""docker-compose.yml and docker/Dockerfile, checked for consistency (no Docker daemon in CI).

Each test checks that two things which must agree do agree — a service command and the
installed Airflow's CLI, a config variable and Airflow's own option list, a mount and the
DAG's default path, the image's Airflow version and the lock — rather than restating values.
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


def _airflow_services(compose: dict) -> dict[str, dict]:
    return {name: s for name, s in compose["services"].items() if name.startswith("airflow-")}


def test_service_commands_are_commands_of_the_installed_airflow(compose):
    from airflow.cli.cli_parser import get_parser

    subcommands = set()
    for action in get_parser()._subparsers._group_actions:
        subcommands |= set(action.choices)
    for name, service in _airflow_services(compose).items():
        command = service.get("command")
        if isinstance(command, str) and not command.startswith(("-", "bash")):
            assert command.split()[0] in subcommands, f"{name}: {command!r}"


def test_airflow_settings_are_real_airflow_options(compose):
    from airflow.configuration import retrieve_configuration_description

    options = {
        (section, option)
        for section, entry in retrieve_configuration_description().items()
        for option in entry["options"]
    }
    for name, service in _airflow_services(compose).items():
        for key in service.get("environment", {}):
            parts = key.split("__")
            if key.startswith("AIRFLOW__") and len(parts) == 3:
                assert (parts[1].lower(), parts[2].lower()) in options, f"{name}: {key}"


def test_dependencies_exist_and_health_conditions_have_healthchecks(compose):
    services = compose["services"]
    for name, service in services.items():
        for needed, rule in (service.get("depends_on") or {}).items():
            assert needed in services, f"{name} depends on unknown service {needed}"
            if rule.get("condition") == "service_healthy":
                assert "healthcheck" in services[needed], f"{needed} (needed by {name})"


def test_metadata_db_url_matches_the_postgres_service(compose):
    postgres = compose["services"]["postgres"]["environment"]
    for name, service in _airflow_services(compose).items():
        url = service.get("environment", {}).get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")
        if url is None:
            continue
        match = re.fullmatch(r"postgresql\+\w+://(\w+):(\S+)@(\w+):5432/(\w+)", url)
        assert match, f"{name}: {url}"
        user, password, host, database = match.groups()
        assert (user, password, host, database) == (
            postgres["POSTGRES_USER"],
            postgres["POSTGRES_PASSWORD"],
            "postgres",
            postgres["POSTGRES_DB"],
        ), name


def test_mounted_repo_folders_exist_and_hold_the_dags_default_config(compose):
    mounts = {}
    for volume in compose["services"]["airflow-scheduler"]["volumes"]:
        host, container, *_ = volume.split(":")
        mounts[container] = host
    for host in mounts.values():
        if host not in ("./logs", "./data"):  # created at run time
            assert (REPO / host).is_dir(), host
    dags_folder = compose["services"]["airflow-scheduler"]["environment"].get(
        "AIRFLOW__CORE__DAGS_FOLDER", "/opt/airflow/dags"
    )
    assert mounts[dags_folder] == "./dags"
    dag_source = (REPO / "plugins" / "spillover_airflow.py").read_text(encoding="utf-8")
    default = re.search(r'DEFAULT_CONFIG = "([^"]+)"', dag_source).group(1)
    assert any(default.startswith(container + "/") for container in mounts), default


def test_image_airflow_version_matches_the_lock(compose):
    build = compose["services"]["airflow-scheduler"]["build"]
    dockerfile = (REPO / build["context"] / build["dockerfile"]).read_text(encoding="utf-8")
    image_version = re.search(r"ARG AIRFLOW_VERSION=(\S+)", dockerfile).group(1)
    lock = (REPO / "requirements.lock").read_text(encoding="utf-8")
    assert re.search(rf"^apache-airflow=={re.escape(image_version)}$", lock, re.MULTILINE)
    assert "requirements.lock" in dockerfile


def test_the_pool_of_the_tasks_is_created_by_airflow_init(compose):
    plugin = (REPO / "plugins" / "spillover_airflow.py").read_text(encoding="utf-8")
    pool = re.search(r'POOL = "([^"]+)"', plugin).group(1)
    init = "\n".join(compose["services"]["airflow-init"]["command"])
    assert re.search(rf"airflow pools set {pool} ", init), init


def test_celery_profile_has_its_broker_and_worker(compose):
    services = compose["services"]
    assert services["redis"]["profiles"] == ["celery"]
    worker = services["airflow-worker"]
    assert worker["profiles"] == ["celery"] and worker["command"] == "celery worker"
    env = compose["x-airflow-common"]["environment"]
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://:@redis:6379/")
    assert env["AIRFLOW__CORE__EXECUTOR"] == "${AIRFLOW_EXECUTOR:-LocalExecutor}"
    assert re.fullmatch(r"\$\{AIRFLOW_PARALLELISM:-\d+\}", env["AIRFLOW__CORE__PARALLELISM"])
