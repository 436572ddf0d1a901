"""Parquet datasets under the output root, written atomically, and the run manifest.

A run writes every dataset into ``<output_root>/.staging/<run_id>/`` first. Publishing moves
each finished dataset into place with directory renames (the previous version is parked in
``.previous/`` until the new one is in), then replaces ``manifest.json`` atomically, so a
crashed run leaves the previous good version readable.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from importlib import metadata
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

PACKAGES = (
    "spillover",
    "pandas",
    "numpy",
    "pyarrow",
    "linearmodels",
    "geopandas",
    "shapely",
    "scipy",
    "duckdb",
    "apache-airflow",
)


def write_dataset(
    frame: pd.DataFrame, directory: Path, *, partition_cols: list[str] | None = None
) -> None:
    """Write ``frame`` as a (hive-partitioned) Parquet dataset, replacing ``directory``."""
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    if partition_cols:
        pq.write_to_dataset(
            table,
            directory,
            partition_cols=partition_cols,
            basename_template="part-{i}.parquet",
            existing_data_behavior="overwrite_or_ignore",
        )
    else:
        pq.write_table(table, directory / "part-0.parquet")


def read_dataset(directory: Path) -> pd.DataFrame:
    """Read a dataset written by :func:`write_dataset` (partition columns restored)."""
    partitioning = ds.HivePartitioning.discover(infer_dictionary=False)
    table = pq.read_table(directory, partitioning=partitioning)
    written = {
        c["name"]: c["numpy_type"] for c in (table.schema.pandas_metadata or {}).get("columns", [])
    }
    frame = table.to_pandas()
    # hive partition values come back as inferred types ("5.0" -> int): restore the written ones
    for name in frame.columns:
        if name in written and str(frame[name].dtype) != written[name]:
            frame[name] = frame[name].astype(written[name])
    return frame


def write_json_atomic(payload: dict, path: Path) -> None:
    """Write JSON to a temporary file in the same folder and rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", dir=path.parent, delete=False, suffix=".tmp", encoding="utf-8"
    ) as handle:
        json.dump(payload, handle, ensure_ascii=False, indent=2, default=str)
        temporary = Path(handle.name)
    os.replace(temporary, path)


def publish(staging: Path, output_root: Path, manifest: dict) -> list[str]:
    """Move every dataset of ``staging`` under ``output_root``; write ``manifest.json`` last."""
    output_root.mkdir(parents=True, exist_ok=True)
    parked = output_root / ".previous"
    if parked.exists():
        shutil.rmtree(parked)
    parked.mkdir()
    names = sorted(p.name for p in staging.iterdir() if p.is_dir())
    for relative in names:
        target = output_root / relative
        if target.exists():
            os.replace(target, parked / relative)
        os.replace(staging / relative, target)
    write_json_atomic(manifest, output_root / "manifest.json")
    shutil.rmtree(parked)
    shutil.rmtree(staging, ignore_errors=True)
    return names


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that shape the results."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions
