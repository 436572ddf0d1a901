import json

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import shapely

from spillover.storage import output_root_lock, publish, read_dataset, version_dir, write_dataset


def _publish(root, run_id, value, *, keep=2):
    with output_root_lock(root, f"run {run_id}"):
        version = version_dir(root, run_id)
        frame = pd.DataFrame({"year": [2015, 2016], "value": [value, value + 1.0]})
        write_dataset(frame, version / "things", partition_cols=["year"])
        write_dataset(frame.iloc[:0], version / "empty", partition_cols=["year"])
        publish(version, root, {"run_id": run_id}, keep=keep)
    return version


def test_republishing_switches_versions_and_keeps_the_previous_one(tmp_path):
    first = _publish(tmp_path, "demo", 1.0)
    second = _publish(tmp_path, "demo", 10.0)
    assert first != second and first.exists() and second.exists()
    assert (tmp_path / "current").resolve() == second.resolve()
    assert read_dataset(tmp_path / "things").sort_values("year")["value"].tolist() == [10.0, 11.0]
    assert json.loads((tmp_path / "manifest.json").read_text())["run_id"] == "demo"
    third = _publish(tmp_path, "demo", 100.0)
    assert not first.exists() and second.exists() and third.exists()


def test_empty_dataset_keeps_its_schema_for_readers(tmp_path):
    _publish(tmp_path, "r", 1.0)
    empty = read_dataset(tmp_path / "empty")
    assert list(empty.columns) == ["year", "value"] and empty.empty
    path = str(tmp_path / "empty" / "**" / "*.parquet")
    count = duckdb.sql(f"SELECT count(*) FROM read_parquet('{path}', hive_partitioning = true)")
    assert count.fetchall() == [(0,)]


def test_a_crash_before_publish_leaves_the_old_version(tmp_path):
    _publish(tmp_path, "good", 1.0)
    with output_root_lock(tmp_path, "run crashed"):
        unfinished = version_dir(tmp_path, "crashed")
        write_dataset(pd.DataFrame({"year": [2015], "value": [-1.0]}), unfinished / "things")
        # no publish(): the run died here
    assert read_dataset(tmp_path / "things")["value"].min() == 1.0


@pytest.mark.parametrize("kind", ["point", "circle"])
def test_each_part_carries_the_bbox_of_its_own_geometries(tmp_path, kind):
    """GeoParquet ``bbox`` per file: the bounds of that file's decoded geometries (nulls out)."""
    rng = np.random.default_rng(7)
    n = 60
    frame = pd.DataFrame(
        {
            "year": rng.choice([2015, 2016, 2017], n),
            "lat": rng.uniform(33, 36, n),
            "lon": rng.uniform(130, 140, n),
            "radius_km": 5.0,
        }
    )
    frame.loc[frame["year"] == 2017, ["lat", "lon"]] = np.nan  # a part of null geometries
    frame.loc[3, ["lat", "lon"]] = np.nan
    write_dataset(frame, tmp_path / "d", partition_cols=["year"], geometry=kind)
    for path in sorted((tmp_path / "d").rglob("*.parquet")):
        table = pq.read_table(path)
        described = json.loads(table.schema.metadata[b"geo"])["columns"]["geometry"]
        shapes = shapely.from_wkb(table["geometry"].to_numpy(zero_copy_only=False))
        shapes = shapes[~shapely.is_missing(shapes)]
        if len(shapes):
            assert described["bbox"] == list(shapely.total_bounds(shapes))
        else:
            assert "bbox" not in described


@pytest.mark.parametrize("order", ["sorted", "reversed", "interleaved"])
def test_each_partition_holds_its_rows_in_the_frames_order(tmp_path, order):
    """Partitions get their own rows, in frame order, whether or not the frame is grouped."""
    frame = pd.DataFrame(
        {
            "radius_km": [5.0, 5.0, 5.0, 10.0, 10.0, 10.0],
            "year": [2015, 2015, 2016, 2015, 2016, 2016],
            "value": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        }
    )
    rows = {"sorted": [0, 1, 2, 3, 4, 5], "reversed": [5, 4, 3, 2, 1, 0]}
    frame = frame.iloc[rows.get(order, [0, 3, 2, 4, 1, 5])].reset_index(drop=True)
    write_dataset(frame, tmp_path / "d", partition_cols=["radius_km", "year"])
    for (radius, year), expected in frame.groupby(["radius_km", "year"]):
        part = pd.read_parquet(tmp_path / "d" / f"radius_km_{radius:g}" / f"year_{year}")
        assert part["value"].tolist() == expected["value"].tolist()
