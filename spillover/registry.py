"""The stage registry: every pipeline stage, in order, with what it promises.

A stage is a function ``(run, **options) -> StageResult`` registered with :func:`stage`;
:func:`spillover.pipeline.run_stage` runs it and does the shared work once (timing, the
quarantine file and its limit, row accounting, writing tables and the report). The stage
functions themselves are in :mod:`spillover.stages`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from spillover.config import Config


@dataclass(frozen=True)
class StageResult:
    """What a stage produced; :func:`run_stage` writes it and reports on it.

    ``tables`` are written under ``tables/`` by name; ``quarantine`` (rows rejected, in
    :data:`spillover.quarantine.COLUMNS`) goes to ``quarantine/<stage>.parquet``;
    ``rows_incomplete`` counts rows left out for missing values; ``values_rejected`` counts
    the quarantine rows that reject one value of a row that is kept (so that row is in
    ``rows_out`` too, e.g. a firm-year whose OPR is refused but whose capital is used);
    ``details`` are extra report fields; ``report`` names the report when it is not the
    stage's own name.
    """

    rows_in: int
    rows_out: int
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    quarantine: pd.DataFrame | None = None
    rows_incomplete: int = 0
    values_rejected: int = 0
    details: dict = field(default_factory=dict)
    report: str | None = None


@dataclass(frozen=True)
class Stage:
    """A registered stage.

    ``conserves_rows``: every row in ends out, quarantined or incomplete (checked).
    ``limit_hint``: the stage's quarantine share is held to ``quarantine.max_share``; the
    hint ends the error message.
    ``publishes``: the stage writes under the output root (and so holds its lock).

    What the stage's outputs depend on, hashed into its fingerprint
    (:mod:`spillover.fingerprints`): ``config``, dotted config keys (``"*"``: the whole
    config); ``reads``, the tables it reads (``"*"``: every output of the earlier stages);
    ``files``, a function giving the files outside the run directory it reads (raw files, the
    gazetteer). ``per_spec`` maps each spec family to the table its specs read when the stage
    fits every model spec on its own (``estimate``): then each spec has its own fingerprint.
    """

    name: str
    function: Callable[..., StageResult]
    conserves_rows: bool
    limit_hint: str | None
    publishes: bool = False
    config: tuple[str, ...] = ()
    reads: tuple[str, ...] = ()
    files: Callable[[Config], list[Path]] | None = None
    per_spec: dict[str, str] | None = None


#: Stages in the order they run (registration order).
STAGES: dict[str, Stage] = {}


def stage(
    name: str,
    *,
    conserves_rows: bool = False,
    limit_hint: str | None = None,
    publishes: bool = False,
    config: tuple[str, ...] = (),
    reads: tuple[str, ...] = (),
    files: Callable[[Config], list[Path]] | None = None,
    per_spec: dict[str, str] | None = None,
) -> Callable[[Callable[..., StageResult]], Callable[..., StageResult]]:
    """Register a stage function ``(run, **options) -> StageResult`` under ``name``.

    The keyword arguments are the fields of :class:`Stage`.
    """

    def register(function: Callable[..., StageResult]) -> Callable[..., StageResult]:
        STAGES[name] = Stage(
            name, function, conserves_rows, limit_hint, publishes, config, reads, files, per_spec
        )
        return function

    return register
