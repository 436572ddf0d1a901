"""Progress of long stages: a rich bar on a terminal, plain log lines everywhere else.

Stages loop over their units (files, specs, membership rules) through :func:`track`. With
``bar=True`` and a terminal on stderr it draws a rich progress bar (count, elapsed time and
ETA) that disappears when done; otherwise (piped output, CI, Airflow task logs) it logs
``ingest: 3/35 files (9%), 4.2 s, ETA 45 s`` through the standard :mod:`logging` logger
``spillover.progress``, at most one line per tenth of the work, with no control characters.
The CLI shows those lines with :func:`log_to_stderr`; Airflow collects them in its task log.
"""

from __future__ import annotations

import logging
import sys
import time
import warnings
from collections.abc import Iterable, Iterator
from typing import TypeVar

Item = TypeVar("Item")

logger = logging.getLogger("spillover.progress")


def track(
    items: Iterable[Item], *, total: int, stage: str, unit: str, bar: bool = False
) -> Iterator[Item]:
    """Yield ``items``, reporting progress: a rich bar (``bar`` on a terminal) or log lines.

    Parameters
    ----------
    items : iterable
        The units of work; each is counted when the next one is asked for.
    total : int
        How many there are.
    stage : str
        The stage, first word of every line (``ingest``).
    unit : str
        What is counted, plural (``files``).
    bar : bool, default False
        Draw a rich progress bar when stderr is a terminal (the CLI's ``run``).
    """
    if bar and sys.stderr.isatty():
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        columns = (
            TextColumn(f"{stage} {unit}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
        )
        with Progress(*columns, transient=True) as progress:
            yield from progress.track(items, total=total)
        return
    started, reported = time.perf_counter(), 0
    for done, item in enumerate(items, start=1):
        yield item
        if done * 10 // max(total, 1) > reported * 10 // max(total, 1) or done == total:
            reported = done
            elapsed = time.perf_counter() - started
            eta = elapsed / done * (total - done)
            logger.info(
                "%s: %d/%d %s (%.0f%%), %.1f s, ETA %.0f s",
                stage,
                done,
                total,
                unit,
                100 * done / max(total, 1),
                elapsed,
                eta,
            )


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (a test runner may swap it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        """``sys.stderr`` is looked up on every write; nothing to keep."""


def log_to_stderr() -> None:
    """Show the ``spillover`` loggers' lines on stderr (the CLI; idempotent).

    Piped (CI, cron, ``| tee``): INFO and up, i.e. each stage's rows and timings and the
    progress lines. On a terminal, where the CLI draws its own stage lines and bars: warnings
    only. Stage warnings are logged, so their re-warned copies are not shown again.
    """
    root = logging.getLogger("spillover")
    if not root.handlers:
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        root.addHandler(handler)
        root.setLevel(logging.WARNING if sys.stderr.isatty() else logging.INFO)
        warnings.filterwarnings("ignore", module=r"spillover\.pipeline")
