"""Regional briefs of each new publication, scheduled on the `spillover://estimates` Asset.

`spillover_yearly`'s publish task emits the Asset; its event's extra names the version
folder. This DAG writes one brief per prefecture with a centre (`brief-<code>.html`) into
that folder, beside the run report that publish already wrote, so a rollback of the output
root brings its own briefs.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task
from spillover_airflow import DEFAULT_ARGS, ESTIMATES, fail_fast


@task
def briefs(triggering_asset_events=None) -> list[str]:
    """Write the briefs of every publication announced since the last run."""
    from spillover import scheduled

    written = []
    for event in triggering_asset_events[ESTIMATES]:
        written += fail_fast(scheduled.build_briefs, event.extra["version"])
    return written


@dag(
    schedule=[ESTIMATES],
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=1),
    default_args=DEFAULT_ARGS,
    tags=["spillover"],
    doc_md=__doc__,
)
def spillover_reports():
    """One task: the briefs."""
    briefs()


spillover_reports()
