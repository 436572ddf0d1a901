import json

import duckdb
import pandas as pd

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
