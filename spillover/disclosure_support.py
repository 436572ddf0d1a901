"""Which few establishments carry a vector of a subspace: the search behind "values of < min".

Given the orthogonal projector ``H`` onto a subspace N of derivable values (over *atoms*,
each owned by a few establishments), a set E of establishments carries a vector of N (a
derivable value built from E alone) iff ``H`` restricted to the atoms owned within E has the
eigenvalue 1. The minimal such sets are connected: split into two groups that share no atom
and have no non-zero entry of ``H`` between them, the restriction is block-diagonal and one
block alone carries the vector. So sets are grown from single establishments along shared
atoms and non-zero entries of ``H``; the common cases (an establishment alone on one atom, a
pair on one atom each) are tested for all candidates at once.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from spillover.errors import SpilloverError

#: Tolerance of the eigenvalue test (the projector's eigenvalues are 0 or 1) and of the span
#: tests of :mod:`spillover.disclosure_span`.
TOLERANCE = 1e-8
#: Most sets of establishments tried one by one per subspace (the search then fails closed).
MAX_CANDIDATES = 200_000


class SearchLimitError(SpilloverError, RuntimeError):
    """Too many sets of establishments to try: disclosure control cannot certify the release."""


def minimal_vectors(
    projector: np.ndarray, owners: list[np.ndarray], minimum: int
) -> list[np.ndarray]:
    """One vector of the subspace per minimal set of fewer than ``minimum`` establishments.

    Parameters
    ----------
    projector : numpy.ndarray, shape (n, n)
        Orthogonal projector onto the subspace (coordinates: atoms).
    owners : list of numpy.ndarray
        Establishment codes of each atom.
    minimum : int
        Sets of 1..minimum-1 establishments are searched.

    Returns
    -------
    list of numpy.ndarray
        Unit vectors (length n) of the subspace, each on the atoms of one minimal set.
    """
    live = np.flatnonzero(np.diag(projector) > TOLERANCE)
    if live.size == 0:
        return []
    search = _Search(projector, live, owners)
    found = search.singles()
    frontier = search.pairs(found) if minimum > 2 else []
    for _size in range(3, minimum):
        frontier = search.grow(frontier, found)
    return [search.vector(group) for group in found]


class _Search:
    """Atoms by owner set, and the links along which minimal sets are connected."""

    def __init__(self, projector: np.ndarray, live: np.ndarray, owners: list[np.ndarray]):
        self.h = projector
        self.live = live
        self.by_owners: dict[frozenset, list[int]] = {}
        for atom in live:
            self.by_owners.setdefault(frozenset(owners[atom].tolist()), []).append(int(atom))
        self.owners = owners
        self.sole_owner = np.array([o[0] if len(o) == 1 else -1 for o in owners], dtype=np.int64)
        self.tried = 0

    def atoms_within(self, group: frozenset) -> list[int]:
        """Live atoms all of whose owners are in ``group``."""
        if len(group) <= 2:
            keys = [frozenset([e]) for e in group] + ([group] if len(group) == 2 else [])
            return [a for key in keys for a in self.by_owners.get(key, [])]
        return [a for key, atoms in self.by_owners.items() if key <= group for a in atoms]

    def carry(self, groups: list[frozenset]) -> list[bool]:
        """Whether the atoms owned within each group carry a vector of the subspace."""
        self.tried += len(groups)
        if self.tried > MAX_CANDIDATES:
            raise SearchLimitError(
                f"more than {MAX_CANDIDATES:,} sets of establishments to try: the search for "
                "derivable values of few establishments gives up (nothing is certified)"
            )
        within = [self.atoms_within(group) for group in groups]
        result = np.zeros(len(groups), dtype=bool)
        by_size: dict[int, list[int]] = {}
        for number, atoms in enumerate(within):
            by_size.setdefault(len(atoms), []).append(number)
        for size, numbers in by_size.items():
            if size:
                atoms = np.array([within[n] for n in numbers], dtype=np.int64)
                blocks = self.h[atoms[:, :, None], atoms[:, None, :]]
                result[numbers] = np.linalg.eigvalsh(blocks)[:, -1] >= 1 - TOLERANCE
        return result.tolist()

    def vector(self, group: frozenset) -> np.ndarray:
        """The unit vector of the subspace on the atoms owned within ``group``."""
        atoms = self.atoms_within(group)
        _, vectors = np.linalg.eigh(self.h[np.ix_(atoms, atoms)])
        out = np.zeros(self.h.shape[0])
        out[atoms] = vectors[:, -1]
        return out

    def singles(self) -> list[frozenset]:
        """Establishments that alone carry a vector."""
        groups = [key for key in self.by_owners if len(key) == 1]
        return [g for g, carries in zip(groups, self.carry(groups), strict=True) if carries]

    def links(self) -> np.ndarray:
        """Pairs of establishments ``(a, b)``, ``a < b``, sharing an atom or an entry of H."""
        sub = np.abs(self.h[np.ix_(self.live, self.live)]) > TOLERANCE
        i, j = np.nonzero(np.triu(sub, k=1))
        first, second = self.live[i], self.live[j]
        alone = (self.sole_owner[first] >= 0) & (self.sole_owner[second] >= 0)
        edges = [np.stack([self.sole_owner[first[alone]], self.sole_owner[second[alone]]], 1)]
        for x, y in zip(first[~alone], second[~alone], strict=True):
            edges.append(np.array([(e, f) for e in self.owners[x] for f in self.owners[y]]))
        for key in self.by_owners:
            if len(key) > 1:
                edges.append(np.array(list(combinations(sorted(key), 2))))
        edges = np.vstack([e.reshape(-1, 2) for e in edges]).astype(np.int64)
        edges = np.sort(edges[edges[:, 0] != edges[:, 1]], axis=1)
        return np.unique(edges, axis=0)

    def pairs(self, found: list[frozenset]) -> list[frozenset]:
        """Add the minimal pairs to ``found``; return the linked pairs without a vector."""
        singles = np.array([next(iter(group)) for group in found], dtype=np.int64)
        links = self.links()
        links = links[~np.isin(links, singles).any(axis=1)]
        return self._try([frozenset(pair) for pair in links.tolist()], found)

    def grow(self, frontier: list[frozenset], found: list[frozenset]) -> list[frozenset]:
        """Try every linked one-larger set of ``frontier``; return those without a vector."""
        neighbours: dict[int, set] = {}
        for x, y in self.links().tolist():
            neighbours.setdefault(x, set()).add(y)
            neighbours.setdefault(y, set()).add(x)
        larger = {g | {e} for g in frontier for m in g for e in neighbours.get(m, set()) - g}
        fresh = [g for g in sorted(larger, key=sorted) if not any(f <= g for f in found)]
        return self._try(fresh, found)

    def _try(self, groups: list[frozenset], found: list[frozenset]) -> list[frozenset]:
        """Append the groups that carry a vector to ``found``; return the others."""
        failed = []
        for group, carries in zip(groups, self.carry(groups), strict=True):
            (found if carries else failed).append(group)
        return failed
