"""The per-year cache of the spatial stages: kept by content, settings and code; ordered."""

import numpy as np
import pandas as pd
import pytest

from spillover.partitions import TableCache, _in_group_order, in_order


def _plants(value: float) -> pd.DataFrame:
    return pd.DataFrame(
        {"year": [2015, 2015], "establishment_id": ["A", "B"], "exports": [value, 2.5]}
    )


def _count(calls: list):
    def compute(inputs):
        calls.append(1)
        frame = inputs["plants"]
        return {"table": frame.assign(total=frame["exports"].sum())}

    return compute


def test_a_year_is_computed_once_then_loaded_equal(tmp_path):
    calls = []
    first = TableCache(tmp_path, "neighbourhoods", {"radii_km": [5.0]})
    computed = first.tables(2015, {"plants": _plants(1.0)}, _count(calls))
    second = TableCache(tmp_path, "neighbourhoods", {"radii_km": [5.0]})
    loaded = second.tables(2015, {"plants": _plants(1.0)}, _count(calls))
    assert len(calls) == 1
    assert second.summary() == {"years_computed": [], "years_from_cache": [2015]}
    pd.testing.assert_frame_equal(loaded["table"], computed["table"], check_exact=True)


@pytest.mark.parametrize(
    "settings, value, year",
    [
        ({"radii_km": [5.0]}, 1.5, 2015),
        ({"radii_km": [3.0]}, 1.0, 2015),
        ({"radii_km": [5.0]}, 1.0, 2016),
    ],
)
def test_changed_values_settings_or_year_compute_again(tmp_path, settings, value, year):
    calls = []
    TableCache(tmp_path, "neighbourhoods", {"radii_km": [5.0]}).tables(
        2015, {"plants": _plants(1.0)}, _count(calls)
    )
    TableCache(tmp_path, "neighbourhoods", settings).tables(
        year, {"plants": _plants(value)}, _count(calls)
    )
    assert len(calls) == 2


@pytest.mark.parametrize(
    "first, second, dtype",
    [
        (["A", "BC"], ["AB", "C"], "str"),  # the same bytes cut elsewhere
        (["A", ""], ["A", None], "str"),  # missing, not empty
        (["A", "B"], ["A", "B "], "str"),
        (["A", "B"], ["A", "B"], "object"),  # another dtype
        (["A", "B"], ["A", "Ｂ"], "str"),  # full-width
    ],
)
def test_text_that_differs_in_any_way_computes_again(tmp_path, first, second, dtype):
    calls = []
    for ids, kind in ((first, "str"), (second, dtype)):
        frame = pd.DataFrame({"year": 2015, "establishment_id": pd.Series(ids, dtype=kind)})
        TableCache(tmp_path, "exposure", {}).tables(2015, {"plants": frame}, _count_rows(calls))
    assert len(calls) == 2


def test_the_same_text_in_a_slice_or_in_chunks_is_loaded(tmp_path):
    def plants(ids: pd.Series) -> pd.DataFrame:
        return pd.DataFrame({"year": 2015, "establishment_id": ids.reset_index(drop=True)})

    whole = pd.Series(["Z", "A", "", "B"], dtype="str")
    chunks = pd.concat([whole.iloc[1:3], whole.iloc[3:]])  # two Arrow chunks
    calls = []
    for frame in (plants(whole.iloc[1:]), plants(pd.Series(["A", "", "B"], dtype="str"))):
        TableCache(tmp_path, "exposure", {}).tables(2015, {"plants": frame}, _count_rows(calls))
    TableCache(tmp_path, "exposure", {}).tables(
        2015, {"plants": plants(chunks)}, _count_rows(calls)
    )
    assert len(calls) == 1


@pytest.mark.parametrize(
    "first, second",
    [
        (pd.array([1, None], "Int64"), pd.array([1, 0], "Int64")),  # missing, not 0
        (pd.array([1, None], "Int64"), pd.array([1, None], "Int32")),  # another dtype
        (np.array([0.0, 1.0]), np.array([-0.0, 1.0])),  # another sign: computed (safe)
        (np.array([True, False]), np.array([False, True])),
        (pd.array([True, None], "boolean"), pd.array([True, False], "boolean")),
    ],
)
def test_numbers_that_differ_compute_again(tmp_path, first, second):
    calls = []
    for values in (first, second):
        frame = pd.DataFrame({"year": 2015, "exports": values})
        TableCache(tmp_path, "exposure", {}).tables(2015, {"plants": frame}, _count_rows(calls))
    assert len(calls) == 2


def test_numbers_are_the_same_whatever_lies_under_a_missing_value(tmp_path):
    calls = []
    for hidden in (0, 7):
        values = pd.arrays.IntegerArray(np.array([1, hidden]), np.array([False, True]))
        frame = pd.DataFrame({"year": 2015, "employees": values})
        TableCache(tmp_path, "exposure", {}).tables(2015, {"plants": frame}, _count_rows(calls))
    assert len(calls) == 1


def _count_rows(calls: list):
    def compute(inputs):
        calls.append(1)
        return {"table": pd.DataFrame({"rows": [len(inputs["plants"])]})}

    return compute


def test_without_a_folder_nothing_is_kept(tmp_path):
    calls = []
    for _ in range(2):
        TableCache(None, "exposure", {}).tables(2015, {"plants": _plants(1.0)}, _count(calls))
    assert len(calls) == 2


def test_in_order_puts_per_year_rows_in_the_whole_panel_order():
    parts = [
        pd.DataFrame({"year": [2016, 2016], "id": ["a", "b"], "v": [1, 2]}),
        pd.DataFrame({"year": [2015], "id": ["a"], "v": [3]}),
    ]
    target = pd.DataFrame({"year": [2016, 2015, 2016], "id": ["b", "a", "a"]})
    ordered = in_order(parts, ["year", "id"], target)
    assert ordered["v"].tolist() == [2, 3, 1]
    with pytest.raises(RuntimeError, match="do not match"):
        in_order(parts, ["year", "id"], target.iloc[:2])


def _radius_major_world():
    """Target: radius, then the plants in their order (years interleaved); parts by year."""
    plants = pd.DataFrame({"year": [2016, 2015, 2016, 2015, 2016], "id": list("abcde")})
    target = pd.concat([plants.assign(radius_km=r) for r in (5.0, 10.0)], ignore_index=True)
    table = target.assign(v=np.arange(len(target)))
    parts = [table[table["year"] == y] for y in (2016, 2015)]  # each radius-major already
    return parts, target[["radius_km", "year", "id"]], table


def test_parts_already_in_group_order_are_matched_without_hashing_the_text_keys():
    parts, target, table = _radius_major_world()
    keys = ["radius_km", "year", "id"]
    combined = pd.concat(parts, ignore_index=True)
    fast = _in_group_order(combined, keys, target)
    pd.testing.assert_frame_equal(fast, table)
    pd.testing.assert_frame_equal(in_order(parts, keys, target), table)
    swapped = [parts[0].iloc[[1, 0, 2, 3, 4, 5]], parts[1]]  # two ids of a group swapped
    assert _in_group_order(pd.concat(swapped, ignore_index=True), keys, target) is None
    pd.testing.assert_frame_equal(in_order(swapped, keys, target), table)


def test_a_text_key_that_differs_in_a_group_of_the_right_size_is_refused():
    parts, target, _ = _radius_major_world()
    wrong = parts[1].assign(id=parts[1]["id"].replace({"d": "z"}))
    with pytest.raises(RuntimeError, match="do not match"):
        in_order([parts[0], wrong], ["radius_km", "year", "id"], target)
