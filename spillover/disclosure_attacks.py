"""The attacks of ``spillover audit-disclosure`` (see :mod:`spillover.disclosure_audit`).

Each attack plays an outsider who holds every releasable output of a publication and the
public 鉱工業 export ratios, and lists the values it recovers that the METI rule protects: a
value of 1..min-1 establishments (contributors: establishments with a non-zero value), a
dominated value, or a suppressed value. Attacks 1–3 and 5 are written independently of the
rule (:mod:`spillover.disclosure`); attack 4 uses the linear algebra the rule certifies its
secondary suppression with, over every released number.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from spillover.config import DisclosureConfig
from spillover.disclosure_span import LinearRelease, Margin
from spillover.neighbourhoods import VALUE_COLUMNS
from spillover.options import INDUSTRY_RATIO

FINDING_COLUMNS = ["column", "year", "radius_km", "neighbourhood_no", "establishments", "what"]


@dataclass(frozen=True)
class AttackResult:
    """One attack: what it tried (``examined``, per column) and what it recovered."""

    name: str
    question: str
    examined: dict[str, int]
    findings: pd.DataFrame

    @property
    def recoverable(self) -> int:
        """Values recovered (or found dominated)."""
        return len(self.findings)

    def by_column(self) -> list[tuple[str, int, int, int]]:
        """(column, examined, recovered, of one establishment) for each column."""
        columns = list(self.examined) + [
            c for c in self.findings["column"].unique() if c not in self.examined
        ]
        rows = []
        for column in columns:
            found = self.findings[self.findings["column"] == column]
            single = int((found["establishments"] == 1).sum())
            rows.append((column, self.examined.get(column, 0), len(found), single))
        return rows


@dataclass
class Released:
    """A publication lined up with the confidential cells it was made from.

    ``cells`` has one row per public row (``radius_km, year, centre_id, n_neighbours,
    neighbourhood_no``); ``published`` (cells × :data:`VALUE_COLUMNS`) says which values are
    shown; ``members`` (:func:`~spillover.neighbourhoods.cell_members` with ``cell``) who adds
    up to each cell; ``margins`` the released decomposition margins; ``row_order`` the
    position of each cell's row in the published file.
    """

    cells: pd.DataFrame
    published: np.ndarray
    members: pd.DataFrame
    margins: list[Margin]
    rule: DisclosureConfig
    row_order: np.ndarray

    def nonzero(self, column: str) -> pd.DataFrame:
        """Members with a non-zero value of ``column`` (their contributors)."""
        return self.members[self.members[column].fillna(0).to_numpy() != 0]

    def dominated(self, column: str, cell: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Per cell (0..n_cells-1): whether the top-n members hold more than the share."""
        rule = self.rule
        n_cells = len(self.cells)
        if not (rule.dominance_top_n and rule.dominance_share) or (
            column not in rule.dominance_columns
        ):
            return np.zeros(n_cells, dtype=bool)
        order = np.lexsort((-values, cell))
        ranked = cell[order]
        first = np.searchsorted(ranked, ranked, side="left")
        top = (np.arange(len(order)) - first) < rule.dominance_top_n
        top_sum = np.bincount(ranked[top], weights=values[order][top], minlength=n_cells)
        total = np.bincount(cell, weights=values, minlength=n_cells)
        return top_sum > rule.dominance_share * total

    def pairs(self, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
        """Cells at ``low`` and ``high`` km of the same centre and year (aligned arrays)."""
        frame = self.cells.reset_index()
        a = frame[frame["radius_km"] == low].set_index(["year", "centre_id"])["index"]
        b = frame[frame["radius_km"] == high].set_index(["year", "centre_id"])["index"]
        both = a.index.intersection(b.index)
        return a.loc[both].to_numpy(), b.loc[both].to_numpy()


def _findings(released: Released, records: list[tuple]) -> pd.DataFrame:
    """Findings (column, cell, establishments, what) with the public cell's coordinates."""
    frame = pd.DataFrame(records, columns=["column", "cell", "establishments", "what"])
    located = released.cells.reindex(frame["cell"].to_numpy(dtype=int)).reset_index(drop=True)
    frame = pd.concat([frame.drop(columns="cell"), located], axis=1)
    return frame.reindex(columns=FINDING_COLUMNS).astype({"establishments": "int64"})


def _radius_pairs(released: Released) -> list[tuple[float, float]]:
    radii = sorted(released.cells["radius_km"].unique())
    return [(low, high) for i, low in enumerate(radii) for high in radii[i + 1 :]]


def _rings(released: Released, column: str, low: float) -> pd.DataFrame:
    """Non-zero members of each cell that are farther than ``low`` km from the centre."""
    members = released.nonzero(column)
    inner = members.groupby(["year", "centre_id", "establishment_id"])["radius_km"].transform("min")
    return members[inner.to_numpy() > low]


def nested_radii(released: Released) -> AttackResult:
    """Attack 1: subtract two published radii of one centre and year (the ring between)."""
    minimum, n = released.rule.min_establishments, len(released.cells)
    records, examined = [], {}
    for c, column in enumerate(VALUE_COLUMNS):
        examined[column] = 0
        for low, high in _radius_pairs(released):
            a, b = released.pairs(low, high)
            both = released.published[a, c] & released.published[b, c]
            examined[column] += int(both.sum())
            ring = _rings(released, column, low)
            cell, values = ring["cell"].to_numpy(), np.abs(ring[column].to_numpy(dtype=float))
            count = np.bincount(cell, minlength=n)
            dominated = released.dominated(column, cell, values)
            for target in b[both]:
                what = f"ring {low:g}–{high:g} km"
                if 0 < count[target] < minimum:
                    records.append((column, target, count[target], f"{what} of few establishments"))
                elif count[target] and dominated[target]:
                    records.append((column, target, count[target], f"{what} dominated"))
    return AttackResult(
        "nested radii",
        "published radius − published smaller radius of the same centre and year",
        examined,
        _findings(released, records),
    )


def zero_contributors(released: Released) -> AttackResult:
    """Attack 2: values whose other members are 0, and differences of overlapping cells."""
    minimum = released.rule.min_establishments
    records, examined = [], {}
    centre = released.cells["centre_id"].to_numpy()
    for c, column in enumerate(VALUE_COLUMNS):
        examined[column] = 0
        members = released.nonzero(column)
        values = np.abs(members[column].to_numpy(dtype=float))
        dominated = released.dominated(column, members["cell"].to_numpy(), values)
        for year in sorted(released.cells["year"].unique()):
            cells, matrix = _incidence(released, members, year)
            shown = released.published[cells, c]
            size = np.asarray(matrix.sum(axis=1)).ravel()
            common = (matrix @ matrix.T).toarray()
            examined[column] += int(shown.sum())
            for i in np.flatnonzero(shown):
                if 0 < size[i] < minimum:
                    what = "published value of few establishments (others 0)"
                    records.append((column, cells[i], size[i], what))
                elif size[i] and dominated[cells[i]]:
                    records.append((column, cells[i], size[i], "published value dominated"))
            records += _differences(column, cells, shown, size, common, centre, minimum)
            examined[column] += int(shown.sum()) * int(len(cells) - 1)
    return AttackResult(
        "zero contributors",
        "values whose other members are 0; differences of neighbourhoods with nested members",
        examined,
        _findings(released, records),
    )


def _incidence(released: Released, members: pd.DataFrame, year) -> tuple[np.ndarray, sp.csr_matrix]:
    """Cells of ``year`` and their non-zero members as a 0/1 matrix (cells × establishments)."""
    cells = np.flatnonzero(released.cells["year"].to_numpy() == year)
    rows = members[members["year"].to_numpy() == year]
    local = np.full(len(released.cells), -1)
    local[cells] = np.arange(len(cells))
    codes, uniques = pd.factorize(rows["establishment_id"])
    matrix = sp.csr_matrix(
        (np.ones(len(rows)), (local[rows["cell"].to_numpy()], codes)),
        shape=(len(cells), max(len(uniques), 1)),
    )
    return cells, matrix


def _differences(column, cells, shown, size, common, centre, minimum) -> list[tuple]:
    """Suppressed values equal to a published one; published differences of few members."""
    records = []
    for i in np.flatnonzero(~shown & (size > 0)):
        same = shown & (size == size[i]) & (common[i] == size[i])
        if same.any():
            records.append((column, cells[i], size[i], "suppressed value = a published value"))
    for i in np.flatnonzero(shown & (size > 0)):
        inside = shown & (common[i] == size[i]) & (centre[cells] != centre[cells[i]])
        extra = size - size[i]
        for j in np.flatnonzero(inside & (extra > 0) & (extra < minimum)):
            what = "difference of two overlapping neighbourhoods"
            records.append((column, cells[j], extra[j], what))
    return records


def ratio_inversion(released: Released) -> AttackResult:
    """Attack 3: imputed exports ÷ public export ratio = shipments; column differences."""
    minimum, n = released.rule.min_establishments, len(released.cells)
    published = dict(zip(VALUE_COLUMNS, released.published.T, strict=True))
    imputed = released.nonzero("exports_imputed")
    by_ratio, ratio_count = _one_ratio(imputed, n)
    records = []
    examined = {"exports_imputed": int(published["exports_imputed"].sum())}
    for cell in np.flatnonzero(published["exports_imputed"] & by_ratio):
        if 0 < ratio_count[cell] < minimum:
            what = "shipments = published imputed exports ÷ export ratio"
            records.append(("exports_imputed", cell, ratio_count[cell], what))
    for low, high in _radius_pairs(released):
        a, b = released.pairs(low, high)
        both = published["exports_imputed"][a] & published["exports_imputed"][b]
        examined["exports_imputed"] += int(both.sum())
        ring_ratio, ring_count = _one_ratio(_rings(released, "exports_imputed", low), n)
        for cell in b[both & ring_ratio[b] & (ring_count[b] > 0) & (ring_count[b] < minimum)]:
            what = f"shipments = ring {low:g}–{high:g} km of imputed exports ÷ export ratio"
            records.append(("exports_imputed", cell, ring_count[cell], what))
    counts = {c: np.bincount(released.nonzero(c)["cell"], minlength=n) for c in VALUE_COLUMNS}
    checks = [
        ("shipments", by_ratio, "shipments − imputed exports ÷ export ratio"),
        ("exports", ratio_count > 0, "exports − imputed exports (direct exports)"),
    ]
    for column, usable, what in checks:
        both = published[column] & published["exports_imputed"] & usable
        examined[column] = int(both.sum())
        rest = counts[column] - counts["exports_imputed"]
        for cell in np.flatnonzero(both & (rest > 0) & (rest < minimum)):
            records.append((column, cell, rest[cell], what))
    return AttackResult(
        "ratio inversion",
        "imputed exports ÷ public 鉱工業 export ratio, and differences between columns",
        examined,
        _findings(released, records),
    )


def _one_ratio(members: pd.DataFrame, n_cells: int) -> tuple[np.ndarray, np.ndarray]:
    """Per cell: whether all members are imputed with one public ratio, and their number."""
    cell = members["cell"].to_numpy()
    by_ratio = (members["export_method"] == INDUSTRY_RATIO).to_numpy()
    ratio = np.round(
        members["exports"].to_numpy(dtype=float) / members["shipments"].to_numpy(dtype=float), 12
    )
    count = np.bincount(cell, minlength=n_cells)
    other = np.bincount(cell, weights=(~by_ratio).astype(float), minlength=n_cells)
    ratios = pd.Series(ratio).groupby(cell).nunique().reindex(range(n_cells), fill_value=0)
    return (other == 0) & (ratios.to_numpy() == 1), count


def linear_span(released: Released) -> AttackResult:
    """Attack 4: any linear combination of every released number (cells and margins)."""
    minimum = released.rule.min_establishments
    model = LinearRelease(released.cells, released.members, released.margins)
    records = []
    for finding in model.disclosures(released.published, minimum):
        cells = [row for row in finding.rows if row[0] == "cell"]
        margins = sorted({row[1] for row in finding.rows if row[0] == "margin"})
        source = f"{len(finding.rows)} released number(s)" + (
            f" incl. {', '.join(margins)}" if margins else ""
        )
        if finding.kind == "suppressed":
            what = f"suppressed value = combination of {source}"
            records.append((finding.column, finding.cell, len(finding.establishments), what))
        else:
            where = cells[0] if cells else ("cell", -1, margins[0].rsplit("/", 1)[-1])
            what = f"value of few establishments = combination of {source}"
            records.append((where[2], where[1], len(finding.establishments), what))
    examined = {
        column: int(released.published[:, c].sum())
        + sum(margin.column == column for margin in released.margins)
        for c, column in enumerate(VALUE_COLUMNS)
    }
    return AttackResult(
        "linear span",
        "every linear combination of published values and decomposition margins",
        examined,
        _findings(released, records),
    )


def identifiers(released: Released) -> AttackResult:
    """Attack 5: neighbourhood numbers or row order that follow the confidential ids."""
    numbers = released.cells.groupby("centre_id")["neighbourhood_no"].first().sort_index()
    records = []
    step = np.diff(numbers.to_numpy())
    if len(numbers) > 2 and ((step > 0).all() or (step < 0).all()):
        records.append(("neighbourhood_no", -1, 1, "neighbourhood_no follows the centre ids"))
    shown = released.cells.assign(position=released.row_order).sort_values("position")
    for _, part in shown.groupby(["radius_km", "year"]):
        ids = part["centre_id"].to_numpy()
        if (
            len(ids) > 2
            and (ids[1:] > ids[:-1]).all()
            and not part["neighbourhood_no"].is_monotonic_increasing
        ):
            records.append(("neighbourhood_no", -1, 1, "rows are written in centre-id order"))
            break
    return AttackResult(
        "identifiers",
        "neighbourhood numbers and row order against the confidential centre ids",
        {"neighbourhood_no": len(numbers)},
        _findings(released, records),
    )


ATTACKS = (nested_radii, zero_contributors, ratio_inversion, linear_span, identifiers)
