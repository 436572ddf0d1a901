"""Disclosure control for ``public/neighbourhoods``: the METI rule on contributors (DESIGN.md §5).

The *contributors* of a value are the establishments with a non-zero value of its column
(a sum over 3 plants of which 2 export nothing is one exporter's exports). With
``min = disclosure.min_establishments`` (≥ 3) every value of the public table is checked on
its own column:

1. ``primary``: every value of a cell of 1..min-1 establishments, and each value with
   1..min-1 contributors, is suppressed (χ, NaN). A value with no contributor is published
   as 0 (METI's "−"): it says that no establishment of the cell has any (none exports, say)
   and nothing more about any of them;
2. ``dominance`` (when ``dominance_top_n`` and ``dominance_share`` are set): a value whose
   top n contributors hold more than the share is suppressed (columns ``dominance_columns``);
3. ``nested``: for one centre and year, walking the radii outwards, a value is suppressed
   when the ring between it and the nearest *published* smaller radius has 1..min-1
   contributors or fails the dominance rule;
4. secondary suppression on everything released, until nothing can be derived: the released
   numbers (published values of every radius, year and column, and the decomposition's
   mean yearly changes, see :func:`decomposition_margins`) are linear in the establishments'
   values, so :class:`spillover.disclosure_span.LinearRelease` finds every suppressed value,
   and every value of 1..min-1 establishments, in their linear span — differences of
   overlapping neighbourhoods (``overlap``), exports − imputed exports or imputed exports ÷ a
   public 鉱工業 export ratio (``cross_column``), a released total minus its published cells
   (``margin``) — and for each suppresses one more published value of its derivation (the one
   with the fewest contributors) until none is left.

Counts (``n_neighbours``) stay public. The public table names each value's suppression
``primary`` (rules 1–2) or ``secondary`` (3–4); the manifest counts every reason per column.
``neighbourhood_no`` is the rank of HMAC-SHA256(key, centre id): without the key (drawn at
random for each publication unless ``disclosure.number_salt`` is set; never stored) numbers
say nothing about confidential ids, and rows are written in number order.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from spillover.config import Config, DisclosureConfig, NeighbourhoodConfig
from spillover.disclosure_blocks import BlockStore
from spillover.disclosure_span import DisclosureError, Finding, LinearRelease, Margin
from spillover.disclosure_support import run_starts
from spillover.estimate import ENTITY, decomposition_pairs
from spillover.estimate.sample import DERIVATIVES
from spillover.heap import release_freed_memory
from spillover.neighbourhoods import VALUE_COLUMNS, cell_members, cell_members_by_year
from spillover.options import SUPPRESSION_REASONS
from spillover.partitions import DISCLOSURE_MODULES, TableCache
from spillover.plants import with_membership
from spillover.progress import logger as progress_log
from spillover.specs import ModelSpec, Term

__all__ = [
    "DisclosureError",
    "PublicRelease",
    "decomposition_margins",
    "disclosure_cache",
    "manifest_section",
    "neighbourhood_numbers",
    "public_release",
    "public_table",
    "suppression_reasons",
]

CELL_KEYS = ["radius_km", "year", "centre_id"]
#: Reasons that protect the value itself (shown as ``primary`` in the public table).
PRIMARY = ("primary", "dominance")
#: Variables of the decomposition that are sums of establishment values (million yen, persons).
MONEY_TERMS = ("exports", "shipments", "employees")


@dataclass(frozen=True)
class PublicRelease:
    """The disclosure-controlled table of a run and how it came about.

    ``table`` is releasable; ``reasons`` (``radius_km, year, centre_id`` and one column per
    value column: ``""`` published, else a reason of
    :data:`~spillover.options.SUPPRESSION_REASONS`) and ``margins`` (the released margins
    protected) stay in the secure environment; ``rounds`` counts the passes of secondary
    suppression.
    """

    table: pd.DataFrame
    reasons: pd.DataFrame
    margins: tuple[str, ...]
    rounds: int


def public_release(
    cells: pd.DataFrame,
    plants: pd.DataFrame,
    panels: dict[str, pd.DataFrame],
    config: Config,
    *,
    key: bytes | None = None,
    cache: TableCache | None = None,
    blocks: BlockStore | None = None,
    progress: bool = False,
) -> PublicRelease:
    """The releasable neighbourhood table of a run (``public/neighbourhoods``).

    The suppression depends only on the inputs, the rule and the specs; ``cache`` keeps it
    by their content (a run on unchanged tables does not search the release again).

    Parameters
    ----------
    cells : pandas.DataFrame
        The neighbourhood sums (``neighbourhoods`` table).
    plants : pandas.DataFrame
        The classified plants with exports (who the members of each cell are).
    panels : dict
        ``{"neighbourhood": panel, "plant": plant_panel}``: the estimation samples behind the
        released decomposition. Emptied once read when the release is searched (the plant
        panel is ~0.8 GB nationally): pass a dict of your own.
    config : Config
        The run's config (disclosure rule, radii, model specs).
    key : bytes, optional
        Key of the neighbourhood numbers (default: ``disclosure.number_salt``, else random).
    cache : TableCache, optional
        Where the suppression is kept (:func:`disclosure_cache`); default: nothing kept.
    blocks : BlockStore, optional
        Where what secondary suppression found in each block is kept across runs (a run with
        one more year searches only the blocks that changed); default: nothing kept.
    progress : bool, default False
        Draw the searches' progress bars on a terminal (their log lines are written anyway).

    Returns
    -------
    PublicRelease
        The releasable table and, for the manifest, why each value is suppressed.
    """
    rule = config.disclosure

    def search(inputs: dict) -> dict[str, pd.DataFrame]:
        # the panels are read for the margins only: let go before the model (national: ~0.8 GB)
        read = {family: inputs.pop(family) for family in list(panels)}
        panels.clear()
        margins = decomposition_margins(read, plants, config.specs, config.neighbourhoods)
        del read
        release_freed_memory()
        reasons, rounds = suppression_reasons(  # the members read a year at a time
            cells,
            cell_members_by_year(plants, config.neighbourhoods),
            margins,
            rule,
            blocks=blocks,
            progress=progress,
        )
        return {
            "reasons": reasons,
            "margins": pd.DataFrame({"name": [m.name for m in margins]}, dtype="str"),
            "rounds": pd.DataFrame({"rounds": [rounds]}),
        }

    cache = cache or disclosure_cache(None, config)
    kept = cache.tables("all", {"cells": cells, "plants": plants, **panels}, search)
    if key is None:
        key = rule.number_salt.encode() if rule.number_salt else secrets.token_bytes(32)
    reasons = kept["reasons"]
    table = public_table(cells, reasons, key)
    margins = tuple(kept["margins"]["name"])
    return PublicRelease(table, reasons, margins, int(kept["rounds"]["rounds"].iloc[0]))


def disclosure_cache(folder: Path | None, config: Config) -> TableCache:
    """Kept suppressions in ``folder``, keyed by the rule, the neighbour rule and the specs.

    The key leaves out ``number_salt`` (it changes the numbers, not what is suppressed).
    """
    settings = {
        "rule": config.disclosure.model_dump(mode="json", exclude={"number_salt"}),
        "neighbourhoods": config.neighbourhoods.model_dump(mode="json"),
        "specs": [spec.model_dump(mode="json") for spec in config.specs],
    }
    return TableCache(folder, "disclose", settings, DISCLOSURE_MODULES)


def public_table(cells: pd.DataFrame, reasons: pd.DataFrame, key: bytes) -> pd.DataFrame:
    """The releasable rows: values with χ (NaN), suppression per value and cell, numbers.

    ``reasons`` is :func:`suppression_reasons` of ``cells`` (same order). Kept:
    ``radius_km, year, neighbourhood_no, n_neighbours``, the value columns, ``suppression``
    (``""``, ``primary``, ``secondary`` or ``primary+secondary``) and
    ``suppression_<column>``; rows in number order. Centre ids, coordinates and prefecture
    codes never leave.
    """
    out = cells[["radius_km", "year", "n_neighbours"]].reset_index(drop=True)
    numbers = neighbourhood_numbers(cells["centre_id"], key)
    out.insert(2, "neighbourhood_no", cells["centre_id"].map(numbers).to_numpy())
    status, any_primary, any_secondary = {}, np.zeros(len(out), bool), np.zeros(len(out), bool)
    for column in VALUE_COLUMNS:
        reason = reasons[column].to_numpy(dtype=object)
        primary, hidden = np.isin(reason, PRIMARY), reason != ""
        out[column] = np.where(hidden, np.nan, cells[column].to_numpy(dtype=float))
        status[column] = np.where(hidden, np.where(primary, "primary", "secondary"), "")
        any_primary |= primary
        any_secondary |= hidden & ~primary
    both = np.where(any_secondary, "primary+secondary", "primary")  # the kinds, sorted
    kinds = np.where(any_primary, both, np.where(any_secondary, "secondary", ""))
    out["suppression"] = pd.Series(kinds, index=out.index, dtype="str")
    for column in VALUE_COLUMNS:
        out[f"suppression_{column}"] = pd.Series(status[column], index=out.index, dtype="str")
    return out.sort_values(["radius_km", "year", "neighbourhood_no"]).reset_index(drop=True)


def neighbourhood_numbers(centre_ids: pd.Series, key: bytes) -> dict:
    """Public number (1..n) of every centre: the rank of HMAC-SHA256(key, centre id).

    Without ``key`` the order is a uniformly random permutation of the centres, unrelated to
    their confidential ids; the same key gives the same numbers (across years and radii).
    """
    digests = {
        centre: hmac.new(key, str(centre).encode(), hashlib.sha256).hexdigest()
        for centre in pd.unique(centre_ids)
    }
    ranked = sorted(digests, key=digests.__getitem__)
    return {centre: number for number, centre in enumerate(ranked, start=1)}


def suppression_reasons(
    cells: pd.DataFrame,
    members: pd.DataFrame | Iterable[pd.DataFrame],
    margins: list[Margin],
    rule: DisclosureConfig,
    *,
    blocks: BlockStore | None = None,
    progress: bool = False,
) -> tuple[pd.DataFrame, int]:
    """Why each value of ``cells`` is suppressed (``""`` when published), and the rounds.

    ``members`` is :func:`spillover.neighbourhoods.cell_members` of the same cells, whole or
    in parts of whole years (:func:`~spillover.neighbourhoods.cell_members_by_year`: only a
    year's ~2.4·10⁶ national rows at a time); see the module docstring for the rules.
    ``blocks`` keeps each block's search across runs. Each search logs its blocks' progress
    and what it found (a bar with ``progress`` on a terminal).
    """
    cells = cells.reset_index(drop=True)
    stats = _RingStats(cells, rule)
    parts = _counted_parts(cells, members, stats)
    model = LinearRelease(cells, parts, margins, blocks, progress=progress)
    release_freed_memory()  # the members and their terms (nationally ~1 GB kept by glibc)
    reasons = stats.primary()
    rounds = 0
    while True:
        stats.nested(reasons)
        findings = model.disclosures(reasons == "", rule.min_establishments)
        release_freed_memory()  # the decompositions' temporaries (~0.6 GB nationally)
        if not findings:
            break
        rounds += 1
        chosen = _secondary(findings, model, stats, reasons)
        for (cell, column), reason in chosen.items():
            reasons[cell, VALUE_COLUMNS.index(column)] = reason
        progress_log.info(
            "disclose: search %d: %d value(s) derivable; %d more suppressed, searching again",
            rounds,
            len(findings),
            len(chosen),
        )
    progress_log.info("disclose: search %d: nothing derivable, release certified", rounds + 1)
    frame = cells[CELL_KEYS].copy()
    for index, column in enumerate(VALUE_COLUMNS):
        frame[column] = reasons[:, index].astype("str")
    return frame, rounds


def _counted_parts(
    cells: pd.DataFrame, members: pd.DataFrame | Iterable[pd.DataFrame], stats: _RingStats
) -> Iterator[pd.DataFrame]:
    """The member parts numbered (:func:`numbered_members`), one at a time.

    Each part's ring statistics are taken on a second thread while the caller reads it; the
    counts are checked against the cells' once every part is read.
    """
    counts = np.zeros(len(cells), dtype=np.int64)
    with ThreadPoolExecutor(1, thread_name_prefix="disclose") as helper:
        counting = None
        for part in [members] if isinstance(members, pd.DataFrame) else members:
            part = _numbered(cells, part, counts)
            if counting is not None:
                counting.result()
            counting = helper.submit(stats.add, part)
            yield part
        if counting is not None:
            counting.result()
    _check_counts(cells, counts)


def numbered_members(cells: pd.DataFrame, members: pd.DataFrame) -> pd.DataFrame:
    """``members`` with the position of its cell in ``cells`` (checked against the counts)."""
    counts = np.zeros(len(cells), dtype=np.int64)
    numbered = _numbered(cells, members, counts)
    _check_counts(cells, counts)
    return numbered


def _numbered(cells: pd.DataFrame, members: pd.DataFrame, counts: np.ndarray) -> pd.DataFrame:
    """``members`` with ``cell``, their cells' position; ``counts`` counts them per cell."""
    cell = _cell_positions(cells, members)
    if (cell < 0).any():
        raise DisclosureError(MEMBERS_DIFFER)
    counts += np.bincount(cell, minlength=len(cells))
    return members.assign(cell=cell).reset_index(drop=True)


def _check_counts(cells: pd.DataFrame, counts: np.ndarray) -> None:
    """Raise unless ``counts`` are the cells' ``n_neighbours``."""
    if (counts != cells["n_neighbours"].to_numpy()).any():
        raise DisclosureError(MEMBERS_DIFFER)


MEMBERS_DIFFER = (
    "the neighbourhood members do not add up to the cells' n_neighbours: re-run the "
    "neighbourhoods stage before publishing"
)


def _cell_positions(cells: pd.DataFrame, members: pd.DataFrame) -> np.ndarray:
    """Row of ``cells`` holding each member's ``radius_km, year, centre_id`` (-1: none).

    Each key is numbered among the cells' values (categorical ids through their categories:
    no hashing of the ~10^7 member rows), and the three numbers index a dense table.
    """
    own, numbers, sizes = [], [], []
    for column in CELL_KEYS:
        values = pd.Index(cells[column].drop_duplicates().sort_values())
        own.append(_positions_in(values, cells[column]))
        numbers.append(_positions_in(values, members[column]))
        sizes.append(len(values))
    table = np.full(int(np.prod(sizes)) + 1, -1, dtype=np.int64)  # the last entry: unknown
    table[np.ravel_multi_index(own, sizes)] = np.arange(len(cells))
    flat = numbers[0].astype(np.int64)  # the row-major index, on whole arrays (no masks)
    for number, size in zip(numbers[1:], sizes[1:], strict=True):
        flat *= size
        flat += number
    flat[np.logical_or.reduce([n < 0 for n in numbers])] = len(table) - 1
    return table[flat]


def _positions_in(values: pd.Index, column: pd.Series) -> np.ndarray:
    """Position in ``values`` of each entry of ``column`` (-1 where absent)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        lookup = np.append(values.get_indexer(column.cat.categories), -1)
        return lookup[column.cat.codes.to_numpy()]  # code -1 (NaN) takes the last: -1
    if values.is_monotonic_increasing and len(values) < 64 and column.dtype.kind in "iuf":
        at = np.minimum(np.searchsorted(values.to_numpy(), column.to_numpy()), len(values) - 1)
        return np.where(values.to_numpy()[at] == column.to_numpy(), at, -1)
    return values.get_indexer(column)


class _RingStats:
    """Contributors and top-n shares of every cell and ring (per value column)."""

    def __init__(self, cells: pd.DataFrame, rule: DisclosureConfig) -> None:
        self.rule = rule
        self.cells = cells
        self.radii = sorted(cells["radius_km"].unique())
        self.lowers = [0.0, *self.radii[:-1]]
        shape = (len(cells), len(VALUE_COLUMNS))
        self.count = {lower: np.zeros(shape, dtype=np.int64) for lower in self.lowers}
        self.share = {lower: np.zeros(shape) for lower in self.lowers}

    def add(self, members: pd.DataFrame) -> None:
        """Count numbered member rows holding whole cells (each cell in one call only)."""
        cell = members["cell"].to_numpy()
        inner = members["inner_radius_km"].to_numpy()
        values = [members[column].to_numpy(dtype=float) for column in VALUE_COLUMNS]
        # rows grouped by cell, in their order within it (the sums add up in the same order)
        if not (np.diff(cell) >= 0).all():
            by_cell = np.argsort(cell, kind="stable")
            cell, inner, values = cell[by_cell], inner[by_cell], [v[by_cell] for v in values]
        for rows in _cell_chunks(cell, RING_CHUNK_ROWS):  # bounded temporaries (~10² MB)
            self._add(cell[rows], inner[rows], [value[rows] for value in values])

    def _add(self, cell: np.ndarray, inner: np.ndarray, values: list[np.ndarray]) -> None:
        """Count the member rows of whole cells (sorted; cells between them may be elsewhere)."""
        first, last = int(cell[0]), int(cell[-1]) + 1
        local = cell - first
        rings = {lower: inner > lower if lower else None for lower in self.lowers}  # None: all
        for index, column_values in enumerate(values):
            value = np.nan_to_num(np.abs(column_values))
            for lower, ring in rings.items():
                count, share = _contributors(local, value, ring, last - first, self.rule)
                self.count[lower][first:last, index] += count.astype(np.int64)  # 0: not here
                self.share[lower][first:last, index] += share

    def failing(self, lower: float, cells: np.ndarray) -> np.ndarray:
        """Whether each of ``cells`` (rows) × column has 1..min-1 contributors or is dominated.

        The values are those of the ring ``lower < d ≤ radius`` (``lower = 0``: the cell).
        """
        count = self.count[lower][cells]
        failing = (count > 0) & (count < self.rule.min_establishments)
        if self.rule.dominance_top_n and self.rule.dominance_share:
            dominated = self.share[lower][cells] > self.rule.dominance_share
            columns = np.isin(VALUE_COLUMNS, self.rule.dominance_columns)
            failing |= dominated & columns[None, :]
        return failing

    def primary(self) -> np.ndarray:
        """Reasons after rules 1–2: ``primary``, ``dominance`` or ``""`` (cells × columns)."""
        everything = np.arange(len(self.cells))
        count = self.count[0.0]
        n = self.cells["n_neighbours"].to_numpy()[:, None]
        small = (n > 0) & (n < self.rule.min_establishments)
        small = small | ((count > 0) & (count < self.rule.min_establishments))
        reasons = np.full(count.shape, "", dtype=object)
        reasons[self.failing(0.0, everything)] = "dominance"
        reasons[small] = "primary"
        return reasons

    def nested(self, reasons: np.ndarray) -> None:
        """Rule 3, in place: suppress values whose ring to the nearest published radius fails."""
        grid = self.cells.reset_index().pivot_table(
            index=["year", "centre_id"], columns="radius_km", values="index", aggfunc="first"
        )
        positions = grid.reindex(columns=self.radii).to_numpy()
        lower = np.full((len(grid), len(VALUE_COLUMNS)), np.nan)
        for step, radius in enumerate(self.radii):
            rows = np.flatnonzero(~np.isnan(positions[:, step]))
            cells = positions[rows, step].astype(int)
            low = lower[rows]
            for value in np.unique(low[~np.isnan(low)]):
                fails = self.failing(float(value), cells) & (low == value) & (reasons[cells] == "")
                at, column = np.nonzero(fails)
                reasons[cells[at], column] = "nested"
            lower[rows] = np.where(reasons[cells] == "", radius, low)


#: Member rows counted at a time by :class:`_RingStats` (whole cells; national: ~10 chunks).
RING_CHUNK_ROWS = 2_000_000


def _cell_chunks(cell: np.ndarray, size: int) -> list[slice]:
    """Slices of about ``size`` rows of ``cell`` (sorted), each ending where a cell ends."""
    if not len(cell):
        return []
    bounds = np.searchsorted(cell, cell[np.arange(0, len(cell), size)], side="left")
    bounds = np.unique(np.append(bounds, len(cell)))
    return [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _contributors(cell, value, ring, n_cells: int, rule: DisclosureConfig):
    """Per cell of one column: establishments with a non-zero value, and the top-n share (0–1).

    ``value`` (absolute, per member row, rows grouped by ``cell``) counts where ``ring`` is
    true (``None``: every row); the share is that of the ``dominance_top_n`` largest (0
    without a dominance rule).
    """
    ring_cell, ring_value = (cell, value) if ring is None else (cell[ring], value[ring])
    count = np.bincount(ring_cell, weights=ring_value != 0, minlength=n_cells)
    share = np.zeros(n_cells)
    if rule.dominance_top_n and len(ring_cell):
        top_sum = np.zeros(n_cells)
        cells, sums = _top_sums(ring_cell, ring_value, rule.dominance_top_n)
        top_sum[cells] = sums
        total = np.bincount(ring_cell, weights=ring_value, minlength=n_cells)
        np.divide(top_sum, total, out=share, where=total > 0)
    return count, share


def _top_sums(cell: np.ndarray, value: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The cells (grouped rows, at least one each) and the sum of each one's n largest values.

    Added largest first from 0.0 (as a sum over the rows sorted by value would add them), by
    taking each cell's maximum n times, one occurrence at a time: no sort of the rows.
    """
    first = run_starts(cell)
    starts = np.flatnonzero(first)
    group = np.cumsum(first) - 1
    left = value.astype(float, copy=True)
    sums = np.zeros(len(starts))
    for _ in range(n):
        largest = np.maximum.reduceat(left, starts)
        found = largest > -np.inf  # a cell of fewer than n rows has none left
        sums[found] += largest[found]
        at = np.flatnonzero(left == largest[group])
        left[at[run_starts(group[at])]] = -np.inf  # the first row holding it, per cell
    return cell[starts], sums


def _secondary(findings: list[Finding], model: LinearRelease, stats: _RingStats, reasons):
    """One more suppressed value per finding: {(cell, column): reason}."""
    chosen: dict[tuple[int, str], str] = {}
    centre = stats.cells["centre_id"].to_numpy()
    radius = stats.cells["radius_km"].to_numpy()
    for finding in findings:
        candidates = set()
        for row in finding.rows:
            if row[0] == "cell":
                candidates.add((row[1], row[2]))
            else:
                candidates |= _margin_cells(model, row[1], reasons)
        if not candidates:
            raise DisclosureError(
                f"a value of establishments {list(finding.establishments)[:5]} can be derived "
                f"from {[r[1] for r in finding.rows]} alone: that release cannot go out"
            )
        count = stats.count[0.0]
        cell, column = min(
            candidates,
            key=lambda c: (count[c[0], VALUE_COLUMNS.index(c[1])], -radius[c[0]], c[0], c[1]),
        )
        cells = {r[1] for r in finding.rows if r[0] == "cell"} | {finding.cell} - {-1}
        columns = {r[2] for r in finding.rows if r[0] == "cell"} | ({finding.column} - {""})
        if any(r[0] == "margin" for r in finding.rows):
            reason = "margin"
        elif len(columns) > 1:
            reason = "cross_column"
        elif len({centre[c] for c in cells}) > 1:
            reason = "overlap"
        else:
            reason = "nested"
        chosen.setdefault((cell, column), reason)
    return chosen


def _margin_cells(model: LinearRelease, name: str, reasons: np.ndarray) -> set:
    """Published values that enter a neighbourhood margin (suppressing one grows its complement)."""
    for margin, weights in zip(model.cell_margins, model.cell_weights, strict=True):
        if margin.name == name:
            index = VALUE_COLUMNS.index(margin.column)
            cells = np.flatnonzero((weights != 0) & (reasons[:, index] == ""))
            return {(int(c), margin.column) for c in cells}
    return set()


def decomposition_margins(
    panels: dict[str, pd.DataFrame],
    plants: pd.DataFrame,
    specs: list[ModelSpec],
    settings: NeighbourhoodConfig | None = None,
) -> list[Margin]:
    """The released mean yearly changes of establishment sums, as weighted sums of values.

    A spec's decomposition releases, for its dependent and each regressor, the mean over
    consecutive years of the first difference of the term on its estimation sample: times
    the (known) number of differences, a signed sum of the term's values. A term
    ``op(f(x))`` is Σ sign · f(x at t + offset) (:attr:`spillover.specs.Term.stencil`), so
    the sum weighs each value of x by the signs it collects times f'(x), the
    linearisation (a non-linear equation pins down what its gradient does). Only sums of
    establishment values (exports, shipments, employees) are margins; OPR, the DI, exposure
    and counts are not. A neighbourhood spec under another membership rule than ``yearly``
    sums cells that are not published: its margin is spread over the cells' members
    (``settings`` gives the neighbour rule), each weighted by its cell's weight.
    """
    margins = []
    for spec in specs:
        terms = [t for t in spec.terms if t.variable in MONEY_TERMS]
        if not terms:
            continue
        panel = panels[spec.family]
        pairs = decomposition_pairs(panel, spec)
        for term in terms:
            signed = _signed_years(pairs, term, ENTITY[spec.family])
            rows = _margin_rows(signed, panel, plants, spec, [term.variable])
            slope = DERIVATIVES[term.function](rows[term.variable].to_numpy(dtype=float))
            weights = rows.assign(weight=rows["level"].to_numpy(dtype=float) * slope).drop(
                columns="level"
            )
            if spec.family == "neighbourhood" and spec.sample.membership != "yearly":
                weights = _spread_over_members(weights, plants, spec, settings)
            margins.append(
                Margin(
                    f"decomposition/{spec.id}/{term.text}",
                    term.variable,
                    weights,
                )
            )
    return margins


def _signed_years(pairs: pd.DataFrame, term: Term, entity: str) -> pd.DataFrame:
    """Entity, year and ``level``: the sign each value of the term's variable gets in Σ ΔT.

    Each later year t of a pair adds T(t) − T(t−1); T(t) = Σ sign · f(x at t + offset).
    Years whose signs cancel are dropped.
    """
    later = pairs.loc[pairs["later"], [entity, "year"]]
    parts = []
    for offset, sign in term.stencil:
        parts.append(later.assign(year=later["year"] + offset, level=sign))
        parts.append(later.assign(year=later["year"] - 1 + offset, level=-sign))
    signed = pd.concat(parts).groupby([entity, "year"], as_index=False)["level"].sum()
    return signed[signed["level"] != 0].reset_index(drop=True)


def _spread_over_members(
    cells: pd.DataFrame, plants: pd.DataFrame, spec: ModelSpec, settings: NeighbourhoodConfig
) -> pd.DataFrame:
    """A margin over cells of another membership rule, as weights on their members."""
    if settings is None:
        raise DisclosureError(f"models[{spec.id}]: membership margins need the neighbour rule")
    members = cell_members(with_membership(plants, spec.sample.membership), settings)
    members = members[np.isclose(members["radius_km"], spec.radius_km)]
    spread = cells[["centre_id", "year", "weight"]].merge(
        members[["year", "centre_id", "establishment_id"]], on=["centre_id", "year"]
    )
    weights = spread.groupby(["year", "establishment_id"], as_index=False)["weight"].sum()
    own = plants[["year", "establishment_id", *MONEY_TERMS, "export_method"]]
    return weights.merge(own, on=["year", "establishment_id"], how="left")


def _margin_rows(signed, panel, plants, spec, terms) -> pd.DataFrame:
    """The signed rows with the values a margin needs (cells or establishments)."""
    if spec.family == "neighbourhood":
        level = panel[np.isclose(panel["radius_km"], spec.radius_km)]
        if "membership" in level.columns:
            level = level[level["membership"] == spec.sample.membership]
        rows = signed.merge(level[["centre_id", "year", *terms]], on=["centre_id", "year"])
        return rows.assign(radius_km=spec.radius_km)
    own = plants[["year", "establishment_id", *MONEY_TERMS, "export_method"]]
    return signed.merge(own, on=["establishment_id", "year"], how="left")


def describe_rule(settings: DisclosureConfig) -> str:
    """The applied rule in one sentence (for the manifest)."""
    small = settings.min_establishments - 1
    text = (
        f"a value is published only if 0 or at least {settings.min_establishments} "
        f"establishments have a non-zero value of its column (cells of 1..{small} "
        "establishments: every value χ)"
    )
    if settings.dominance_top_n and settings.dominance_share:
        text += (
            f" and its top {settings.dominance_top_n} establishments hold at most "
            f"{settings.dominance_share:.0%} of it ({', '.join(settings.dominance_columns)})"
        )
    return text + (
        "; the same for every ring between radii of one centre; secondary suppression until no "
        "suppressed value and no value of 1.."
        f"{small} establishments is a linear combination of the released numbers"
    )


def manifest_section(settings: DisclosureConfig, release: PublicRelease) -> dict:
    """The manifest's ``disclosure`` entry: rule, outputs checked, counts per reason/column."""
    values = {}
    for column in VALUE_COLUMNS:
        reasons = release.reasons[column].replace("", "published").value_counts()
        values[column] = {
            name: int(reasons.get(name, 0)) for name in ("published", *SUPPRESSION_REASONS)
        }
    hidden = (release.reasons[VALUE_COLUMNS] != "").sum(axis=1)
    return {
        "rule": describe_rule(settings),
        "contributors": "establishments with a non-zero value of the column",
        "columns": VALUE_COLUMNS,
        "applied_to": ["public/neighbourhoods"],
        "checked_against": {
            "public/neighbourhoods": "every radius, year and column, overlapping "
            "neighbourhoods, exports vs imputed exports vs public export ratios",
            "decomposition": list(release.margins),
            "estimates": "regression coefficients on whole panels: not disclosive, not modelled",
        },
        "values": values,
        "cells": {
            "all values published": int((hidden == 0).sum()),
            "some values suppressed": int(((hidden > 0) & (hidden < len(VALUE_COLUMNS))).sum()),
            "all values suppressed": int((hidden == len(VALUE_COLUMNS)).sum()),
        },
        "secondary_rounds": release.rounds,
        "neighbourhood_no": "rank of HMAC-SHA256(secret key, centre id); key not stored",
    }
