"""Multi-column keys as integers: joins and orders of large tables without hashing tuples.

Each key column is factorised once over every frame involved and the codes are combined into
one ``int64`` per row (mixed radix), so a lookup hashes integers, not tuples of strings
(pandas' ``merge`` and ``MultiIndex`` factorise the string columns again for each step).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def joint_codes(frames: Sequence[pd.DataFrame], keys: list[str]) -> list[np.ndarray]:
    """One ``int64`` per row of each frame: equal iff the rows' ``keys`` are equal.

    Missing values are equal to each other (as in a merge). The codes are dense: below the
    product of the keys' numbers of distinct values (which must stay below 2⁶³).
    """
    sizes = np.cumsum([0, *(len(frame) for frame in frames)])
    combined = np.zeros(sizes[-1], dtype=np.int64)
    span = 1  # the number of codes so far (a Python int: no overflow)
    for key in keys:
        values = pd.concat([frame[key] for frame in frames], ignore_index=True)
        codes, uniques = pd.factorize(values, use_na_sentinel=False)
        span *= max(len(uniques), 1)
        if span >= 2**63:
            raise OverflowError(f"joint_codes: the keys {keys} have too many combinations")
        combined = combined * len(uniques) + codes
    return [combined[a:b] for a, b in zip(sizes[:-1], sizes[1:], strict=True)]


def left_lookup(left: pd.DataFrame, right: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """``left.merge(right, on=keys, how="left", validate="many_to_one")`` by integer codes.

    The same rows, columns and dtypes (NaN where ``right`` has no row; missing keys match
    each other, as in a merge); each key column is hashed once, not again to validate
    (national plant panel: 2.7·10⁶ rows by establishment id and year). The two frames share
    no other column.
    """
    shared = (set(left.columns) & set(right.columns)) - set(keys)
    if shared:
        raise ValueError(f"left_lookup: columns {sorted(shared)} are in both frames")
    left_code, right_code = joint_codes([left, right], keys)
    index = pd.Index(right_code)
    if not index.is_unique:
        raise pd.errors.MergeError(
            "Merge keys are not unique in right dataset; not a many-to-one merge"
        )
    rest = right.drop(columns=keys).reset_index(drop=True)
    found = rest.reindex(index.get_indexer(left_code)).reset_index(drop=True)  # -1: NaN row
    return pd.concat([left.reset_index(drop=True), found], axis=1)


def sorted_rows(frame: pd.DataFrame, keys: list[str]) -> np.ndarray:
    """Positions that sort ``frame`` by ``keys`` as ``sort_values(keys)`` (stable, NaN last).

    Each key is ranked by a sorted factorisation, then one ``np.lexsort`` of the integers:
    no comparisons of strings row by row.
    """
    ranks = []
    for key in reversed(keys):  # np.lexsort sorts by the last key first
        codes, uniques = pd.factorize(frame[key], sort=True)
        ranks.append(np.where(codes < 0, len(uniques), codes))
    return np.lexsort(ranks)
