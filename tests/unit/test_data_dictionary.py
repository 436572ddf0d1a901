"""The data dictionary: generated files, schema enforcement, layout and geodesic circles."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import shapely

from spillover.datasets import ARROW_TYPES, DATASETS, dataset, markdown
from spillover.sql import SQL_DIR, connect, views_sql
from spillover.storage import (
    DatasetSchemaError,
    geodesic_circles,
    point_wkb,
    with_geometry,
    write_dataset,
    write_datasets,
)

REPO = Path(__file__).resolve().parents[2]
_PANDAS = {"string": "str", "int64": "Int64", "double": "float64", "bool": "bool"}


def _haversine_km(lat1, lon1, lat2, lon2):
    from spillover.spatial import EARTH_RADIUS_KM

    p1, p2, dl = np.radians(lat1), np.radians(lat2), np.radians(lon2 - lon1)
    h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(h))


def _empty_frames() -> dict[str, pd.DataFrame]:
    """One empty frame per dataset with exactly its documented columns."""
    return {
        d.name: pd.DataFrame(
            {c.name: pd.Series(dtype=_PANDAS[c.type]) for c in d.columns if c.type != "geometry"}
        )
        for d in DATASETS
    }


def test_docs_datasets_md_is_generated_from_the_dictionary():
    text = (REPO / "docs" / "datasets.md").read_text(encoding="utf-8")
    assert text == markdown(), "regenerate: python -m spillover.datasets > docs/datasets.md"
    assert "| `share_exports_excess` | double | share 0–1 |" in text


def test_views_sql_is_generated_from_the_dictionary():
    text = (SQL_DIR / "views.sql").read_text(encoding="utf-8")
    assert text == views_sql(), "regenerate: python -m spillover.sql > sql/views.sql"
    for d in DATASETS:
        assert f"CREATE OR REPLACE VIEW {d.view} AS" in text
        assert f"'/{d.name}/**/*.parquet'" in text


def test_every_column_has_a_known_type_unit_and_japanese_label():
    for d in DATASETS:
        for c in d.columns:
            assert c.type in ARROW_TYPES and c.meaning.endswith(".") and c.label_ja, c


def test_unknown_dataset_lists_the_catalogue():
    assert dataset("public_neighbourhoods").name == "public/neighbourhoods"
    with pytest.raises(KeyError, match=r"no dataset 'nope'; the datasets are: plants \(conf"):
        dataset("nope")


def test_written_schema_and_comments_come_from_the_dictionary(tmp_path):
    write_datasets(tmp_path, _empty_frames())
    for d in DATASETS:
        schema = pq.read_schema(next((tmp_path / d.name).rglob("*.parquet")))
        assert schema.names == d.column_names
        for c in d.columns:
            field = schema.field(c.name)
            assert field.type == ARROW_TYPES[c.type]
            assert field.metadata[b"description"].decode() == c.meaning
            assert field.metadata[b"label_ja"].decode() == c.label_ja
        assert json.loads(schema.metadata[b"spillover"])["access"] == d.access
    [(comment,)] = (
        connect(tmp_path)
        .execute(
            "SELECT comment FROM duckdb_columns() WHERE table_name = 'overlap' "
            "AND column_name = 'share_exports_excess'"
        )
        .fetchall()
    )
    assert comment.endswith("(footnote 241). [share 0–1] 輸出額の重複計上比率（比率）")


def test_a_column_missing_from_the_dictionary_is_refused(tmp_path):
    frames = _empty_frames()
    frames["estimates"] = frames["estimates"].assign(aic=pd.Series(dtype=float))
    with pytest.raises(DatasetSchemaError, match=r"estimates: columns \['aic'\] are not in"):
        write_datasets(tmp_path, frames)
    frames = _empty_frames()
    frames["overlap"] = frames["overlap"].drop(columns="share_exports_excess")
    with pytest.raises(DatasetSchemaError, match=r"\['share_exports_excess'\] are missing"):
        write_datasets(tmp_path, frames)


def test_partition_folders_keep_the_written_types_for_every_reader(tmp_path):
    frame = pd.DataFrame(
        {"radius_km": [2.5, 5.0, 10.0], "year": pd.array([2012, 2012, 2013], dtype="Int64")}
    ).assign(value=[1.0, 2.0, 3.0])
    write_dataset(frame, tmp_path / "d", partition_cols=["radius_km", "year"])
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == [
        "radius_km_10",
        "radius_km_2.5",
        "radius_km_5",
    ]
    read = pd.read_parquet(tmp_path / "d").sort_values("value", ignore_index=True)
    pd.testing.assert_frame_equal(read, frame)


def test_geodesic_circle_vertices_lie_at_the_radius_counterclockwise():
    lat, lon, radius = np.array([35.0, 43.06]), np.array([137.0, 141.35]), np.array([5.0, 10.0])
    circles = geodesic_circles(lat, lon, radius, vertices=64)
    for centre_lat, centre_lon, r, circle in zip(lat, lon, radius, circles, strict=True):
        ring = np.asarray(circle.exterior.coords)
        assert len(ring) == 65 and circle.exterior.is_ccw
        distance = _haversine_km(centre_lat, centre_lon, ring[:, 1], ring[:, 0])
        np.testing.assert_allclose(distance, r, rtol=1e-9)
        assert shapely.contains_xy(circle, centre_lon, centre_lat)
    assert geodesic_circles(np.array([np.nan]), np.array([137.0]), np.array([5.0]))[0] is None


def test_point_wkb_is_shapelys_wkb_with_nulls_and_bounds():
    rng = np.random.default_rng(7)
    lon, lat = rng.uniform(122, 154, 500), rng.uniform(20, 46, 500)
    lon[[3, 40]], lat[[40, 77]] = np.nan, np.nan
    lon[5], lat[6] = -0.0, 0.0
    wkb, bounds = point_wkb(lon, lat)
    shapes = np.full(500, None, dtype=object)
    valid = np.isfinite(lon) & np.isfinite(lat)
    shapes[valid] = shapely.points(lon[valid], lat[valid])
    assert wkb.to_pylist() == list(shapely.to_wkb(shapes))
    np.testing.assert_array_equal(bounds, shapely.bounds(shapes))
    frame, _ = with_geometry(pd.DataFrame({"lon": lon, "lat": lat}), "point")
    assert frame["geometry"].isna().sum() == 3
    assert shapely.from_wkb(frame["geometry"].iloc[0]) == shapes[0]


def test_datasets_given_as_loaders_are_in_memory_one_at_a_time(tmp_path):
    """A loader runs when its dataset is written; the frame before it is gone by then."""
    import weakref

    loaded: list[weakref.ref] = []

    def loader(frame):
        def load():
            assert all(ref() is None for ref in loaded), "an earlier dataset is still held"
            frame_now = frame.copy()
            loaded.append(weakref.ref(frame_now))
            return frame_now

        return load

    frames = _empty_frames()
    frames["overlap"] = frames["overlap"].reindex(range(3))  # 3 rows of nulls
    rows = write_datasets(tmp_path, {name: loader(frame) for name, frame in frames.items()})
    assert len(loaded) == len(DATASETS)
    assert rows == {name: len(frame) for name, frame in frames.items()}
    assert rows["overlap"] == 3
