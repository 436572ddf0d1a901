"""Run directories: where one run's frozen config, tables, quarantine and reports live.

A run directory (``<work_root>/<run_id>/``) holds the frozen config (``config.json``), each
stage's Parquet outputs under ``tables/``, rejected rows under ``quarantine/`` and a JSON
report per stage under ``reports/``. Stages read only from the run directory, so a retried
stage overwrites its own outputs (idempotent).

Run ids are plain names (:data:`RUN_ID_PATTERN`); the default is the UTC start time plus a
random suffix (``20260131T120000Z-1f2e3d``), so runs started in the same second get different
directories. :func:`safe_name` maps any other text (an Airflow run id) to a valid one.
Re-using a run id is allowed only with the same frozen config (``config.json``, which includes
the config file's folder): the run then starts clean. Each stage, and
:func:`start_run`, holds the directory's lock (``<run dir>/.lock``, see :mod:`spillover.locks`),
so two processes never interleave their writes in one run directory.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from spillover import locks, quarantine
from spillover.config import Config, dump_config, load_config, parse_config
from spillover.errors import SpilloverError
from spillover.storage import (
    check_output_root,
    replace_atomically,
    write_internal,
    write_json_atomic,
)

#: A run id: 1–64 letters, digits, ``_``, ``.`` or ``-``, starting with a letter or digit.
RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
LOCK_NAME = ".lock"
#: Folders of a run's results, removed when a run id is re-used.
_RESULTS = ("tables", "quarantine", "reports", "fingerprints")


class PipelineError(SpilloverError, RuntimeError):
    """A stage cannot run (unknown stage, missing inputs, not a run directory)."""


@dataclass(frozen=True)
class Run:
    """An open run: its directory, frozen config, and whether to show progress bars."""

    workdir: Path
    run_id: str
    config: Config
    progress: bool = False

    def table(self, name: str, columns: list[str] | None = None) -> pd.DataFrame:
        """Read an intermediate table written by an earlier stage (only ``columns``, if given)."""
        return pd.read_parquet(self._table_path(name), columns=columns)

    def arrow_table(self, name: str) -> pa.Table:
        """:meth:`table` read by Arrow: text stays in Arrow's buffers, not Python objects."""
        return pq.read_table(self._table_path(name))

    def _table_path(self, name: str) -> Path:
        path = self.workdir / "tables" / f"{name}.parquet"
        if not path.exists():
            raise PipelineError(f"{path} is missing: run the stage that writes {name!r} first")
        return path

    def optional_table(self, name: str) -> pd.DataFrame | None:
        """The table of an optional source (``None`` when the config lists no source)."""
        return self.table(name) if self.config.sources.get(name) else None

    def write(self, name: str, frame: pd.DataFrame) -> None:
        """Write an intermediate table atomically (replacing an earlier attempt).

        A stage killed mid-write leaves the earlier table or none, never a torn file.
        """
        path = self.workdir / "tables" / f"{name}.parquet"
        replace_atomically(path, partial(write_internal, frame))

    def write_quarantine(self, stage: str, frame: pd.DataFrame) -> Path:
        """Write the rows a stage rejected (an empty file when there are none)."""
        path = self.workdir / "quarantine" / f"{stage}.parquet"
        rows = frame.reindex(columns=quarantine.COLUMNS).astype({"line": "Int64"})
        replace_atomically(path, partial(write_internal, rows))
        return path

    @contextmanager
    def lock(self, doing: str, *, shared: bool = False) -> Iterator[None]:
        """Hold the run directory's lock while ``doing`` (e.g. ``"stage geocode"``).

        Parameters
        ----------
        doing : str
            What the holder does, quoted to processes that wait for the lock.
        shared : bool
            Share the lock with other shared holders (stages that write only their own files,
            such as the DAG's per-spec ``estimate`` tasks); exclusive otherwise.
        """
        with locks.locked(
            self.workdir / LOCK_NAME,
            holder=f"run {self.run_id}, {doing}",
            what="run directory",
            shared=shared,
        ):
            yield


def new_run_id() -> str:
    """A fresh run id: UTC time to the second plus 6 random hex digits."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def check_run_id(run_id: str) -> str:
    """Return ``run_id`` if it is a plain name (:data:`RUN_ID_PATTERN`), else raise.

    Raises
    ------
    PipelineError
        Naming the run id; it is never rewritten silently (:func:`safe_name` does that on
        request).
    """
    if not RUN_ID_PATTERN.fullmatch(run_id):
        raise PipelineError(
            f"run id {run_id!r} is not a plain name: use 1-64 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit (spillover.runs.safe_name maps any text to one)"
        )
    return run_id


def safe_name(text: str) -> str:
    """Map any text (e.g. an Airflow run id) to a valid run id; distinct texts stay distinct.

    A valid run id is returned unchanged. Otherwise characters outside ``[A-Za-z0-9_.-]``
    become ``_`` and 10 hex digits of the text's SHA-256 are appended, so
    ``manual__2026-01-31T00:00:00+00:00`` becomes
    ``manual__2026-01-31T00_00_00_00_00-<hash>`` and never collides with another text's name.
    """
    if RUN_ID_PATTERN.fullmatch(text):
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_.-")[:53]
    return f"{stem or 'run'}-{digest}"


def _claim(workdir: Path, run_id: str, frozen: str) -> None:
    """Refuse a run directory of another config or not a run's; clear a re-used one.

    ``frozen`` is the new run's ``config.json`` text (:func:`~spillover.config.dump_config`).
    """
    if (workdir / "run.json").exists():
        if (workdir / "config.json").read_text(encoding="utf-8") != frozen:
            raise PipelineError(
                f"run id {run_id!r} is taken: {workdir / 'config.json'} holds another config "
                "(or the same file in another folder); choose another --run-id, or omit it "
                "for a fresh one"
            )
        for stale in _RESULTS:  # the same config again: the run starts clean
            shutil.rmtree(workdir / stale, ignore_errors=True)
        return
    foreign = sorted(
        p.name for p in workdir.iterdir() if not p.name.startswith(".") and p.name != "config.json"
    )
    if foreign:
        raise PipelineError(
            f"{workdir} exists but is not a run directory (no run.json; it holds "
            f"{', '.join(foreign[:5])}): choose another --run-id"
        )


@contextmanager
def started_run(
    config_path: str | Path,
    *,
    run_id: str | None = None,
    doing: str = "start_run",
    overrides: Sequence[str] = (),
    latest_up_to: int | None = None,
) -> Iterator[Path]:
    """Start a run (see :func:`start_run`) and hold its lock until the block ends.

    ``doing`` is what the lock file tells a waiting process the holder is doing;
    ``overrides`` are ``key.path=value`` assignments applied to the config
    (:func:`spillover.config.apply_overrides`; recorded in the frozen config).
    ``latest_up_to`` caps ``years: [first, latest]`` (:func:`spillover.config.load_config`).

    Yields
    ------
    pathlib.Path
        The run directory; stages run inside the block take its lock without waiting.
    """
    config = load_config(config_path, overrides=overrides, latest_up_to=latest_up_to)
    run_id = new_run_id() if run_id is None else check_run_id(run_id)
    check_output_root(config.resolve(config.output_root))  # fail now, not after the stages
    workdir = config.resolve(config.work_root) / run_id
    workdir.mkdir(parents=True, exist_ok=True)
    with locks.locked(workdir / LOCK_NAME, holder=f"run {run_id}, {doing}", what="run directory"):
        text = dump_config(config)
        _claim(workdir, run_id, text)
        replace_atomically(
            workdir / "config.json", lambda path: path.write_text(text, encoding="utf-8")
        )
        write_json_atomic(
            {
                "run_id": run_id,
                "config_path": str(Path(config_path).resolve()),
                "config_sha256": config.digest(),
                "started": datetime.now(UTC).isoformat(),
            },
            workdir / "run.json",
        )
        yield workdir


def start_run(config_path: str | Path, *, run_id: str | None = None) -> Path:
    """Validate the config, create the run directory and freeze the config into it.

    Parameters
    ----------
    config_path : str or pathlib.Path
        The YAML config.
    run_id : str, optional
        A plain name (:data:`RUN_ID_PATTERN`); :func:`new_run_id` if omitted. An existing run
        id is re-used (its results removed) only when its frozen config is the same.

    Returns
    -------
    pathlib.Path
        ``<work_root>/<run_id>/``.

    Raises
    ------
    PipelineError
        An invalid run id, or one taken by a run of another config.
    spillover.storage.PublishError
        The config's output root is a folder that publishing would refuse (checked now, so a
        run does not fail only at its last stage).
    """
    with started_run(config_path, run_id=run_id) as workdir:
        return workdir


def config_changed_since(workdir: str | Path) -> str | None:
    """Why the config file a run was started from no longer gives its frozen config, or None.

    The file (from ``run.json``) is read again with the run's ``--set`` overrides; a missing,
    invalid or different file is a change. Stages re-run on the run directory still use the
    frozen ``config.json``.
    """
    run = open_run(workdir)
    path = json.loads((Path(workdir) / "run.json").read_text(encoding="utf-8"))["config_path"]
    try:
        current = load_config(path, overrides=run.config.overrides)
    except SpilloverError as exc:
        return f"{path} no longer loads ({str(exc).splitlines()[0]})"
    if current.digest() != run.config.digest():
        return f"{path} changed since run {run.run_id} started"
    return None


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


def prune_runs(config: Config, config_path: str, *, keep: int, current: str) -> list[str]:
    """Remove the older run directories of ``config_path``, keeping the newest ``keep``.

    Only runs started from the same config file are considered (``run.json``); the
    ``current`` run, the run whose publication is current in the output root, and any run
    another process holds (e.g. re-used by a running build) are always kept. A directory is
    renamed aside under its lock, then deleted. Returns the removed run ids, oldest first.
    """
    root = config.resolve(config.work_root)
    manifest = config.resolve(config.output_root) / "manifest.json"
    published = (
        json.loads(manifest.read_text(encoding="utf-8")).get("run_id")
        if manifest.exists()
        else None
    )
    found = []
    for info_path in root.glob("*/run.json"):
        info = json.loads(info_path.read_text(encoding="utf-8"))
        if info.get("config_path") == config_path:
            found.append((info.get("started", ""), info_path.parent))
    newest_first = [workdir for _, workdir in sorted(found, reverse=True)]
    removed = []
    for workdir in newest_first[keep:]:
        if workdir.name in (current, published) or locks.holds(workdir / LOCK_NAME):
            continue
        trash = root / f".pruned-{workdir.name}"
        try:
            with locks.locked(
                workdir / LOCK_NAME, holder="pruning", what="run directory", timeout=0
            ):
                workdir.rename(trash)
        except locks.LockTimeout:
            continue
        shutil.rmtree(trash, ignore_errors=True)
        removed.append(workdir.name)
    return removed[::-1]
