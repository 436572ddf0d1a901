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
rest splits into connected blocks (rows sharing atoms). A neighbourhood margin enters as its
*complement* (margin − its published cells, a weighted sum of its suppressed cells): the same
row space.

:meth:`LinearRelease.disclosures` then finds every suppressed value in the row space and
every vector of the row space built from 1..min-1 establishments (each a :class:`Finding`
with the rows that derive it): such a vector lies on atoms of fewer than ``min``
establishments, and :func:`spillover.disclosure_support.minimal_vectors` finds the minimal
sets of establishments that carry one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from spillover.disclosure_support import TOLERANCE, minimal_vectors
from spillover.errors import SpilloverError
from spillover.options import DIRECT_SHARE, INDUSTRY_RATIO, VALUE_COLUMN_NAMES

#: Relative tolerance of the residual and eigenvalue tests (rows are scaled to unit length).
#: Kinds of variables: exports imputed with a public ratio are ρ × shipments.
KINDS = ("employees", "shipments", "exports")


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
    value = frame[column].to_numpy(dtype=float, na_value=np.nan)
    kind = np.full(len(frame), KINDS.index(column) if column in KINDS else 2, dtype=np.int8)
    coef = np.ones(len(frame))
    if column in ("exports", "exports_imputed"):
        method = np.asarray(frame["export_method"], dtype=object)
        shipments = frame["shipments"].to_numpy(dtype=float, na_value=np.nan)
        ratio = method == INDUSTRY_RATIO
        with np.errstate(divide="ignore", invalid="ignore"):
            rho = np.round(frame["exports"].to_numpy(dtype=float, na_value=np.nan) / shipments, 12)
        kind = np.where(ratio, KINDS.index("shipments"), KINDS.index("exports")).astype(np.int8)
        coef = np.where(ratio, rho, 1.0)
        if column == "exports_imputed":
            value = np.where(method == DIRECT_SHARE, 0.0, value)
    keep = np.isfinite(value) & (value != 0) & np.isfinite(coef) & (coef != 0)
    out = frame.loc[keep, ["year", "establishment_id"]].copy()
    out["kind"] = kind[keep]
    out["coef"] = coef[keep]
    return out


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a well-spread 64-bit hash of each uint64."""
    z = values + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _atoms(row: np.ndarray, var: np.ndarray, coef: np.ndarray, n_var: int) -> np.ndarray:
    """Atom id of every variable: variables in the same rows with the same coefficients."""
    with np.errstate(over="ignore"):
        term = _mix(row.astype(np.uint64) * np.uint64(0x100000001B3) ^ _mix(coef.view(np.uint64)))
        signature = np.zeros(n_var, dtype=np.uint64)
        np.add.at(signature, var, term)
    return pd.factorize(signature)[0]


class LinearRelease:
    """The released linear statistics of a publication, over atoms (built once).

    Parameters
    ----------
    cells : pandas.DataFrame
        ``radius_km, year, centre_id`` of every cell; a cell's position is its number.
    members : pandas.DataFrame
        :func:`spillover.neighbourhoods.cell_members` with a ``cell`` column (that number)
        and a unique index.
    margins : list of Margin
        Released margins (e.g. the decomposition's mean yearly changes).
    """

    def __init__(self, cells: pd.DataFrame, members: pd.DataFrame, margins: list[Margin]) -> None:
        self.n_cells = len(cells)
        self.columns = list(VALUE_COLUMN_NAMES)
        self.cell_margins = [m for m in margins if m.over_cells]
        self.plant_margins = [m for m in margins if not m.over_cells]
        terms = self._terms(members)
        owner, self.establishments = pd.factorize(terms["establishment_id"])
        kind = terms["kind"].to_numpy(dtype=np.int64)
        year = terms["year"].to_numpy(dtype=np.int64)
        var, keys = pd.factorize((year * len(self.establishments) + owner) * len(KINDS) + kind)
        rows = terms["row"].to_numpy(dtype=np.int64)
        coef = terms["coef"].to_numpy(dtype=float)
        atom = _atoms(rows, var, coef, len(keys))[var]
        self.n_atoms = int(atom.max()) + 1 if len(atom) else 0
        first = pd.DataFrame({"row": rows, "atom": atom, "coef": coef}).drop_duplicates(
            ["row", "atom"]
        )
        shape = (self.n_cells * len(self.columns) + len(self.plant_margins), self.n_atoms)
        self.matrix = sp.csr_matrix(
            (first["coef"].to_numpy(), (first["row"].to_numpy(), first["atom"].to_numpy())),
            shape=shape,
        )
        pairs = np.sort(pd.unique(atom.astype(np.int64) * len(self.establishments) + owner))
        self.owner_atom = pairs // len(self.establishments)
        self.owner_code = pairs % len(self.establishments)
        self.atom_size = np.bincount(self.owner_atom, minlength=self.n_atoms)
        self.owner_start = np.concatenate([[0], np.cumsum(self.atom_size)])
        keys = ["radius_km", "year", "centre_id"]
        index = pd.MultiIndex.from_frame(cells[keys].astype({"year": "int64"}))
        self.cell_weights = [_cell_weights(m, index) for m in self.cell_margins]

    def _terms(self, members: pd.DataFrame) -> pd.DataFrame:
        """(row, year, establishment, kind, coef) of every released row's variables."""
        frames = []
        for index, column in enumerate(self.columns):
            terms = value_terms(members, column)
            row = members.loc[terms.index, "cell"].to_numpy() * len(self.columns) + index
            frames.append(terms.assign(row=row))
        first_margin = self.n_cells * len(self.columns)
        for number, margin in enumerate(self.plant_margins):
            terms = value_terms(margin.weights, margin.column)
            weight = margin.weights.loc[terms.index, "weight"].to_numpy(dtype=float)
            frames.append(terms.assign(row=first_margin + number, coef=terms["coef"] * weight))
        terms = pd.concat(frames, ignore_index=True)
        return terms[terms["coef"] != 0]

    def owners(self, atoms: np.ndarray) -> np.ndarray:
        """Codes of the establishments owning any of ``atoms`` (sorted, unique)."""
        parts = [self.owner_code[self.owner_start[a] : self.owner_start[a + 1]] for a in atoms]
        if len(parts) == 1:
            return parts[0]
        return np.unique(np.concatenate(parts)) if parts else np.array([], dtype=np.int64)

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
        labels, active = self._active_rows(published)
        flat = published.reshape(-1)
        has_terms = np.diff(self.matrix.indptr[: flat.size + 1]) > 0
        targets = np.flatnonzero(~flat & has_terms)
        target_matrix = self.matrix[targets]
        keep = self._prune(active, target_matrix, min_establishments)
        active, labels = active[keep], [labels[i] for i in np.flatnonzero(keep)]
        blocks = [
            (_Block(active[rows][:, atoms], atoms), [labels[i] for i in rows])
            for rows, atoms in _blocks(active)
        ]
        found = self._suppressed(blocks, target_matrix, targets)
        recovered = {frozenset(f.establishments) for f in found}
        for block, rows in blocks:
            small = self._small(block, rows, min_establishments)
            found += [f for f in small if frozenset(f.establishments) not in recovered]
        return found

    def _active_rows(self, published: np.ndarray) -> tuple[list[tuple], sp.csr_matrix]:
        """The released rows: published values, margin complements and plant margins."""
        ncol = len(self.columns)
        flat = np.flatnonzero(published.reshape(-1))
        labels = [("cell", int(r) // ncol, self.columns[int(r) % ncol]) for r in flat]
        parts = [self.matrix[flat]]
        for margin, weights in zip(self.cell_margins, self.cell_weights, strict=True):
            column = self.columns.index(margin.column)
            cells = np.flatnonzero(~published[:, column] & (weights != 0))
            complement = sp.csr_matrix(weights[cells]) @ self.matrix[cells * ncol + column]
            if complement.nnz:
                labels.append(("margin", margin.name))
                parts.append(sp.csr_matrix(complement))
        first_margin = self.n_cells * ncol
        for number, margin in enumerate(self.plant_margins):
            labels.append(("margin", margin.name))
            parts.append(self.matrix[first_margin + number])
        matrix = sp.vstack(parts, format="csr")
        matrix.eliminate_zeros()
        filled = np.flatnonzero(np.diff(matrix.indptr) > 0)  # a published 0 adds no equation
        return [labels[i] for i in filled], matrix[filled]

    def _prune(self, active: sp.csr_matrix, targets: sp.csr_matrix, minimum: int) -> np.ndarray:
        """Rows that can enter a derivation (see the module docstring); others are dropped."""
        keep = np.ones(active.shape[0], dtype=bool)
        in_target = np.diff((targets != 0).tocsc().indptr) > 0
        n_owners = len(self.establishments) + 1
        while True:
            incidence = (active[keep] != 0).tocsc()
            private = (np.diff(incidence.indptr) == 1) & ~in_target
            row_of_atom = np.full(self.n_atoms, -1, dtype=np.int64)
            atoms = np.flatnonzero(private)
            row_of_atom[atoms] = incidence.indices[incidence.indptr[atoms]]
            owner_row = row_of_atom[self.owner_atom]
            mask = owner_row >= 0
            pairs = pd.unique(owner_row[mask] * n_owners + self.owner_code[mask])
            private_count = np.bincount(pairs // n_owners, minlength=incidence.shape[0])
            drop = private_count >= minimum
            if not drop.any():
                return keep
            keep[np.flatnonzero(keep)[drop]] = False

    def _suppressed(self, blocks, target_matrix: sp.csr_matrix, targets) -> list[Finding]:
        """Suppressed values whose every part lies in the row space of its block."""
        block_of_atom = np.full(self.n_atoms, -1)
        for number, (block, _) in enumerate(blocks):
            block_of_atom[block.atoms] = number
        found = []
        for t, row in enumerate(targets):
            target = target_matrix[t]
            atoms, values = target.indices, target.data
            owners = block_of_atom[atoms]
            if (owners < 0).any():
                continue  # an atom no released row contains
            used = []
            for number in np.unique(owners):
                block, labels = blocks[number]
                vector = np.zeros(len(block.atoms))
                vector[np.searchsorted(block.atoms, atoms[owners == number])] = values[
                    owners == number
                ]
                if block.residual(vector) > TOLERANCE:
                    break
                used += [labels[i] for i in block.derivation(vector)]
            else:
                cell, column = divmod(int(row), len(self.columns))
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

    def _small(self, block: _Block, labels: list, minimum: int) -> list[Finding]:
        """Values of 1..min-1 establishments in the row space of this block."""
        small = np.flatnonzero(self.atom_size[block.atoms] < minimum)
        projector = block.small_projector(small) if small.size else None
        if projector is None:
            return []
        owners = [self.owners([a]) for a in block.atoms[small]]
        found = []
        for part in minimal_vectors(projector, owners, minimum):
            vector = np.zeros(len(block.atoms))
            vector[small] = part
            support = block.atoms[np.abs(vector) > TOLERANCE]
            found.append(
                Finding(
                    kind="small",
                    establishments=tuple(self.establishments[self.owners(support)]),
                    rows=tuple(labels[i] for i in block.derivation(vector)),
                )
            )
        return found


def _cell_weights(margin: Margin, cells: pd.MultiIndex) -> np.ndarray:
    """A neighbourhood margin's weight of every cell (0 outside its sample)."""
    weights = margin.weights.astype({"year": "int64"})
    position = cells.get_indexer(pd.MultiIndex.from_frame(weights[list(cells.names)]))
    if (position < 0).any():
        raise DisclosureError(f"{margin.name}: the margin sums cells that are not in the table")
    out = np.zeros(len(cells))
    np.add.at(out, position, weights["weight"].to_numpy(dtype=float))
    return out


class _Block:
    """One connected block of released rows × atoms and its row space (SVD)."""

    def __init__(self, matrix: sp.csr_matrix, atoms: np.ndarray) -> None:
        self.dense = matrix.toarray()
        self.atoms = atoms
        scaled = self.dense / np.linalg.norm(self.dense, axis=1, keepdims=True)
        _, s, vt = np.linalg.svd(scaled, full_matrices=False)
        rank = int((s > 1e-9 * s[0]).sum())
        self.basis = vt[:rank].T  # atoms × rank, orthonormal columns
        self._pinv = None

    def residual(self, vector: np.ndarray) -> float:
        """Relative distance of ``vector`` (over the block's atoms) from the row space."""
        rest = vector - self.basis @ (self.basis.T @ vector)
        return float(np.linalg.norm(rest) / np.linalg.norm(vector))

    def derivation(self, vector: np.ndarray) -> np.ndarray:
        """Indices of the rows combined (least-norm solution) to give ``vector``."""
        if self._pinv is None:
            self._pinv = np.linalg.pinv(self.dense.T, rcond=1e-9)
        y = self._pinv @ vector
        return np.flatnonzero(np.abs(y) > TOLERANCE * max(np.abs(y).max(), 1e-300))

    def small_projector(self, small: np.ndarray) -> np.ndarray | None:
        """Projector onto the row-space vectors that live on the ``small`` atoms (or None)."""
        restricted = np.delete(self.basis, small, axis=0)
        if restricted.shape[0]:
            _, s, vt = np.linalg.svd(restricted, full_matrices=True)
            null = vt[int((s > TOLERANCE).sum()) :].T
        else:
            null = np.eye(self.basis.shape[1])
        if null.shape[1] == 0:
            return None
        z = self.basis[small] @ null  # orthonormal columns: these vectors vanish off `small`
        return z @ z.T


def _blocks(active: sp.csr_matrix):
    """Connected blocks of released rows and the atoms they contain."""
    n_rows, n_atoms = active.shape
    incidence = (active != 0).tocoo()
    graph = sp.coo_matrix(
        (np.ones(incidence.nnz), (incidence.row, n_rows + incidence.col)),
        shape=(n_rows + n_atoms, n_rows + n_atoms),
    )
    _, label = connected_components(graph, directed=False)
    row_label, atom_label = label[:n_rows], label[n_rows:]
    used = np.diff(incidence.tocsc().indptr) > 0
    for value in np.unique(row_label):
        yield np.flatnonzero(row_label == value), np.flatnonzero((atom_label == value) & used)
