import json

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import shapely

from spillover.storage import (
    output_root_lock,
    publish,
    read_dataset,
    version_dir,
    write_dataset,
    write_internal,
)


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


def _files(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*.parquet"))}


@pytest.mark.parametrize("geometry", [None, "point", "circle"])
def test_a_run_table_read_by_arrow_is_written_as_its_pandas_frame(tmp_path, geometry):
    """Same bytes, pandas metadata included, whether the table comes as Arrow or as pandas.

    The columns whose pandas type depends on their nulls (a flag with a null: object, not
    bool) get their null only late in the table, past the first rows.
    """
    n = 40
    flag = pd.Series([True, False] * (n // 2), dtype=object)
    flag[31] = None
    counts = pd.array(range(n), dtype="Int64")
    counts[25] = pd.NA
    frame = pd.DataFrame(
        {
            "radius_km": np.repeat([5.0, 10.0], n // 2),
            "year": np.tile([2015, 2016], n // 2),
            "name": [f"町{i}" if i != 33 else None for i in range(n)],
            "flag": flag,
            "count": counts,
            "share": [np.nan if i == 37 else i / n for i in range(n)],
            "lat": [np.nan if i == 35 else 35 + i / 100 for i in range(n)],
            "lon": np.linspace(135, 136, n),
        }
    )
    fields = [
        pa.field("radius_km", pa.float64()),
        pa.field("year", pa.int32()),
        pa.field("name", pa.string()),
        pa.field("flag", pa.bool_()),
        pa.field("count", pa.int32()),
        pa.field("share", pa.float64()),
        pa.field("lat", pa.float64()),
        pa.field("lon", pa.float64()),
    ]
    if geometry is not None:
        fields.append(pa.field("geometry", pa.binary()))
    schema = pa.schema(fields, metadata={"spillover": "{}"})
    run_table = tmp_path / "table.parquet"
    frame.to_parquet(run_table, index=False)
    written = {}
    for read in ("pandas", "arrow"):
        rows = pd.read_parquet(run_table) if read == "pandas" else pq.read_table(run_table)
        folder = tmp_path / read
        write_dataset(
            rows, folder, partition_cols=["radius_km", "year"], schema=schema, geometry=geometry
        )
        written[read] = _files(folder)
    assert len(written["arrow"]) == 4
    assert written["arrow"] == written["pandas"]
    metadata = pq.read_schema(tmp_path / "arrow" / "radius_km_10" / "year_2016" / "part-0.parquet")
    types = {
        c["name"]: c["numpy_type"] for c in json.loads(metadata.metadata[b"pandas"])["columns"]
    }
    assert types["flag"] == "object" and types["count"] == "Int64"


def test_an_internal_table_reads_back_as_its_frame_without_statistics(tmp_path):
    rows = 50
    frame = pd.DataFrame(
        {
            "year": pd.array([2012 + i % 3 if i != 7 else None for i in range(rows)], "Int64"),
            "establishment_id": pd.array([f"E{i % 9}" if i != 3 else None for i in range(rows)]),
            "industry": pd.Categorical([f"{i % 4:02d}" for i in range(rows)]),
            "note": np.array([f"n{i % 2}" for i in range(rows)], dtype=object),
            "exports": np.arange(rows) / 7,
            "is_centre": np.arange(rows) % 2 == 0,
        }
    )
    frame.to_parquet(tmp_path / "pandas.parquet", index=False)
    write_internal(frame, tmp_path / "internal.parquet")
    internal = pd.read_parquet(tmp_path / "internal.parquet")
    pd.testing.assert_frame_equal(internal, pd.read_parquet(tmp_path / "pandas.parquet"))
    pd.testing.assert_frame_equal(internal, frame)
    group = pq.ParquetFile(tmp_path / "internal.parquet").metadata.row_group(0)
    chunks = {group.column(i).path_in_schema: group.column(i) for i in range(group.num_columns)}
    assert not any(chunk.is_stats_set for chunk in chunks.values())
    dictionary = {name for name, chunk in chunks.items() if chunk.dictionary_page_offset}
    assert dictionary == {"establishment_id", "industry", "note"}
