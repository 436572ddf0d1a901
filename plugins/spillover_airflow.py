"""What the spillover DAGs share: assets, safeguards and the failure summary.

Airflow puts its plugins folder on ``sys.path`` in every component (scheduler, DAG
processor, task runner), so the DAG files import this module by name. The package
``spillover`` is imported inside tasks and callbacks only, so parsing stays cheap.
"""

from __future__ import annotations

import os
from datetime import timedelta

from airflow.sdk import Asset

TIMEZONE = "Asia/Tokyo"
#: ``run_immediately`` of the DAGs' cron timetables: unpausing never runs a tick already past.
#: (Airflow's default, ``False``, runs the latest tick when unpaused within a tenth of the period
#: after it: up to 2.4 h after the daily watch, 36 days after the yearly build's 1 April.)
NEVER_PAST_TICK = timedelta(0)
OWNER = "spillover"
#: The pool every spillover task runs in (created by the compose file's airflow-init).
POOL = "spillover"
DEFAULT_CONFIG = "/opt/airflow/data/demo/config.yaml"

#: The published estimates; the event's extra names the version folder, run id, config hash
#: and row counts (:func:`spillover.scheduled.publication`).
ESTIMATES = Asset("spillover://estimates")

#: One Asset per raw source family (``sources.<table>`` of the config); a test keeps the
#: list equal to the config's source tables.
RAW_TABLES = (
    "establishments",
    "firms",
    "affiliates",
    "parents",
    "export_ratios",
    "export_ratio_concordance",
    "external_demand",
    "firm_crosswalk",
)
RAW = {table: Asset(f"spillover://raw/{table}") for table in RAW_TABLES}


def config_path(params: dict | None) -> str:
    """The run's config file: the ``config_path`` param, else Variable, else the demo's."""
    from airflow.sdk import Variable

    chosen = (params or {}).get("config_path")
    return chosen or Variable.get("spillover_config_path", DEFAULT_CONFIG)


def fail_fast(call, *args, **kwargs):
    """Call a spillover function; a data or config error fails the task without retries.

    Such an error (a missing file, a bad config key, a quarantine share above the limit) is
    the same on every try, so it raises ``AirflowFailException``; a lock held by another
    process (``LockTimeout``) and anything unexpected are retried with backoff.
    """
    from airflow.sdk.exceptions import AirflowFailException

    from spillover.errors import SpilloverError
    from spillover.locks import LockTimeout

    try:
        return call(*args, **kwargs)
    except LockTimeout:
        raise
    except SpilloverError as exc:
        raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc


def summarise_failure(context) -> None:
    """``on_failure_callback``: write ``FAILED.md`` in the run directory and log it."""
    from spillover.scheduled import failure_summary

    ti = context["ti"]
    error = context.get("exception")
    cause = getattr(error, "__cause__", None) or error
    workdir = None
    if ti.task_id != "start_run":
        workdir = ti.xcom_pull(task_ids="start_run", key="workdir")
    failure_summary(workdir, task=ti.task_id, try_number=ti.try_number, error=cause)


def summarise_run_failure(context) -> None:
    """DAG-level ``on_failure_callback``: log why the whole run failed (e.g. its timeout).

    Runs in the DAG processor, where no task's XComs are at hand; the failed task's own
    callback has written ``FAILED.md`` already.
    """
    import logging

    dag_run = context.get("dag_run")
    logging.getLogger("spillover.scheduled").error(
        "spillover: DAG run %s failed: %s",
        getattr(dag_run, "run_id", "?"),
        context.get("reason") or "a task failed (see its FAILED.md in the run directory)",
    )


def failure_callbacks(level: str = "task") -> list:
    """The summary (task or DAG ``level``), plus an e-mail if ``SPILLOVER_ALERT_EMAIL`` is set.

    The e-mail goes through Airflow's SMTP notifier and its ``smtp_default`` connection.
    """
    callbacks = [summarise_failure if level == "task" else summarise_run_failure]
    address = os.environ.get("SPILLOVER_ALERT_EMAIL")
    if address:
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        callbacks.append(
            SmtpNotifier(
                to=address,
                subject=f"spillover: {{{{ dag.dag_id }}}} failed ({level})",
                html_content="Run {{ run_id }}: {{ exception or reason }}"
                + (
                    "<br>Task {{ ti.task_id }}, try {{ ti.try_number }}, log {{ ti.log_url }}"
                    if level == "task"
                    else ""
                ),
            )
        )
    return callbacks


#: Safeguards of every task: data errors fail at once (:func:`fail_fast`), others are
#: retried with exponential backoff (1, 2 minutes); a hung stage ends after two hours.
DEFAULT_ARGS = {
    "owner": OWNER,
    "pool": POOL,
    "retries": 2,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=10),
    "execution_timeout": timedelta(hours=2),
    "on_failure_callback": failure_callbacks(),
}
