"""Yearly spillover build: raw surveys → plants → neighbourhoods → panel → estimates.

**When it runs**: every 1 April, 06:00 Japan time (the fiscal year's start), and whenever
`spillover_deliveries` announces a newly delivered survey file (an Asset per raw source
family). Unpausing starts nothing: the next run is the next trigger.

**What it builds**: the survey years available up to the run's year (`years: [2012, latest]`
in the config picks up a new year's files without editing it). Each stage task re-uses the
stage from the latest earlier run of the same config when its inputs and config keys are
unchanged (`spillover.pipeline.run_or_reuse`), so a delivery re-runs only what depends on it.

**Params** (unknown keys fail the run at once): `config_path` (else the config named by
the delivery that started the run, else the Variable `spillover_config_path`), `years`
[first, last], `radii_km`, `specs` (model ids), `fresh`.

**Safeguards**: a data or config error fails its task without retries and writes
`FAILED.md` into the run directory; other errors retry with backoff; two hours per task,
twelve per run; pool `spillover`. `publish` announces `spillover://estimates` with the
version folder, run id, config hash and row counts; `spillover_reports` builds on it.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import AssetAny, AssetOrTimeSchedule, CronTriggerTimetable, Param, dag, task
from spillover_airflow import (
    DEFAULT_ARGS,
    ESTIMATES,
    NEVER_PAST_TICK,
    RAW,
    TIMEZONE,
    config_path,
    fail_fast,
    failure_callbacks,
)

STAGES = (
    "ingest",
    "geocode",
    "firms",
    "exports",
    "neighbourhoods",
    "exposure",
    "panel",
    "disclose",
)


@task(retries=0)
def start_run(
    params=None, run_id=None, dag_run=None, ti=None, triggering_asset_events=None
) -> list[str]:
    """Check the params, freeze the config with the years available, choose the base run.

    A run started by a delivery builds the config the delivery's event names. Returns the
    spec ids (what `estimate` maps over); the run directory goes to the next tasks as the
    XCom `workdir`.
    """
    import pendulum

    from spillover import pipeline, scheduled

    when = dag_run.logical_date or dag_run.run_after
    given = dag_run.conf or {}  # unknown keys stay in, for begin() to refuse
    conf = {**{key: params.get(key) for key in scheduled.PARAMETERS}, **given}
    delivered = {
        event.extra["config_path"]
        for events in (triggering_asset_events or {}).values()
        for event in events
        if event.extra.get("config_path")
    }
    if not conf.get("config_path") and len(delivered) == 1:
        conf["config_path"] = delivered.pop()
    started = fail_fast(
        scheduled.begin,
        conf,
        run_name=pipeline.safe_name(run_id),
        up_to=pendulum.instance(when).in_timezone(TIMEZONE).year,
        default_config=config_path(None),
    )
    ti.xcom_push(key="workdir", value=started["workdir"])
    return started["spec_ids"]


@task
def stage(name: str, workdir: str) -> str:
    """Run one pipeline stage on the run directory, or re-use it when unchanged."""
    from spillover import pipeline

    fail_fast(pipeline.run_or_reuse, name, workdir)
    return workdir


@task(map_index_template="{{ task.op_kwargs['spec_id'] }}")
def estimate(workdir: str, spec_id: str) -> str:
    """Fit one model spec (or re-use its fit)."""
    from spillover import pipeline

    fail_fast(pipeline.run_or_reuse, "estimate", workdir, spec_ids=[spec_id])
    return workdir


@task(outlets=[ESTIMATES])
def publish(workdir: str, outlet_events=None) -> str:
    """Publish the datasets and manifest; announce them with the Asset event."""
    from spillover import pipeline, scheduled

    report = fail_fast(pipeline.run_or_reuse, "publish", workdir)
    outlet_events[ESTIMATES].extra = scheduled.publication(report)
    return workdir


@dag(
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable(
            "0 6 1 4 *", timezone=TIMEZONE, run_immediately=NEVER_PAST_TICK
        ),
        assets=AssetAny(*RAW.values()),
    ),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=12),
    default_args=DEFAULT_ARGS,
    on_failure_callback=failure_callbacks("dag"),
    params={
        "config_path": Param(None, type=["null", "string"], description="config YAML"),
        "years": Param(
            None,
            type=["null", "array"],
            items={"type": "integer", "minimum": 1900, "maximum": 2200},
            minItems=2,
            maxItems=2,
            description="[first, last] survey years (default: the config's)",
        ),
        "radii_km": Param(
            None,
            type=["null", "array"],
            items={"type": "number", "exclusiveMinimum": 0, "maximum": 100},
            minItems=1,
            description="neighbourhood radii, km (default: the config's)",
        ),
        "specs": Param(
            None,
            type=["null", "array"],
            items={"type": "string"},
            minItems=1,
            description="ids of the config's models to estimate (default: all)",
        ),
        "fresh": Param(False, type="boolean", description="re-use nothing from earlier runs"),
    },
    tags=["spillover"],
    doc_md=__doc__,
)
def spillover_yearly():
    """Wire the stages; the DAG's docs are the module docstring."""
    spec_ids = start_run()
    workdir = spec_ids["workdir"]  # the XCom start_run pushes under that key
    for name in STAGES:
        workdir = stage.override(task_id=name)(name, workdir)
    estimated = estimate.partial(workdir=workdir).expand(spec_id=spec_ids)
    estimated >> publish(workdir)


spillover_yearly()
