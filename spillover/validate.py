"""``spillover validate``: check a config and its input files without running a stage.

:func:`validate_config` parses the config (spec grammar included), then checks every source
file: that it exists and can be read, that the columns its mapping names are in its header
(CSV/TSV in the configured encoding, fixed-width records long enough for the ``colspecs``,
Excel, Stata, SAS and Parquet headers read without their rows) and that the mapping names
canonical columns, and that the Tankan series ``external_demand`` names is in the DI file.
It reads only headers (and the small DI file) and imports neither the estimation stack nor
the geocoder, so it answers in about a second. Problems are collected, not raised one by
one: :class:`ValidationFailed` lists them all.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from spillover.config import Config, Source, load_config
from spillover.errors import SpilloverError
from spillover.rawfiles import (
    EXCEL_ENGINE,
    EXCEL_READ_ERRORS,
    IngestError,
    decode_text,
    read_raw,
    source_files,
)

#: Stages a run goes through, in order (the registry's order, without importing the stages).
STAGES = (
    "ingest",
    "geocode",
    "firms",
    "exports",
    "neighbourhoods",
    "exposure",
    "panel",
    "disclose",
    "estimate",
    "publish",
)
#: Bytes read to find a text file's header line.
_HEADER_BYTES = 1 << 16


class ValidationFailed(SpilloverError):
    """The config parses but its inputs have problems; the message lists every one."""


@dataclass(frozen=True)
class SourceFile:
    """One input file of a source: its table, source, year and path."""

    table: str
    source: str
    year: int | None
    path: Path


@dataclass
class Validation:
    """What :func:`validate_config` found: the config, its files and every problem."""

    config: Config
    files: list[SourceFile] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def summary(self) -> list[str]:
        """What a run of this config would do, one line per item."""
        config = self.config
        lines = [f"years {config.years[0]}–{config.years[1]}; stages: {' → '.join(STAGES)}"]
        for table, sources in config.sources.items():
            for source in sources:
                files = [f for f in self.files if (f.table, f.source) == (table, source.name)]
                years = sorted({f.year for f in files if f.year is not None})
                span = f", years {_years(years)}" if years else ""
                lines.append(
                    f"sources.{table}[{source.name}]: {len(files)} {source.format} file(s){span}"
                )
        gazetteer = config.gazetteer.path or "none (lat/lon and mesh codes only)"
        lines.append(f"gazetteer: {gazetteer}")
        radii = ", ".join(f"{r:g}" for r in config.neighbourhoods.radii_km)
        lines.append(f"neighbourhood radii (km): {radii}")
        specs = config.specs
        lines.append(f"{len(specs)} spec(s) after grid expansion: {', '.join(s.id for s in specs)}")
        lines.append(f"memberships: {', '.join(['yearly', *config.memberships])}")
        if config.overrides:
            lines.append(f"overrides: {' '.join(config.overrides)}")
        lines.append(
            f"outputs: {config.resolve(config.output_root)} "
            f"(run directories under {config.resolve(config.work_root)})"
        )
        return lines


def _years(years: list[int]) -> str:
    """``2012–2014, 2016`` for a sorted list of years."""
    runs: list[list[int]] = []
    for year in years:
        if runs and year == runs[-1][-1] + 1:
            runs[-1].append(year)
        else:
            runs.append([year])
    return ", ".join(f"{r[0]}–{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)


def validate_config(path: str | Path, *, overrides: Sequence[str] = ()) -> Validation:
    """Check a config and the headers of its input files; collect every problem.

    Parameters
    ----------
    path : str or pathlib.Path
        The YAML config.
    overrides : sequence of str
        ``key.path=value`` assignments applied on top of it (as ``run --set`` does).

    Returns
    -------
    Validation
        The config, the files a run would read and the problems found (none when valid).

    Raises
    ------
    spillover.config.ConfigError
        If the config itself does not parse (the message names the key).
    """
    from spillover.schemas import TABLES

    config = load_config(path, overrides=overrides)
    found = Validation(config)
    for table, sources in config.sources.items():
        for source in sources:
            key = f"sources.{table}[{source.name}]"
            found.problems += _mapping_problems(source, TABLES[table], key)
            found.problems += _concordance_problems(
                {f"{key}.recode.{c}": e.concordance for c, e in source.recode.items()}, config
            )
            for year, file in _files(source, config, key, found.problems):
                found.files.append(SourceFile(table, source.name, year, file))
                try:
                    header = _header(file, source, table)
                except (IngestError, OSError, ValueError, ImportError, *EXCEL_READ_ERRORS) as exc:
                    found.problems.append(f"{file}: cannot read the header ({key}): {exc}")
                    continue
                missing = [name for name in source.columns if name not in header]
                if missing:
                    found.problems.append(
                        f"{file}: column(s) {missing} named in {key}.columns are not in the "
                        f"header (it has {header[:20]})"
                    )
    if config.gazetteer.path is not None:
        gazetteer = config.resolve(config.gazetteer.path)
        if not gazetteer.exists():  # a file, or a folder of files
            found.problems.append(f"gazetteer.path: {gazetteer} does not exist")
    found.problems += _concordance_problems(
        {"exports.concordance": config.exports.concordance}, config
    )
    found.problems += _demand_problems(config)
    return found


def _concordance_problems(references: dict[str, str | None], config: Config) -> list[str]:
    """Concordances (by config key) that are missing or malformed."""
    from spillover.concordance import ConcordanceError, load_concordance

    problems = []
    for key, reference in references.items():
        if reference is None:
            continue
        try:
            load_concordance(reference, config)
        except ConcordanceError as exc:
            problems.append(f"{key}: {exc}")
    return problems


def _files(
    source: Source, config: Config, key: str, problems: list[str]
) -> list[tuple[int | None, Path]]:
    """The source's (year, file) pairs; a missing year or glob becomes a problem."""
    found = []
    for years in [[year] for year in source.years] if source.years else [None]:
        try:
            found += source_files(source.model_copy(update={"years": years}), config)
        except IngestError as exc:
            problems.append(f"{key}.path: {exc}")
    return found


def _mapping_problems(source: Source, spec, key: str) -> list[str]:
    """Canonical columns the mapping names that ``spec``'s table lacks, or required ones unset."""
    problems = [
        f"{key}.{part} names unknown canonical columns {unknown}; allowed: {list(spec.columns)}"
        for part, unknown in spec.unknown_mapped(source).items()
    ]
    absent = spec.unset_required(source, year_given=bool(source.years))  # the file's year
    if absent:
        problems.append(
            f"{key}: required canonical columns {absent} are neither mapped in 'columns' nor "
            "set in 'constants'"
        )
    return problems


def _header(path: Path, source: Source, table: str) -> list[str]:
    """The raw column names of a file, read without its rows."""
    if source.format in ("csv", "tsv"):
        with path.open("rb") as handle:
            head = handle.read(_HEADER_BYTES)
        line = head.split(b"\n", 1)[0].removesuffix(b"\r")
        text = decode_text(line, path=path, source=source, table=table)
        delimiter = "\t" if source.format == "tsv" else ","
        return next(csv.reader([text], delimiter=delimiter), [])
    if source.format == "fwf":
        return _fixed_width_names(path, source)
    if source.format in ("boj_tankan", "meti_shipments"):  # small files, read whole
        return list(read_raw(path, source, table=table)[0].columns)
    import pandas as pd

    if source.format == "parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    if source.format in ("stata", "sas", "spss"):
        import pyreadstat

        read = {"stata": pyreadstat.read_dta, "spss": pyreadstat.read_sav}.get(
            source.format,
            pyreadstat.read_xport if path.suffix.lower() == ".xpt" else pyreadstat.read_sas7bdat,
        )
        options = {"encoding": source.encoding} if source.encoding != "utf-8" else {}
        try:
            return list(read(path, metadataonly=True, **options)[1].column_names)
        except (pyreadstat.ReadstatError, pyreadstat.PyreadstatError) as exc:
            raise ValueError(str(exc)) from None
    header = pd.read_excel(
        path,
        sheet_name=source.sheet or 0,
        nrows=0,
        skiprows=source.skip_lines,
        engine=EXCEL_ENGINE,
    )
    return [str(c) for c in header.columns]


def _fixed_width_names(path: Path, source: Source) -> list[str]:
    """The layout's names, once the first record is long enough for every ``colspecs`` range."""
    with path.open("rb") as handle:
        lines = handle.read(_HEADER_BYTES).split(b"\n")
    records = [line.removesuffix(b"\r") for line in lines[source.skip_lines :]]
    end = max(stop for _, stop in source.colspecs)
    if records and records[0] and len(records[0]) < end:
        raise ValueError(
            f"its first record (line {source.skip_lines + 1}) is {len(records[0])} bytes but "
            f"colspecs reach byte {end}"
        )
    return list(source.names)


def _demand_problems(config: Config) -> list[str]:
    """The Tankan series ``external_demand`` names, where the DI file(s) lack them."""
    from spillover.parsing import clean_text

    settings = config.external_demand
    wanted = {settings.industry} | (
        set(settings.industry_map.values()) if settings.by_centre_industry else set()
    )
    pairs: set[tuple[str, str]] = set()
    for source in config.sources["external_demand"]:
        raw_name = {canonical: raw for raw, canonical in source.columns.items()}
        for _, path in _files(source, config, "", []):
            try:
                frame, _ = read_raw(path, source, table="external_demand")
            except (IngestError, OSError):
                continue  # already reported with the file's header
            values = {}
            for column in ("industry", "size_class"):
                if column in raw_name and raw_name[column] in frame.columns:
                    values[column] = clean_text(frame[raw_name[column]])
                elif column in source.constants:
                    values[column] = [str(source.constants[column])] * len(frame)
                else:
                    break
            else:
                pairs |= set(zip(values["industry"], values["size_class"], strict=True))
    if not pairs:
        return []  # no DI file could be read: reported above
    absent = sorted(industry for industry in wanted if (industry, settings.size_class) not in pairs)
    if not absent:
        return []
    return [
        f"external_demand: the DI data have no series for industry {absent} with size_class "
        f"{settings.size_class!r} (external_demand.industry / .industry_map / .size_class); "
        f"they have {sorted(pairs)[:12]}"
    ]
