"""Benchmark ingest of establishment CSVs (not a test; prints figures).

Usage::

    python benchmarks/bench_ingest.py [--rows 400000] [--repeat 3]

Builds the demo world once, then writes one 工業統計 file of ``rows`` establishments in its
layout (the demo's rows repeated with new 事業所番号, quoted thousands separators included),
in UTF-8 and in CP932, and times :func:`spillover.ingest.ingest_table` on each without the
ingest cache, in this process after a warm-up: reading, hashing (one pass), decoding,
mapping, parsing, schema checks and the duplicate-key check. Reports rows per second
(median of ``repeat``) and the peak resident memory. The figures are recorded in the README.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

from spillover.config import parse_config
from spillover.demo.world import WorldParams, build_demo_world
from spillover.ingest import ingest_table


def _big_file(world_root: Path, rows: int, encoding: str, out: Path) -> Path:
    """The demo's 2013 工業統計 file repeated to ``rows`` rows with new 事業所番号."""
    sample = next(world_root.glob("raw/establishments/kogyo_*.csv"))
    frame = pd.read_csv(sample, encoding="cp932", dtype=str, keep_default_na=False)
    repeats = -(-rows // len(frame))
    big = pd.concat([frame] * repeats, ignore_index=True).head(rows)
    big["事業所番号"] = [f"B{i:08d}" for i in range(len(big))]
    path = out / f"kogyo_{encoding}_{sample.stem.split('_')[1]}.csv"
    big.to_csv(path, index=False, encoding=encoding)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=400_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        world = build_demo_world(root / "world", WorldParams())
        figures = {}
        for encoding in ("utf-8", "cp932"):
            path = _big_file(root / "world", args.rows, encoding, root)
            data = yaml.safe_load(world.config_path.read_text(encoding="utf-8"))
            source = data["sources"]["establishments"][0]
            survey_year = int(path.stem.rsplit("_", 1)[1])
            source.update(path=str(path), encoding=encoding, years=[survey_year - 1])
            data["sources"]["establishments"] = [source]
            data.pop("cache_dir", None)
            config = parse_config(data, base_dir=root / "world")
            ingest_table("establishments", config)  # warm-up: imports, first-call costs
            seconds = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                table, quarantined, _ = ingest_table("establishments", config)
                seconds.append(time.perf_counter() - start)
            median = statistics.median(seconds)
            figures[encoding] = {
                "rows": args.rows,
                "kept": len(table),
                "quarantined": len(quarantined),
                "seconds": round(median, 2),
                "rows_per_second": round(args.rows / median),
            }
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({"ingest": figures, "peak_rss_mb": round(peak_mb)}, indent=2))


if __name__ == "__main__":
    main()
