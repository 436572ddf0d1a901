"""Benchmark the offline geocoder on the full real gazetteer (not a test; prints figures).

Usage::

    python benchmarks/bench_geocode.py [--gazetteer PATH] [--n 200000] [--seed 7]

Writes ``n`` addresses from random rows of the gazetteer in the styles of
:mod:`spillover.geocode.synth`, geocodes them and reports:

- index build time (CSV → tables, persisted), index load time (Parquet → lookups);
- throughput in addresses per second on one core, after the index is loaded
  (every address is distinct, so nothing is deduplicated away);
- per style: share resolved at town level or better with the right town, share
  within 1 km of the true point, share in the wrong prefecture, share ambiguous;
- resident memory after loading the index, and the peak of the whole process
  (which also holds the raw gazetteer frame and the generated addresses).

The figures are recorded in docs/geocoding.md.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

from spillover.geocode import geocode_addresses, load_gazetteer
from spillover.geocode.synth import CLEAN_STYLES, STYLES, write_addresses
from spillover.spatial import haversine_km

DEFAULT_GAZETTEER = (
    Path(__file__).resolve().parents[1].parent / "shared" / "gazetteer" / ("japan_towns.csv.gz")
)


def evaluate(truth: pd.DataFrame, result: pd.DataFrame) -> pd.DataFrame:
    """Per-style accuracy table (shares in percent)."""
    dist = haversine_km(
        truth["lat"].to_numpy(),
        truth["lon"].to_numpy(),
        result["lat"].to_numpy(),
        result["lon"].to_numpy(),
    )
    town_ok = (
        result["level"].isin(["block", "town"]).to_numpy()
        & (result["town"].to_numpy(dtype=object) == truth["town"].to_numpy(dtype=object))
        & (result["city"].to_numpy(dtype=object) == truth["city"].to_numpy(dtype=object))
    )
    wrong_pref = result["pref_code"].notna().to_numpy() & (
        result["pref_code"].fillna(0).to_numpy(dtype=np.int64)
        != truth["pref_code"].to_numpy(dtype=np.int64)
    )
    frame = pd.DataFrame(
        {
            "style": truth["style"].to_numpy(),
            "town_ok": town_ok,
            "within_1km": np.nan_to_num(dist, nan=np.inf) <= 1.0,
            "wrong_pref": wrong_pref,
            "ambiguous": result["ambiguous"].to_numpy(),
            "none": (result["level"] == "none").to_numpy(),
        }
    )
    table = frame.groupby("style").mean().mul(100).round(3)
    table["n"] = frame.groupby("style").size()
    clean = frame["style"].isin(CLEAN_STYLES)
    table.loc["ALL clean"] = [
        *(frame[clean].drop(columns="style").mean() * 100).round(3),
        int(clean.sum()),
    ]
    table.loc["ALL messy"] = [
        *(frame[~clean].drop(columns="style").mean() * 100).round(3),
        int((~clean).sum()),
    ]
    table["n"] = table["n"].astype(int)
    return table.reindex([s for s in STYLES if s in table.index] + ["ALL clean", "ALL messy"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gazetteer", type=Path, default=DEFAULT_GAZETTEER)
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    proc = psutil.Process()

    with tempfile.TemporaryDirectory() as tmp:
        index_dir = Path(tmp) / "index"
        t0 = time.perf_counter()
        load_gazetteer(args.gazetteer, index_dir=index_dir)
        build_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        index = load_gazetteer(args.gazetteer, index_dir=index_dir)
        load_s = time.perf_counter() - t0
    rss_index = proc.memory_info().rss / 2**20

    raw = pd.read_csv(
        args.gazetteer,
        dtype={"koaza": str},
        keep_default_na=False,
        na_values={"lat": [""], "lng": [""]},
    ).rename(columns={"lng": "lon"})
    truth = write_addresses(raw, n=args.n, seed=args.seed)
    addresses = truth["address"]
    cpu0, t0 = time.process_time(), time.perf_counter()
    result = geocode_addresses(addresses, index)
    cpu_s, wall_s = time.process_time() - cpu0, time.perf_counter() - t0
    table = evaluate(truth, result)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB

    figures = {
        "gazetteer": str(args.gazetteer),
        "gazetteer_rows": int(len(raw)),
        "index": repr(index),
        "index_build_s": round(build_s, 2),
        "index_load_s": round(load_s, 2),
        "addresses": int(args.n),
        "distinct_addresses": int(addresses.nunique()),
        "geocode_wall_s": round(wall_s, 2),
        "geocode_cpu_s": round(cpu_s, 2),
        "addresses_per_s_cpu": int(args.n / cpu_s),
        "addresses_per_s_wall": int(args.n / wall_s),
        "rss_after_index_mb": round(rss_index),
        "peak_rss_mb": round(peak_mb),
        "levels": result["level"].value_counts().to_dict(),
    }
    print(json.dumps(figures, ensure_ascii=False, indent=1))
    print(table.to_string())
    if args.json:
        figures["by_style"] = table.reset_index().to_dict(orient="records")
        args.json.write_text(json.dumps(figures, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
