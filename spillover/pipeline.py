"""The pipeline: run one stage or all of them on a run directory (the CLI and the DAG).

:func:`run_stage` looks the stage up in the registry (:data:`STAGES`, filled by
:mod:`spillover.stages`), calls it and does the shared work once for every stage: timing,
the quarantine file and its ``quarantine.max_share`` limit, the row accounting, writing the
stage's tables and its report (``reports/<stage>.json``). Run directories are described in
:mod:`spillover.runs`.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Protocol

import pandas as pd

import spillover.stages  # noqa: F401  (importing it registers the stages)
from spillover import quarantine
from spillover.registry import STAGES, Stage
from spillover.runs import PipelineError, Run, open_run, safe_name, start_run, started_run
from spillover.storage import output_root_lock, read_dataset, write_json_atomic

__all__ = [
    "STAGES",
    "PipelineError",
    "Run",
    "StageListener",
    "open_run",
    "output_root",
    "read_output",
    "run_pipeline",
    "run_stage",
    "safe_name",
    "spec_ids",
    "start_run",
]


def run_stage(name: str, workdir: str | Path, *, progress: bool = False, **options) -> dict:
    """Run one stage on a run directory; return its report (also in ``reports/``).

    ``options`` go to the stage function (``spec_ids`` for ``estimate``). The stage holds the
    run directory's lock (shared when it fits only some specs, as the DAG's mapped
    ``estimate`` tasks do, which write only their own tables); a stage that publishes also
    holds the output root's lock (:func:`spillover.storage.output_root_lock`). Another
    process holding them makes the stage wait up to ``SPILLOVER_LOCK_TIMEOUT`` seconds
    (:mod:`spillover.locks`).
    """
    if name not in STAGES:
        raise PipelineError(f"unknown stage {name!r}; stages are {', '.join(STAGES)}")
    run = replace(open_run(workdir), progress=progress)
    with ExitStack() as held:
        held.enter_context(run.lock(f"stage {name}", shared=bool(options.get("spec_ids"))))
        if STAGES[name].publishes:
            root = run.config.resolve(run.config.output_root)
            held.enter_context(output_root_lock(root, f"run {run.run_id}, stage {name}"))
        return _run_locked(STAGES[name], run, options)


def _run_locked(registered: Stage, run: Run, options: dict) -> dict:
    """Run a stage whose locks are held: the shared work of :func:`run_stage`."""
    name = registered.name
    started = time.perf_counter()
    result = registered.function(run, **options)
    quarantined = 0
    if result.quarantine is not None:
        path = run.write_quarantine(name, result.quarantine)
        quarantined = len(result.quarantine)
        if registered.limit_hint is not None:
            quarantine.check_share(
                quarantined,
                result.rows_in,
                run.config.quarantine.max_share,
                subject=name,
                hint=f" ({registered.limit_hint}); see {path}",
            )
    removed = quarantined - result.values_rejected  # rows quarantined instead of kept
    accounted = result.rows_out + removed + result.rows_incomplete
    if registered.conserves_rows and accounted != result.rows_in:
        raise PipelineError(
            f"{name}: {result.rows_in} rows in but {accounted} accounted for (out "
            f"{result.rows_out}, quarantined {removed}, incomplete {result.rows_incomplete})"
        )
    for table, frame in result.tables.items():
        run.write(table, frame)
    report = {
        "stage": result.report or name,
        "seconds": round(time.perf_counter() - started, 3),
        "rows_in": result.rows_in,
        "rows_out": result.rows_out,
        "rows_quarantined": quarantined,
        "rows_incomplete": result.rows_incomplete,
        "values_rejected": result.values_rejected,
        **result.details,
    }
    write_json_atomic(report, run.workdir / "reports" / f"{report['stage']}.json")
    return report


class StageListener(Protocol):
    """Told when each stage of :func:`run_pipeline` starts and ends (e.g. the CLI's lines)."""

    def started(self, name: str, number: int, total: int) -> None:
        """Stage ``number`` of ``total`` is starting."""

    def finished(self, name: str, report: dict) -> None:
        """A stage ended with ``report``."""


def run_pipeline(
    config_path: str | Path,
    *,
    run_id: str | None = None,
    listener: StageListener | None = None,
    progress: bool = False,
) -> Path:
    """Start a run and run every registered stage in order; return the run directory.

    The run directory stays locked from the start to the end of the last stage.
    """
    with started_run(
        config_path, run_id=run_id, doing="run_pipeline"
    ) as workdir:  # locked until the last stage
        for number, name in enumerate(STAGES, start=1):
            if listener is not None:
                listener.started(name, number, len(STAGES))
            report = run_stage(name, workdir, progress=progress)
            if listener is not None:
                listener.finished(name, report)
    return workdir


def spec_ids(workdir: str | Path) -> list[str]:
    """The model spec ids of a run (for mapped estimation tasks)."""
    return [spec.id for spec in open_run(workdir).config.specs]


def output_root(workdir: str | Path) -> Path:
    """The output root of a run."""
    run = open_run(workdir)
    return run.config.resolve(run.config.output_root)


def read_output(root: str | Path, dataset: str) -> pd.DataFrame:
    """Read one published dataset (e.g. ``estimates``) from an output root."""
    return read_dataset(Path(root) / dataset)
