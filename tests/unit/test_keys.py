"""Joins and orders by integer key codes equal pandas' merge, sort_values and MultiIndex."""

import numpy as np
import pandas as pd
import pytest

from spillover.keys import joint_codes, left_lookup, sorted_rows
from spillover.partitions import in_order


def _frames(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Left rows keyed by (year, id) with repeats, missing ids and keys the right lacks."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"E{i:05d}" for i in rng.permutation(40)], dtype=object)
    right = pd.DataFrame(
        {
            "year": np.repeat([2013, 2012, 2014], 13)[:39],
            "establishment_id": pd.array(np.resize(ids[:13], 39), dtype="str"),
            "exports": rng.normal(size=39),
            "employees": rng.integers(1, 90, 39),
            "flag": rng.random(39) < 0.5,
            "firm_id": pd.array([f"F{i}" for i in rng.integers(0, 5, 39)], dtype="str"),
        }
    )
    right.loc[5, "establishment_id"] = None  # a missing id matches a missing id
    n = 200
    left = pd.DataFrame(
        {
            "radius_km": rng.choice([10.0, 5.0, 2.5], n),
            "year": pd.array(rng.choice([2012, 2013, 2014, 2015], n), dtype="Int64"),
            "establishment_id": pd.array(rng.choice(ids[:16], n), dtype="str"),
            "exposure": rng.random(n),
        },
        index=rng.permutation(n) + 1000,  # any index: the result is numbered from 0
    )
    left.loc[left.index[:4], "establishment_id"] = None
    return left, right


@pytest.mark.parametrize("seed", range(4))
def test_left_lookup_equals_a_many_to_one_left_merge(seed):
    left, right = _frames(seed)
    expected = left.merge(right, on=["year", "establishment_id"], how="left", validate="m:1")
    got = left_lookup(left, right, ["year", "establishment_id"])
    pd.testing.assert_frame_equal(got, expected)
    assert got["exports"].isna().any() and got["exports"].notna().any()  # both cases met
    matched = right.iloc[:30].dropna()  # every left row found: no column upcast
    inside = left[left["establishment_id"].isin(matched["establishment_id"])]
    inside = inside[inside["year"].isin([2012, 2013, 2014])]
    pd.testing.assert_frame_equal(
        left_lookup(inside, right.dropna(), ["year", "establishment_id"]),
        inside.merge(right.dropna(), on=["year", "establishment_id"], how="left"),
    )


def test_left_lookup_refuses_a_right_key_twice_and_shared_columns():
    left, right = _frames(0)
    with pytest.raises(pd.errors.MergeError, match="not unique in right"):
        left_lookup(left, pd.concat([right, right.iloc[[3]]]), ["year", "establishment_id"])
    with pytest.raises(ValueError, match=r"\['exports'\] are in both"):
        left_lookup(left.assign(exports=1.0), right, ["year", "establishment_id"])


@pytest.mark.parametrize("seed", range(4))
def test_sorted_rows_orders_as_sort_values(seed):
    left, _ = _frames(seed)
    keys = ["radius_km", "establishment_id", "year"]
    expected = left.sort_values(keys)
    pd.testing.assert_frame_equal(left.take(sorted_rows(left, keys)), expected)
    assert expected["establishment_id"].isna().any()  # put last within their radius
    assert expected.duplicated(keys).any()  # ties keep their order (a stable sort)


def test_joint_codes_are_equal_exactly_for_equal_keys_across_frames():
    left, right = _frames(1)
    keys = ["year", "establishment_id"]
    a, b = joint_codes([left, right], keys)
    tuples = [
        *map(tuple, left[keys].astype(object).to_numpy()),
        *map(tuple, right[keys].astype(object).to_numpy()),
    ]
    same_key = np.array([[_same(s, t) for t in tuples] for s in tuples])
    codes = np.concatenate([a, b])
    assert ((codes[:, None] == codes[None, :]) == same_key).all()


def test_joint_codes_refuse_more_combinations_than_an_int64_holds():
    wide = pd.DataFrame({f"k{i}": np.arange(128) for i in range(9)})  # 128⁹ = 2⁶³
    with pytest.raises(OverflowError, match="too many combinations"):
        joint_codes([wide], list(wide.columns))
    assert len(set(joint_codes([wide], list(wide.columns)[:8])[0])) == 128  # 2⁵⁶ fits


def _same(s: tuple, t: tuple) -> bool:
    """Keys equal, missing values equal to each other."""
    return all((x == y) or (pd.isna(x) and pd.isna(y)) for x, y in zip(s, t, strict=True))


def test_in_order_puts_per_year_parts_in_the_target_order_and_refuses_a_mismatch():
    rng = np.random.default_rng(3)
    target = pd.DataFrame(
        {
            "radius_km": np.repeat([5.0, 10.0], 12),
            "year": np.tile(np.repeat([2012, 2013], 6), 2),
            "centre_id": pd.array(np.tile([f"C{i}" for i in range(6)], 4), dtype="str"),
        }
    ).sample(frac=1.0, random_state=4)
    table = target.assign(value=rng.random(len(target)))
    parts = [group.sample(frac=1.0, random_state=5) for _, group in table.groupby("year")]
    keys = ["radius_km", "year", "centre_id"]
    expected = table.reset_index(drop=True)
    pd.testing.assert_frame_equal(in_order(parts, keys, target), expected)
    with pytest.raises(RuntimeError, match="do not match"):
        in_order(parts[:1], keys, target)  # a year missing
    with pytest.raises(RuntimeError, match="do not match"):
        in_order([*parts, parts[0].iloc[:1]], keys, target)  # a row twice
