"""Run directories: where one run's frozen config, tables, quarantine and reports live.

A run directory (``<work_root>/<run_id>/``) holds the frozen config (``config.json``), each
stage's Parquet outputs under ``tables/``, rejected rows under ``quarantine/`` and a JSON
report per stage under ``reports/``. Stages read only from the run directory, so a retried
stage overwrites its own outputs (idempotent).
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from spillover import quarantine
from spillover.config import Config, dump_config, load_config, parse_config
from spillover.errors import SpilloverError
from spillover.storage import write_json_atomic


class PipelineError(SpilloverError, RuntimeError):
    """A stage cannot run (unknown stage, missing inputs, not a run directory)."""


@dataclass(frozen=True)
class Run:
    """An open run: its directory, frozen config, and whether to show progress bars."""

    workdir: Path
    run_id: str
    config: Config
    progress: bool = False

    def table(self, name: str) -> pd.DataFrame:
        """Read an intermediate table written by an earlier stage."""
        path = self.workdir / "tables" / f"{name}.parquet"
        if not path.exists():
            raise PipelineError(f"{path} is missing: run the stage that writes {name!r} first")
        return pd.read_parquet(path)

    def optional_table(self, name: str) -> pd.DataFrame | None:
        """The table of an optional source (``None`` when the config lists no source)."""
        return self.table(name) if self.config.sources.get(name) else None

    def write(self, name: str, frame: pd.DataFrame) -> None:
        """Write an intermediate table (replacing an earlier attempt)."""
        path = self.workdir / "tables" / f"{name}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(path, index=False)

    def write_quarantine(self, stage: str, frame: pd.DataFrame) -> Path:
        """Write the rows a stage rejected (an empty file when there are none)."""
        path = self.workdir / "quarantine" / f"{stage}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.reindex(columns=quarantine.COLUMNS).astype({"line": "Int64"}).to_parquet(
            path, index=False
        )
        return path


def _safe_run_id(run_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-]+", "_", run_id).strip("_") or "run"


def start_run(config_path: str | Path, *, run_id: str | None = None) -> Path:
    """Validate the config, create the run directory and freeze the config into it."""
    config = load_config(config_path)
    run_id = _safe_run_id(run_id or datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"))
    workdir = config.resolve(config.work_root) / run_id
    for stale in ("tables", "quarantine", "reports"):  # a re-used run id starts clean
        shutil.rmtree(workdir / stale, ignore_errors=True)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "config.json").write_text(dump_config(config), encoding="utf-8")
    write_json_atomic(
        {
            "run_id": run_id,
            "config_path": str(Path(config_path).resolve()),
            "config_sha256": config.digest(),
            "started": datetime.now(UTC).isoformat(),
        },
        workdir / "run.json",
    )
    return workdir


def open_run(workdir: str | Path) -> Run:
    """Load a run directory created by :func:`start_run`."""
    workdir = Path(workdir)
    if not (workdir / "config.json").exists() or not (workdir / "run.json").exists():
        raise PipelineError(
            f"{workdir} is not a run directory (no config.json/run.json): start one with "
            "`spillover run --config …` or pipeline.start_run()"
        )
    data = json.loads((workdir / "config.json").read_text(encoding="utf-8"))
    config = parse_config(
        data, base_dir=Path(data["base_dir"]), origin=str(workdir / "config.json")
    )
    run_info = json.loads((workdir / "run.json").read_text(encoding="utf-8"))
    return Run(workdir, run_info["run_id"], config)
