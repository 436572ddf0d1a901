"""Which survey years have been delivered, and which raw files are new since the last look.

Survey files arrive at irregular dates, a year at a time. A config names its files as
yearly *families* (a path with ``{year}``/``{survey_year}``), so the years a run can build
follow from the files on disk:

* :func:`resolve_years` turns ``years: [2012, latest]`` into the newest year for which every
  yearly source family (``sources.<table>`` with such a path) has its file, and gives each
  open family (no ``years`` list) the run's years minus its ``skip_years``. The config
  loader calls it, so every stage sees concrete years and a run's frozen config says which.
* :func:`detect` compares a source family's files with what the previous look recorded
  (``<work_root>/deliveries/<table>.json``) and reports new and changed files; the Airflow
  DAG ``spillover_deliveries`` turns that into an Asset event which triggers the build.
"""

from __future__ import annotations

import glob as globlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from spillover.config import ConfigError

if TYPE_CHECKING:
    from spillover.config import Config, Source

logger = logging.getLogger("spillover.deliveries")

#: Where :func:`detect` keeps what it saw, under the config's ``work_root``.
STATE_FOLDER = "deliveries"


class DeliveryError(ConfigError):
    """No year can be built, or a source family is not in the config."""


def year_files(source: Source, config: Config, year: int) -> list[str]:
    """The files of a yearly source for one year (glob matches; empty when not delivered)."""
    pattern = str(config.resolve(source.path))
    concrete = pattern.format(year=year, survey_year=year + source.survey_year_offset)
    return sorted(globlib.glob(concrete))


def covered_years(config: Config, table: str, candidates: list[int]) -> set[int]:
    """The ``candidates`` for which some yearly source of ``table`` has a file.

    A source with a ``years`` list covers only those years; an open one every candidate
    except its ``skip_years``.
    """
    covered: set[int] = set()
    for source in config.sources.get(table, []):
        if source.years is None and not source.is_yearly:
            continue
        wanted = source.years if source.years is not None else candidates
        for year in set(wanted) & set(candidates) - set(source.skip_years):
            if year_files(source, config, year):
                covered.add(year)
    return covered


def yearly_tables(config: Config) -> list[str]:
    """The source tables with at least one yearly family (a placeholder or a years list)."""
    return [
        table
        for table, sources in config.sources.items()
        if any(s.is_yearly or s.years is not None for s in sources)
    ]


def resolve_years(config: Config, *, up_to: int | None = None) -> Config:
    """``config`` with concrete years: ``latest`` resolved, open families' years listed.

    Parameters
    ----------
    config : Config
        A validated config, possibly with ``years: [first, "latest"]``.
    up_to : int, optional
        The newest year ``latest`` may become (an Airflow run's year); default: next year.

    Raises
    ------
    DeliveryError
        ``latest`` and no year from the first to ``up_to`` has the files of every yearly
        family; the message names the families with no file at all.
    """
    first, last = config.years
    if last == "latest":
        cap = up_to if up_to is not None else datetime.now(UTC).year + 1
        candidates = list(range(first, cap + 1))
        coverage = {t: covered_years(config, t, candidates) for t in yearly_tables(config)}
        complete = [y for y in candidates if all(y in years for years in coverage.values())]
        if not complete:
            lacking = sorted(t for t, years in coverage.items() if not years)
            raise DeliveryError(
                f"years: [{first}, latest]: no year from {first} to {cap} has a file in every "
                f"yearly source family (none at all in: {', '.join(lacking) or '-'}); "
                "deliver the files or give the last year"
            )
        last = max(complete)
        ahead = sorted(t for t, years in coverage.items() if any(y > last for y in years))
        if ahead:
            logger.warning(
                "years: latest = %d: %s already %s files of %d, the other yearly families "
                "not yet, so %d is not built",
                last,
                ", ".join(ahead),
                "has" if len(ahead) == 1 else "have",
                last + 1,
                last + 1,
            )
    run_years = list(range(first, last + 1))
    sources = {
        table: [_concrete_years(s, run_years) for s in entries]
        for table, entries in config.sources.items()
    }
    return config.model_copy(update={"years": (first, last), "sources": sources})


def _concrete_years(source: Source, run_years: list[int]) -> Source:
    """A source with its ``years`` listed: an open family the run's, minus ``skip_years``."""
    if source.years is None and not source.is_yearly:
        return source
    if source.years is not None and not source.skip_years:
        return source
    listed = source.years if source.years is not None else run_years
    kept = [year for year in listed if year not in source.skip_years]
    return source.model_copy(update={"years": kept, "skip_years": []})


# ------------------------------------------------------------------ new deliveries


@dataclass(frozen=True)
class Delivery:
    """What :func:`detect` found for one source family.

    ``new`` and ``changed`` are paths relative to the config's folder; ``first_look`` is true
    when nothing was recorded before (everything present is taken as the baseline, announced
    as nothing new, so switching the watch on never starts a surprise build).
    """

    table: str
    new: tuple[str, ...]
    changed: tuple[str, ...]
    files: int
    first_look: bool

    @property
    def delivered(self) -> bool:
        """Whether any file is new or changed."""
        return bool(self.new or self.changed)


def family_files(config: Config, table: str, up_to: int) -> list[Path]:
    """Every file of the sources of ``table``, yearly ones probed from the first year on."""
    if table not in config.sources:
        raise DeliveryError(
            f"sources.{table}: not in the config; its source tables are {', '.join(config.sources)}"
        )
    found: set[str] = set()
    for source in config.sources[table]:
        if source.is_yearly:
            wanted = range(config.years[0], up_to + 1)
            for year in wanted:
                found.update(year_files(source, config, year))
        else:
            found.update(globlib.glob(str(config.resolve(source.path))))
    return [Path(p) for p in sorted(found)]


def _stamp(path: Path) -> dict:
    """Size and modification time of a file (what :func:`detect` compares first)."""
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def detect(config: Config, table: str, *, up_to: int) -> Delivery:
    """Compare the files of source family ``table`` with the last look, and record this one.

    A file is *changed* when its bytes differ (a new size or modification time is confirmed
    by its SHA-256, so touching a file is not a delivery). The state is written atomically
    to ``<work_root>/deliveries/<table>.json``.
    """
    from spillover.rawfiles import sha256
    from spillover.storage import write_json_atomic

    base = Path(config.base_dir)
    state_path = config.resolve(config.work_root) / STATE_FOLDER / f"{table}.json"
    earlier = (
        json.loads(state_path.read_text(encoding="utf-8"))["files"] if state_path.exists() else None
    )
    now: dict[str, dict] = {}
    new, changed = [], []
    for path in family_files(config, table, up_to):
        key = str(path.relative_to(base)) if path.is_relative_to(base) else str(path)
        stamp = _stamp(path)
        before = (earlier or {}).get(key)
        if before is not None and all(before[k] == stamp[k] for k in stamp):
            now[key] = before
            continue
        stamp["sha256"] = sha256(path)
        now[key] = stamp
        if earlier is None:
            continue
        if before is None:
            new.append(key)
        elif before["sha256"] != stamp["sha256"]:
            changed.append(key)
    write_json_atomic(
        {"table": table, "looked": datetime.now(UTC).isoformat(), "files": now}, state_path
    )
    return Delivery(table, tuple(new), tuple(changed), len(now), earlier is None)
