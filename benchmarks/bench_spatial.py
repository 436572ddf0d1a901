"""Benchmark the neighbourhood engine against a straightforward geopandas approach.

Run from the repository root (one command, a few minutes; the census scale needs ~4 GB):

    .venv/bin/python benchmarks/bench_spatial.py            # national + census
    .venv/bin/python benchmarks/bench_spatial.py --scale national

Every measurement runs in a fresh single-threaded child process that builds the same seeded
synthetic world, so the peak memory reported (the child's maximum resident set size) is
that of one call plus the world it works on. Times are of that first call: CPU seconds of
the process (robust when other jobs share the machine) and wall seconds; "repeat" is the
best CPU time of further calls in the same process (what a radius sweep sees).

The geopandas baseline projects to JGD2011 / UTM zone 53N (EPSG:6690), buffers the
centres (shapely's default 32-sided polygons), ``sjoin``s and ``groupby``s. Its neighbour
counts differ slightly from the exact great-circle ones (planar projection far from the
zone's meridian, polygonal circles); the report counts the differences.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import sys
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

SEED = 20230627
VALUE_COLUMNS = ["employees", "shipments", "exports"]

# Manufacturing districts: (name, lat, lon, relative weight, core sigma in km). Weights follow
# the rough prefectural shares of 工業統計 establishments; a core of a few km reproduces
# densities of ~100 establishments per km² in places like Higashi-Osaka and Ota-ku at census
# scale.
DISTRICTS = [
    ("Higashi-Osaka", 34.68, 135.60, 9.0, 3.0),
    ("Osaka-north", 34.76, 135.50, 5.0, 4.0),
    ("Sakai", 34.57, 135.48, 3.0, 4.0),
    ("Kobe-Amagasaki", 34.72, 135.35, 4.0, 5.0),
    ("Kyoto", 34.96, 135.75, 3.0, 4.0),
    ("Ota-Kawasaki", 35.55, 139.72, 5.0, 4.0),
    ("Kawaguchi", 35.81, 139.72, 5.0, 4.0),
    ("Tokyo-east", 35.72, 139.82, 5.0, 4.0),
    ("Sagamihara-Atsugi", 35.50, 139.38, 3.0, 6.0),
    ("Hachioji", 35.66, 139.32, 2.0, 5.0),
    ("Saitama-north", 36.10, 139.40, 3.0, 8.0),
    ("Ota-Gunma", 36.29, 139.37, 2.5, 6.0),
    ("Utsunomiya", 36.56, 139.88, 2.0, 6.0),
    ("Hitachi", 36.55, 140.62, 1.5, 5.0),
    ("Keiyo", 35.58, 140.10, 2.0, 6.0),
    ("Nagoya", 35.15, 136.90, 6.0, 5.0),
    ("Toyota-Mikawa", 35.02, 137.15, 4.0, 7.0),
    ("Ichinomiya-Gifu", 35.35, 136.78, 3.0, 6.0),
    ("Yokkaichi-Suzuka", 34.92, 136.60, 2.0, 6.0),
    ("Hamamatsu", 34.72, 137.73, 3.0, 5.0),
    ("Shizuoka-Fuji", 35.05, 138.55, 3.0, 8.0),
    ("Suwa-Matsumoto", 36.10, 138.05, 2.0, 8.0),
    ("Niigata-Tsubame", 37.65, 138.95, 2.5, 8.0),
    ("Toyama", 36.70, 137.21, 1.5, 6.0),
    ("Kanazawa", 36.56, 136.65, 1.5, 5.0),
    ("Fukui-Sabae", 35.95, 136.19, 1.5, 5.0),
    ("Okayama-Mizushima", 34.60, 133.80, 2.0, 8.0),
    ("Hiroshima", 34.40, 132.50, 2.5, 6.0),
    ("Fukuyama", 34.49, 133.36, 1.5, 5.0),
    ("Takamatsu", 34.33, 134.05, 1.0, 6.0),
    ("Tokushima", 34.07, 134.55, 0.8, 6.0),
    ("Matsuyama", 33.84, 132.77, 1.0, 6.0),
    ("Kitakyushu", 33.88, 130.88, 2.0, 6.0),
    ("Fukuoka", 33.59, 130.42, 1.5, 6.0),
    ("Kumamoto", 32.80, 130.71, 1.0, 7.0),
    ("Oita", 33.24, 131.61, 0.8, 6.0),
    ("Kagoshima", 31.60, 130.56, 0.8, 6.0),
    ("Nagasaki", 32.75, 129.87, 0.5, 5.0),
    ("Sendai", 38.27, 140.87, 1.5, 7.0),
    ("Koriyama", 37.40, 140.38, 1.0, 7.0),
    ("Yamagata", 38.24, 140.36, 1.0, 7.0),
    ("Morioka", 39.70, 141.15, 0.7, 7.0),
    ("Akita", 39.72, 140.10, 0.5, 6.0),
    ("Sapporo", 43.06, 141.35, 1.2, 7.0),
    ("Kofu", 35.66, 138.57, 1.0, 6.0),
    ("Nagano", 36.65, 138.18, 1.0, 7.0),
]


def make_world(n_points: int, n_centres: int, *, seed: int = SEED):
    """Synthetic establishments and global-firm plants clustered like Japan's districts.

    60 % of the points fall in district cores (Gaussian, core sigma), 30 % in their suburbs
    (sigma × 4) and 10 % in a rural background (sigma 40 km). Centres are a random subset of
    the points (same ids, flagged as large firms, so self-exclusion and exclusion are both
    exercised); another 2 % of points belong to large firms.
    """
    rng = np.random.default_rng(seed)
    lat0 = np.array([d[1] for d in DISTRICTS])
    lon0 = np.array([d[2] for d in DISTRICTS])
    weight = np.array([d[3] for d in DISTRICTS])
    sigma = np.array([d[4] for d in DISTRICTS])
    district = rng.choice(len(DISTRICTS), n_points, p=weight / weight.sum())
    kind = rng.choice(3, n_points, p=[0.6, 0.3, 0.1])
    spread_km = np.choose(kind, [sigma[district], 4 * sigma[district], np.full(n_points, 40.0)])
    km_per_deg = 111.195
    lat = lat0[district] + rng.normal(0, 1, n_points) * spread_km / km_per_deg
    lon = lon0[district] + rng.normal(0, 1, n_points) * spread_km / (
        km_per_deg * np.cos(np.radians(lat0[district]))
    )
    employees = np.maximum(4, rng.lognormal(2.8, 1.0, n_points).astype(np.int64))
    shipments = employees * rng.lognormal(3.0, 0.8, n_points)  # million yen
    export_share = np.where(rng.random(n_points) < 0.8, 0.0, rng.uniform(0, 60, n_points))
    exports = shipments * export_share / 100
    exports[rng.random(n_points) < 0.03] = np.nan
    points = pd.DataFrame(
        {
            "point_id": np.arange(n_points, dtype=np.int64),
            "lat": lat,
            "lon": lon,
            "employees": employees,
            "shipments": shipments,
            "exports": exports,
            "large_firm": rng.random(n_points) < 0.02,
        }
    )
    own = rng.choice(n_points, n_centres, replace=False)
    points.loc[own, "large_firm"] = True
    centres = pd.DataFrame(
        {
            "centre_id": own,
            "lat": lat[own],
            "lon": lon[own],
            "opr": rng.uniform(0.01, 0.6, n_centres),
        }
    )
    return centres, points


def geopandas_sums(centres, points, radius_km, value_columns, *, exclude):
    """Baseline: project, buffer the centres, sjoin the points, group by centre."""
    import geopandas as gpd

    crs = "EPSG:6690"  # JGD2011 / UTM zone 53N, metres
    kept = points[~points[exclude]]
    gp = gpd.GeoDataFrame(
        kept[["point_id", *value_columns]],
        geometry=gpd.points_from_xy(kept["lon"], kept["lat"]),
        crs="EPSG:4326",
    ).to_crs(crs)
    gc = gpd.GeoDataFrame(
        centres[["centre_id"]],
        geometry=gpd.points_from_xy(centres["lon"], centres["lat"]),
        crs="EPSG:4326",
    ).to_crs(crs)
    gc["geometry"] = gc.buffer(radius_km * 1000.0)
    joined = gpd.sjoin(gp, gc, predicate="within")
    joined = joined[joined["point_id"] != joined["centre_id"]]
    grouped = joined.groupby("centre_id")
    out = grouped[value_columns].sum().assign(n_neighbours=grouped.size())
    return out.reindex(centres["centre_id"], fill_value=0).reset_index()


def _call(kind, centres, points, radius):
    """Run one benchmarked call; return the result frame and notes for the table."""
    from spillover.spatial import (
        neighbour_pairs,
        neighbourhood_sums,
        overlap_diagnostics,
        plant_exposure,
    )

    if kind == "sums":
        out = neighbourhood_sums(centres, points, radius, VALUE_COLUMNS, exclude="large_firm")
        return out, {"pairs": int(out["n_neighbours"].sum())}
    if kind == "geopandas":
        out = geopandas_sums(centres, points, radius, VALUE_COLUMNS, exclude="large_firm")
        return out, {"pairs": int(out["n_neighbours"].sum())}
    if kind == "pairs":
        out = neighbour_pairs(centres, points, radius, exclude="large_firm")
        return out, {"pairs": len(out)}
    if kind in ("exposure", "exposure_gaussian"):
        kernel = "gaussian" if kind == "exposure_gaussian" else "uniform"
        out = plant_exposure(centres, points, radius, "opr", kernel=kernel, exclude="large_firm")
        return out, {"rows": len(out)}
    if kind == "overlap":
        out = overlap_diagnostics(centres, points, radius, ["exports"], exclude="large_firm")
        return out, {"share_exports_in_shared": round(float(out["share_exports_in_shared"][0]), 3)}
    if kind == "stage":
        table, overlap, _ = _neighbourhoods_stage(centres, points, radius)
        return table, {"cells": len(table), "memberships": int(overlap["n_memberships"].sum())}
    raise ValueError(f"unknown benchmark kind {kind!r}")


def _neighbourhoods_stage(centres, points, radii):
    """The neighbourhoods stage's domain call on the world as one year of classified plants.

    Sums for every radius, the overlap diagnostics and the cell order of the whole-panel
    table (:func:`spillover.neighbourhoods.neighbourhood_tables`, no cache).
    """
    from spillover.config import NeighbourhoodConfig
    from spillover.neighbourhoods import neighbourhood_tables

    plants = pd.DataFrame(
        {
            "year": np.int64(2016),
            "establishment_id": points["point_id"].map("E{:07d}".format),
            "lat": points["lat"],
            "lon": points["lon"],
            "is_centre": points["point_id"].isin(centres["centre_id"]),
            "large_firm": points["large_firm"],
            "employees": points["employees"],
            "shipments": points["shipments"],
            "exports": points["exports"].fillna(0.0),
            "export_method": "direct_share",
        }
    )
    settings = NeighbourhoodConfig(radii_km=list(radii))
    return neighbourhood_tables(plants, settings)


def _task(task: dict) -> dict:
    import spillover.neighbourhoods  # noqa: F401  (import time is not measured)
    import spillover.spatial  # noqa: F401

    centres, points = make_world(task["n_points"], task["n_centres"])
    if task.get("centre_sample"):
        centres = centres.iloc[: task["centre_sample"]]
    wall, cpu = time.perf_counter(), time.process_time()
    out, notes = _call(task["kind"], centres, points, task["radius_km"])
    result = {
        **task,
        "cpu_s": round(time.process_time() - cpu, 2),
        "wall_s": round(time.perf_counter() - wall, 2),
        "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    if task.get("repeat"):
        cpu_times = []
        for _ in range(task["repeat"]):
            cpu = time.process_time()
            _call(task["kind"], centres, points, task["radius_km"])
            cpu_times.append(time.process_time() - cpu)
        result["repeat_cpu_s"] = round(min(cpu_times), 2)
    if task["kind"] == "geopandas":
        from spillover.spatial import neighbourhood_sums

        exact = neighbourhood_sums(centres, points, task["radius_km"], [], exclude="large_firm")
        diff = out["n_neighbours"].to_numpy() - exact["n_neighbours"].to_numpy()
        notes |= {
            "centres_with_other_count": int((diff != 0).sum()),
            "pairs_differing": int(np.abs(diff).sum()),
        }
    return {**result, **notes}


def _run(task: dict) -> dict:
    with multiprocessing.get_context("spawn").Pool(1, maxtasksperchild=1) as pool:
        result = pool.apply(_task, (task,))
    print(json.dumps(result), file=sys.stderr, flush=True)
    return result


def main(argv=None) -> None:
    """Run the benchmark and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=["national", "census", "all"], default="all")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    national = {"n_points": 200_000, "n_centres": 10_000}
    census = {"n_points": 2_000_000, "n_centres": 50_000}
    tasks = []
    if args.scale in ("national", "all"):
        tasks += [
            {**national, "kind": "sums", "radius_km": r, "repeat": 2}
            for r in (1.0, 5.0, 10.0, 20.0)
        ]
        tasks += [
            {**national, "kind": "sums", "radius_km": [1.0, 5.0, 10.0, 20.0], "repeat": 2},
            {**national, "kind": "geopandas", "radius_km": 5.0},
            {**national, "kind": "geopandas", "radius_km": 1.0},
            {**national, "kind": "pairs", "radius_km": 5.0},
            {**national, "kind": "exposure", "radius_km": 5.0},
            {**national, "kind": "exposure_gaussian", "radius_km": 5.0},
            {**national, "kind": "overlap", "radius_km": 5.0},
        ]
    if args.scale in ("census", "all"):
        tasks += [
            {**census, "kind": "sums", "radius_km": 5.0},
            {**census, "kind": "exposure", "radius_km": 5.0},
            # the baseline on every 50k centre would need tens of GB; time a 2,000-centre slice
            {**census, "kind": "geopandas", "radius_km": 5.0, "centre_sample": 2_000},
            {**census, "kind": "sums", "radius_km": 5.0, "centre_sample": 2_000},
            # issue 15: the neighbourhoods stage, 4 radii to 20 km, < 20 s and < 4 GB
            {**census, "kind": "stage", "radius_km": [1.0, 5.0, 10.0, 20.0]},
        ]
    results = [_run(t) for t in tasks]
    print(
        "| scale | function | radius_km | centres | CPU s | wall s | repeat CPU s | peak MB "
        "| notes |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    shown = {
        "n_points",
        "n_centres",
        "kind",
        "radius_km",
        "cpu_s",
        "wall_s",
        "repeat_cpu_s",
        "peak_mb",
        "centre_sample",
        "repeat",
    }
    for r in results:
        scale = "national" if r["n_points"] == 200_000 else "census"
        notes = ", ".join(f"{k}={v:,}" for k, v in r.items() if k not in shown)
        centres = r.get("centre_sample") or r["n_centres"]
        print(
            f"| {scale} | {r['kind']} | {r['radius_km']} | {centres:,} | {r['cpu_s']} | "
            f"{r['wall_s']} | {r.get('repeat_cpu_s', '')} | {r['peak_mb']:,} | {notes} |"
        )
    print()
    for base in (r for r in results if r["kind"] == "geopandas"):
        for mine in results:
            same = all(
                mine.get(k) == base.get(k)
                for k in ("n_points", "n_centres", "radius_km", "centre_sample")
            )
            if mine["kind"] == "sums" and same:
                print(
                    f"- {base['n_points']:,} points, "
                    f"{base.get('centre_sample') or base['n_centres']:,} centres, "
                    f"{base['radius_km']} km: geopandas / engine = "
                    f"{base['cpu_s'] / mine['cpu_s']:.0f}x (CPU), "
                    f"{base['wall_s'] / mine['wall_s']:.0f}x (wall)"
                )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()
