"""Watch the raw folders: announce a newly delivered survey file as an Asset event.

Every day at 07:00 Japan time, one task per raw source family (`sources.<table>` of the
config) lists the family's files (yearly ones probed up to this year) and compares them with
what the previous look recorded (`<work_root>/deliveries/<table>.json`). New or changed files
end the task successfully, which emits the family's Asset (`spillover://raw/<table>`) with
the config and the file names in its extra, and `spillover_yearly` builds that config;
nothing new skips the task (no event). The first look only records what is there, so
switching the watch on starts no build.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import CronTriggerTimetable, Param, dag, task
from spillover_airflow import (
    DEFAULT_ARGS,
    NEVER_PAST_TICK,
    RAW,
    TIMEZONE,
    config_path,
    fail_fast,
)


@task
def watch(table: str, params=None, dag_run=None, outlet_events=None) -> dict:
    """Look for new or changed files of one source family; skip when there are none."""
    import pendulum
    from airflow.sdk.exceptions import AirflowSkipException

    from spillover import deliveries
    from spillover.config import load_config

    year = pendulum.instance(dag_run.run_after).in_timezone(TIMEZONE).year
    path = config_path(params)
    config = fail_fast(load_config, path)
    if not config.sources.get(table):  # an optional table (crosswalk, concordance) not used
        raise AirflowSkipException(f"{table}: the config has no source for it")
    found = fail_fast(deliveries.detect, config, table, up_to=year + 1)
    if not found.delivered:
        first = " (first look: recorded as the baseline)" if found.first_look else ""
        raise AirflowSkipException(f"{table}: nothing new among {found.files} files{first}")
    outlet_events[RAW[table]].extra = {
        "config_path": path,  # the build of this config is what the delivery triggers
        "new": list(found.new),
        "changed": list(found.changed),
    }
    return {"new": len(found.new), "changed": len(found.changed)}


@dag(
    schedule=CronTriggerTimetable("0 7 * * *", timezone=TIMEZONE, run_immediately=NEVER_PAST_TICK),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=1),
    default_args={**DEFAULT_ARGS, "retries": 0, "execution_timeout": timedelta(minutes=30)},
    params={"config_path": Param(None, type=["null", "string"], description="config YAML")},
    tags=["spillover"],
    doc_md=__doc__,
)
def spillover_deliveries():
    """One watch task per raw source family."""
    for table, asset in RAW.items():
        watch.override(task_id=f"watch_{table}", outlets=[asset])(table)


spillover_deliveries()
