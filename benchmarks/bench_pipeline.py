"""Benchmark: the whole pipeline, stage by stage, on the demo world or at national scale.

Run with ``make bench`` (``--scale demo``, ≥ 20,000 establishments × 8 years) or
``.venv/bin/python benchmarks/bench_pipeline.py --scale national [--gazetteer FILE]``
(≈ 190,000 establishments × 8 years in 400 real municipalities, ≈ 3,000 centres; the
gazetteer defaults to the shared ``../shared/gazetteer/japan_towns.csv.gz``).

Generates the world, then runs the pipeline twice, each run in a new process: cold (gazetteer
index and the geocode, ingest, spatial, disclosure and report caches built) and warm (all of
them reused; the warm run's publication links the cold run's datasets). Prints, for every
stage, its wall seconds, CPU seconds (user + system) and peak resident memory (the process's
high-water mark, reset at the start of each stage through ``/proc/self/clear_refs``; it
includes what earlier stages left allocated), and the whole run's wall seconds and peak (the
largest stage peak). A stage that fails (e.g. out of the ``--memory-limit-gb`` address space)
is printed with its error and ends that run.
Targets: demo < 30 s, national cold < 60 s, warm < 40 s, peak < 2 GB (issues 2 and 15).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from spillover.demo.national import national_params
from spillover.demo.world import WorldParams, build_demo_world

SHARED_GAZETTEER = (
    Path(__file__).resolve().parents[2] / "shared" / "gazetteer" / "japan_towns.csv.gz"
)

#: One run in a child process: stage by stage, one JSON line per stage, then the total.
CHILD = """
import json, os, resource, sys, time
limit = int(float(sys.argv[3]) * 2**30)
if limit:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from spillover.pipeline import run_pipeline

def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime

def peak_mb():
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024

class Listener:
    def __init__(self):
        self.name, self.wall, self.cpu = "(start)", time.perf_counter(), cpu()
    def started(self, name, number, total):
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        self.wall, self.cpu, self.name = time.perf_counter(), cpu(), name
    def finished(self, name, report):
        print(json.dumps({"stage": name, "wall": time.perf_counter() - self.wall,
                          "cpu": cpu() - self.cpu, "peak_mb": peak_mb()}), flush=True)

listener = Listener()
started = time.perf_counter()
try:
    run_pipeline(sys.argv[1], run_id=sys.argv[2], listener=listener)
except BaseException as error:
    print(json.dumps({"stage": listener.name, "error": f"{type(error).__name__}: {error}"[:300],
                      "wall": time.perf_counter() - listener.wall,
                      "cpu": cpu() - listener.cpu, "peak_mb": peak_mb()}), flush=True)
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"total_wall": time.perf_counter() - started,
                  "total_cpu": usage.ru_utime + usage.ru_stime}), flush=True)
"""


def _run(config: Path, label: str, limit_gb: float) -> tuple[list[dict], dict]:
    """One pipeline run in a new process: per-stage records and the whole run's."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(config), f"bench-{label}", str(limit_gb)],
        capture_output=True,
        text=True,
        check=False,
    )
    records = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    if not records or "total_wall" not in records[-1]:
        sys.exit(f"the {label} run died (exit {done.returncode}):\n{done.stderr[-2000:]}")
    stages, total = records[:-1], records[-1]
    # the high-water mark is reset per stage, so the run's peak is the largest stage peak
    total["peak_mb"] = max((r["peak_mb"] for r in stages), default=0.0)
    return stages, total


def _params(args: argparse.Namespace) -> WorldParams:
    if args.scale == "demo":
        return WorldParams()
    if not args.gazetteer.exists():
        sys.exit(f"{args.gazetteer}: no gazetteer; pass --gazetteer with a real one")
    return national_params(args.gazetteer)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=("demo", "national"), default="demo")
    parser.add_argument("--gazetteer", type=Path, default=SHARED_GAZETTEER)
    parser.add_argument(
        "--out", type=Path, default=None, help="folder for the world (default: temporary)"
    )
    parser.add_argument(
        "--memory-limit-gb",
        type=float,
        default=16.0,
        help="address-space limit of each run (0: none), so a runaway stage fails alone",
    )
    args = parser.parse_args()
    root = args.out or Path(tempfile.mkdtemp(prefix="spillover-bench-"))
    shutil.rmtree(root, ignore_errors=True)

    started = time.perf_counter()
    world = build_demo_world(root, _params(args))
    generation = time.perf_counter() - started
    print(
        f"{args.scale} world: {world.n_establishment_rows:,} establishment rows, "
        f"{world.n_centres:,} centres, generated in {generation:.1f} s "
        f"(peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB)"
    )

    runs = {
        label: _run(world.config_path, label, args.memory_limit_gb) for label in ("cold", "warm")
    }
    print("\n| stage | " + " | ".join(f"{label} wall s | CPU s | peak MB" for label in runs) + " |")
    print("|---|" + "---|---|---|" * len(runs))
    stages = list(dict.fromkeys(r["stage"] for records, _ in runs.values() for r in records))
    for stage in stages:
        cells = []
        for records, _ in runs.values():
            record = next((r for r in records if r["stage"] == stage), None)
            if record is None:
                cells.append("– | – | –")
            else:
                failed = " (failed)" if "error" in record else ""
                cells.append(
                    f"{record['wall']:.2f}{failed} | {record['cpu']:.2f} | {record['peak_mb']:,.0f}"
                )
        print(f"| {stage} | " + " | ".join(cells) + " |")
    print(
        "| **whole run** | "
        + " | ".join(
            f"{total['total_wall']:.1f} | {total['total_cpu']:.1f} | {total['peak_mb']:,.0f}"
            for _, total in runs.values()
        )
        + " |"
    )
    for label, (records, _) in runs.items():
        for record in records:
            if "error" in record:
                print(f"\n{label} run: {record['stage']} failed: {record['error']}")
    print(
        json.dumps(
            {
                "scale": args.scale,
                "rows": world.n_establishment_rows,
                "centres": world.n_centres,
                **{f"{label}_s": total["total_wall"] for label, (_, total) in runs.items()},
                "peak_mb": max(total["peak_mb"] for _, total in runs.values()),
                "failed": [
                    f"{label}:{r['stage']}"
                    for label, (records, _) in runs.items()
                    for r in records
                    if "error" in r
                ],
            }
        )
    )
    if args.out is None:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
