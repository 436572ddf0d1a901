"""The pipeline: run one stage or all of them on a run directory (the CLI and the DAG).

:func:`run_stage` looks the stage up in the registry (:data:`STAGES`, filled by
:mod:`spillover.stages`), calls it and does the shared work once for every stage: timing,
the quarantine file and its ``quarantine.max_share`` limit, the row accounting, writing the
stage's tables, its report (``reports/<stage>.json``) and its fingerprint
(``fingerprints/<stage>.json``, :mod:`spillover.fingerprints`). Run directories are described
in :mod:`spillover.runs`.

:func:`run_pipeline` runs every stage in a new run directory; :func:`run_incremental` (what
``spillover run`` does) re-uses from the latest earlier run of the same config file every
stage, and every model spec, whose fingerprint is unchanged, and runs the others.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
import warnings
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple, Protocol

import pandas as pd

import spillover.stages  # noqa: F401  (importing it registers the stages)
from spillover import fingerprints, heap, locks, quarantine
from spillover.config import Config, load_config
from spillover.registry import STAGES, Stage
from spillover.runs import (
    LOCK_NAME,
    PipelineError,
    Run,
    open_run,
    prune_runs,
    safe_name,
    start_run,
    started_run,
)
from spillover.storage import output_root_lock, read_dataset, write_json_atomic

logger = logging.getLogger("spillover.pipeline")

__all__ = [
    "STAGES",
    "Decision",
    "Incremental",
    "PipelineError",
    "Run",
    "Selection",
    "StageListener",
    "choose_base",
    "open_run",
    "output_root",
    "read_output",
    "run_incremental",
    "run_or_reuse",
    "run_pipeline",
    "run_stage",
    "safe_name",
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
        return _run_locked(STAGES[name], run, options, fingerprints.FileHashes())


def _run_locked(
    registered: Stage,
    run: Run,
    options: dict,
    file_hashes: fingerprints.FileHashes,
    *,
    reused: dict[str, dict] | None = None,
) -> dict:
    """Run a stage whose locks are held: the shared work of :func:`run_stage`.

    ``reused`` maps the ids of specs re-used from an earlier run (by a per-spec stage run
    with ``spec_ids``, the others) to their records: their report entries are merged into
    this report, which then takes the stage's own name.
    """
    name = registered.name
    started = time.perf_counter()
    prints = _fingerprints(registered, run, options.get("spec_ids"), file_hashes)
    if registered.per_spec and options.get("spec_ids") is None:
        shutil.rmtree(run.workdir / fingerprints.FOLDER / name, ignore_errors=True)
    fingerprints.forget(run.workdir, [p.unit for p in prints.values()])
    logger.info("%s: started (run %s)", name, run.run_id)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for noise in (DeprecationWarning, PendingDeprecationWarning, ResourceWarning):
            warnings.simplefilter("ignore", noise)  # as Python's default filters do
        heap.one_arena()  # before the stage's threads allocate
        result = registered.function(run, **options)
    raised = _log_warnings(name, caught)
    quarantined, path = 0, None
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
    for table in result.tables:  # no loop variable keeps the last frame alive past the trim
        run.write(table, result.tables[table])
    report = {
        "stage": name if reused is not None else result.report or name,
        "seconds": round(time.perf_counter() - started, 3),
        "rows_in": result.rows_in,
        "rows_out": result.rows_out,
        "rows_quarantined": quarantined,
        "rows_incomplete": result.rows_incomplete,
        "values_rejected": result.values_rejected,
        **result.details,
    }
    if raised:
        report["warnings"] = raised
    if registered.publishes and run.config.keep_runs is not None:
        report["pruned_runs"] = _prune(run)
    if reused is not None:
        report = _with_reused_specs(report, reused, [spec.id for spec in run.config.specs])
    _log_report(report, quarantine_path=path)
    write_json_atomic(report, run.workdir / "reports" / f"{report['stage']}.json")
    outputs = list(result.tables) + (
        [f"quarantine/{name}"] if result.quarantine is not None else []
    )
    for key, print_ in prints.items():
        if registered.per_spec:
            mine = [table for table in outputs if table.endswith(f"/{key}")]
            entries = {k: v[key] for k, v in result.details.items() if isinstance(v, dict)}
            fingerprints.record(
                run.workdir, run.run_id, print_, mine, report=report["stage"], details=entries
            )
        else:
            fingerprints.record(run.workdir, run.run_id, print_, outputs, report=report["stage"])
    del result  # its tables are written: what the stage allocated can go back to the system
    heap.release_freed_memory()
    return report


def _prune(run: Run) -> list[str]:
    """Apply ``keep_runs`` after a publication; log and return the removed run ids."""
    info = json.loads((run.workdir / "run.json").read_text(encoding="utf-8"))
    removed = prune_runs(
        run.config, info["config_path"], keep=run.config.keep_runs, current=run.run_id
    )
    if removed:
        logger.info(
            "publish: removed %d old run director%s (keep_runs = %d): %s",
            len(removed),
            "y" if len(removed) == 1 else "ies",
            run.config.keep_runs,
            ", ".join(removed),
        )
    return removed


def _log_warnings(stage: str, caught: list[warnings.WarningMessage]) -> list[str]:
    """Log a stage's warnings, warn them again to the caller's filters; return their texts.

    Re-warned with ``module="spillover.pipeline"``, so a caller that shows the log (the CLI)
    can filter the duplicates out.
    """
    texts = []
    for warning in caught:
        text = f"{warning.category.__name__}: {warning.message}"
        logger.warning("%s: %s", stage, text)
        texts.append(text)
        warnings.warn_explicit(
            warning.message,
            warning.category,
            warning.filename,
            warning.lineno,
            module="spillover.pipeline",
        )
    return texts


def _log_report(report: dict, *, quarantine_path: Path | None) -> None:
    """Log a stage's row accounting and wall time (Airflow task logs, piped CLI output)."""
    quarantined = f"{report['rows_quarantined']:,} quarantined"
    if quarantine_path is not None and report["rows_quarantined"]:
        quarantined += f" ({quarantine_path})"
    logger.info(
        "%s: done in %.1f s; rows in %s, out %s, %s, incomplete %s, values rejected %s",
        report["stage"],
        report["seconds"],
        f"{report['rows_in']:,}",
        f"{report['rows_out']:,}",
        quarantined,
        f"{report['rows_incomplete']:,}",
        f"{report['values_rejected']:,}",
    )


def _fingerprints(
    registered: Stage,
    run: Run,
    spec_ids: list[str] | None,
    file_hashes: fingerprints.FileHashes,
) -> dict[str, fingerprints.Fingerprint]:
    """The fingerprints of what a stage is about to compute: by spec id, or by stage name."""
    hashes = fingerprints.table_hashes(run.workdir)
    if not registered.per_spec:
        return {
            registered.name: fingerprints.fingerprint(
                registered, run.config, run.workdir, hashes, file_hashes=file_hashes
            )
        }
    return {
        spec.id: fingerprints.fingerprint(
            registered, run.config, run.workdir, hashes, file_hashes=file_hashes, spec=spec
        )
        for spec in run.config.specs
        if spec_ids is None or spec.id in spec_ids
    }


def _with_reused_specs(report: dict, reused: dict[str, dict], order: list[str]) -> dict:
    """A per-spec stage's report with the entries of the specs it re-used, in config order.

    A spec's rows: ``nobs`` fitted, ``rows_left_out`` (by reason) left out of its sample, so
    in = fitted + left out (the estimate stage's accounting).
    """
    merged = dict(report)
    for record in reused.values():
        details = record["details"]
        left_out = sum(details["rows_left_out"].values())
        merged["rows_in"] += details["nobs"] + left_out
        merged["rows_out"] += details["nobs"]
        merged["rows_incomplete"] += left_out
    keys = {key for record in reused.values() for key in record["details"]}
    for key in sorted(keys):
        entries = {**report.get(key, {})}
        entries.update({spec_id: r["details"][key] for spec_id, r in reused.items()})
        merged[key] = {spec_id: entries[spec_id] for spec_id in order if spec_id in entries}
    merged["reused_specs"] = {spec_id: r["run_id"] for spec_id, r in reused.items()}
    return merged


@dataclass(frozen=True)
class Decision:
    """Whether :func:`run_incremental` runs a stage or re-uses it, and why.

    ``reasons`` say what changed (or what forced it) when it runs, ``("unchanged",)`` when
    it is re-used; ``base`` is the earlier run compared with (``None``: there is none). For a
    per-spec stage, ``refit`` maps the specs fitted again to their reasons and ``reused`` lists
    the others.
    """

    stage: str
    runs: bool
    reasons: tuple[str, ...]
    base: str | None
    refit: dict[str, tuple[str, ...]] | None = None
    reused: tuple[str, ...] = ()


class StageListener(Protocol):
    """Told when each stage starts and ends (e.g. the CLI's lines), and what is re-used."""

    def started(self, name: str, number: int, total: int) -> None:
        """Stage ``number`` of ``total`` is starting."""

    def finished(self, name: str, report: dict) -> None:
        """A stage ended with ``report``."""

    def decided(self, decision: Decision) -> None:
        """:func:`run_incremental` decided to run or re-use a stage (before it starts)."""


def run_pipeline(
    config_path: str | Path,
    *,
    run_id: str | None = None,
    listener: StageListener | None = None,
    progress: bool = False,
    overrides: Sequence[str] = (),
) -> Path:
    """Start a run and run every registered stage in order; return the run directory.

    ``overrides`` are ``key.path=value`` assignments applied to the config (``--set``).
    The run directory stays locked from the start to the end of the last stage.
    """
    with started_run(
        config_path, run_id=run_id, doing="run_pipeline", overrides=overrides
    ) as workdir:  # locked until the last stage
        for number, name in enumerate(STAGES, start=1):
            if listener is not None:
                listener.started(name, number, len(STAGES))
            report = run_stage(name, workdir, progress=progress)
            if listener is not None:
                listener.finished(name, report)
    return workdir


@dataclass(frozen=True)
class Selection:
    """Stages and specs that :func:`run_incremental` runs whatever their fingerprints say.

    ``fresh``: every stage (nothing re-used); ``from_stage``: that stage and every one after
    it; ``only``: these stages; ``specs``: these spec ids of the per-spec stage. Stages not
    selected still run when their fingerprint changed, so nothing published is out of date.
    """

    fresh: bool = False
    from_stage: str | None = None
    only: tuple[str, ...] = ()
    specs: tuple[str, ...] = ()

    def check(self, config: Config) -> None:
        """Raise :class:`PipelineError` naming an unknown stage or spec id."""
        order = list(STAGES)
        for name in [self.from_stage, *self.only]:
            if name is not None and name not in order:
                raise PipelineError(f"unknown stage {name!r}; stages are {', '.join(order)}")
        ids = [spec.id for spec in config.specs]
        unknown = sorted(set(self.specs) - set(ids))
        if unknown:
            raise PipelineError(f"unknown spec id(s) {unknown}; the config's specs are {ids}")

    def forced(self, name: str) -> str | None:
        """Why stage ``name`` must run whatever its fingerprint (``None``: it need not)."""
        order = list(STAGES)
        if self.fresh:
            return "--fresh"
        if name in self.only:
            return f"--only {name}"
        if self.from_stage is not None and order.index(name) >= order.index(self.from_stage):
            return f"--from {self.from_stage}"
        return None


class Incremental(NamedTuple):
    """What :func:`run_incremental` did: the run directory holding the results, per stage."""

    workdir: Path
    decisions: list[Decision]

    @property
    def up_to_date(self) -> bool:
        """Nothing ran: ``workdir`` is the earlier run, whose publication is current."""
        return not any(decision.runs for decision in self.decisions)


@dataclass(frozen=True)
class _Base:
    """The earlier run compared with: its directory, id and fingerprint records."""

    workdir: Path
    run_id: str
    records: dict[str, dict]


def _earlier_runs(config: Config, config_path: Path, exclude: str | None) -> list[Path]:
    """Run directories under ``work_root`` started from ``config_path``, newest first."""
    found = []
    for info_path in config.resolve(config.work_root).glob("*/run.json"):
        info = json.loads(info_path.read_text(encoding="utf-8"))
        if info.get("config_path") == str(config_path) and info["run_id"] != exclude:
            found.append((info.get("started", ""), info_path.parent))
    return [workdir for _, workdir in sorted(found, reverse=True)]


def _base_run(config: Config, config_path: Path, exclude: str | None, held: ExitStack):
    """The newest earlier run of the config file with records, locked shared; or ``None``.

    A run whose directory another process holds (running or re-running a stage) is passed
    over: its records may be about to change.
    """
    for workdir in _earlier_runs(config, config_path, exclude):
        if fingerprints.records(workdir) and _hold_for_reuse(workdir, held):
            return _Base(workdir, workdir.name, fingerprints.records(workdir))
    return None


def _hold_for_reuse(workdir: Path, held: ExitStack) -> bool:
    """Lock an earlier run directory shared (until ``held`` closes); False if another holds it."""
    try:
        held.enter_context(
            locks.locked(
                workdir / LOCK_NAME,
                holder="a later run re-using its results",
                what="run directory",
                shared=True,
                timeout=0,
            )
        )
    except locks.LockTimeout:
        return False
    return True


def _reasons(
    print_: fingerprints.Fingerprint, base: _Base | None, forced: str | None
) -> tuple[str, ...]:
    """Why a unit must run (empty: it can be re-used from ``base``)."""
    if forced is not None:
        return (forced,)
    if base is None:
        return ("no earlier run of this config file",)
    earlier = base.records.get(print_.unit)
    if earlier is None:
        spec = "/" in print_.unit  # a spec the base run did not fit
        return ("new spec" if spec else f"not done in run {base.run_id}",)
    missing = fingerprints.missing_outputs(base.workdir, earlier)
    if missing:
        return (f"run {base.run_id} lacks {', '.join(missing)}",)
    return tuple(print_.changes(earlier))


def _published_run(config: Config) -> str | None:
    """The run id of the output root's current publication (``None``: none)."""
    manifest = config.resolve(config.output_root) / "manifest.json"
    if not manifest.exists():
        return None
    return json.loads(manifest.read_text(encoding="utf-8")).get("run_id")


def _current(config: Config, base: _Base | None, selection: Selection) -> list[Decision]:
    """Decisions re-using every stage when nothing changed since ``base``; else ``[]``.

    Nothing changed when no stage is selected, every unit's fingerprint equals ``base``'s
    and the output root's current publication is ``base``'s.
    """
    if base is None or _published_run(config) != base.run_id:
        return []
    hashes = fingerprints.table_hashes(base.workdir)
    file_hashes = fingerprints.FileHashes()
    decisions = []
    for name, registered in STAGES.items():
        specs = config.specs if registered.per_spec else [None]
        for spec in specs:
            if spec is not None and spec.id in selection.specs:
                return []
            print_ = fingerprints.fingerprint(
                registered, config, base.workdir, hashes, file_hashes=file_hashes, spec=spec
            )
            if _reasons(print_, base, selection.forced(name)):
                return []
        decisions.append(Decision(name, False, ("unchanged",), base.run_id))
    return decisions


def run_incremental(
    config_path: str | Path,
    *,
    selection: Selection | None = None,
    run_id: str | None = None,
    listener: StageListener | None = None,
    progress: bool = False,
    overrides: Sequence[str] = (),
) -> Incremental:
    """Run the pipeline, re-using what is unchanged since the latest run of the config file.

    The *base* is the newest run directory under ``work_root`` whose ``run.json`` names the
    same config file (resolved path) and that has fingerprint records; a run another process
    holds is passed over. Stage by stage, in order, a stage whose fingerprint equals the
    base's record is re-used (its tables hard-linked into the new run directory, its report
    and record copied with ``reused_from``), any other stage runs; the per-spec stage
    (``estimate``) fits only the specs whose fingerprint changed. Inputs are hashed by
    content, so the stages after one that ran are re-used when its tables did not change.
    ``publish`` always runs, so the new run directory's results are published, and the
    manifest's stage reports name the runs they were re-used from.

    When nothing changed and the output root's current publication is the base's, nothing
    runs and no run directory is created.

    Parameters
    ----------
    config_path : str or pathlib.Path
        The YAML config.
    selection : Selection, optional
        Stages and specs to run whatever their fingerprints (``spillover run --from/--only/
        --spec/--fresh``).
    run_id : str, optional
        Name of the new run directory (:func:`spillover.runs.start_run`); never the base.
    listener : StageListener, optional
        Told each decision, and when each stage that runs starts and ends.
    progress : bool
        Show the stages' progress bars.
    overrides : sequence of str
        ``key.path=value`` assignments applied to the config (``--set``).

    Returns
    -------
    Incremental
        The run directory with the results (the base when nothing ran) and the decisions.

    Raises
    ------
    PipelineError
        An unknown stage or spec id in ``selection``; see also :func:`run_stage`.
    """
    selection = selection or Selection()
    config_path = Path(config_path).resolve()
    config = load_config(config_path, overrides=overrides)
    selection.check(config)
    with ExitStack() as held:
        base = None if selection.fresh else _base_run(config, config_path, run_id, held)
        unchanged = _current(config, base, selection)
        if unchanged:
            for decision in unchanged:
                if listener is not None:
                    listener.decided(decision)
            return Incremental(base.workdir, unchanged)
        decisions = []
        with started_run(
            config_path, run_id=run_id, doing="run_incremental", overrides=overrides
        ) as workdir:
            run = replace(open_run(workdir), progress=progress)
            file_hashes = fingerprints.FileHashes()
            for number, (name, registered) in enumerate(STAGES.items(), start=1):
                decision = _step(registered, run, base, selection, file_hashes)
                _log_decision(decision)
                decisions.append(decision)
                if listener is not None:
                    listener.decided(decision)
                if decision.runs:
                    if listener is not None:
                        listener.started(name, number, len(STAGES))
                    report = _execute(registered, run, decision, base, file_hashes)
                    if listener is not None:
                        listener.finished(name, report)
                elif decision.refit is not None:  # every spec re-used: write the merged report
                    _execute(registered, run, decision, base, file_hashes)
        return Incremental(workdir, decisions)


def _step(
    registered: Stage,
    run: Run,
    base: _Base | None,
    selection: Selection,
    file_hashes: fingerprints.FileHashes,
    spec_ids: list[str] | None = None,
) -> Decision:
    """Decide about one stage of an incremental run; re-use what can be (link its files).

    ``spec_ids`` restricts a per-spec stage to those specs (a mapped Airflow task).
    """
    name = registered.name
    hashes = fingerprints.table_hashes(run.workdir)
    base_id = None if base is None else base.run_id
    if not registered.per_spec:
        print_ = fingerprints.fingerprint(
            registered, run.config, run.workdir, hashes, file_hashes=file_hashes
        )
        reasons = _reasons(print_, base, selection.forced(name))
        if registered.publishes and not reasons:
            reasons = (f"the output root's current publication is not run {base_id}'s",)
        if reasons:
            return Decision(name, True, reasons, base_id)
        fingerprints.link_unit(base.workdir, run.workdir, base.records[name])
        return Decision(name, False, ("unchanged",), base_id)
    refit, reused = {}, []
    for spec in run.config.specs:
        if spec_ids is not None and spec.id not in spec_ids:
            continue
        print_ = fingerprints.fingerprint(
            registered, run.config, run.workdir, hashes, file_hashes=file_hashes, spec=spec
        )
        forced = selection.forced(name) or (
            f"--spec {spec.id}" if spec.id in selection.specs else None
        )
        reasons = _reasons(print_, base, forced)
        if reasons:
            refit[spec.id] = reasons
        else:
            fingerprints.link_unit(base.workdir, run.workdir, base.records[print_.unit])
            reused.append(spec.id)
    summary = (
        (f"{len(refit)} of {len(refit) + len(reused)} specs to fit",) if refit else ("unchanged",)
    )
    return Decision(name, bool(refit), summary, base_id, refit, tuple(reused))


def _execute(
    registered: Stage,
    run: Run,
    decision: Decision,
    base: _Base | None,
    file_hashes: fingerprints.FileHashes,
) -> dict:
    """Run a stage of an incremental run (its run directory's lock is held)."""
    with ExitStack() as held:
        if registered.publishes:
            root = run.config.resolve(run.config.output_root)
            held.enter_context(output_root_lock(root, f"run {run.run_id}, stage {registered.name}"))
        if decision.refit is None:
            return _run_locked(registered, run, {}, file_hashes)
        reused = {
            spec_id: base.records[f"{registered.name}/{spec_id}"] for spec_id in decision.reused
        }
        return _run_locked(
            registered, run, {"spec_ids": list(decision.refit)}, file_hashes, reused=reused
        )


def _log_decision(decision: Decision) -> None:
    """One log line: whether a stage runs (and why) or is re-used, and from which run."""
    if decision.runs:
        logger.info("%s: runs (%s)", decision.stage, "; ".join(decision.reasons))
    else:
        logger.info("%s: re-used from run %s (unchanged)", decision.stage, decision.base)
    if decision.refit:
        for spec_id, reasons in decision.refit.items():
            logger.info("%s: fits %s (%s)", decision.stage, spec_id, "; ".join(reasons))


#: In a step-by-step run (Airflow), the earlier run its stages may re-use (:func:`choose_base`).
BASE_FILE = "base.json"


def choose_base(workdir: str | Path, *, fresh: bool = False) -> str | None:
    """Pick the run a step-by-step run re-uses unchanged stages from; return its id.

    The same rule as :func:`run_incremental` (the newest earlier run of the same config file
    with fingerprint records, not held by another process), recorded in the run directory
    (``base.json``) for :func:`run_or_reuse`. ``fresh``: none, every stage runs.
    """
    run = open_run(workdir)
    info = json.loads((run.workdir / "run.json").read_text(encoding="utf-8"))
    with ExitStack() as held:
        base = None if fresh else _base_run(run.config, Path(info["config_path"]), run.run_id, held)
    record = {
        "run_id": None if base is None else base.run_id,
        "workdir": None if base is None else str(base.workdir),
    }
    write_json_atomic(record, run.workdir / BASE_FILE)
    logger.info(
        "run %s re-uses unchanged stages from %s",
        run.run_id,
        "nothing (fresh)" if base is None else f"run {base.run_id}",
    )
    return record["run_id"]


def _recorded_base(run: Run, held: ExitStack) -> _Base | None:
    """The base :func:`choose_base` recorded, locked shared; ``None`` if gone or held."""
    path = run.workdir / BASE_FILE
    if not path.exists():
        return None
    record = json.loads(path.read_text(encoding="utf-8"))
    if record["workdir"] is None or not Path(record["workdir"]).is_dir():
        return None
    workdir = Path(record["workdir"])
    if not _hold_for_reuse(workdir, held):
        return None
    return _Base(workdir, record["run_id"], fingerprints.records(workdir))


def run_or_reuse(name: str, workdir: str | Path, *, spec_ids: list[str] | None = None) -> dict:
    """Run one stage of a step-by-step run, or re-use it from the recorded base run.

    What an Airflow task calls: the decision is :func:`run_incremental`'s for that stage
    (per spec for ``estimate``, restricted to ``spec_ids``), against the base that
    :func:`choose_base` recorded. Returns the stage's report; a re-used stage's report is
    the base's, marked ``reused_from``.
    """
    if name not in STAGES:
        raise PipelineError(f"unknown stage {name!r}; stages are {', '.join(STAGES)}")
    registered = STAGES[name]
    run = open_run(workdir)
    with ExitStack() as held:
        held.enter_context(run.lock(f"stage {name}", shared=bool(spec_ids)))
        base = _recorded_base(run, held)
        file_hashes = fingerprints.FileHashes()
        decision = _step(registered, run, base, Selection(), file_hashes, spec_ids=spec_ids)
        _log_decision(decision)
        if decision.runs and decision.refit is None:
            return _execute(registered, run, decision, base, file_hashes)
        if decision.refit:
            report = _run_locked(registered, run, {"spec_ids": list(decision.refit)}, file_hashes)
        elif registered.per_spec:
            report = {"stage": name, "reused_from": base.run_id}
        else:
            report = json.loads((run.workdir / "reports" / f"{name}.json").read_text("utf-8"))
        for spec_id in decision.reused:
            _write_reused_spec_report(run, base.records[f"{name}/{spec_id}"], name, spec_id)
        return report


def _write_reused_spec_report(run: Run, record: dict, stage: str, spec_id: str) -> None:
    """The report of one spec re-used by a mapped task (``reports/<stage>-<spec id>.json``)."""
    empty = {
        "stage": f"{stage}-{spec_id}",
        "seconds": 0.0,
        "rows_in": 0,
        "rows_out": 0,
        "rows_quarantined": 0,
        "rows_incomplete": 0,
        "values_rejected": 0,
    }
    report = _with_reused_specs(empty, {spec_id: record}, [spec_id])
    write_json_atomic(report, run.workdir / "reports" / f"{report['stage']}.json")


def output_root(workdir: str | Path) -> Path:
    """The output root of a run."""
    run = open_run(workdir)
    return run.config.resolve(run.config.output_root)


def read_output(root: str | Path, dataset: str) -> pd.DataFrame:
    """Read one published dataset (e.g. ``estimates``) from an output root."""
    return read_dataset(Path(root) / dataset)
