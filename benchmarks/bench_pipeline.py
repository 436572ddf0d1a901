"""Benchmark: the whole pipeline on the demo world (≥ 20,000 establishments × 8 years).

Run with ``make bench`` (or ``.venv/bin/python benchmarks/bench_pipeline.py [--out DIR]``).
Prints the wall time of the world generation and of every stage for a cold run (gazetteer
index and the geocode, ingest and report caches built) and a warm run (all of them reused;
the warm run's publication links the cold run's datasets), and the peak resident memory.
Targets (issue 2): whole pipeline < 30 s after installation, peak memory < 2 GB.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import tempfile
import time
from pathlib import Path

from spillover.demo.world import WorldParams, build_demo_world
from spillover.pipeline import STAGES, run_pipeline


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _StageSeconds:
    """A pipeline listener that keeps each stage's seconds."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def started(self, name: str, number: int, total: int) -> None:
        pass

    def finished(self, name: str, report: dict) -> None:
        self.seconds[name] = report["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=None, help="folder for the world (default: temporary)"
    )
    args = parser.parse_args()
    root = args.out or Path(tempfile.mkdtemp(prefix="spillover-bench-"))
    shutil.rmtree(root, ignore_errors=True)

    started = time.perf_counter()
    world = build_demo_world(root, WorldParams())
    generation = time.perf_counter() - started
    print(
        f"demo world: {world.n_establishment_rows:,} establishment rows, "
        f"{world.n_centres} centres, generated in {generation:.1f} s"
    )

    rows = []
    for label in ("cold", "warm"):
        timings = _StageSeconds()
        started = time.perf_counter()
        run_pipeline(world.config_path, run_id=f"bench-{label}", listener=timings)
        total = time.perf_counter() - started
        rows.append((label, total, timings.seconds))

    print("\n| run | total s | " + " | ".join(STAGES) + " |")
    print("|---|---|" + "---|" * len(STAGES))
    for label, total, seconds in rows:
        print(
            f"| {label} | {total:.1f} | " + " | ".join(f"{seconds[s]:.2f}" for s in STAGES) + " |"
        )
    print(f"\npeak resident memory: {_peak_mb():,.0f} MB")
    print(
        json.dumps(
            {
                "rows": world.n_establishment_rows,
                "cold_s": rows[0][1],
                "warm_s": rows[1][1],
                "peak_mb": _peak_mb(),
            }
        )
    )
    if args.out is None:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
