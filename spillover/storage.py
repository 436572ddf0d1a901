"""Parquet datasets under the output root, published atomically, and the run manifest.

Layout of an output root::

    .versions/<run_id>.<time>/<dataset>/...   one publication: datasets and manifest.json
    current -> .versions/<run_id>.<time>      the published version (one symlink)
    <dataset> -> current/<dataset>     what analysts open (plants/, estimates/, ...)
    manifest.json -> current/manifest.json

A run writes its version folder completely, then replaces the ``current`` symlink in one
``rename``: readers see either the old or the new version, never a mix, and a run that
crashes midway leaves the previous version published. The previous version is kept (for a
rollback: point ``current`` at it); older ones are removed.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from spillover.config import Config
from spillover.datasets import DATASETS

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
    if partition_cols and len(frame):
        pq.write_to_dataset(
            table,
            directory,
            partition_cols=partition_cols,
            basename_template="part-{i}.parquet",
            existing_data_behavior="overwrite_or_ignore",
        )
    else:
        pq.write_table(table, directory / "part-0.parquet")


def write_datasets(version: Path, frames: dict[str, pd.DataFrame]) -> None:
    """Write one frame per catalogued dataset into ``version``, partitioned as catalogued.

    ``frames`` must name exactly the datasets of :data:`spillover.datasets.DATASETS`.
    """
    expected = {dataset.name for dataset in DATASETS}
    if set(frames) != expected:
        raise ValueError(
            f"datasets to publish {sorted(frames)} differ from the catalogue {sorted(expected)}"
        )
    for dataset in DATASETS:
        write_dataset(
            frames[dataset.name],
            version / dataset.name,
            partition_cols=list(dataset.partitions) or None,
        )


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


def replace_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """Call ``write(temporary)`` on a file in ``path``'s folder, then rename it over ``path``.

    Readers see the old file or the new one, never a half-written one; a failed write
    leaves no temporary file behind.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(descriptor)
    temporary = Path(name)
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_json_atomic(payload: dict, path: Path) -> None:
    """Write JSON to ``path`` atomically."""
    text = json.dumps(payload, ensure_ascii=False, indent=2, default=str)
    replace_atomically(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))


def version_dir(output_root: Path, run_id: str) -> Path:
    """A new, empty folder for one publication of a run (``<run_id>.<UTC time>``).

    Every publication gets its own folder, so re-publishing a run never rewrites the
    version readers are looking at.
    """
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    folder = output_root / ".versions" / f"{run_id}.{stamp}"
    folder.mkdir(parents=True)
    return folder


def _symlink_atomic(target: str, link: Path) -> None:
    """Point ``link`` at ``target`` (relative), replacing it in one rename."""
    temporary = link.with_name(f".{link.name}.tmp")
    if temporary.is_symlink() or temporary.exists():
        temporary.unlink()
    temporary.symlink_to(target)
    os.replace(temporary, link)


def publish(version: Path, output_root: Path, manifest: dict, *, keep: int = 2) -> list[str]:
    """Write ``manifest.json`` into ``version`` and make it the published version.

    Returns the dataset names (top-level folders of ``version``).
    """
    write_json_atomic(manifest, version / "manifest.json")
    names = sorted(p.name for p in version.iterdir() if p.is_dir())
    _symlink_atomic(f".versions/{version.name}", output_root / "current")
    for name in [*names, "manifest.json"]:
        link = output_root / name
        if link.is_symlink():
            continue
        if link.exists():  # a folder from before versioned publishing
            shutil.rmtree(link) if link.is_dir() else link.unlink()
        link.symlink_to(f"current/{name}")
    versions = sorted((output_root / ".versions").iterdir(), key=lambda p: p.stat().st_mtime)
    for old in versions[:-keep]:
        if old.name != version.name:
            shutil.rmtree(old, ignore_errors=True)
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


#: Report fields summarised per stage in the manifest.
_STAGE_SUMMARY = ("rows_in", "rows_out", "rows_quarantined", "seconds")


def build_manifest(
    *,
    run_id: str,
    config: Config,
    config_path: str,
    reports: dict[str, dict],
    rows: dict[str, int],
    disclosure: dict,
) -> dict:
    """The publication's ``manifest.json``: provenance, row accounting and disclosure.

    ``reports`` are the stage reports by name, ``rows`` the row count of each dataset,
    ``disclosure`` the rule and suppression summary of the disclosure-controlled tables.
    """
    access = {dataset.name: dataset.access for dataset in DATASETS}
    return {
        "run_id": run_id,
        "project": config.project,
        "created": datetime.now(UTC).isoformat(),
        "config_path": config_path,
        "config_sha256": config.digest(),
        "years": list(config.years),
        "radii_km": list(config.neighbourhoods.radii_km),
        "inputs": [
            {"table": s["table"], "source": s["source"], "file": s["file"], "sha256": s["sha256"]}
            for s in reports.get("ingest", {}).get("sources", [])
        ],
        "packages": package_versions(),
        "stages": {
            name: {key: value for key, value in report.items() if key in _STAGE_SUMMARY}
            for name, report in reports.items()
        },
        "stage_details": reports,
        "datasets": {name: {"rows": count, "class": access[name]} for name, count in rows.items()},
        "disclosure": {
            **disclosure,
            "not_for_release": [d.name for d in DATASETS if d.access == "confidential"],
        },
    }
