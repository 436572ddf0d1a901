"""One typed configuration for every stage, loaded from a YAML file.

The YAML file is validated by :class:`Config` (pydantic). A bad file gives a
:class:`ConfigError` whose message names the key and the allowed values; callers
(CLI, DAG) print it without a traceback. Relative paths are resolved against the
directory of the YAML file, so a project folder can be moved as a whole.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import reprlib
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from spillover import safe_yaml
from spillover.errors import SpilloverError
from spillover.options import (
    INDUSTRY_RATIO,
    VALUE_COLUMN_NAMES,
    AcceptedLevel,
    ExportFallback,
    Kernel,
    ValueColumn,
)
from spillover.specs import PANEL_VARIABLES, ModelSpec, Strict

TableName = Literal[
    "establishments",
    "firms",
    "affiliates",
    "parents",
    "export_ratios",
    "export_ratio_concordance",
    "external_demand",
    "firm_crosswalk",
]
FileFormat = Literal[
    "csv", "tsv", "parquet", "stata", "sas", "spss", "fwf", "excel", "boj_tankan", "meti_shipments"
]
#: Formats whose reader returns the canonical columns of one table (no ``columns`` needed).
PUBLISHED_LAYOUTS: dict[str, tuple[str, ...]] = {
    "boj_tankan": ("period", "industry", "size_class", "di"),
    "meti_shipments": ("year", "industry_group", "export_ratio"),
}


class ConfigError(SpilloverError, ValueError):
    """A configuration file is missing, unreadable or invalid; the message names the key."""


_Strict = Strict


class Recode(_Strict):
    """How the raw values of one canonical column are recoded before they are parsed.

    Steps, in order: ``extract`` keeps the first group of a regular expression (a value it
    does not match is quarantined); ``map`` replaces listed codes; ``concordance`` (a CSV
    shipped in ``spillover/concordances`` named without ``.csv``, or a path to one, relative to
    the config file) translates the rest by year. Codes neither mapped nor in the
    concordance are quarantined, or kept as they are with ``unmatched: keep``.
    """

    extract: str | None = Field(
        None,
        description="regular expression whose first group is the code, e.g. '^[A-Z]?(\\d{2,4})$'",
    )
    map: dict[str, str] = Field(default_factory=dict)
    concordance: str | None = None
    unmatched: Literal["quarantine", "keep"] = "quarantine"

    @field_validator("extract")
    @classmethod
    def _one_group(cls, value: str | None) -> str | None:
        import re

        if value is None:
            return value
        try:
            pattern = re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        if pattern.groups < 1:
            raise ValueError(f"{value!r} has no group: put the code in parentheses")
        return value


class Source(_Strict):
    """One raw file (or a family of yearly files) mapped onto a canonical table.

    ``path`` may contain ``{year}`` (the accounts/reference year) and ``{survey_year}``
    (``year + survey_year_offset``) placeholders and glob characters. ``years`` lists the years
    a yearly file family covers; left out on a path with a placeholder, the family covers
    every year of the run except ``skip_years`` (so a newly delivered year is picked up
    without editing the list). ``columns`` maps raw
    column names to canonical ones; ``scale`` multiplies canonical numeric columns after
    parsing (e.g. 0.01 turns 万円 into 百万円 / million yen). ``constants`` fills canonical
    columns that the raw file lacks (e.g. ``{"size_class": "大企業"}``). ``zero_pad`` gives
    code widths to restore leading zeros a numeric type dropped (``{"industry": 4}``).
    Fixed-width files (``format: fwf``) need ``colspecs`` ([start, end) byte ranges) and
    ``names``; ``skip_lines`` skips header lines. ``recode`` recodes the raw values of a
    canonical column (letter-prefixed or other-revision industry codes, see :class:`Recode`).
    ``value_labels`` (Stata, SAS, SPSS) either applies the file's value labels or keeps the
    stored codes.
    """

    name: str
    path: str
    format: FileFormat = "csv"
    encoding: str = "utf-8"
    years: list[int] | None = None
    skip_years: list[int] = Field(
        default_factory=list,
        description="years the family has no file for (taken out of `years` or the run's)",
    )
    survey_year_offset: int = 0
    columns: dict[str, str] = Field(
        default_factory=dict,
        description="raw → canonical names (implied by boj_tankan and "
        "meti_shipments, whose readers return the canonical columns)",
    )
    scale: dict[str, float] = Field(default_factory=dict)
    constants: dict[str, str | int | float] = Field(default_factory=dict)
    sheet: str | int | None = None
    colspecs: list[tuple[int, int]] | None = None
    names: list[str] | None = None
    skip_lines: int = Field(0, ge=0)
    zero_pad: dict[str, int] = Field(default_factory=dict)
    recode: dict[str, Recode] = Field(default_factory=dict)
    value_labels: Literal["codes", "labels"] = "codes"

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        import codecs

        try:
            codecs.lookup(value)
        except LookupError as exc:
            raise ValueError(
                f"unknown encoding {value!r} (use e.g. 'utf-8', 'utf-8-sig', 'cp932', 'shift_jis')"
            ) from exc
        return value

    @property
    def is_yearly(self) -> bool:
        """Whether ``path`` has a ``{year}`` or ``{survey_year}`` placeholder."""
        return "{year}" in self.path or "{survey_year}" in self.path

    @model_validator(mode="before")
    @classmethod
    def _published_layout_columns(cls, data: object) -> object:
        """Formats whose reader returns canonical columns map them onto themselves."""
        if isinstance(data, dict) and not data.get("columns"):
            layout = PUBLISHED_LAYOUTS.get(data.get("format", "csv"))
            if layout is None:
                raise ValueError("'columns' (raw → canonical names) is required for this format")
            data = {**data, "columns": {name: name for name in layout}}
        return data

    @model_validator(mode="after")
    def _fwf_needs_colspecs(self) -> Source:
        if self.format == "fwf":
            if not self.colspecs or not self.names:
                raise ValueError(
                    "format 'fwf' needs 'colspecs' (a list of [start, end) byte ranges) and "
                    "'names' (one raw column name per range)"
                )
            if len(self.colspecs) != len(self.names):
                raise ValueError(
                    f"'colspecs' has {len(self.colspecs)} ranges but 'names' has "
                    f"{len(self.names)} names"
                )
        return self


class Definitions(_Strict):
    """White-paper definitions (DESIGN.md §4); money in million yen, ratios in percent."""

    capital_threshold_million_yen: float = Field(1000.0, gt=0)
    manufacturing_jsic_majors: list[str] = Field(
        default_factory=lambda: [f"{code:02d}" for code in range(9, 33)]
    )
    firm_year_offset: int = Field(
        0, description="firm-survey fiscal year matched to accounts year + offset"
    )
    unlinked_capital_rule: Literal["small_unless_reported", "exclude"] = "small_unless_reported"


class ExportsConfig(_Strict):
    """How establishment exports are obtained (DESIGN.md §4)."""

    fallback: list[ExportFallback] = Field(default_factory=lambda: ["firm_ratio", "industry_ratio"])
    concordance: str | None = Field(
        None,
        description="JSIC 中分類 → export-ratio industry group for `industry_ratio`: a shipped "
        "concordance (e.g. jsic_to_iip_group) or a CSV path; replaces "
        "sources.export_ratio_concordance",
    )


class ExternalDemandConfig(_Strict):
    """Which Tankan DI series is the external-demand control, and how it is annualised.

    With ``by_centre_industry`` each row takes the series of its own industry through
    ``industry_map`` (JSIC 2-digit major group → Tankan 業種 name, e.g. ``"31": 輸送用機械``, or
    the name of a shipped concordance such as ``jsic_to_tankan``, or an absolute path to one);
    industries not in the map take ``industry``.
    """

    industry: str = "製造業"
    size_class: str = "大企業"
    by_centre_industry: bool = False
    industry_map: dict[str, str] = Field(default_factory=dict)
    aggregation: Literal["calendar_year", "fiscal_year"] = "calendar_year"

    @field_validator("industry_map", mode="before")
    @classmethod
    def _shipped_concordance(cls, value: object) -> object:
        """A concordance name (``jsic_to_tankan``) or file stands for its rows."""
        if not isinstance(value, str):
            return value
        from spillover.concordance import ConcordanceError, load_concordance

        try:
            concordance = load_concordance(value)
        except ConcordanceError as exc:
            raise ValueError(str(exc)) from None
        if concordance.dated:
            raise ValueError(f"concordance {value!r} has validity years; the map has none")
        return dict(zip(concordance.rows["from"], concordance.rows["to"], strict=True))

    @model_validator(mode="after")
    def _map_when_by_industry(self) -> ExternalDemandConfig:
        if self.by_centre_industry and not self.industry_map:
            raise ValueError(
                "by_centre_industry needs industry_map: JSIC 2-digit code → Tankan industry name"
            )
        bad = [code for code in self.industry_map if not (len(code) == 2 and code.isdigit())]
        if bad:
            raise ValueError(f"industry_map keys must be JSIC 2-digit codes like '31', got {bad}")
        return self


class NeighbourhoodConfig(_Strict):
    """Neighbourhood definition: great-circle radii and the exclusion rule."""

    radii_km: list[Annotated[float, Field(gt=0, le=100)]] = Field(default_factory=lambda: [5.0])
    exclude_large_firms: bool = True
    exposure_kernel: Kernel = "uniform"
    exposure_bandwidth_km: float | None = Field(None, gt=0, description="default: the radius")

    @field_validator("radii_km")
    @classmethod
    def _non_empty_unique(cls, value: list[float]) -> list[float]:
        if not value:
            raise ValueError("give at least one radius in km, e.g. [5]")
        return sorted(set(value))


class DisclosureConfig(_Strict):
    """METI disclosure control for tables that leave the secure environment (DESIGN.md §5).

    A value of ``public/neighbourhoods`` is published only when ``min_establishments`` or more
    establishments have a non-zero value of its column (or none has: a published 0), when its
    top ``dominance_top_n`` establishments hold at most ``dominance_share`` of it (columns
    ``dominance_columns``; no dominance rule unless both are set), and when nothing released
    lets a suppressed value, or a value of fewer establishments, be derived
    (:mod:`spillover.disclosure`). ``number_salt`` is the secret key behind the public
    neighbourhood numbers; by default every publication draws a new random key, never stored.
    """

    min_establishments: int = 3
    dominance_top_n: int | None = Field(None, ge=1)
    dominance_share: float | None = Field(None, gt=0, le=1)
    dominance_columns: list[ValueColumn] = Field(default_factory=lambda: list(VALUE_COLUMN_NAMES))
    number_salt: str | None = Field(None, min_length=16)

    @field_validator("min_establishments")
    @classmethod
    def _meti_minimum(cls, value: int) -> int:
        if value < 3:
            raise ValueError(
                f"must be at least 3, got {value}: METI suppresses every value built from 1 or "
                "2 establishments (of 2, each can subtract its own value and read the other's)"
            )
        return value

    @model_validator(mode="after")
    def _dominance_pair(self) -> DisclosureConfig:
        if (self.dominance_top_n is None) != (self.dominance_share is None):
            raise ValueError("set both dominance_top_n and dominance_share, or neither")
        return self


class QuarantineConfig(_Strict):
    """A run fails when a source's share of rejected rows exceeds ``max_share``."""

    max_share: float = Field(0.05, ge=0, le=1)


#: A share of the previous year's rows (0 < share ≤ 1), or ``"off"`` to switch the rule off.
ShareOrOff = Annotated[float, Field(gt=0, le=1)] | Literal["off"]


class CompletenessRule(_Strict):
    """Row-count rule of one table or source; unset keys fall back to the level above.

    ``expected_rows`` maps a year to the exact number of data rows its files must hold (from
    the delivery note, say); for such a year it replaces ``min_share_of_previous_year``.
    """

    min_share_of_previous_year: ShareOrOff | None = None
    expected_rows: dict[int, Annotated[int, Field(ge=1)]] = Field(default_factory=dict)


class CompletenessConfig(_Strict):
    """Checks that every input is whole, run by ingest before any stage writes anything.

    A year's data rows (all files of the table for that year, bad rows included) must be at
    least ``min_share_of_previous_year`` of the previous year's rows in the same table.
    Default 0.8: 工業統計 establishment counts fall a few percent a year, so a complete file
    never loses a fifth of its rows, while a cut or partly exported one does. The 経済センサス
    year differs in scope (all sizes, not only 4+ persons): state that year's rows with
    ``expected_rows``. ``tables`` and ``sources`` (by source name) override the share per
    canonical table or source (a source's rule wins; where several sources give a year, the
    lowest share applies). ``"off"`` switches the rule off; ``require_*: false`` switches the
    other rules off. Nothing is switched off implicitly.
    """

    min_share_of_previous_year: ShareOrOff = 0.8
    tables: dict[TableName, CompletenessRule] = Field(default_factory=dict)
    sources: dict[str, CompletenessRule] = Field(default_factory=dict)
    require_final_newline: bool = True
    require_all_years: bool = True
    require_all_quarters: bool = True


class PlausibilityConfig(_Strict):
    """What ingest does with rows whose codes contradict each other.

    ``on_code_mismatch``: an establishment whose ``city_code`` lies in another prefecture
    than its ``pref_code`` (the first two digits of a 全国地方公共団体コード are the JIS
    prefecture code) is quarantined, or kept as it is. Value bounds are fixed per column in
    :mod:`spillover.schemas`.
    """

    on_code_mismatch: Literal["quarantine", "keep"] = "quarantine"


class GazetteerConfig(_Strict):
    """The offline gazetteer (Geolonia latest.csv, MLIT 位置参照情報, japan_towns layout).

    ``path`` may be left out when every establishment source maps ``lat`` and ``lon`` or
    ``mesh_code``: rows are then placed by those alone, and a row that would need its address
    matched is quarantined. ``min_level`` and ``on_pref_mismatch`` apply either way.
    """

    path: str | None = None
    index_dir: str | None = None
    min_level: AcceptedLevel = Field(
        "oaza",
        description="addresses resolved only coarser than this are quarantined (unless a "
        "usable mesh code or lat/lon is given): a city centroid is no 5 km neighbourhood",
    )
    on_pref_mismatch: Literal["quarantine", "keep"] = "quarantine"
    vintage: dt.date | None = Field(
        None,
        description="date the gazetteer's municipalities are of: municipal changes up to it "
        "count as done (default: read from the gazetteer's names)",
    )


class Config(_Strict):
    """The whole run configuration."""

    project: str = "spillover"
    years: tuple[int, int | Literal["latest"]] = Field(
        description="first and last year of the run, inclusive; `latest`: the newest year "
        "whose files every yearly source family has (resolved when the config is loaded)"
    )
    output_root: str
    work_root: str
    cache_dir: str | None = None
    sources: dict[TableName, list[Source]]
    gazetteer: GazetteerConfig = Field(default_factory=GazetteerConfig)
    definitions: Definitions = Field(default_factory=Definitions)
    exports: ExportsConfig = Field(default_factory=ExportsConfig)
    external_demand: ExternalDemandConfig = Field(default_factory=ExternalDemandConfig)
    neighbourhoods: NeighbourhoodConfig = Field(default_factory=NeighbourhoodConfig)
    models: list[ModelSpec]
    disclosure: DisclosureConfig = Field(default_factory=DisclosureConfig)
    quarantine: QuarantineConfig = Field(default_factory=QuarantineConfig)
    completeness: CompletenessConfig = Field(default_factory=CompletenessConfig)
    plausibility: PlausibilityConfig = Field(default_factory=PlausibilityConfig)
    keep_runs: int | None = Field(
        None,
        ge=1,
        description="run directories under work_root to keep after a publication (newest "
        "first; the published run and runs in use are always kept); None keeps all",
    )
    base_dir: str = "."
    overrides: tuple[str, ...] = Field(
        (), description="the `--set key.path=value` assignments applied on top of the file"
    )

    @model_validator(mode="after")
    def _consistent(self) -> Config:
        first, last = self.years
        if last != "latest" and first > last:
            raise ValueError(f"years: first year {first} is after last year {last}")
        for required in ("establishments", "firms", "affiliates", "parents", "external_demand"):
            if not self.sources.get(required):
                raise ValueError(f"sources.{required}: at least one source is required")
        if self.gazetteer.path is None:
            unplaced = [s.name for s in self.sources["establishments"] if not _gives_location(s)]
            if unplaced:
                raise ValueError(
                    "gazetteer.path is required unless every establishment source maps lat "
                    f"and lon or mesh_code; sources.establishments {unplaced} map neither"
                )
        if INDUSTRY_RATIO in self.exports.fallback:
            needs = ["export_ratios"]
            needs += [] if self.exports.concordance else ["export_ratio_concordance"]
            for needed in needs:
                if not self.sources.get(needed):
                    raise ValueError(
                        f"exports.fallback lists 'industry_ratio' but sources.{needed} is empty"
                    )
        for key in ("output_root", "work_root", "cache_dir"):
            value = getattr(self, key)
            if value and "://" in value:
                raise ValueError(
                    f"{key} = {value!r}: only local paths are supported (no fsspec URLs yet)"
                )
        ids = [spec.id for spec in self.specs]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"models: spec ids must be unique after grid expansion: {repeated}")
        for spec in self.specs:
            _check_spec(spec, self)
        return self

    @property
    def specs(self) -> list[ModelSpec]:
        """Every model spec, grids expanded (ids like ``baseline@r10``), in config order."""
        return [spec for entry in self.models for spec in entry.expand()]

    @property
    def memberships(self) -> list[str]:
        """Membership rules other than ``yearly`` that some spec asks for (sorted)."""
        return sorted({spec.sample.membership for spec in self.specs} - {"yearly"})

    def resolve(self, path: str) -> Path:
        """Return ``path`` made absolute against the config file's directory."""
        candidate = Path(path).expanduser()
        return candidate if candidate.is_absolute() else Path(self.base_dir) / candidate

    def cache_path(self, kind: str) -> Path:
        """Folder of the ``kind`` cache: under ``cache_dir``, else ``<work_root>/.cache``."""
        root = self.cache_dir if self.cache_dir is not None else Path(self.work_root) / ".cache"
        return self.resolve(str(root)) / kind

    @property
    def year_list(self) -> list[int]:
        """All years of the run, inclusive."""
        return list(range(self.years[0], self.years[1] + 1))

    def digest(self) -> str:
        """SHA-256 of the canonical JSON form (recorded in the manifest)."""
        payload = self.model_dump_json(exclude={"base_dir"})
        return hashlib.sha256(payload.encode()).hexdigest()


def _gives_location(source: Source) -> bool:
    """Whether a source maps (or sets) ``lat`` and ``lon``, or ``mesh_code``."""
    given = set(source.columns.values()) | set(source.constants)
    return {"lat", "lon"} <= given or "mesh_code" in given


def _check_spec(spec: ModelSpec, config: Config) -> None:
    """Checks of one expanded spec that need the rest of the config."""
    if spec.radius_km not in config.neighbourhoods.radii_km:
        raise ValueError(
            f"models[{spec.id}].radius_km = {spec.radius_km:g} is not in "
            f"neighbourhoods.radii_km = {config.neighbourhoods.radii_km}"
        )
    variables = PANEL_VARIABLES[spec.family]
    for name in [*(t.variable for t in spec.terms), spec.sample.weights]:
        if name is not None and name not in variables:
            raise ValueError(
                f"models[{spec.id}]: {name!r} is not a variable of the {spec.family} panel; "
                f"it has {list(variables)}"
            )
    demand = [t.text for t in spec.terms if t.variable == "external_demand"]
    absorbing = "industry^year" in spec.fe or (
        "year" in spec.fe and not config.external_demand.by_centre_industry
    )
    if demand and absorbing:
        raise ValueError(
            f"models[{spec.id}]: {demand[0]} varies only by year (and by industry with "
            "external_demand.by_centre_industry), so the fixed effects "
            f"{spec.fe} absorb it; drop one of them"
        )


def _brief(value: object) -> str:
    """The offending value quoted in a message, shortened (never the whole of a large one)."""
    brief = reprlib.Repr()
    brief.maxlevel, brief.maxlist, brief.maxdict, brief.maxstring = 2, 4, 4, 60
    return brief.repr(value)


def _key(loc: tuple, data: dict) -> str:
    """The dotted key of an error location; a model entry is named by its id: ``models[x]``."""
    parts = [str(part) for part in loc]
    models = data.get("models")
    if (
        len(loc) >= 2
        and loc[0] == "models"
        and isinstance(loc[1], int)
        and isinstance(models, list)
    ):
        entry = models[loc[1]] if loc[1] < len(models) else None
        spec_id = entry.get("id") if isinstance(entry, dict) else None
        parts[:2] = [f"models[{spec_id}]" if spec_id else f"models[#{loc[1] + 1}]"]
    return ".".join(parts) or "(top level)"


def _format_errors(error: ValidationError, origin: str, data: dict) -> str:
    lines = [f"{origin}: invalid configuration"]
    for item in error.errors():
        key = _key(item["loc"], data)
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "literal_error":
            message = f"{message} (got {_brief(item['input'])})"
        elif item["type"] == "extra_forbidden":
            message = "unknown key (check its spelling and level)"
        lines.append(f"  {key}: {message}")
    return "\n".join(lines)


def parse_config(
    data: dict, *, base_dir: Path, origin: str = "<config>", latest_up_to: int | None = None
) -> Config:
    """Validate a mapping as a :class:`Config`; raise :class:`ConfigError` naming bad keys.

    The run's years are then made concrete (:func:`spillover.deliveries.resolve_years`):
    ``latest`` becomes the newest delivered year (not after ``latest_up_to``), and each open
    yearly source family gets the run's years as its ``years`` list.
    """
    from spillover.deliveries import resolve_years

    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: the top level must be a mapping of keys to values")
    try:
        config = Config.model_validate({**data, "base_dir": str(base_dir)})
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, origin, data)) from None
    return resolve_years(config, up_to=latest_up_to)


def apply_overrides(data: dict, assignments: Sequence[str]) -> dict:
    """``data`` with each ``key.path=value`` assignment applied (the CLI's ``--set``).

    The value is read as YAML (``[3]`` is a list, ``10`` a number, ``cp932`` text). A key
    path walks mappings by key and lists by position or by an entry's ``id`` or ``name``
    (``models.baseline.radius_km``, ``sources.establishments.kogyo_toukei.encoding``); its
    last key may be new (the config's validation then names it if it is unknown).

    Raises
    ------
    ConfigError
        Naming the assignment: no ``=``, a value that is not YAML, or a path that does not
        lead to a mapping or list entry.
    """
    data = copy.deepcopy(data)
    for assignment in assignments:
        path, sep, text = assignment.partition("=")
        keys = path.strip().split(".")
        if not sep or not all(keys):
            raise ConfigError(f"--set {assignment!r}: expected key.path=value")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"--set {path}: the value is not YAML ({exc})") from None
        parent = data
        for depth, key in enumerate(keys[:-1]):
            parent = _child(parent, key, ".".join(keys[: depth + 1]), assignment)
        if isinstance(parent, list):
            parent[_position(parent, keys[-1], path, assignment)] = value
        elif isinstance(parent, dict):
            parent[keys[-1]] = value
        else:
            raise ConfigError(f"--set {assignment!r}: {'.'.join(keys[:-1])} is not a mapping")
    return data


def _position(entries: list, key: str, path: str, assignment: str) -> int:
    """Index of a list entry named by position or by its ``id``/``name``."""
    if key.isdigit() and int(key) < len(entries):
        return int(key)
    for i, entry in enumerate(entries):
        if isinstance(entry, dict) and key in (entry.get("id"), entry.get("name")):
            return i
    raise ConfigError(
        f"--set {assignment!r}: {path} names no entry (give a position below "
        f"{len(entries)}, or an entry's id or name)"
    )


def _child(parent: object, key: str, path: str, assignment: str) -> object:
    """The mapping or list at ``key`` of ``parent`` (``path`` names it in messages)."""
    if isinstance(parent, list):
        child = parent[_position(parent, key, path, assignment)]
    elif isinstance(parent, dict) and key in parent:
        child = parent[key]
    elif isinstance(parent, dict):
        child = parent[key] = {}  # a section the file leaves to its defaults
    else:
        child = None
    if not isinstance(child, dict | list):
        raise ConfigError(f"--set {assignment!r}: {path} is not a mapping or a list")
    return child


def load_config(
    path: str | Path, *, overrides: Sequence[str] = (), latest_up_to: int | None = None
) -> Config:
    """Read and validate a YAML (or JSON) config file, with ``--set`` overrides applied.

    ``overrides`` (see :func:`apply_overrides`) are recorded in the config's ``overrides``
    field, so a run's frozen config says what was changed on the command line.
    ``latest_up_to`` caps ``years: [first, latest]`` (the year of a scheduled Airflow run).

    Raises
    ------
    ConfigError
        The file cannot be read, is not YAML, nests deeper than Python's recursion limit,
        expands beyond :data:`spillover.safe_yaml.MAX_NODES` values through aliases, sets
        ``overrides`` itself, an override cannot be applied, or the result is not a valid
        :class:`Config` (the message names the key).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    try:
        data = safe_yaml.load(text, str(path))
    except safe_yaml.YamlTooLarge as exc:
        raise ConfigError(str(exc)) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a config") from None
    if isinstance(data, dict) and "overrides" in data:
        raise ConfigError(f"{path}: overrides: set by `--set key=value`, not in the file")
    origin = str(path)
    if overrides and isinstance(data, dict):
        data = apply_overrides(data, overrides) | {"overrides": list(overrides)}
        origin += " with --set " + " ".join(overrides)
    return parse_config(
        data, base_dir=path.resolve().parent, origin=origin, latest_up_to=latest_up_to
    )


def dump_config(config: Config) -> str:
    """Serialise a validated config as JSON (frozen into every run directory)."""
    return json.dumps(config.model_dump(mode="json"), ensure_ascii=False, indent=2)
