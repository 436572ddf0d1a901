"""Yearly spillover build: raw surveys → plants → neighbourhoods → panel → estimates.

Every task calls one function of `spillover.pipeline` and passes on nothing but the run
directory (`<work_root>/<run_id>/`), so a retried task overwrites its own outputs. The task
ids are the names of the pipeline's stage registry (`spillover.pipeline.STAGES`), in its
order; a test keeps them in step.

* **Param** `config_path`: the config file (YAML) of the run. Left empty it falls back to the
  Airflow Variable `spillover_config_path`, else `/opt/airflow/data/demo/config.yaml`.
* **Mapped** `estimate`: one task instance per model spec of the config.
* **Asset** `spillover://estimates`: updated by `publish`; the event's extra carries the
  output root, so downstream DAGs can `schedule=[Asset("spillover://estimates")]`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Asset, Param, dag, task

ESTIMATES = Asset("spillover://estimates")
DEFAULT_CONFIG = "/opt/airflow/data/demo/config.yaml"


@task
def start_run(params=None, run_id=None) -> str:
    """Validate the config and create the run directory (named after the DAG run).

    Airflow run ids (``manual__2026-01-31T00:00:00+00:00``) hold ``:`` and ``+``, which run ids
    may not: `safe_name` maps them to a plain name, the same for every retry of the DAG run.
    """
    from airflow.sdk import Variable

    from spillover import pipeline

    config = params["config_path"] or Variable.get("spillover_config_path", DEFAULT_CONFIG)
    return str(pipeline.start_run(config, run_id=pipeline.safe_name(run_id)))


@task
def stage(name: str, workdir: str) -> str:
    """Run one pipeline stage on the run directory."""
    from spillover import pipeline

    pipeline.run_stage(name, workdir)
    return workdir


@task
def spec_ids(workdir: str) -> list[str]:
    """List the model spec ids of the run's config."""
    from spillover import pipeline

    return pipeline.spec_ids(workdir)


@task(map_index_template="{{ task.op_kwargs['spec_id'] }}")
def estimate(workdir: str, spec_id: str) -> str:
    """Fit one model spec."""
    from spillover import pipeline

    pipeline.run_stage("estimate", workdir, spec_ids=[spec_id])
    return workdir


@task(outlets=[ESTIMATES])
def publish(workdir: str, outlet_events=None) -> str:
    """Write the datasets and manifest under the output root; announce the Asset."""
    from spillover import pipeline

    report = pipeline.run_stage("publish", workdir)
    outlet_events[ESTIMATES].extra = {
        "output_root": str(pipeline.output_root(workdir)),
        "report": report["report"],
    }
    return workdir


@dag(
    schedule="@yearly",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    params={"config_path": Param(None, type=["null", "string"], description="config YAML")},
    tags=["spillover"],
    doc_md=__doc__,
)
def spillover_yearly():
    """Wire the stages; the DAG's docs are the module docstring."""
    workdir = start_run()
    for name in ("ingest", "geocode", "firms", "exports", "neighbourhoods", "exposure", "panel"):
        workdir = stage.override(task_id=name)(name, workdir)
    estimated = estimate.partial(workdir=workdir).expand(spec_id=spec_ids(workdir))
    estimated >> publish(workdir)


spillover_yearly()
