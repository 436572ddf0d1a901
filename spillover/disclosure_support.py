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
    if minimum > 2:
        failed = search.pairs(found)
        frontier = [frozenset(pair) for pair in failed.tolist()] if minimum > 3 else []
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
        self.owner_count = np.array([len(o) for o in owners], dtype=np.int64)
        self.owner_start = np.concatenate([[0], np.cumsum(self.owner_count)])
        self.owner_codes = np.concatenate([np.zeros(0, np.int64), *owners]).astype(np.int64)
        first = self.owner_codes[np.minimum(self.owner_start[:-1], len(self.owner_codes) - 1)]
        self.sole_owner = np.where(self.owner_count == 1, first, -1)
        self.tried = 0

    def atoms_within(self, group: frozenset) -> list[int]:
        """Live atoms all of whose owners are in ``group``."""
        if len(group) <= 2:
            keys = [frozenset([e]) for e in group] + ([group] if len(group) == 2 else [])
            return [a for key in keys for a in self.by_owners.get(key, [])]
        return [a for key, atoms in self.by_owners.items() if key <= group for a in atoms]

    def carry(self, groups: list[frozenset]) -> list[bool]:
        """Whether the atoms owned within each group carry a vector of the subspace."""
        self._count(len(groups))
        within = [self.atoms_within(group) for group in groups]
        sizes = np.array([len(atoms) for atoms in within], dtype=np.int64)
        flat = np.array([a for atoms in within for a in atoms], dtype=np.int64)
        return self._top_eigenvalue_is_one(flat, sizes).tolist()

    def carry_pairs(self, pairs: np.ndarray) -> np.ndarray:
        """:meth:`carry` of the pairs of establishments ``pairs`` (rows ``a < b``), batched.

        A pair's atoms are those of ``a`` alone, of ``b`` alone and of exactly ``{a, b}``.
        """
        self._count(len(pairs))
        live_owners = self.owner_count[self.live]
        one = self.live[live_owners == 1]
        one_owner = self.sole_owner[one]
        by_one = np.argsort(one_owner, kind="stable")
        one, one_owner = one[by_one], one_owner[by_one]
        two = self.live[live_owners == 2]
        start = self.owner_start[two]
        width = int(max(self.owner_codes.max(initial=0), pairs.max(initial=0))) + 1
        low = np.minimum(self.owner_codes[start], self.owner_codes[start + 1])
        two_key = low * width + np.maximum(self.owner_codes[start], self.owner_codes[start + 1])
        by_two = np.argsort(two_key, kind="stable")
        two, two_key = two[by_two], two_key[by_two]
        a_at = np.searchsorted(one_owner, pairs[:, 0], "left")
        n_a = np.searchsorted(one_owner, pairs[:, 0], "right") - a_at
        b_at = np.searchsorted(one_owner, pairs[:, 1], "left")
        n_b = np.searchsorted(one_owner, pairs[:, 1], "right") - b_at
        key = pairs[:, 0] * width + pairs[:, 1]
        ab_at = np.searchsorted(two_key, key, "left")
        n_ab = np.searchsorted(two_key, key, "right") - ab_at
        sizes = n_a + n_b + n_ab
        pair_of, k = _laid_end_to_end(sizes)
        flat = np.empty(len(k), dtype=np.int64)
        # a pair's atoms in turn: those of a alone, of b alone, of exactly {a, b}
        in_a = k < n_a[pair_of]
        in_b = ~in_a & (k < (n_a + n_b)[pair_of])
        in_ab = ~in_a & ~in_b
        flat[in_a] = one[a_at[pair_of[in_a]] + k[in_a]]
        flat[in_b] = one[b_at[pair_of[in_b]] + k[in_b] - n_a[pair_of[in_b]]]
        at = ab_at[pair_of[in_ab]] + k[in_ab] - (n_a + n_b)[pair_of[in_ab]]
        flat[in_ab] = two[at]
        return self._top_eigenvalue_is_one(flat, sizes)

    def _count(self, n_groups: int) -> None:
        """Count the sets tried; past :data:`MAX_CANDIDATES` the search fails closed."""
        self.tried += n_groups
        if self.tried > MAX_CANDIDATES:
            raise SearchLimitError(
                f"more than {MAX_CANDIDATES:,} sets of establishments to try: the search for "
                "derivable values of few establishments gives up (nothing is certified)"
            )

    def _top_eigenvalue_is_one(self, flat: np.ndarray, sizes: np.ndarray) -> np.ndarray:
        """Whether H on each group's atoms has the eigenvalue 1 (``sizes[i]`` atoms in ``flat``)."""
        result = np.zeros(len(sizes), dtype=bool)
        ends = np.cumsum(sizes)
        for size in np.unique(sizes[sizes > 0]):
            numbers = np.flatnonzero(sizes == size)
            at = (ends[numbers] - size)[:, None] + np.arange(size)
            atoms = flat[at]
            blocks = self.h[atoms[:, :, None], atoms[:, None, :]]
            result[numbers] = np.linalg.eigvalsh(blocks)[:, -1] >= 1 - TOLERANCE
        return result

    def vector(self, group: frozenset) -> np.ndarray:
        """A unit vector of the subspace on the atoms owned within ``group``.

        Those atoms may carry several independent vectors (an establishment's shipments and
        its exports, say): an eigenvector of the repeated eigenvalue 1 is then any rotation of
        the others, and rounding decides which. The vector taken is the subspace's part of
        the first atom (in the projector's order) holding at least half the largest weight in
        it: rounding moves that choice only for a weight within rounding of the half.
        """
        atoms = np.sort(np.asarray(self.atoms_within(group), dtype=np.int64))
        values, vectors = np.linalg.eigh(self.h[np.ix_(atoms, atoms)])
        space = vectors[:, values >= 1 - TOLERANCE]
        if space.shape[1] == 0:  # the batched test found it; here it is a hair below 1
            space = vectors[:, -1:]
        weight = np.sum(space**2, axis=1)
        vector = space @ space[np.flatnonzero(weight >= weight.max() / 2)[0]]
        out = np.zeros(self.h.shape[0])
        out[atoms] = vector / np.linalg.norm(vector)
        return out

    def singles(self) -> list[frozenset]:
        """Establishments that alone carry a vector."""
        groups = [key for key in self.by_owners if len(key) == 1]
        return [g for g, carries in zip(groups, self.carry(groups), strict=True) if carries]

    def links(self) -> np.ndarray:
        """Pairs of establishments ``(a, b)``, ``a < b``, sharing an atom or an entry of H."""
        sub = np.abs(self.h[np.ix_(self.live, self.live)]) > TOLERANCE
        i, j = np.nonzero(np.triu(sub, k=1))
        shared = self.live[self.owner_count[self.live] > 1]
        first = np.concatenate([self.live[i], shared])  # an atom's own owners are linked
        second = np.concatenate([self.live[j], shared])
        count_first, count_second = self.owner_count[first], self.owner_count[second]
        sizes = count_first * count_second
        pair_of, k = _laid_end_to_end(sizes)
        e = self.owner_codes[self.owner_start[first[pair_of]] + k // count_second[pair_of]]
        f = self.owner_codes[self.owner_start[second[pair_of]] + k % count_second[pair_of]]
        low, high = np.minimum(e, f), np.maximum(e, f)
        width = int(high.max(initial=0)) + 1
        key = sorted_unique((low * width + high)[low != high])
        return np.stack([key // width, key % width], axis=1)

    def pairs(self, found: list[frozenset]) -> np.ndarray:
        """Add the minimal pairs to ``found``; return the linked pairs without a vector."""
        singles = np.array([next(iter(group)) for group in found], dtype=np.int64)
        links = self.links()
        links = links[~np.isin(links, singles).any(axis=1)]
        carries = self.carry_pairs(links)
        found += [frozenset(pair) for pair in links[carries].tolist()]
        return links[~carries]

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


def _laid_end_to_end(sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Groups of ``sizes`` items laid end to end: each item's group and place in it."""
    group = np.repeat(np.arange(len(sizes)), sizes)
    return group, np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """``np.unique`` of a 1-D integer array, by one sort.

    NumPy 2.4's ``np.unique`` hashes: ~17× slower on 4·10⁶ int64 (4.2 s vs 0.25 s here).
    """
    ordered = np.sort(values)
    return ordered[run_starts(ordered)]


def run_starts(keys: np.ndarray) -> np.ndarray:
    """Whether each row starts a run of equal ``keys`` (rows grouped by key)."""
    first = np.ones(len(keys), dtype=bool)
    first[1:] = keys[1:] != keys[:-1]
    return first
