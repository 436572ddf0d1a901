"""What can be derived from released sums: the linear-algebra core of disclosure control.

Every released number modelled here is a linear combination of establishment values, one
*variable* per year, establishment and kind:

- ``employees`` (persons) and ``shipments`` (million yen);
- ``exports`` (million yen) of establishments whose exports are their own (direct share) or
  follow their firm's confidential ratio. Exports imputed with the public 鉱工業 export ratio ρ
  of the industry are ρ × shipments: whoever knows ρ (public) and the industry turns them
  into shipments (ratio inversion), so they are modelled as ρ · shipments.

A cell of ``public/neighbourhoods`` is Σ of its members' variables (``exports`` = own exports
+ Σ ρ·shipments, ``exports_imputed`` the same over imputed members, so the columns share
variables); a released margin (the decomposition's mean yearly change times its known number
of differences) is a weighted sum of cells or of establishments (:class:`Margin`). A value
can be derived exactly iff its coefficient vector lies in the row space of the released rows.

Variables with the value 0 are left out, as if known: they add nothing, so a value's
*contributors* are the establishments with a non-zero value in it. Variables in exactly the
same rows with the same coefficients are merged into *atoms* (in one year: one piece of the
Venn diagram of the neighbourhoods); every vector of the row space is constant on atoms, so
the tests run on a few hundred atoms per year instead of ~10^5 variables. Two exact
reductions keep the blocks small: a released row with private atoms (in no other row and in
no suppressed value) of ``min_establishments`` or more establishments cannot enter any
derivation of a suppressed value or of a value of fewer establishments, and is dropped; the
neighbourhood values split into connected blocks (rows sharing atoms). A neighbourhood margin
enters as its *complement* (margin − its published cells, a weighted sum of its suppressed
cells): the same row space. Margins reach across years and neighbourhoods, so they are not
block rows (they would join every block into one, ~10^4 rows × 10^5 atoms at national scale):
the few margin directions left after projecting out the blocks' row spaces are added to every
test exactly (:class:`_Span`). Blocks unchanged by a round of secondary suppression are kept.

:meth:`LinearRelease.disclosures` then finds every suppressed value in the row space and
every vector of the row space built from 1..min-1 establishments (each a :class:`Finding`
with the rows that derive it): such a vector lies on atoms of fewer than ``min``
establishments, and :func:`spillover.disclosure_support.minimal_vectors` finds the minimal
sets of establishments that carry one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd
import scipy.linalg
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from threadpoolctl import threadpool_limits

from spillover.disclosure_blocks import BlockStore
from spillover.disclosure_support import TOLERANCE, minimal_vectors, sorted_unique
from spillover.errors import SpilloverError
from spillover.heap import release_freed_memory
from spillover.options import DIRECT_SHARE, INDUSTRY_RATIO, VALUE_COLUMN_NAMES
from spillover.progress import track
from spillover.threads import one_heavy_at_a_time, usable_cores

#: Relative tolerance of the residual and eigenvalue tests (rows are scaled to unit length).
#: Kinds of variables: exports imputed with a public ratio are ρ × shipments.
KINDS = ("employees", "shipments", "exports")
#: Most atoms of fewer than the minimum establishments that margins may couple into one
#: exact search (a dense projector of this side); beyond it the release is refused.
MAX_COUPLED_ATOMS = 6_000
#: Threads decomposing the blocks of a round (each with one BLAS thread): the usable cores.
BLOCK_THREADS = usable_cores(4)
#: Working memory (bytes, :func:`_working_bytes`) above which a block is decomposed while no
#: other such block is. Nationally 39 of 3,188 blocks, 31 of 74 thread-seconds (up to 0.19 GB
#: each): the other thread decomposes the small blocks meanwhile.
HEAVY_BLOCK_BYTES = 64 * 2**20
#: New blocks from which a search reports its progress (the demo's first search decomposes
#: 333 in 0.6 s, a national one 2,851 in ~25 s).
TRACKED_FROM_BLOCKS = 1_000
#: Terms hashed at a time when atoms are formed (bounds the temporary arrays, ~8 MB each;
#: 5·10⁶ terms made them the national peak of disclosure control).
TERM_CHUNK = 1_000_000
#: Terms of value column c of a member row come at c · ORDER_SPAN + the row's order (see
#: :class:`_AtomParts`); the plant margins' after all of them.
ORDER_SPAN = 1 << 50


class DisclosureError(SpilloverError, RuntimeError):
    """Disclosure control cannot certify a release (the message says which output and why)."""


@dataclass(frozen=True)
class Margin:
    """A released weighted sum of one value column (e.g. a decomposition's mean change).

    ``weights`` has ``radius_km, year, centre_id, weight`` (a sum over neighbourhood cells) or
    ``year, establishment_id, weight`` plus the establishments' own value columns and
    ``export_method`` (a sum over establishments, the ``plant`` family).
    """

    name: str
    column: str
    weights: pd.DataFrame

    @property
    def over_cells(self) -> bool:
        """Whether the margin sums neighbourhood cells (else establishments)."""
        return "centre_id" in self.weights.columns


@dataclass(frozen=True)
class Finding:
    """A value derivable from the released rows that the rule must not let out.

    ``kind`` is ``"suppressed"`` (a suppressed cell value, ``cell`` and ``column`` say which)
    or ``"small"`` (a value of ``len(establishments)`` < min establishments); ``rows`` are the
    released rows that derive it: ``("cell", cell, column)`` or ``("margin", name)``.
    """

    kind: str
    establishments: tuple
    rows: tuple
    cell: int = -1
    column: str = ""


def value_terms(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """The variables behind one value column of establishment rows, with their coefficients.

    ``frame`` has ``year, establishment_id``, the value columns and ``export_method``; the
    result keeps its index and adds ``kind`` (a position in :data:`KINDS`) and ``coef`` (rows
    with a zero or missing value are dropped: they contribute nothing).
    """
    keep, kind, coef = _value_arrays(frame, column)
    out = frame.loc[keep, ["year", "establishment_id"]].copy()
    out["kind"] = kind[keep]
    out["coef"] = coef[keep]
    return out


def _value_arrays(frame: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`value_terms` as arrays over all rows: (kept, kind, coef)."""
    value = frame[column].to_numpy(dtype=float, na_value=np.nan)
    kind = np.full(len(frame), KINDS.index(column) if column in KINDS else 2, dtype=np.int8)
    coef = np.ones(len(frame))
    if column in ("exports", "exports_imputed"):
        method = frame["export_method"]  # compared as strings, not turned into Python objects
        shipments = frame["shipments"].to_numpy(dtype=float, na_value=np.nan)
        ratio = (method == INDUSTRY_RATIO).to_numpy(dtype=bool, na_value=False)
        exports = frame["exports"].to_numpy(dtype=float, na_value=np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):  # ρ only where it is used
            coef[ratio] = np.round(exports[ratio] / shipments[ratio], 12)
        kind = np.where(ratio, KINDS.index("shipments"), KINDS.index("exports")).astype(np.int8)
        if column == "exports_imputed":
            direct = (method == DIRECT_SHARE).to_numpy(dtype=bool, na_value=False)
            value = np.where(direct, 0.0, value)
    keep = np.isfinite(value) & (value != 0) & np.isfinite(coef) & (coef != 0)
    return keep, kind, coef


def _first_of(codes: np.ndarray, size: int, absent: int | None = None) -> np.ndarray:
    """Where each code in [0, ``size``) first occurs in ``codes`` (``absent`` where it does not).

    Without ``absent`` every code must occur.
    """
    first = np.empty(size, dtype=np.int64) if absent is None else np.full(size, absent)
    first[codes[::-1]] = np.arange(len(codes))[::-1]  # the last write, the first occurrence, wins
    return first


def _factorize_bounded(keys: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize`` of integer ``keys`` in [0, size): int32 codes numbered by first appearance.

    A lookup table instead of a hash table when ``size`` is not much more than the keys
    (5.0 → ~1 s on the national release's 5.7·10⁷ terms).
    """
    if size > 4 * len(keys) + 1_000_000:
        codes, uniques = pd.factorize(keys)
        return codes.astype(np.int32), uniques
    first = _first_of(keys, size, absent=len(keys))
    present = np.flatnonzero(first < len(keys))
    uniques = present[np.argsort(first[present])]
    code = np.empty(size, dtype=np.int32)
    code[uniques] = np.arange(len(uniques), dtype=np.int32)
    return code[keys], uniques


def _codes(ids: pd.Series, known: pd.Index | None) -> tuple[np.ndarray, pd.Index]:
    """int32 codes of ``ids`` among the ``known`` ids, extended by the new ones.

    A categorical's own codes when its categories are the known ids (no hashing).
    """
    if isinstance(ids.dtype, pd.CategoricalDtype):
        codes, uniques = ids.cat.codes.to_numpy(), pd.Index(ids.cat.categories)
    else:
        codes, uniques = pd.factorize(ids)
        uniques = pd.Index(uniques)
    if known is None or uniques is known or uniques.equals(known):
        return codes.astype(np.int32), uniques if known is None else known
    position = known.get_indexer(uniques)
    if (position < 0).any():
        known = known.append(uniques[position < 0])
        position = known.get_indexer(uniques)
    return np.append(position, -1)[codes].astype(np.int32), known  # code -1 (NaN) stays -1


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a well-spread 64-bit hash of each uint64."""
    z = values + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _signatures(row: np.ndarray, var: np.ndarray, coef: np.ndarray, n_var: int) -> np.ndarray:
    """A 64-bit signature of every variable's rows and coefficients (equal: the same atom).

    The signature is a sum (mod 2⁶⁴) over the variable's terms, so it is taken in chunks of
    terms without changing it.
    """
    signature = np.zeros(n_var, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for start in range(0, len(var), TERM_CHUNK):
            part = slice(start, start + TERM_CHUNK)
            mixed = _mix(coef[part].view(np.uint64))
            term = _mix(row[part].astype(np.uint64) * np.uint64(0x100000001B3) ^ mixed)
            np.add.at(signature, var[part], term)
    return signature


class _AtomParts:
    """Atoms formed part by part of the release's terms, numbered as over all of them at once.

    A term is ``(row, year, establishment code, kind, coef, place)``: its released row, its
    variable (year, establishment, kind), its coefficient and its place in the order of all
    the release's terms. A part holds whole years, hence whole variables (a variable is one
    year's); variables of two years in the same rows with the same coefficients (margin-only
    ones) are one atom, joined by signature at the end. Atoms and establishments are numbered
    by first appearance in that order, so the release equals one built from all terms at once
    (nationally a year's terms are ~7·10⁶, all of them ~6·10⁷).
    """

    NEVER = np.iinfo(np.int64).max

    def __init__(self) -> None:
        self.signature: list[np.ndarray] = []  # per atom of each part
        self.first: list[np.ndarray] = []  # the place of its first term
        self.entries: list[tuple] = []  # (row, coef, atom of the part) of its first variable
        self.pairs: list[tuple] = []  # (atom of the part, establishment code), unique
        self.owner_first = np.zeros(0, dtype=np.int64)  # per code: its first term's place
        self.n_atoms = 0  # atoms of the parts added so far

    def add(self, terms: list, n_ids: int) -> None:
        """Form the atoms of one part's terms (establishment codes below ``n_ids``)."""
        row, year, owner, kind, coef, place = terms
        if not len(row):
            return
        if (np.diff(place) < 0).any():  # numbered by first appearance: in place order
            terms = [column[np.argsort(place, kind="stable")] for column in terms]
            row, year, owner, kind, coef, place = terms
        first_year = int(year.min())
        n_years = int(year.max()) - first_year + 1
        key = year.astype(np.int64)  # ((year - first) · n_ids + owner) · kinds + kind, in place
        key -= first_year
        key *= n_ids
        key += owner
        key *= len(KINDS)
        key += kind
        var, keys = _factorize_bounded(key, n_years * n_ids * len(KINDS))
        del key
        first_term = _first_of(var, len(keys))
        signature = _signatures(row, var, coef, len(keys))
        atom = pd.factorize(signature)[0].astype(np.int64)  # in the variables' order
        first_var = _first_of(atom, int(atom.max()) + 1)
        self.signature.append(signature[first_var])
        self.first.append(place[first_term[first_var]])
        # an atom's variables are in the same rows with the same coefficients: the terms of
        # one of them (the first) are the atom's entries, each (row, atom) once
        entry = var == first_var[atom[var]]
        self.entries.append((row[entry], coef[entry], atom[var[entry]] + self.n_atoms))
        pairs = sorted_unique(atom * n_ids + (keys // len(KINDS)) % n_ids)
        self.pairs.append((pairs // n_ids + self.n_atoms, pairs % n_ids))
        seen = np.append(place, self.NEVER)[_first_of(owner, n_ids, absent=len(place))]
        seen[: len(self.owner_first)] = np.minimum(seen[: len(self.owner_first)], self.owner_first)
        self.owner_first = seen
        self.n_atoms += len(first_var)

    def release(self, n_rows: int) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray, np.ndarray]:
        """The release's matrix (``n_rows`` × atoms), its establishments and their atoms.

        Returns the matrix, the establishments (as the codes the parts used) in the order of
        their new codes, and the (atom, new code) pairs sorted: ``owner_atom, owner_code``.
        The parts' entries and pairs are let go as they are joined (called once, at the end).
        """
        signature = np.concatenate([np.zeros(0, np.uint64), *self.signature])
        first = np.concatenate([np.zeros(0, np.int64), *self.first])
        by_first = np.argsort(first, kind="stable")
        number = np.empty(len(first), dtype=np.int64)
        number[by_first] = pd.factorize(signature[by_first])[0]
        n_atoms = int(number.max()) + 1 if len(number) else 0
        leading = np.zeros(len(first), dtype=bool)  # the first part's atom of each atom
        leading[by_first[_first_of(number[by_first], n_atoms)]] = True  # others repeat it
        rows, coefs, atoms = list(zip(*self.entries, strict=True)) or [(), (), ()]
        self.entries = []
        atom = np.concatenate([np.zeros(0, np.int64), *atoms])
        keep = leading[atom]
        column = number[atom[keep]]
        del atom, atoms
        coef = np.concatenate([np.zeros(0), *coefs])[keep]
        del coefs
        row = np.concatenate([np.zeros(0, np.int32), *rows])[keep]
        del rows
        matrix = sp.csr_matrix((coef, (row, column)), shape=(n_rows, n_atoms))
        del coef, row, column
        present = np.flatnonzero(self.owner_first < self.NEVER)
        establishments = present[np.argsort(self.owner_first[present], kind="stable")]
        code = np.full(len(self.owner_first), -1, dtype=np.int64)
        code[establishments] = np.arange(len(establishments))
        n_est = max(len(establishments), 1)
        local = np.concatenate([np.zeros(0, np.int64), *(a for a, _ in self.pairs)])
        owner = np.concatenate([np.zeros(0, np.int64), *(o for _, o in self.pairs)])
        self.pairs = []
        pairs = sorted_unique(number[local] * n_est + code[owner])
        return matrix, establishments, pairs // n_est, pairs % n_est


class LinearRelease:
    """The released linear statistics of a publication, over atoms (built once).

    Parameters
    ----------
    cells : pandas.DataFrame
        ``radius_km, year, centre_id`` of every cell; a cell's position is its number.
    members : pandas.DataFrame or iterable of pandas.DataFrame
        :func:`spillover.neighbourhoods.cell_members` with a ``cell`` column (that number),
        whole or in parts that each hold whole years, read one at a time (with ``order``,
        the row's place in the whole table, as
        :func:`~spillover.neighbourhoods.cell_members_by_year` gives; else parts in order).
    margins : list of Margin
        Released margins (e.g. the decomposition's mean yearly changes).
    store : BlockStore, optional
        Where each block's search for values of few establishments is kept across runs
        (default: only within this release).
    progress : bool, default False
        Draw a progress bar of each search's blocks on a terminal (log lines are written
        either way: :func:`spillover.progress.track`).
    """

    def __init__(
        self,
        cells: pd.DataFrame,
        members: pd.DataFrame | Iterable[pd.DataFrame],
        margins: list[Margin],
        store: BlockStore | None = None,
        *,
        progress: bool = False,
    ) -> None:
        self.store = store or BlockStore(None)
        self.progress = progress
        self.searches = 0  # calls of disclosures(): a search's number in its progress lines
        self.n_cells = len(cells)
        self.columns = list(VALUE_COLUMN_NAMES)
        self.cell_margins = [m for m in margins if m.over_cells]
        self.plant_margins = [m for m in margins if not m.over_cells]
        parts = [members] if isinstance(members, pd.DataFrame) else members
        atoms, ids, margin, offset, years = _AtomParts(), None, None, 0, set()
        for part in parts:
            codes, ids = _codes(part["establishment_id"], ids)
            if margin is None:  # margin ids are looked up among the members' first
                margin, ids = self._margin_terms(ids)
            own = set(part["year"].unique().tolist())
            if own & years:
                raise DisclosureError(f"members: year(s) {sorted(own & years)} in two parts")
            years |= own
            order = part["order"].to_numpy() if "order" in part else offset + np.arange(len(part))
            offset += len(part)
            mine = np.isin(margin[1], list(own))  # the margin terms of these years
            then = [column[mine] for column in margin]
            atoms.add(self._cell_terms(part, codes, order, then), len(ids))
        if margin is None:  # no members at all
            margin, ids = self._margin_terms(pd.Index([]))
        rest = ~np.isin(margin[1], list(years))  # margin years without members
        atoms.add([column[rest] for column in margin], len(ids))
        n_rows = self.n_cells * len(self.columns) + len(self.plant_margins)
        self.matrix, establishments, self.owner_atom, self.owner_code = atoms.release(n_rows)
        self.n_atoms = self.matrix.shape[1]
        self.establishments = ids.to_numpy()[establishments]  # read one finding at a time
        # each code's place among the ids in sorted order: unlike the codes, the same order
        # in every release of the same establishments (another year added, say)
        self.id_order = np.empty(len(self.establishments), dtype=np.int64)
        self.id_order[pd.Index(self.establishments).argsort()] = np.arange(len(self.id_order))
        self.atom_size = np.bincount(self.owner_atom, minlength=self.n_atoms)
        self.owner_start = np.concatenate([[0], np.cumsum(self.atom_size)])
        keys = ["radius_km", "year", "centre_id"]
        index = pd.MultiIndex.from_frame(cells[keys].astype({"year": "int64"}))
        self.cell_weights = [_cell_weights(m, index) for m in self.cell_margins]
        self._blocks: dict[tuple, tuple[_Block, list[Finding]]] = {}
        # suppressed values found underivable, and from which released values (see _suppressed)
        self._underivable: set[int] = set()
        self._released = np.ones((self.n_cells, len(self.columns)), dtype=bool)

    def _cell_terms(
        self, members: pd.DataFrame, codes: np.ndarray, order: np.ndarray, then: list
    ) -> list:
        """The terms of the cells' values in ``members`` (see :class:`_AtomParts`), then ``then``.

        A term of column c of a member row comes at c·:data:`ORDER_SPAN` + its ``order``. Each
        field is written into one array: a national year's ~7·10⁶ terms (0.19 GB) are not
        held twice while the columns' parts and the margin terms are joined.
        """
        if len(order) and (order.min() < 0 or order.max() >= ORDER_SPAN):
            raise DisclosureError(f"members: order outside 0..{ORDER_SPAN - 1}")
        cell = members["cell"].to_numpy(dtype=np.int32)
        year = members["year"].to_numpy(dtype=np.int16)
        values = [_value_arrays(members, column) for column in self.columns]
        size = sum(int(keep.sum()) for keep, _, _ in values) + len(then[0])
        terms, start = None, 0
        for index in range(len(values)):
            keep, kind, coef = values[index]
            values[index] = None  # let go once written
            row = cell[keep] * np.int32(len(self.columns)) + np.int32(index)
            place = order[keep].astype(np.int64) + index * ORDER_SPAN
            part = [row, year[keep], codes[keep], kind[keep], coef[keep], place]
            if terms is None:  # the types np.concatenate would give
                terms = [
                    np.empty(size, np.result_type(a, b)) for a, b in zip(part, then, strict=True)
                ]
            for field, written in zip(terms, part, strict=True):
                field[start : start + len(row)] = written
            start += len(row)
        for field, written in zip(terms, then, strict=True):
            field[start:] = written
        return terms

    def _margin_terms(self, ids: pd.Index) -> tuple[list, pd.Index]:
        """The plant margins' terms (after every cell term), and ``ids`` with their new ids."""
        first_margin = self.n_cells * len(self.columns)
        parts = []
        for number, margin in enumerate(self.plant_margins):
            weights = margin.weights
            keep, kind, coef = _value_arrays(weights, margin.column)
            margin_ids = weights["establishment_id"].to_numpy()[keep]
            position = ids.get_indexer(margin_ids)
            new = pd.unique(margin_ids[position < 0])
            if len(new):
                ids = ids.append(pd.Index(new))
                position = ids.get_indexer(margin_ids)
            coef = coef[keep] * weights["weight"].to_numpy(dtype=float)[keep]
            row = np.full(int(keep.sum()), first_margin + number, dtype=np.int32)
            year_of = weights["year"].to_numpy(dtype=np.int16)[keep]
            part = [row, year_of, position.astype(np.int32), kind[keep], coef]
            nonzero = coef != 0  # a weight of 0 adds nothing (cell terms have no 0 coefficient)
            parts.append([array[nonzero] for array in part])
        empty = [np.zeros(0, t) for t in (np.int32, np.int16, np.int32, np.int8, float)]
        columns = [np.concatenate([e, *(part[i] for part in parts)]) for i, e in enumerate(empty)]
        place = len(self.columns) * ORDER_SPAN + np.arange(len(columns[0]), dtype=np.int64)
        return [*columns, place], ids

    def owners(self, atoms: np.ndarray) -> np.ndarray:
        """Codes of the establishments owning any of ``atoms`` (sorted, unique)."""
        parts = [self.owner_code[self.owner_start[a] : self.owner_start[a + 1]] for a in atoms]
        if len(parts) == 1:
            return parts[0]
        return sorted_unique(np.concatenate(parts)) if parts else np.array([], dtype=np.int64)

    def disclosures(self, published: np.ndarray, min_establishments: int) -> list[Finding]:
        """Every suppressed value and every value of fewer establishments derivable.

        Parameters
        ----------
        published : numpy.ndarray of bool, shape (n_cells, 4)
            Whether each value (cell × :data:`VALUE_COLUMN_NAMES`) is published.
        min_establishments : int
            Values of 1..min-1 contributing establishments must not be derivable.

        Returns
        -------
        list of Finding
        """
        self.searches += 1
        if (published & ~self._released).any():  # more released: the row space may grow
            self._underivable.clear()
        self._released = published.copy()
        ids, margin_labels, active = self._active_rows(published)
        flat = published.reshape(-1)
        has_terms = np.diff(self.matrix.indptr[: flat.size + 1]) > 0
        targets = np.flatnonzero(~flat & has_terms)
        target_matrix = self.matrix[targets]
        keep = self._prune(active, target_matrix, min_establishments)
        active, ids = active[keep], ids[keep]
        margin = ids < 0
        margin_rows, local, local_ids = active[margin], active[~margin], ids[~margin]
        del active  # the blocks cut their rows from their own copy (~0.1 GB nationally)
        in_margin = np.zeros(self.n_atoms, dtype=bool)
        in_margin[margin_rows.indices] = True
        pieces = [
            (cut, atoms, _CellRows(local_ids[rows], self.columns))
            for rows, atoms, cut in _blocks(local)
        ]
        del local
        release_freed_memory()
        previous, self._blocks = self._blocks, {}
        blocks, smalls = [], []
        for (_, atoms, block_labels), (block, small) in zip(
            pieces, self._each_block(previous, pieces, min_establishments), strict=True
        ):
            if not in_margin[atoms].any():
                block.forget_big_parts()  # only blocks a margin touches use them again
            blocks.append((block, block_labels))
            smalls.append(small)
        release_freed_memory()  # the decompositions' working memory, before the margins'
        span = _Span(
            blocks,
            margin_rows,
            [margin_labels[-1 - i] for i in ids[margin]],
            self.n_atoms,
        )
        found = self._suppressed(span, target_matrix, targets)
        recovered = {frozenset(f.establishments) for f in found}
        for small in smalls:
            found += [f for f in small if frozenset(f.establishments) not in recovered]
        known = {frozenset(f.establishments) for f in found}
        found += [
            f
            for f in self._coupled_small(span, min_establishments)
            if frozenset(f.establishments) not in known
        ]
        for block, _ in blocks:
            block.forget_derivations()
        return found

    def _each_block(self, previous: dict, pieces: list, minimum: int) -> list:
        """Every block of these released rows and its small findings, kept between rounds.

        A round of secondary suppression changes few blocks; the others (same rows, hence
        the same matrix) are not decomposed again. New blocks are decomposed on
        :data:`BLOCK_THREADS` threads with one BLAS thread each (the linear algebra releases
        the interpreter), at most one of more than :data:`HEAVY_BLOCK_BYTES` at a time: a
        block's numbers do not depend on the number of cores or the order. Their search for
        values of few establishments comes from :attr:`store` when kept.
        """
        keys = [(minimum, labels.flat.tobytes()) for _, _, labels in pieces]
        for key in previous.keys() - set(keys):  # freed before the new blocks are made
            del previous[key]

        def new_block(number: int) -> tuple:
            cut, atoms, labels = pieces[number]
            matrix = cut()
            small = np.flatnonzero(self.atom_size[atoms] < minimum)
            sizes = self.atom_size[atoms[small]]
            codes = self.owner_code[_row_entries(self.owner_start, atoms[small])]
            owners = _ranks(self.id_order[codes], sizes)
            key = self.store.key(
                matrix.indptr, matrix.indices, matrix.data, np.array(matrix.shape), small,
                sizes, owners, np.array([minimum]),
            )  # fmt: skip
            kept = self.store.get(key)
            # V serves the search alone: a kept block's is not built (it is dropped below)
            block = _Block(matrix, atoms, basis=kept is None)
            if kept is None:
                split = np.split(owners, np.cumsum(sizes)[:-1]) if len(sizes) else []
                parts, used = self._small(block, small, split, minimum)
                kept = (*_stacked(parts), *_stacked(used))
                self.store.put(key, kept)
            support, support_sizes, rows, row_sizes = kept
            findings = self._small_findings(
                block, labels, _unstacked(support, support_sizes), _unstacked(rows, row_sizes)
            )
            block.forget_derivations()  # V is rebuilt if asked: blocks live through the rounds
            return block, findings

        def heavy(number: int) -> bool:
            _, atoms, labels = pieces[number]
            small = int((self.atom_size[atoms] < minimum).sum())
            return _working_bytes(len(labels), len(atoms), small) > HEAVY_BLOCK_BYTES

        new = [number for number, key in enumerate(keys) if key not in previous]
        # the largest first, so that no thread is left alone with one at the end of the round
        new.sort(key=lambda number: -len(pieces[number][2]) * len(pieces[number][1]))
        with threadpool_limits(1, user_api="blas"):
            done = one_heavy_at_a_time(new, new_block, heavy=heavy, threads=BLOCK_THREADS)
            if len(new) >= TRACKED_FROM_BLOCKS:
                unit = f"blocks of search {self.searches}"
                done = track(done, total=len(new), stage="disclose", unit=unit, bar=self.progress)
            made = dict(done)
        for number, key in enumerate(keys):
            self._blocks[key] = made[number] if number in made else previous[key]
        return [self._blocks[key] for key in keys]

    def _active_rows(self, published: np.ndarray) -> tuple[np.ndarray, list, sp.csr_matrix]:
        """The released rows: published values, margin complements and plant margins.

        Returns ``(ids, margin labels, rows)``: a published value's id is its row of
        :attr:`matrix` (cell × column), margin k's is -1 - k (``("margin", name)``, k-th label).
        """
        ncol = len(self.columns)
        flat = np.flatnonzero(published.reshape(-1))
        margin_labels = []
        parts = [self.matrix[flat]]
        for margin, weights in zip(self.cell_margins, self.cell_weights, strict=True):
            column = self.columns.index(margin.column)
            cells = np.flatnonzero(~published[:, column] & (weights != 0))
            complement = sp.csr_matrix(weights[cells]) @ self.matrix[cells * ncol + column]
            if complement.nnz:
                margin_labels.append(("margin", margin.name))
                parts.append(sp.csr_matrix(complement))
        first_margin = self.n_cells * ncol
        for number, margin in enumerate(self.plant_margins):
            margin_labels.append(("margin", margin.name))
            parts.append(self.matrix[first_margin + number])
        matrix = sp.vstack(parts, format="csr")
        matrix.eliminate_zeros()
        filled = np.flatnonzero(np.diff(matrix.indptr) > 0)  # a published 0 adds no equation
        ids = np.concatenate([flat, -1 - np.arange(len(margin_labels))])
        return ids[filled], margin_labels, matrix[filled]

    def _prune(self, active: sp.csr_matrix, targets: sp.csr_matrix, minimum: int) -> np.ndarray:
        """Rows that can enter a derivation (see the module docstring); others are dropped.

        The kept rows of every atom are counted once and updated as rows drop; an atom in
        exactly one kept row finds it as the sum of its kept rows' numbers.
        """
        if (active.data == 0).any():  # a zero coefficient is no entry
            active = active.copy()
            active.eliminate_zeros()
        n_rows = active.shape[0]
        keep = np.ones(n_rows, dtype=bool)
        in_target = np.diff((targets != 0).tocsc().indptr) > 0
        n_owners = len(self.establishments) + 1
        length = np.diff(active.indptr)
        count = np.bincount(active.indices, minlength=self.n_atoms)
        row_sum = np.bincount(  # exact: integers far below 2⁵³
            active.indices, weights=np.repeat(np.arange(n_rows), length), minlength=self.n_atoms
        )
        while True:
            private = (count == 1) & ~in_target
            owner_row = np.where(private, row_sum, -1).astype(np.int64)[self.owner_atom]
            mask = owner_row >= 0
            pairs = pd.unique(owner_row[mask] * n_owners + self.owner_code[mask])
            drop = np.bincount(pairs // n_owners, minlength=n_rows) >= minimum
            if not drop.any():
                return keep
            keep[drop] = False  # a private atom's row is kept: each row drops once
            rows = np.flatnonzero(drop)
            gone = active.indices[_row_entries(active.indptr, rows)]
            count -= np.bincount(gone, minlength=self.n_atoms)
            row_sum -= np.bincount(
                gone, weights=np.repeat(rows, length[rows]), minlength=self.n_atoms
            )

    def _suppressed(self, span: _Span, target_matrix: sp.csr_matrix, targets) -> list[Finding]:
        """Suppressed values that lie in the row space of the released rows.

        Released values only ever get fewer between calls (secondary suppression), so the row
        space only shrinks (a margin's total stays released): a value found underivable is not
        tested again until a call releases more.
        """
        found = []
        start, indices, data = target_matrix.indptr, target_matrix.indices, target_matrix.data
        for t, row in enumerate(targets.tolist()):
            if row in self._underivable:
                continue
            atoms = indices[start[t] : start[t + 1]]
            used = span.derivation(atoms, data[start[t] : start[t + 1]])
            if used is None:
                self._underivable.add(row)
            else:
                cell, column = divmod(row, len(self.columns))
                found.append(
                    Finding(
                        kind="suppressed",
                        establishments=tuple(self.establishments[self.owners(atoms)]),
                        rows=tuple(used),
                        cell=cell,
                        column=self.columns[column],
                    )
                )
        return found

    @staticmethod
    def _small(block: _Block, small: np.ndarray, owners: list, minimum: int) -> tuple[list, list]:
        """Values of 1..min-1 establishments in the row space of this block.

        ``small`` are the positions (in the block) of its atoms of fewer than ``minimum``
        establishments and ``owners`` their establishments' ranked codes (:func:`_ranks`).
        Returns, for each value, the positions of its atoms and the rows that derive it.
        """
        projector = block.small_projector(small) if small.size else None
        if projector is None:
            return [], []
        supports, rows = [], []
        for part in minimal_vectors(projector, owners, minimum):
            vector = np.zeros(len(block.atoms))
            vector[small] = part
            supports.append(np.flatnonzero(np.abs(vector) > TOLERANCE))
            rows.append(block.derivation(vector))
        return supports, rows

    def _small_findings(self, block: _Block, labels: _CellRows, supports, rows) -> list[Finding]:
        """The findings of :meth:`_small`'s values, named by this release's ids and rows."""
        return [
            Finding(
                kind="small",
                establishments=tuple(self.establishments[self.owners(block.atoms[support])]),
                rows=tuple(labels[i] for i in used),
            )
            for support, used in zip(supports, rows, strict=True)
        ]

    def _coupled_small(self, span: _Span, minimum: int) -> list[Finding]:
        """Values of 1..min-1 establishments derivable only with the margins' help."""
        coupled = span.coupled_small_space(self.atom_size < minimum)
        if coupled is None:
            return []
        atoms, basis, generators = coupled
        if len(atoms) > MAX_COUPLED_ATOMS:
            raise DisclosureError(
                f"the released margins {sorted({m for m in span.margin_labels})} combine with "
                f"the neighbourhood values into vectors over {len(atoms):,} atoms of fewer "
                f"than {minimum} establishments, more than the {MAX_COUPLED_ATOMS:,} the exact "
                "search handles: release fewer decompositions or suppress more"
            )
        owners = [self.owners([a]) for a in atoms]
        found = []
        for part in minimal_vectors(basis @ basis.T, owners, minimum):
            support = np.abs(part) > TOLERANCE
            # a combination of the space's generators: if rounding hides its own derivation,
            # the generators' rows derive it
            used = span.derivation(atoms[support], part[support]) or generators
            found.append(
                Finding(
                    kind="small",
                    establishments=tuple(self.establishments[self.owners(atoms[support])]),
                    rows=tuple(used),
                )
            )
        return found


def _working_bytes(rows: int, atoms: int, small: int) -> int:
    """Bytes a block's decomposition and search hold at once (float64), roughly.

    The basis V and the basis rows of its big atoms (atoms × rank each, rank ≤ rows), the
    rows' Gram matrix and its eigenvectors (rows × rows each), and the projector onto the
    vectors of its ``small`` atoms of few establishments (small × small).
    """
    return 8 * (2 * atoms * rows + 2 * rows * rows + small * small)


def _ranks(values: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Each of ``values`` replaced by its rank among them (int64), sorted within each group.

    The groups are consecutive and ``sizes`` long (an atom's owners). Establishments ranked
    by id: the search for values of few establishments then sees the same codes in the same
    order wherever the block lies in the release (another year added, say), so a kept result
    is its result.
    """
    ranks = np.unique(values, return_inverse=True)[1].reshape(-1).astype(np.int64)
    return ranks[np.lexsort((ranks, np.repeat(np.arange(len(sizes)), sizes)))]


def _stacked(arrays: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Integer ``arrays`` laid end to end (int64), and their lengths."""
    sizes = np.array([len(a) for a in arrays], dtype=np.int64)
    return np.concatenate([np.zeros(0, np.int64), *arrays]).astype(np.int64), sizes


def _unstacked(flat: np.ndarray, sizes: np.ndarray) -> list[np.ndarray]:
    """The arrays of :func:`_stacked`, ``sizes`` long each."""
    return np.split(flat, np.cumsum(sizes)[:-1]) if len(sizes) else []


def _row_entries(indptr: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Positions (in a CSR matrix's ``indices``/``data``) of the entries of ``rows``, in order."""
    length = indptr[rows + 1] - indptr[rows]
    ends = np.cumsum(length)
    return np.arange(ends[-1] if len(ends) else 0) + np.repeat(indptr[rows] - ends + length, length)


def _cell_weights(margin: Margin, cells: pd.MultiIndex) -> np.ndarray:
    """A neighbourhood margin's weight of every cell (0 outside its sample)."""
    weights = margin.weights.astype({"year": "int64"})
    position = cells.get_indexer(pd.MultiIndex.from_frame(weights[list(cells.names)]))
    if (position < 0).any():
        raise DisclosureError(f"{margin.name}: the margin sums cells that are not in the table")
    out = np.zeros(len(cells))
    np.add.at(out, position, weights["weight"].to_numpy(dtype=float))
    return out


class _CellRows:
    """Labels ``("cell", cell, column)`` of released rows given by their flat ids (cell × column).

    A round has ~10⁵ released rows; a label is only made when a derivation names the row.
    """

    def __init__(self, flat: np.ndarray, columns: list[str]) -> None:
        self.flat = flat
        self.columns = columns

    def __len__(self) -> int:
        return len(self.flat)

    def __getitem__(self, index: int) -> tuple:
        cell, column = divmod(int(self.flat[index]), len(self.columns))
        return ("cell", cell, self.columns[column])


class _Block:
    """One connected block of released rows × atoms and its row space.

    Rows equal bit for bit once scaled to unit length (a value and its copy in another column
    or radius) share one *distinct* row. When the distinct rows are surely of full rank
    (:func:`_inverse_factor`; nationally 4,580 of 4,820 blocks), V = M̃ᵀ·L⁻ᵀ over them from
    the Cholesky factor L of their Gram matrix, no eigenproblem; otherwise V comes from the
    rows' singular vectors (:func:`_row_space`). Either way V = M̃ᵀ·U·S⁻¹ for the kept
    ``_left`` U and ``_singular`` S (L⁻ᵀ and ones on the Cholesky route).

    The row space's orthonormal basis V (atoms × rank, dense) is ~15× the block's sparse rows
    (nationally 1.4 GB against 89 MB over all blocks), and a block lives through the rounds.
    Where V = M̃ᵀ·U·S⁻¹ (M̃ the rows scaled to unit length: the Cholesky route or the Gram
    route of :func:`_row_space`), V is dropped between uses (:meth:`forget_basis`) and
    rebuilt bit for bit from the rows and U, S; projections go through the sparse rows
    instead (:meth:`in_span`, :meth:`coordinates`).
    """

    def __init__(self, matrix: sp.csr_matrix, atoms: np.ndarray, *, basis: bool = True) -> None:
        """Decompose ``matrix`` (rows × ``atoms``); ``basis=False``: V only when asked."""
        self.atoms = atoms
        self._norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
        scaled = (sp.diags(1 / self._norms) @ matrix).tocsr()
        #: each row's distinct row (rows equal bit for bit share one) when those are surely of
        #: full rank; None: the rows' own route (:func:`_row_space`)
        self._group: np.ndarray | None = None
        rows, group = scaled, np.arange(scaled.shape[0])
        gram = (scaled @ scaled.T).toarray()
        inverse = _inverse_factor(gram)
        if inverse is None:  # copies make the rows dependent: without them, of full rank?
            first = _first_identical(scaled)
            distinct = np.flatnonzero(first == group)
            if len(distinct) < len(group):
                rows, group = scaled[distinct], np.searchsorted(distinct, first)
                inverse = _inverse_factor((rows @ rows.T).toarray())
        if inverse is not None:  # V = M̃ᵀ·L⁻ᵀ over the distinct rows M̃ (Cholesky: M̃·M̃ᵀ = L·Lᵀ)
            self._group = group
            self._columns = rows.T.tocsr()  # M̃ᵀ, kept sparse: a block lives through the rounds
            self._left, self._singular, rebuilt = inverse, np.ones(rows.shape[0]), True
            basis = _basis_from(self._columns, inverse, self._singular) if basis else None
        else:
            self._columns = scaled.T.tocsr()
            self._left, self._singular, basis, rebuilt = _row_space(
                scaled, self._columns, basis=basis, gram=gram
            )
        self._basis: np.ndarray | None = basis
        self._kept_basis = None if rebuilt else basis  # the SVD route's V: not M̃ᵀ·U·S⁻¹
        self._solver = None
        self._big: dict[bytes, tuple] = {}  # _column_split by set of big atoms
        self._null: dict[bytes, np.ndarray] = {}  # its null alone, where nothing else is asked

    @property
    def basis(self) -> np.ndarray:
        """The orthonormal basis V of the row space (atoms × rank), rebuilt when dropped."""
        if self._basis is not None:
            return self._basis
        return _basis_from(self._columns, self._left, self._singular)

    def forget_basis(self) -> None:
        """Drop V until it is asked for again (kept when it cannot be rebuilt)."""
        self._basis = self._kept_basis

    def basis_rows(self, atoms: np.ndarray) -> np.ndarray:
        """``V[atoms]`` (an index or mask of the block's atoms), bit for bit, without all of V."""
        if self._basis is not None:
            return self._basis[atoms]
        return _basis_from(self._columns[atoms], self._left, self._singular)

    def combination(self, weights: np.ndarray) -> np.ndarray:
        """V·``weights`` (rank × k): vectors over the block's atoms."""
        if self._basis is not None:
            return self._basis @ weights
        return self._columns @ (self._left @ (weights / self._singular[:, None]))

    def projection(self, vectors: np.ndarray) -> np.ndarray:
        """V·Vᵀ·``vectors`` (atoms × k): their projections on the row space."""
        if self._basis is not None:
            return self._basis @ (self._basis.T @ vectors)
        return self.combination(
            (self._left.T @ (self._columns.T @ vectors)) / self._singular[:, None]
        )

    def coordinates(self, vector: np.ndarray) -> np.ndarray:
        """Vᵀ·``vector`` (a vector over the block's atoms): rank numbers."""
        if self._basis is not None:
            return self._basis.T @ vector
        return (vector @ self._columns) @ self._left / self._singular

    def in_span(self, at: np.ndarray, part: np.ndarray) -> np.ndarray:
        """V·Vᵀ of the vector ``part`` on the block's atoms ``at``: its projection (all atoms)."""
        if self._basis is not None:
            return self._basis @ (self._basis[at].T @ part)
        weights = (part @ self._columns[at]) @ self._left / self._singular
        return self._columns @ (self._left @ (weights / self._singular))

    def row_weights(self, vector: np.ndarray) -> np.ndarray:
        """The least-norm weights y of the rows with Mᵀy = ``vector`` (in the row space).

        With the rows M = D·U·S·Vᵀ (D their norms, the SVD of the scaled rows), y lies in the
        range of D·U: y = D·U·(UᵀD²U)⁻¹·S⁻¹·Vᵀv, without a second decomposition of the block;
        rows of full rank (U square) have the one solution y = D⁻¹·U·S⁻¹·Vᵀv.
        """
        if self._group is not None:  # a distinct row's weight, shared by its copies by least norm
            weights = self._left @ self.coordinates(vector)
            shares = np.bincount(self._group, weights=np.square(self._norms))
            return self._norms * (weights / shares)[self._group]
        if self._left.shape[0] == self._left.shape[1]:
            return self._left @ (self.coordinates(vector) / self._singular) / self._norms
        if self._solver is None:
            left = self._norms[:, None] * self._left
            self._solver = left @ np.linalg.solve(left.T @ left, np.diag(1 / self._singular))
        return self._solver @ self.coordinates(vector)

    def derivation(self, vector: np.ndarray) -> np.ndarray:
        """Indices of the rows combined (least-norm solution) to give ``vector``."""
        y = self.row_weights(vector)
        return np.flatnonzero(np.abs(y) > TOLERANCE * max(np.abs(y).max(), 1e-300))

    def forget_derivations(self) -> None:
        """Drop the solver (rows × rank) and V until a derivation needs them again."""
        self._solver = None
        self.forget_basis()

    def forget_big_parts(self) -> None:
        """Drop the kept decompositions of the big atoms' rows (recomputed when asked again)."""
        self._big.clear()
        self._null.clear()

    def _big_split(self, big: np.ndarray) -> tuple[np.ndarray, ...]:
        """:func:`_column_split` of the basis rows of the ``big`` atoms (boolean); kept."""
        key = big.tobytes()
        if key not in self._big:
            self._big[key] = _column_split(self.basis_rows(big))
        return self._big[key]

    def _null_of(self, big: np.ndarray) -> np.ndarray:
        """The null of :meth:`_big_split` (its own eigenproblem unless the split is kept)."""
        key = big.tobytes()
        if key in self._big:
            return self._big[key][3]
        if key not in self._null:
            null = _null_directions(self.basis_rows(big))
            self._null[key] = self._big_split(big)[3] if null is None else null
        return self._null[key]

    def big_part(self, big: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The SVD ``u, s, v`` of the basis rows of the ``big`` atoms (boolean per atom).

        ``u`` is an orthonormal basis of the row space's values on the big atoms; their
        pseudo-inverse is ``v / s @ u.T`` (applied as ``v @ ((u.T @ x) / s)``: a block of
        ~10³ × 10⁴ is not formed).
        """
        u, s, v, null = self._big_split(big)
        if u is None:  # left out by the Gram route until asked (few blocks need it)
            u = self.basis_rows(big) @ v / s
            self._big[big.tobytes()] = (u, s, v, null)
        return u, s, v

    def small_vectors(self, small: np.ndarray) -> np.ndarray | None:
        """Orthonormal basis (over ``small``) of the row-space vectors living on ``small``."""
        big = np.ones(len(self.atoms), dtype=bool)
        big[small] = False
        null = self._null_of(big) if big.any() else np.eye(len(self._singular))
        if null.shape[1] == 0:
            return None
        return self.basis_rows(small) @ null  # orthonormal: these vectors vanish off `small`

    def small_projector(self, small: np.ndarray) -> np.ndarray | None:
        """Projector onto the row-space vectors that live on the ``small`` atoms (or None)."""
        z = self.small_vectors(small)
        return None if z is None else z @ z.T


#: Gram eigenvalues at least this share of the largest are surely kept by the SVD's rule
#: (singular values ≥ 10⁻³ of the largest: the basis Mᵀu/s is then orthonormal to ~10⁻¹⁰).
SURELY_KEPT = 1e-6
#: Dropped directions whose rows' combination is this short (relative to the largest singular
#: value) are surely null by the SVD's rule (10⁻⁹ there).
SURELY_NULL = 1e-10


def _row_space(
    scaled: sp.csr_matrix,
    transposed: sp.csr_matrix | None = None,
    *,
    basis: bool = True,
    gram: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, bool]:
    """Left and right singular vectors (V: atoms × rank), singular values, and the route.

    The last value says whether V is :func:`_basis_from` the others (the Gram route; V is
    then None unless ``basis``: whoever needs it rebuilds it, bit for bit). The
    rank is that of the dense SVD (singular values above 10⁻⁹ of the largest); ``scaled`` has
    unit rows (``transposed``: its transpose as CSR, ``gram``: its dense M̃·M̃ᵀ, if at hand).
    The SVD of a block of ~10³ rows × ~10⁴ atoms takes seconds, so it comes from the
    eigenvalues of the rows' Gram matrix (a sparse product, rows × rows) whenever the rank is
    certain: every kept value at least :data:`SURELY_KEPT` of the largest and every dropped
    direction's combination of rows ‖Mᵀu‖ ≤ :data:`SURELY_NULL` of it (Courant–Fischer: the
    SVD drops as many). Otherwise the dense SVD decides.
    """
    if gram is None:
        gram = (scaled @ scaled.T).toarray()
    eigenvalues, vectors = np.linalg.eigh(gram)
    eigenvalues, vectors = eigenvalues[::-1], vectors[:, ::-1]  # largest first, as the SVD
    rank = int((eigenvalues >= SURELY_KEPT * eigenvalues[0]).sum())
    if transposed is None:  # row by row: 3× faster times a dense matrix than Mᵀ as CSC
        transposed = scaled.T.tocsr()
    if _norm(transposed @ vectors[:, rank:]) <= SURELY_NULL * np.sqrt(eigenvalues[0]):
        singular = np.sqrt(eigenvalues[:rank])
        left = vectors[:, :rank]
        return left, singular, _basis_from(transposed, left, singular) if basis else None, True
    u, s, vt = np.linalg.svd(scaled.toarray(), full_matrices=False)
    rank = int((s > 1e-9 * s[0]).sum())
    return u[:, :rank], s[:rank], vt[:rank].T, False


def _first_identical(rows: sp.csr_matrix) -> np.ndarray:
    """Each row's first row with the same entries, bit for bit (itself when none is earlier).

    Rows are matched by their :func:`_signatures` (the atoms' over their rows, here the rows'
    over their columns), then compared entry by entry.
    """
    n_rows = rows.shape[0]
    length = np.diff(rows.indptr)
    entry_row = np.repeat(np.arange(n_rows), length)
    codes = pd.factorize(_signatures(rows.indices, entry_row, rows.data, n_rows))[0]
    first = _first_of(codes, int(codes.max()) + 1 if n_rows else 0)[codes]
    match = np.flatnonzero((first != np.arange(n_rows)) & (length == length[first]))
    unequal = np.zeros(n_rows, dtype=bool)
    mine, theirs = _row_entries(rows.indptr, match), _row_entries(rows.indptr, first[match])
    differs = (rows.indices[mine] != rows.indices[theirs]) | (
        rows.data[mine].view(np.uint64) != rows.data[theirs].view(np.uint64)
    )
    unequal[np.repeat(match, length[match])[differs]] = True
    unequal[(first != np.arange(n_rows)) & (length != length[first])] = True
    return np.where(unequal, np.arange(n_rows), first)


def _inverse_factor(gram: np.ndarray) -> np.ndarray | None:
    """L⁻ᵀ for the Cholesky factor L of ``gram`` (rows of unit length) if surely of full rank.

    Full rank by the SVD's rule (:func:`_row_space`) is certain when the smallest eigenvalue
    is at least twice :data:`SURELY_KEPT` of the largest: ‖L⁻¹‖²_F bounds the inverse of the
    one from above, the largest absolute row sum the other. None otherwise.
    """
    factor, info = scipy.linalg.lapack.dpotrf(gram, lower=1, clean=1)
    if info != 0:
        return None
    inverse, info = scipy.linalg.lapack.dtrtri(factor, lower=1)
    if info != 0:
        return None
    smallest = 1 / np.sum(np.square(inverse))
    largest = np.abs(gram).sum(axis=1).max()
    return inverse.T if smallest >= 2 * SURELY_KEPT * largest else None


def _basis_from(transposed: sp.csr_matrix, left: np.ndarray, singular: np.ndarray) -> np.ndarray:
    """V = M̃ᵀ·U·S⁻¹ from the scaled rows transposed (CSR), U and S: atoms × rank."""
    return np.asarray(transposed @ (left / singular))


def _column_split(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The SVD of ``rows`` (some rows of an orthonormal basis) split at :data:`TOLERANCE`.

    Returns ``(u, s, v, null)``: the left and right singular vectors and singular values above
    the tolerance, and an orthonormal basis of the right singular vectors at or below it (the
    null space). From the eigenvalues of ``rowsᵀrows`` (columns × columns) when the split is
    certain (kept values ≥ 10⁻³, the null directions' ‖rows·v‖ ≤ a tenth of the tolerance;
    ``u`` is then None: ``rows·v/s``, computed when needed), else the dense SVD.
    """
    eigenvalues, vectors = np.linalg.eigh(rows.T @ rows)
    eigenvalues, vectors = eigenvalues[::-1], vectors[:, ::-1]
    rank = int((eigenvalues >= SURELY_KEPT).sum())
    null = vectors[:, rank:]
    if _norm(rows @ null) <= TOLERANCE / 10:
        return None, np.sqrt(eigenvalues[:rank]), vectors[:, :rank], null
    u, s, vt = np.linalg.svd(rows, full_matrices=rows.shape[0] < rows.shape[1])
    keep = s > TOLERANCE
    return u[:, : len(s)][:, keep], s[keep], vt[: len(s)][keep].T, vt[int(keep.sum()) :].T


def _null_directions(rows: np.ndarray) -> np.ndarray | None:
    """The ``null`` of :func:`_column_split` alone, or None when its split is not certain.

    Only the eigenvalues of ``rowsᵀrows`` below :data:`SURELY_KEPT` and their vectors are
    computed (MRRR): a third of the time of the whole decomposition on the largest blocks.
    MRRR may return one vector twice for a cluster of eigenvalues at 0 (OpenBLAS's ``dsyevr``
    on the row ``[0, 0, 2, 1, -3.5e-15] / √10``): vectors that are not orthonormal are not
    certain either.
    """
    _, null = scipy.linalg.eigh(
        rows.T @ rows, driver="evr", subset_by_value=(-np.inf, SURELY_KEPT), check_finite=False
    )
    if _norm(rows @ null) > TOLERANCE / 10:
        return None
    if _norm(null.T @ null - np.eye(null.shape[1])) > TOLERANCE / 10:
        return None
    return null[:, ::-1]


def _norm(matrix: np.ndarray) -> float:
    """Frobenius norm (≥ the spectral norm; 0 for an empty matrix)."""
    return float(np.sqrt(np.sum(np.square(matrix))))


class _Span:
    """The row space of the released rows: connected blocks plus a few margin rows.

    Margins (a decomposition's released total, a plant-family sum) reach across years and
    neighbourhoods; taken as block rows they would join every block into one. They are
    kept apart instead: with S the direct sum of the blocks' row spaces and P its projector,
    the row space is S ⊕ span((I − P) Gᵀ) for the k margin rows G, so a vector's residual
    is its blocks' residuals corrected in k dimensions (exact, for any number of blocks).
    """

    def __init__(self, blocks: list, margins: sp.csr_matrix, margin_labels: list, n_atoms: int):
        self.blocks = blocks
        self.margin_labels = margin_labels
        self.block_of_atom = np.full(n_atoms, -1, dtype=np.int64)
        for number, (block, _) in enumerate(blocks):
            self.block_of_atom[block.atoms] = number
        self.q = None
        if margins.shape[0] == 0:
            return
        atoms = sorted_unique(margins.indices)
        touched = sorted_unique(self.block_of_atom[atoms])
        self.touched = touched[touched >= 0]
        self.support = np.sort(
            np.concatenate(
                [atoms[self.block_of_atom[atoms] < 0]] + [blocks[b][0].atoms for b in self.touched]
            )
        )
        g = margins[:, self.support].toarray().T
        self.g = g / np.linalg.norm(g, axis=0, keepdims=True)  # unit columns
        h = self.g.copy()
        for b in self.touched:
            block = blocks[b][0]
            at = np.searchsorted(self.support, block.atoms)
            h[at] -= block.projection(h[at])
        u, s, vt = np.linalg.svd(h, full_matrices=False)
        rank = int((s > 1e-9).sum())
        self.q, self._solve = u[:, :rank], vt[:rank].T / s[:rank]

    def _local_residual(self, atoms: np.ndarray, values: np.ndarray):
        """(I − P) of the vector, as (positions in ``support``, values), or None if outside."""
        owners = self.block_of_atom[atoms]
        outside = owners < 0
        parts_at, parts_value = [], []
        if outside.any():
            if self.q is None:
                return None
            at = np.searchsorted(self.support, atoms[outside])
            if (at >= len(self.support)).any() or (self.support[at] != atoms[outside]).any():
                return None  # an atom in no released row
            parts_at.append(at)
            parts_value.append(values[outside])
        for number in np.unique(owners[~outside]):
            block = self.blocks[number][0]
            at = np.searchsorted(block.atoms, atoms[owners == number])
            part = values[owners == number]
            rest = -block.in_span(at, part)  # the vector lives on `at`
            rest[at] += part
            if np.linalg.norm(rest) <= TOLERANCE * np.linalg.norm(values):
                continue
            if self.q is None or number not in self.touched:
                return None
            parts_at.append(np.searchsorted(self.support, block.atoms))
            parts_value.append(rest)
        if not parts_at:
            return np.array([], dtype=np.int64), np.array([])
        return np.concatenate(parts_at), np.concatenate(parts_value)

    def derivation(self, atoms: np.ndarray, values: np.ndarray) -> list | None:
        """Labels of released rows that derive the vector, or None if it is not derivable."""
        rest = self._local_residual(atoms, values)
        if rest is None:
            return None
        at, residual = rest
        weights = np.zeros(len(self.margin_labels))
        scale = np.linalg.norm(values)
        if at.size:
            c = self.q[at].T @ residual
            if np.sum(residual**2) - np.sum(c**2) > (1e-6 * scale) ** 2:
                return None  # clearly outside: no dense check needed
            full = -(self.q @ c)
            full[at] += residual
            if np.linalg.norm(full) > TOLERANCE * scale:
                return None
            weights = self._solve @ c
        used = [self.margin_labels[i] for i in np.flatnonzero(np.abs(weights) > TOLERANCE)]
        remainder = self._without_margins(atoms, values, weights)
        for number, (block, labels) in enumerate(self.blocks):
            if number in remainder:
                used += [labels[i] for i in block.derivation(remainder[number])]
        return used

    def _without_margins(self, atoms, values, weights) -> dict:
        """The vector minus the margins' part, split over blocks (dense, by block number)."""
        out: dict[int, np.ndarray] = {}
        owners = self.block_of_atom[atoms]
        for number in np.unique(owners[owners >= 0]):
            block = self.blocks[number][0]
            out[number] = np.zeros(len(block.atoms))
            out[number][np.searchsorted(block.atoms, atoms[owners == number])] = values[
                owners == number
            ]
        if np.any(weights):
            combined = self.g @ weights
            for b in self.touched:
                block = self.blocks[b][0]
                part = combined[np.searchsorted(self.support, block.atoms)]
                if np.abs(part).max() > TOLERANCE:
                    out[b] = out.get(b, np.zeros(len(block.atoms))) - part
        return out

    def coupled_small_space(self, small: np.ndarray):
        """Row-space vectors on ``small`` atoms that need a margin.

        Returns ``(atoms, orthonormal basis, rows)``: ``rows`` derive every vector of the
        space (the union of its generators' derivations). None when every such vector lies in
        one block (the blocks' own search finds those). ``small`` is a boolean per atom
        (fewer than the minimum establishments).
        """
        if self.q is None:
            return None
        big = ~small[self.support]
        stacked = [self.g[big & (self.block_of_atom[self.support] < 0)]]
        split = {}
        for b in self.touched:
            block = self.blocks[b][0]
            at = np.searchsorted(self.support, block.atoms)
            rows = at[big[at]]
            if rows.size == 0:
                continue
            split[b] = u, _, _ = block.big_part(big[at])
            stacked.append(self.g[rows] - u @ (u.T @ self.g[rows]))
        null = _null_space(np.vstack(stacked), 1e-9)
        if null.shape[1] == 0:
            return None
        vectors = self.g @ null
        for b in self.touched:
            block = self.blocks[b][0]
            at = np.searchsorted(self.support, block.atoms)
            if b in split:
                u, s, v = split[b]
                y = v @ ((u.T @ (self.g[at][big[at]] @ null)) / s[:, None])  # pseudo-inverse
                vectors[at] -= block.combination(y)
        vectors[big] = 0.0
        local = [vectors]
        on = np.abs(vectors).max(axis=1) > TOLERANCE
        rows: dict = {}
        for vector in vectors.T:
            at = np.flatnonzero(np.abs(vector) > TOLERANCE)
            used = self.derivation(self.support[at], vector[at]) if at.size else []
            rows.update(dict.fromkeys(self.margin_labels if used is None else used))
        involved = sorted_unique(self.block_of_atom[self.support[on]])
        for b in involved[involved >= 0]:
            block, labels = self.blocks[b]
            at = np.searchsorted(self.support, block.atoms)
            small_at = np.flatnonzero(small[block.atoms])
            z = block.small_vectors(small_at)
            if z is not None:
                embedded = np.zeros((len(self.support), z.shape[1]))
                embedded[at[small_at]] = z
                local.append(embedded)
                on[at[small_at]] = True
                for column in z.T:
                    vector = np.zeros(len(block.atoms))
                    vector[small_at] = column
                    rows.update(dict.fromkeys(labels[i] for i in block.derivation(vector)))
        return self.support[on], span_basis(np.hstack(local)[on]), list(rows)


def span_basis(columns: np.ndarray) -> np.ndarray:
    """Orthonormal basis (columns) of the span of ``columns``, from the SVD.

    Singular values above :data:`TOLERANCE` of the largest count. Not a QR without pivoting:
    it is not rank-revealing. A dependent column's rounding gave the demo's coupled space a
    direction outside the span, and on AVX2 kernels that hid a value of 2 establishments
    derivable with the decomposition margins.
    """
    if columns.size == 0:
        return np.zeros((columns.shape[0], 0))
    left, singular, _ = np.linalg.svd(columns, full_matrices=False)
    return left[:, singular > TOLERANCE * singular[0]]


def _null_space(matrix: np.ndarray, tolerance: float) -> np.ndarray:
    """Orthonormal basis (columns) of the vectors ``x`` with ``matrix @ x = 0``.

    Singular values up to ``tolerance`` count as zero; a tall matrix is decomposed without
    its (large) left singular vectors.
    """
    n_rows, n_columns = matrix.shape
    if n_rows == 0:
        return np.eye(n_columns)
    _, s, vt = np.linalg.svd(matrix, full_matrices=n_rows < n_columns)
    return vt[int((s > tolerance).sum()) :].T


def _blocks(active: sp.csr_matrix):
    """Connected blocks of released rows: their rows, their atoms and their matrix (a call).

    The matrix ``active[rows][:, atoms]`` is cut when called from one reordering of the rows:
    a column index per block scans all atoms of the release each time (nationally 1.4 CPU s
    for the first round's 2,851 blocks, against 0.5 s for this whole function).
    """
    n_rows, n_atoms = active.shape
    if (active.data == 0).any():  # a zero coefficient is no entry
        active = active.copy()
        active.eliminate_zeros()
    # rows then atoms as nodes, each row linked to its atoms: built as the CSR (float64) that
    # connected_components works on, not through COO copies (nationally ~0.3 GB less)
    n_entries = int(active.indptr[-1])
    graph = sp.csr_matrix(
        (
            np.ones(n_entries),
            active.indices + n_rows,
            np.append(active.indptr, np.full(n_atoms, n_entries, dtype=active.indptr.dtype)),
        ),
        shape=(n_rows + n_atoms, n_rows + n_atoms),
    )
    _, label = connected_components(graph, directed=False)
    del graph
    row_label, atom_label = label[:n_rows], label[n_rows:]
    used = np.flatnonzero(np.bincount(active.indices, minlength=n_atoms) > 0)
    rows = np.argsort(row_label, kind="stable")  # each block's rows in order
    atoms = used[np.argsort(atom_label[used], kind="stable")]
    labels = sorted_unique(row_label)
    row_starts = np.searchsorted(row_label[rows], labels)
    atom_bounds = np.searchsorted(atom_label[atoms], labels, side="right")
    atom_starts = np.append(0, atom_bounds)[:-1]
    ordered = active[rows]
    ordered.sort_indices()
    # each atom's column in its block (a block's atoms are sorted: the order is kept)
    column = np.empty(n_atoms, dtype=ordered.indices.dtype)
    column[atoms] = np.arange(len(atoms)) - np.repeat(atom_starts, atom_bounds - atom_starts)
    ends = np.append(row_starts, len(rows))[1:]
    for start, end, first, last in zip(row_starts, ends, atom_starts, atom_bounds, strict=True):
        matrix = partial(_cut, ordered, column, start, end, last - first)
        yield rows[start:end], atoms[first:last], matrix


def _cut(ordered: sp.csr_matrix, column: np.ndarray, start, end, n_columns) -> sp.csr_matrix:
    """Rows ``start:end`` of ``ordered`` with their atoms renumbered as the block's columns."""
    indptr = ordered.indptr[start : end + 1]
    entries = slice(indptr[0], indptr[-1])
    return sp.csr_matrix(
        (ordered.data[entries], column[ordered.indices[entries]], indptr - indptr[0]),
        shape=(end - start, n_columns),
    )
