"""The pipeline: run one stage or all of them on a run directory (the CLI and the DAG).

:func:`run_stage` looks the stage up in the registry (:data:`STAGES`, filled by
:mod:`spillover.stages`), calls it and does the shared work once for every stage: timing,
the quarantine file and its ``quarantine.max_share`` limit, the row accounting, writing the
stage's tables and its report (``reports/<stage>.json``). Run directories are described in
:mod:`spillover.runs`.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Protocol

import pandas as pd

import spillover.stages  # noqa: F401  (importing it registers the stages)
from spillover import quarantine
from spillover.registry import STAGES
from spillover.runs import PipelineError, Run, open_run, start_run
from spillover.storage import read_dataset, write_json_atomic

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
    "spec_ids",
    "start_run",
]


def run_stage(name: str, workdir: str | Path, *, progress: bool = False, **options) -> dict:
    """Run one stage on a run directory; return its report (also in ``reports/``).

    ``options`` go to the stage function (``spec_ids`` for ``estimate``).
    """
    if name not in STAGES:
        raise PipelineError(f"unknown stage {name!r}; stages are {', '.join(STAGES)}")
    registered = STAGES[name]
    run = replace(open_run(workdir), progress=progress)
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
    accounted = result.rows_out + quarantined + result.rows_incomplete
    if registered.conserves_rows and accounted != result.rows_in:
        raise PipelineError(
            f"{name}: {result.rows_in} rows in but {accounted} accounted for (out "
            f"{result.rows_out}, quarantined {quarantined}, incomplete {result.rows_incomplete})"
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
    """Start a run and run every registered stage in order; return the run directory."""
    workdir = start_run(config_path, run_id=run_id)
    for number, name in enumerate(STAGES, start=1):
        if listener is not None:
            listener.started(name, number, len(STAGES))
        report = run_stage(name, workdir, progress=progress)
        if listener is not None:
            listener.finished(name, report)
    return workdir


def spec_ids(workdir: str | Path) -> list[str]:
    """The model spec ids of a run (for mapped estimation tasks)."""
    return [spec.id for spec in open_run(workdir).config.models]


def output_root(workdir: str | Path) -> Path:
    """The output root of a run."""
    run = open_run(workdir)
    return run.config.resolve(run.config.output_root)


def read_output(root: str | Path, dataset: str) -> pd.DataFrame:
    """Read one published dataset (e.g. ``estimates``) from an output root."""
    return read_dataset(Path(root) / dataset)
