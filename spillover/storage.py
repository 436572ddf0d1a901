"""Parquet datasets under the output root, published atomically, and the run manifest.

Layout of an output root::

    .spillover-output-root                      marks the folder as spillover's
    .lock                                       held by the publishing run (names it)
    .versions/<UTC time>.<run_id>/<dataset>/    one publication: datasets, manifest.json and
    .versions/<UTC time>.<run_id>/.complete       .complete (the manifest's SHA-256), last
    current -> .versions/<UTC time>.<run_id>    the published version (one symlink)
    <dataset> -> current/<dataset>              what analysts open (plants/, estimates/, ...)
    manifest.json -> current/manifest.json

A publication (:func:`version_dir`, :func:`write_datasets`, :func:`publish`) runs inside
:func:`output_root_lock`, so a second run waits for the first. It writes its version folder
completely, flushes it to disk, writes ``.complete`` last, then replaces the ``current``
symlink in one ``rename``: readers see either the old or the new version, never a mix, and a
run that crashes midway leaves the previous version published and an incomplete folder that
the next publication removes. Pruning keeps the newest ``keep`` complete versions (by name,
which starts with the UTC time) for a rollback (:func:`rollback`). Nothing that spillover did
not create is ever deleted: publishing into a non-empty folder without the marker, or over a
top-level entry that is not spillover's link, is refused.

Files are created with mode ``0o666`` and folders with ``0o777``, less the process umask
(0644 and 0755 under the usual umask 022; set umask 027 to keep other users out).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from spillover import locks
from spillover.config import Config
from spillover.datasets import DATASETS, Geometry
from spillover.errors import SpilloverError
from spillover.threads import usable_cores

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


class DatasetSchemaError(SpilloverError, ValueError):
    """A frame to publish whose columns differ from its entry in the data dictionary."""


#: Rows to publish: a pandas frame, or a run table read by Arrow (:func:`write_dataset`).
Frame = pd.DataFrame | pa.Table

#: Partition files of a dataset written at a time (the usable cores): nationally the
#: publish stage's Parquet encoding took 6.6 of its 14 s on one thread.
PARTITION_WRITERS = usable_cores(4)

#: Vertices of a neighbourhood circle in GeoParquet (:func:`geodesic_circles`).
CIRCLE_VERTICES = 64


def _folder(column: str, value: object) -> str:
    """Sub-folder of one partition value: ``radius_km_5``, ``radius_km_2.5``, ``year_2012``.

    Not hive's ``column=value``: readers would then take the column from the folder name and
    guess its type (``5`` → integer, ``5.0`` → text), so the columns stay in the files.
    """
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{column}_{value}"


def write_dataset(
    frame: Frame,
    directory: Path,
    *,
    partition_cols: list[str] | None = None,
    schema: pa.Schema | None = None,
    geometry: Geometry | None = None,
) -> None:
    """Write ``frame`` as a Parquet dataset, replacing ``directory``.

    Parameters
    ----------
    frame : pandas.DataFrame or pyarrow.Table
        The rows; with ``schema``, exactly its columns (any order). A table (a run table
        read by Arrow) is written as the frame pandas would read from it: same values, same
        pandas metadata, without a Python object per text value (nationally 0.5 GB for the
        plants against 0.9 GB).
    directory : pathlib.Path
        Dataset folder: ``part-0.parquet`` in it, or one sub-folder per partition value
        (:func:`_folder`), each holding a ``part-0.parquet`` with every column.
    partition_cols : list of str, optional
        Columns whose values name the sub-folders, in nesting order.
    schema : pyarrow.Schema, optional
        Types and field metadata to write (:meth:`spillover.datasets.Dataset.arrow_schema`)
        plus schema metadata; default: inferred from ``frame``.
    geometry : {"point", "circle"}, optional
        Fill the schema's ``geometry`` column (WKB) and write GeoParquet ``geo`` metadata
        (:func:`with_geometry`).
    """
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    if isinstance(frame, pa.Table):
        table, bounds = _typed_arrow(frame, schema, geometry)
        keys = table.select(partition_cols or []).to_pandas()
    else:
        table, bounds = _typed_pandas(frame, schema, geometry)
        keys = frame
    groups = {(): np.arange(table.num_rows)}
    if partition_cols and table.num_rows:
        found = keys.groupby(partition_cols, sort=True, dropna=False).indices
        groups = {key if isinstance(key, tuple) else (key,): rows for key, rows in found.items()}
    # where a partition starts in the table: its own rows when each is one run of rows (the
    # stages write years and radii in blocks, in any order), else they are taken end to end
    starts = [int(rows[0]) if len(rows) else 0 for rows in groups.values()]
    if any(len(rows) and rows[-1] - rows[0] + 1 != len(rows) for rows in groups.values()):
        table = table.take(np.concatenate(list(groups.values())))
        starts = np.cumsum([0, *map(len, groups.values())])[:-1].tolist()
    files = []
    for (key, rows), start in zip(groups.items(), starts, strict=True):
        folder = directory.joinpath(*map(_folder, partition_cols or (), key))
        folder.mkdir(parents=True, exist_ok=True)
        part = table.slice(start, len(rows))
        if geometry is not None:
            geo = geo_metadata(_total_bounds(bounds[rows]), geometry)
            part = part.replace_schema_metadata({**part.schema.metadata, b"geo": geo})
        files.append((part, folder / "part-0.parquet"))
    # each file is encoded on one thread (releasing the interpreter): partitions side by side
    with ThreadPoolExecutor(min(PARTITION_WRITERS, len(files))) as pool:
        list(pool.map(lambda file: pq.write_table(*file), files))


def _dataset_schema(dataset) -> pa.Schema:
    """The Arrow schema a dataset is written with: its dictionary's, with its description."""
    about = {"dataset": dataset.name, "access": dataset.access, "key": list(dataset.key)}
    about["description"] = dataset.description
    metadata = {"spillover": json.dumps(about, ensure_ascii=False)}
    return dataset.arrow_schema().with_metadata(metadata)


def dataset_sources(
    table_hashes: dict[str, str], tables: dict[str, list[str]]
) -> dict[str, str | None]:
    """Per dataset, SHA-256 of what it is written from: its run tables and its schema.

    ``table_hashes`` are the run directory's recorded table hashes
    (:func:`spillover.fingerprints.table_hashes`); ``tables`` names each dataset's tables in
    order. ``None`` when a table has no recorded hash (the dataset is then always written).
    """
    from spillover import __version__

    sources: dict[str, str | None] = {}
    for dataset in DATASETS:
        names = tables[dataset.name]
        if any(name not in table_hashes for name in names):
            sources[dataset.name] = None
            continue
        schema = _dataset_schema(dataset).serialize().to_pybytes()
        parts = [__version__, dataset.name, hashlib.sha256(schema).hexdigest()]
        parts += [f"{name}={table_hashes[name]}" for name in names]
        sources[dataset.name] = hashlib.sha256("\n".join(parts).encode()).hexdigest()
    return sources


def reusable_datasets(
    output_root: Path, sources: dict[str, str | None]
) -> dict[str, tuple[Path, int]]:
    """Datasets of the current publication made from the same ``sources``: folder and rows."""
    current = output_root / CURRENT
    if not current.is_symlink() or not is_complete(current.resolve()):
        return {}
    version = current.resolve()
    entries = json.loads((version / MANIFEST).read_text(encoding="utf-8")).get("datasets", {})
    return {
        name: (version / name, int(entries[name]["rows"]))
        for name, source in sources.items()
        if source is not None
        and entries.get(name, {}).get("source_sha256") == source
        and (version / name).is_dir()
    }


def link_tree(source: Path, target: Path) -> None:
    """Hard-link every file of folder ``source`` into ``target`` (copy where links fail)."""
    for path in sorted(source.rglob("*")):
        destination = target / path.relative_to(source)
        if path.is_dir():
            destination.mkdir(parents=True, exist_ok=True)
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, destination)
        except OSError:  # another file system, or one without hard links
            shutil.copy2(path, destination)


def write_datasets(
    version: Path,
    frames: Mapping[str, Frame | Callable[[], Frame]],
    *,
    linked: dict[str, Path] | None = None,
) -> dict[str, int]:
    """Write one frame per catalogued dataset into ``version``, as catalogued; rows written.

    Each dataset gets its dictionary's schema (types, field descriptions, units, Japanese
    labels), its partition folders and, for ``plants`` and ``neighbourhoods``, a GeoParquet
    geometry column. A dataset in ``linked`` is instead hard-linked from that folder (a
    dataset of an earlier publication, written from the same tables). A frame may be an
    Arrow table (:func:`write_dataset`), or a function that loads it: it is then loaded when
    written and let go right after, so only one dataset is in memory at a time.

    Raises
    ------
    DatasetSchemaError
        ``frames`` and ``linked`` do not name exactly the datasets of
        :data:`spillover.datasets.DATASETS` between them, or a frame has a column the
        dictionary lacks or lacks one it has.
    """
    linked = linked or {}
    expected = {dataset.name for dataset in DATASETS}
    if set(frames) | set(linked) != expected or set(frames) & set(linked):
        raise DatasetSchemaError(
            f"datasets to publish {sorted(frames)} and to link {sorted(linked)} differ from "
            f"the catalogue {sorted(expected)}"
        )
    written = {}
    for dataset in DATASETS:
        if dataset.name in linked:
            directory = version / dataset.name
            if directory.exists():
                shutil.rmtree(directory)
            link_tree(linked[dataset.name], directory)
            continue
        frame = frames[dataset.name]
        frame = frame() if callable(frame) else frame
        written[dataset.name] = len(frame)
        documented = set(dataset.column_names) - ({"geometry"} if dataset.geometry else set())
        names = frame.column_names if isinstance(frame, pa.Table) else list(frame.columns)
        undocumented = [c for c in names if c not in documented]
        missing = [c for c in dataset.column_names if c not in names and c in documented]
        if undocumented or missing:
            raise DatasetSchemaError(
                f"dataset {dataset.name}: columns {undocumented} are not in its data dictionary "
                f"and {missing} are missing; describe new columns (type, unit, meaning, "
                "Japanese label) in spillover/datasets.py and regenerate docs/datasets.md"
            )
        write_dataset(
            frame,
            version / dataset.name,
            partition_cols=list(dataset.partitions) or None,
            schema=_dataset_schema(dataset),
            geometry=dataset.geometry,
        )
    return written


def geodesic_circles(
    lat: np.ndarray, lon: np.ndarray, radius_km: np.ndarray, *, vertices: int = CIRCLE_VERTICES
) -> np.ndarray:
    """Polygons whose vertices lie ``radius_km`` from the centre along great circles.

    Parameters
    ----------
    lat, lon : numpy.ndarray
        Centres in degrees.
    radius_km : numpy.ndarray
        Radius of each circle in km, on the sphere of
        :data:`spillover.spatial.EARTH_RADIUS_KM` (the neighbour rule's).
    vertices : int
        Vertices per circle, at bearings 0°, 360°/n, …, listed counterclockwise.

    Returns
    -------
    numpy.ndarray of shapely.Polygon
        In lon/lat degrees; None where a centre or radius is missing.

    Notes
    -----
    Destination at bearing θ and angular distance δ = r / R from (φ₁, λ₁):
    φ₂ = asin(sin φ₁ cos δ + cos φ₁ sin δ cos θ),
    λ₂ = λ₁ + atan2(sin θ sin δ cos φ₁, cos δ − sin φ₁ sin φ₂).
    Edges between vertices are straight in lon/lat (GeoParquet ``edges: planar``); at 64
    vertices they cut inside the circle by at most r · (1 − cos(π/64)), 6 m at 5 km.
    """
    import shapely

    from spillover.spatial import EARTH_RADIUS_KM

    phi = np.radians(np.asarray(lat, dtype=float))[:, None]
    lam = np.radians(np.asarray(lon, dtype=float))[:, None]
    delta = (np.asarray(radius_km, dtype=float) / EARTH_RADIUS_KM)[:, None]
    bearing = -np.linspace(0.0, 2.0 * np.pi, vertices, endpoint=False)[None, :]
    phi2 = np.arcsin(np.sin(phi) * np.cos(delta) + np.cos(phi) * np.sin(delta) * np.cos(bearing))
    lam2 = lam + np.arctan2(
        np.sin(bearing) * np.sin(delta) * np.cos(phi), np.cos(delta) - np.sin(phi) * np.sin(phi2)
    )
    ring = np.stack([(np.degrees(lam2) + 540.0) % 360.0 - 180.0, np.degrees(phi2)], axis=-1)
    ring = np.concatenate([ring, ring[:, :1]], axis=1)
    valid = np.isfinite(ring).all(axis=(1, 2))
    polygons = np.full(len(ring), None, dtype=object)
    polygons[valid] = shapely.polygons(ring[valid])
    return polygons


def _typed_pandas(
    frame: pd.DataFrame, schema: pa.Schema | None, geometry: Geometry | None
) -> tuple[pa.Table, np.ndarray | None]:
    """``frame`` as the Arrow table to write (typed by ``schema``), and each row's bounds."""
    bounds = None
    if geometry is not None:
        frame, bounds = with_geometry(frame, geometry)
    if schema is None:
        return pa.Table.from_pandas(frame, preserve_index=False), bounds
    table = pa.Table.from_pandas(frame[schema.names], schema=schema, preserve_index=False)
    metadata = {**(table.schema.metadata or {}), **(schema.metadata or {})}
    return pa.Table.from_arrays(table.columns, schema=schema.with_metadata(metadata)), bounds


def _typed_arrow(
    table: pa.Table, schema: pa.Schema | None, geometry: Geometry | None
) -> tuple[pa.Table, np.ndarray | None]:
    """:func:`_typed_pandas` of the frame pandas reads from ``table``, without making it.

    The values are cast to ``schema`` as pandas' conversion would give them (run tables
    hold what pandas wrote: NaN is already null). The pandas metadata comes from a few rows
    holding each column's first null: a column's pandas type depends on its Arrow type,
    the stored pandas metadata and whether it has nulls, not on its other values. Without
    ``schema`` the table is written with its own types and metadata.
    """
    read, bounds = table, None
    if geometry is not None:
        lat, lon = _floats(table, "lat"), _floats(table, "lon")
        if geometry == "point":
            wkb, bounds = point_wkb(lon, lat)
        else:
            shapes, bounds = _circles(lat, lon, _floats(table, "radius_km"))
            wkb = pa.array(shapes, type=pa.binary())
        table = table.append_column("geometry", wkb)
    if schema is None:
        return table, bounds
    first_nulls = {
        int(pc.index(column.is_null(), True).as_py())
        for column in read.columns
        if column.null_count
    }
    sample = read.take(sorted({0} | first_nulls) if read.num_rows else []).to_pandas()
    if geometry is not None:
        sample = with_geometry(sample, geometry)[0]
    typed = pa.Table.from_pandas(sample[schema.names], schema=schema, preserve_index=False)
    metadata = {**(typed.schema.metadata or {}), **(schema.metadata or {})}
    columns = [table.column(field.name).cast(field.type) for field in schema]
    return pa.Table.from_arrays(columns, schema=schema.with_metadata(metadata)), bounds


def _floats(table: pa.Table, name: str) -> np.ndarray:
    """Column ``name`` of ``table`` as float64 (NaN where null)."""
    return table.column(name).to_numpy().astype(float)


def with_geometry(frame: pd.DataFrame, kind: Geometry) -> tuple[pd.DataFrame, np.ndarray]:
    """``frame`` with a ``geometry`` column of WKB (lon/lat degrees), and each row's bounds.

    ``point``: the point at ``lon, lat``; ``circle``: :func:`geodesic_circles` of
    ``radius_km`` around it. Rows without coordinates get a null geometry (NaN bounds). The
    bounds are ``xmin, ymin, xmax, ymax`` per row (degrees), as :func:`shapely.bounds`.
    """
    lat = frame["lat"].to_numpy(dtype=float, na_value=np.nan)
    lon = frame["lon"].to_numpy(dtype=float, na_value=np.nan)
    if kind == "point":
        wkb, bounds = point_wkb(lon, lat)
        return frame.assign(geometry=pd.arrays.ArrowExtensionArray(wkb)), bounds
    wkb, bounds = _circles(lat, lon, frame["radius_km"].to_numpy(dtype=float))
    return frame.assign(geometry=wkb), bounds


def _circles(
    lat: np.ndarray, lon: np.ndarray, radius_km: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """WKB (bytes objects) of :func:`geodesic_circles` and their bounds."""
    import shapely

    shapes = geodesic_circles(lat, lon, radius_km)
    return shapely.to_wkb(shapes), shapely.bounds(shapes)


#: One little-endian WKB point: byte order 1, geometry type 1, x, y (21 bytes).
_WKB_POINT = np.dtype([("order", "u1"), ("type", "<u4"), ("x", "<f8"), ("y", "<f8")])


def point_wkb(lon: np.ndarray, lat: np.ndarray) -> tuple[pa.BinaryArray, np.ndarray]:
    """WKB points at ``lon, lat`` (degrees; null where either is missing) and their bounds.

    Little-endian WKB (:func:`shapely.to_wkb`'s bytes on a little-endian machine), written
    straight into one Arrow buffer: no Python object per point (1.4·10⁶ plants: 0.06 s
    instead of 1.5–1.8 s through shapely). Bounds are ``lon, lat, lon, lat`` (NaN when null).
    """
    valid = np.isfinite(lat) & np.isfinite(lon)
    points = np.empty(int(valid.sum()), dtype=_WKB_POINT)
    points["order"], points["type"] = 1, 1
    points["x"], points["y"] = lon[valid], lat[valid]
    offsets = np.zeros(len(lon) + 1, dtype=np.int64)
    np.cumsum(np.where(valid, _WKB_POINT.itemsize, 0), out=offsets[1:])
    nulls = int(len(lon) - valid.sum())
    wkb = pa.Array.from_buffers(
        pa.large_binary(),
        len(lon),
        [
            pa.py_buffer(np.packbits(valid, bitorder="little")) if nulls else None,
            pa.py_buffer(offsets),
            pa.py_buffer(points.view(np.uint8)),
        ],
        null_count=nulls,
    ).cast(pa.binary())
    where = np.where(valid, 1.0, np.nan)
    bounds = np.column_stack([lon * where, lat * where, lon * where, lat * where])
    return wkb, bounds


def _total_bounds(bounds: np.ndarray) -> np.ndarray:
    """``xmin, ymin, xmax, ymax`` over rows' bounds, null geometries left out (NaN if none)."""
    found = bounds[~np.isnan(bounds[:, 0])]
    if not len(found):
        return np.full(4, np.nan)
    return np.r_[found[:, :2].min(axis=0), found[:, 2:].max(axis=0)]


def wkb_bounds(column: pa.ChunkedArray) -> np.ndarray:
    """``xmin, ymin, xmax, ymax`` (degrees) of a WKB column's geometries (NaN if none)."""
    import shapely

    shapes = shapely.from_wkb(column.to_numpy(zero_copy_only=False))
    return shapely.total_bounds(shapes) if len(shapes) else np.full(4, np.nan)


def geo_metadata(bounds: np.ndarray, kind: Geometry) -> bytes:
    """GeoParquet 1.1 ``geo`` metadata of one file's WKB ``geometry`` column.

    ``bounds`` (``xmin, ymin, xmax, ymax``) are its geometries'; the ``bbox`` is left out
    when there are none. No ``crs``: GeoParquet's default, OGC:CRS84 (WGS84 lon/lat), which
    JGD2011 coordinates match within a metre. A PROJJSON CRS would make DuckDB print it in
    every column type.
    """
    described: dict = {
        "encoding": "WKB",
        "geometry_types": ["Point"] if kind == "point" else ["Polygon"],
    }
    if kind == "circle":
        described["orientation"] = "counterclockwise"
    if np.isfinite(bounds).all():
        described["bbox"] = [float(b) for b in bounds]
    geo = {"version": "1.1.0", "primary_column": "geometry", "columns": {"geometry": described}}
    return json.dumps(geo).encode()


def read_dataset(directory: Path, *, year: int | None = None) -> pd.DataFrame:
    """Read a dataset written by :func:`write_dataset` (partition columns restored).

    ``year``: only that year's rows (a dataset partitioned by year reads one folder).
    """
    partitioning = ds.HivePartitioning.discover(infer_dictionary=False)
    filters = None if year is None else [("year", "=", year)]
    table = pq.read_table(directory, partitioning=partitioning, filters=filters)
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
    leaves no temporary file behind. The temporary file is created like any other file
    (mode ``0o666`` less the umask), so the result has the same mode as the Parquet files.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666))
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_internal(frame: pd.DataFrame, path: Path) -> None:
    """Write a table that only the package reads back (run directory, caches) as Parquet.

    Without column statistics (nothing filters these files by them; strings' minima and
    maxima are costly to find) and with dictionary pages for text columns only (measures
    rarely repeat): a national run's tables are written in ~6.1 s instead of ~8.4 s, ~30%
    larger, read as fast. The table read back is the same as with ``frame.to_parquet``.
    """
    table = pa.Table.from_pandas(frame, preserve_index=False)
    text = [
        field.name
        for field in table.schema
        if pa.types.is_string(field.type)
        or pa.types.is_large_string(field.type)
        or pa.types.is_dictionary(field.type)
    ]
    pq.write_table(table, path, write_statistics=False, use_dictionary=text)


def write_json_atomic(payload: dict, path: Path) -> None:
    """Write JSON to ``path`` atomically."""
    text = json.dumps(payload, ensure_ascii=False, indent=2, default=str)
    replace_atomically(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))


class PublishError(SpilloverError, RuntimeError):
    """An output root cannot be published into (not ours, a clash, no lock, bad rollback)."""


VERSIONS = ".versions"
CURRENT = "current"
MANIFEST = "manifest.json"
COMPLETE = ".complete"
ROOT_MARKER = ".spillover-output-root"
LOCK_NAME = ".lock"
_MARKER_TEXT = "spillover output root: see README 'Outputs'. Delete only as a whole.\n"
_STAMPED = re.compile(r"\d{8}T\d{6}\.\d{6}Z\.")
#: Top-level names a publication links into ``current/``.
_LINKS = (*sorted({dataset.name.split("/")[0] for dataset in DATASETS}), MANIFEST)


def _legacy_root(root: Path) -> bool:
    """An output root written before the marker existed (``current`` → ``.versions/…``)."""
    link = root / CURRENT
    return link.is_symlink() and os.readlink(link).startswith(f"{VERSIONS}/")


def check_output_root(output_root: Path) -> None:
    """Refuse, before any work, an output root that a publication would refuse.

    Raises
    ------
    PublishError
        ``output_root`` is a non-empty folder without the marker (and not spillover's older
        layout), or holds an entry of its own where a dataset's link goes.
    """
    root = Path(output_root)
    if not root.is_dir():
        if root.exists() or root.is_symlink():
            raise PublishError(f"output root {root} is a file, not a folder")
        return
    entries = sorted(p.name for p in root.iterdir())
    if entries and not (root / ROOT_MARKER).exists() and not _legacy_root(root):
        more = " …" if len(entries) > 8 else ""
        raise PublishError(
            f"output root {root} is not empty and has no {ROOT_MARKER} (it holds "
            f"{', '.join(entries[:8])}{more}): spillover deletes nothing it did not create, "
            "so set output_root to a new or empty folder, or move these entries away"
        )
    _check_links(root, _LINKS)


def _claim_root(root: Path) -> None:
    """Mark ``root`` as spillover's, refusing a non-empty folder that is not."""
    if (root / ROOT_MARKER).exists():
        return
    check_output_root(root)
    root.mkdir(parents=True, exist_ok=True)
    replace_atomically(
        root / ROOT_MARKER, lambda path: path.write_text(_MARKER_TEXT, encoding="utf-8")
    )


@contextmanager
def output_root_lock(
    output_root: Path, holder: str, *, timeout: float | None = None
) -> Iterator[Path]:
    """Claim ``output_root`` and hold its lock (``.lock``) for a publication.

    Parameters
    ----------
    output_root : pathlib.Path
        Created and marked if missing or empty.
    holder : str
        Who publishes (e.g. ``"run X, stage publish"``), quoted to runs that wait.
    timeout : float, optional
        Seconds to wait for another publication (:func:`spillover.locks.wait_limit`).

    Raises
    ------
    PublishError
        ``output_root`` is a non-empty folder that is not spillover's.
    spillover.locks.LockTimeout
        Another run kept publishing longer than ``timeout``.
    """
    root = Path(output_root)
    _claim_root(root)
    with locks.locked(root / LOCK_NAME, holder=holder, what="output root", timeout=timeout):
        yield root


def _require_lock(root: Path) -> None:
    if not locks.holds(root / LOCK_NAME):
        raise PublishError(
            f"publishing into {root} needs its lock: call version_dir … publish inside "
            "`with output_root_lock(output_root, holder)` (pipeline.run_stage does)"
        )


def _check_links(root: Path, names: list[str] | tuple[str, ...]) -> None:
    """Refuse top-level entries in the way that are not spillover's links into current/."""
    clashes = [
        name
        for name in names
        if ((root / name).exists() or (root / name).is_symlink())
        and not ((root / name).is_symlink() and os.readlink(root / name) == f"{CURRENT}/{name}")
    ]
    if clashes:
        raise PublishError(
            f"output root {root}: {', '.join(clashes)} not spillover's link(s) into {CURRENT}/ "
            "(left from an older layout, or yours?); spillover does not delete them: move them "
            "away and publish again"
        )


def version_dir(output_root: Path, run_id: str) -> Path:
    """A new, empty folder for one publication of a run (``<UTC time>.<run_id>``).

    Every publication gets its own folder, so re-publishing a run never rewrites the
    version readers are looking at. Call it inside :func:`output_root_lock`.

    Raises
    ------
    PublishError
        Without the lock, or when a top-level dataset name is taken by something else.
    """
    root = Path(output_root)
    _require_lock(root)
    _check_links(root, _LINKS)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    folder = root / VERSIONS / f"{stamp}.{run_id}"
    folder.mkdir(parents=True)
    return folder


def _fsync(path: Path, flags: int = os.O_RDONLY) -> None:
    fd = os.open(path, flags | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sync_tree(folder: Path) -> None:
    """Flush every file and folder under ``folder`` to disk (a power cut keeps them)."""
    for parent, _, files in os.walk(folder):
        for name in files:
            _fsync(Path(parent) / name)
        _fsync(Path(parent), os.O_DIRECTORY)


def _symlink_atomic(target: str, link: Path) -> None:
    """Point ``link`` at ``target`` (relative), replacing it in one rename."""
    temporary = link.with_name(f".{link.name}.tmp")
    if temporary.is_symlink() or temporary.exists():
        temporary.unlink()
    temporary.symlink_to(target)
    os.replace(temporary, link)
    _fsync(link.parent, os.O_DIRECTORY)


def is_complete(version: Path) -> bool:
    """Whether ``version`` has ``.complete`` holding the SHA-256 of its ``manifest.json``."""
    try:
        marker = (version / COMPLETE).read_text(encoding="utf-8").strip()
        manifest = (version / MANIFEST).read_bytes()
    except FileNotFoundError:
        return False
    return marker == hashlib.sha256(manifest).hexdigest()


def _age(version: Path) -> tuple[bool, str]:
    """Sort key of a version folder, oldest first.

    Names start with the UTC time; folders named ``<run_id>.<time>`` (written before the time
    came first) are older than all others.
    """
    return bool(_STAMPED.match(version.name)), version.name


def _versions(root: Path) -> tuple[list[Path], list[Path]]:
    """Complete and incomplete version folders, oldest first (:func:`_age`)."""
    folder = root / VERSIONS
    found = sorted((p for p in folder.iterdir() if p.is_dir()), key=_age) if folder.is_dir() else []
    complete = [p for p in found if is_complete(p)]
    return complete, [p for p in found if p not in complete]


def _current_name(root: Path) -> str | None:
    link = root / CURRENT
    return Path(os.readlink(link)).name if link.is_symlink() else None


def _remove_version(version: Path) -> None:
    """Delete a version; it stops counting as complete before any data file goes."""
    (version / COMPLETE).unlink(missing_ok=True)
    shutil.rmtree(version, ignore_errors=True)


def _prune(root: Path, keep: int, protected: set[str | None]) -> None:
    """Keep the newest ``keep`` complete versions; drop incomplete ones older than them.

    Under the output root's lock no other publication is in progress, so an incomplete
    version is one whose run crashed. Versions named in ``protected`` stay.
    """
    complete, incomplete = _versions(root)
    newest = _age(complete[-1]) if complete else (False, "")
    old = complete[: max(len(complete) - keep, 0)]
    for version in [*old, *(v for v in incomplete if _age(v) < newest)]:
        if version.name not in protected:
            _remove_version(version)


def publish(version: Path, output_root: Path, manifest: dict, *, keep: int = 2) -> list[str]:
    """Write ``manifest.json`` and ``.complete`` into ``version`` and make it current.

    Parameters
    ----------
    version : pathlib.Path
        From :func:`version_dir`, with the datasets written.
    output_root : pathlib.Path
        Its output root, whose lock (:func:`output_root_lock`) the caller holds.
    manifest : dict
        The manifest (:func:`build_manifest`).
    keep : int
        Complete versions to keep, this one included; the version ``current`` pointed to
        before (e.g. after a :func:`rollback`) is kept as well. The rest is deleted.

    Returns
    -------
    list of str
        The dataset names (top-level folders of ``version``).
    """
    root = Path(output_root)
    _require_lock(root)
    names = sorted(p.name for p in version.iterdir() if p.is_dir())
    _check_links(root, [*names, MANIFEST])
    write_json_atomic(manifest, version / MANIFEST)
    _sync_tree(version)
    digest = hashlib.sha256((version / MANIFEST).read_bytes()).hexdigest()
    replace_atomically(version / COMPLETE, lambda path: path.write_text(digest + "\n"))
    _fsync(version, os.O_DIRECTORY)
    previous = _current_name(root)
    _symlink_atomic(f"{VERSIONS}/{version.name}", root / CURRENT)
    for name in [*names, MANIFEST]:
        if not (root / name).is_symlink():
            (root / name).symlink_to(f"{CURRENT}/{name}")
    _prune(root, keep, {version.name, previous})
    return names


def rollback(output_root: Path, *, to: str | None = None) -> str:
    """Point ``current`` at an earlier complete version; return its name.

    Parameters
    ----------
    output_root : pathlib.Path
        A spillover output root.
    to : str, optional
        A version folder name under ``.versions/``; by default the newest complete version
        older than the current one.

    Raises
    ------
    PublishError
        Not an output root, or no such complete version (the message lists them).
    """
    root = Path(output_root)
    if not (root / ROOT_MARKER).exists():
        raise PublishError(f"{root} is not a spillover output root (no {ROOT_MARKER})")
    with locks.locked(root / LOCK_NAME, holder="rollback", what="output root"):
        names = [v.name for v in _versions(root)[0]]
        live = _current_name(root)
        older = names[: names.index(live)] if live in names else []
        target = to if to is not None else (older[-1] if older else None)
        if target is None or target not in names:
            wanted = repr(to) if to is not None else f"a complete version older than {live!r}"
            raise PublishError(
                f"{root}: cannot roll back to {wanted}; complete versions (with {COMPLETE}): "
                f"{', '.join(names) or 'none'}"
            )
        _symlink_atomic(f"{VERSIONS}/{target}", root / CURRENT)
    return target


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
    sources: dict[str, str | None] | None = None,
) -> dict:
    """The publication's ``manifest.json``: provenance, row accounting and disclosure.

    ``reports`` are the stage reports by name, ``rows`` the row count of each dataset,
    ``disclosure`` the rule and suppression summary of the disclosure-controlled tables,
    ``sources`` what each dataset was written from (:func:`dataset_sources`).
    """
    sources = sources or {}
    access = {dataset.name: dataset.access for dataset in DATASETS}
    return {
        "run_id": run_id,
        "project": config.project,
        "created": datetime.now(UTC).isoformat(),
        "config_path": config_path,
        "config_sha256": config.digest(),
        "config_overrides": list(config.overrides),
        "years": list(config.years),
        "radii_km": list(config.neighbourhoods.radii_km),
        "inputs": [
            {"table": s["table"], "source": s["source"], "file": s["file"], "sha256": s["sha256"]}
            for s in reports.get("ingest", {}).get("sources", [])
        ],
        "packages": package_versions(),
        # match rates per survey pair and year, crosswalk counts (spillover.linkage)
        "linkage": reports.get("ingest", {}).get("linkage", {}),
        "stages": {
            name: {key: value for key, value in report.items() if key in _STAGE_SUMMARY}
            for name, report in reports.items()
        },
        "stage_details": reports,
        "datasets": {
            name: {"rows": count, "class": access[name], "source_sha256": sources.get(name)}
            for name, count in rows.items()
        },
        "disclosure": {
            **disclosure,
            "not_for_release": [d.name for d in DATASETS if d.access == "confidential"],
        },
    }
