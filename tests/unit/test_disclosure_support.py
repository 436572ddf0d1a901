"""The search for sets of few establishments carrying a derivable value, against brute force.

Worlds are small (≤ 10 establishments) so that every set of 1..minimum-1 establishments can be
tried: a set carries a vector of the subspace iff the subspace meets the span of the unit
vectors of the atoms owned within the set (a rank test, independent of the projector trick).
"""

import itertools

import numpy as np
import pytest

from spillover.disclosure_support import TOLERANCE, minimal_vectors


def _world(seed: int):
    """A subspace of released sums over atoms owned by one to three of a few establishments."""
    rng = np.random.default_rng(seed)
    n_establishments = int(rng.integers(5, 11))
    n_atoms = int(rng.integers(8, 25))
    owners = [
        np.sort(rng.choice(n_establishments, size=rng.choice([1, 1, 2, 2, 3]), replace=False))
        for _ in range(n_atoms)
    ]
    rows = (rng.random((int(rng.integers(3, n_atoms)), n_atoms)) < 0.25) * rng.choice(
        [1.0, 0.37, 2.0], size=(1, n_atoms)
    )
    rows = rows[np.abs(rows).sum(axis=1) > 0]
    q, r = np.linalg.qr(rows.T)
    basis = q[:, np.abs(np.diag(r)) > 1e-9]
    return basis, owners, n_establishments


def _minimal_sets_by_brute_force(basis, owners, n_establishments, minimum):
    """Minimal sets of < minimum establishments whose atoms carry a vector of the subspace."""
    rank = np.linalg.matrix_rank(basis, tol=1e-9)
    found: list[frozenset] = []
    for size in range(1, minimum):
        for group in itertools.combinations(range(n_establishments), size):
            if any(f <= set(group) for f in found):
                continue
            within = [a for a, o in enumerate(owners) if set(o.tolist()) <= set(group)]
            if not within:
                continue
            unit = np.eye(basis.shape[0])[:, within]
            joint = np.linalg.matrix_rank(np.hstack([basis, unit]), tol=1e-9)
            if joint < rank + len(within):
                found.append(frozenset(group))
    return set(found)


@pytest.mark.parametrize("minimum", [3, 4])
@pytest.mark.parametrize("seed", range(12))
def test_minimal_sets_are_those_of_brute_force(seed, minimum):
    basis, owners, n_establishments = _world(seed)
    vectors = minimal_vectors(basis @ basis.T, owners, minimum)
    carried = set()
    for vector in vectors:
        assert np.linalg.norm(vector - basis @ (basis.T @ vector)) < 1e-9  # in the subspace
        support = np.flatnonzero(np.abs(vector) > TOLERANCE)
        carried.add(frozenset(int(e) for a in support for e in owners[a]))
    assert len(carried) == len(vectors)  # one vector per set
    assert carried == _minimal_sets_by_brute_force(basis, owners, n_establishments, minimum)


def test_the_worlds_have_single_pair_and_shared_atom_sets():
    """The worlds above exercise every kind of set: alone, pairs, pairs through a shared atom."""
    sizes, shared = set(), 0
    for seed in range(12):
        basis, owners, n_establishments = _world(seed)
        for group in _minimal_sets_by_brute_force(basis, owners, n_establishments, 4):
            sizes.add(len(group))
            shared += any(len(o) > 1 and set(o.tolist()) <= group for o in owners)
    assert sizes == {1, 2, 3}
    assert shared > 0


def test_a_set_carrying_several_vectors_gets_the_same_one_whatever_the_rounding():
    """A set carrying a plane of vectors reports one that rounding does not turn.

    Establishment 0's two atoms are each derivable; the projector is rounded differently
    each time (as by another eigensolver or CPU).
    """
    owners = [np.array([0]), np.array([0]), np.array([1, 2]), np.array([1]), np.array([2])]
    plane = np.eye(5)[:, :2]
    rest = np.array([[0.0, 0.0, 1.0, 1.0, 1.0]]).T / np.sqrt(3)
    basis = np.hstack([plane, rest])
    rng = np.random.default_rng(7)
    supports = set()
    for _ in range(40):
        rotation, _ = np.linalg.qr(rng.normal(size=(3, 3)))
        turned = basis @ rotation  # the same subspace, rounded differently
        vector, pair = minimal_vectors(turned @ turned.T, owners, 3)  # {0}, then {1, 2}
        assert np.allclose(np.abs(pair), rest.ravel())
        assert abs(abs(vector[0]) - 1) < 1e-12  # the first atom's own value, every time
        supports.add(tuple(np.flatnonzero(np.abs(vector) > TOLERANCE)))
    assert supports == {(0,)}


@pytest.mark.parametrize("size", [0, 1, 2, 1000])
def test_sorted_unique_is_numpys_unique(size):
    from spillover.disclosure_support import sorted_unique

    values = np.random.default_rng(size).integers(-5, 50, size)
    assert np.array_equal(sorted_unique(values), np.unique(values))
    assert sorted_unique(values).dtype == values.dtype
