"""The block store: what secondary suppression found in a block, kept across runs."""

from __future__ import annotations

import os
import time

import numpy as np
import pandas as pd
import pytest
from disclosure_world import centre, plant, world
from test_disclosure import _random_world, _yearly_release

from spillover.disclosure_blocks import KEEP_DAYS, BlockStore
from spillover.disclosure_span import LinearRelease
from spillover.neighbourhoods import VALUE_COLUMNS

KEYS = ["radius_km", "year", "centre_id"]


def _published(cells: pd.DataFrame) -> np.ndarray:
    """About 60 % of values published, decided by each cell's key (the same in every release)."""
    digest = pd.util.hash_pandas_object(cells[KEYS], index=False).to_numpy()
    return (digest[:, None] >> np.arange(len(VALUE_COLUMNS), dtype=np.uint64) * 8) % 10 < 6


@pytest.mark.parametrize("seed", range(3))
def test_a_year_added_takes_the_earlier_years_blocks_from_the_store(tmp_path, seed):
    """Three years after two: the first two years' blocks come from the store, same findings."""
    worlds = [_random_world(seed + 10 * y)[0] for y in range(3)]
    cells, members = _yearly_release(worlds[:2])
    earlier = BlockStore(tmp_path)
    LinearRelease(cells, members, [], earlier).disclosures(_published(cells), 3)
    earlier.close()
    assert earlier.computed > 0 and earlier.loaded == 0

    cells, members = _yearly_release(worlds)  # every later cell's number moves
    store = BlockStore(tmp_path)
    found = LinearRelease(cells, members, [], store).disclosures(_published(cells), 3)
    assert found == LinearRelease(cells, members, []).disclosures(_published(cells), 3)
    assert any(f.kind == "small" for f in found)
    assert store.loaded >= earlier.computed + earlier.repeated  # every block of 2015–2016
    assert store.computed > 0  # 2017's


def _one_block(first: dict, second: dict):
    """Cells at 2 and 4 km of one centre: the ring holds two plants of ``first``, ``second``.

    Inside 2 km: two plants and one whose exports are imputed with a ratio of 10 %, which
    joins the shipments and exports values into one block.
    """
    plants = world(
        centre("C", km=0.0),
        plant("P03", 1.0, shipments=100.0, exports=10.0, export_method="industry_ratio"),
        plant("P04", 1.0, employees=0.0),
        plant("P05", 1.0, employees=0.0),
        plant("P01", 3.0, employees=0.0, **first),
        plant("P02", 3.0, employees=0.0, **second),
    )
    return _yearly_release([plants])


def test_a_block_of_the_same_numbers_owned_otherwise_is_searched_again(tmp_path):
    """The ring's shipments and exports from two plants, then from one: same matrix, not kept.

    From two plants they are two values of one establishment each; from one plant, one set of
    one establishment (its shipments and its exports).
    """
    apart = _one_block({"shipments": 7.0}, {"shipments": 0.0, "exports": 5.0})
    together = _one_block({"shipments": 7.0, "exports": 5.0}, {"shipments": 0.0})
    found = {}
    for name, (cells, members) in (("apart", apart), ("together", together)):
        store = BlockStore(tmp_path)
        published = np.ones((len(cells), len(VALUE_COLUMNS)), dtype=bool)
        found[name] = LinearRelease(cells, members, [], store).disclosures(published, 3)
        store.close()
        assert found[name] == LinearRelease(cells, members, []).disclosures(published, 3)
    ring = {"apart": [("P01",), ("P02",)], "together": [("P01",)]}
    for name, establishments in ring.items():
        assert sorted(f.establishments for f in found[name] if "P03" not in f.establishments) == [
            *establishments,
            ("P04", "P05"),
        ]


def test_entries_come_back_as_kept_and_unused_ones_expire(tmp_path):
    store = BlockStore(tmp_path)
    full = tuple(np.arange(n, dtype=np.int64) for n in (3, 1, 4, 2))
    empty = tuple(np.zeros(0, dtype=np.int64) for _ in range(4))
    store.put("full", full)
    store.put("empty", empty)
    store.put("old", full)
    store._used["old"] = time.time() - (KEEP_DAYS + 1) * 86400
    store.close()

    again = BlockStore(tmp_path)
    for key, entry in (("full", full), ("empty", empty)):
        kept = again.get(key)
        assert len(kept) == 4
        for array, expected in zip(kept, entry, strict=True):
            np.testing.assert_array_equal(array, expected)
            assert array.dtype == np.int64
    assert again.get("old") is None
    assert (again.loaded, again.computed) == (2, 1)


def test_an_unreadable_file_is_searched_again_and_replaced(tmp_path):
    store = BlockStore(tmp_path)
    store.path.write_bytes(b"cut short")
    again = BlockStore(tmp_path)
    assert again.get("any") is None
    again.put("any", tuple(np.ones(1, dtype=np.int64) for _ in range(4)))
    again.close()
    assert BlockStore(tmp_path).get("any") is not None


def test_keys_tell_dtype_and_shape_apart(tmp_path):
    store = BlockStore(None)
    values = np.arange(4, dtype=np.int64)
    keys = {
        store.key(values),
        store.key(values.view(np.float64)),
        store.key(values.reshape(2, 2)),
        store.key(values[:2], values[2:]),
        store.key(values[:3], values[3:]),
    }
    assert len(keys) == 5
    assert store.key(values) == BlockStore(tmp_path).key(values.copy())


def test_files_of_other_code_are_removed_once_unused_for_the_keep_days(tmp_path):
    store = BlockStore(tmp_path)
    store.put("kept", tuple(np.ones(1, dtype=np.int64) for _ in range(4)))
    store.close()
    stale, recent = tmp_path / "blocks-stale.parquet", tmp_path / "blocks-recent.parquet"
    for path in (stale, recent):
        path.write_bytes(b"")
    old = time.time() - (KEEP_DAYS + 1) * 86400
    os.utime(stale, (old, old))
    os.utime(store.path, (old, old))  # this code's file: kept, whatever its age
    store.prune()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([recent.name, store.path.name])


def test_a_store_that_looked_nothing_up_writes_nothing(tmp_path):
    BlockStore(tmp_path).close()  # a stage whose suppression came from the cache
    assert not tmp_path.exists() or not any(tmp_path.iterdir())
