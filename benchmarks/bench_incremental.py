"""Benchmark: incremental re-runs against a full run (issue 10: spec-only < 15 %; issue 15).

Run with ``.venv/bin/python benchmarks/bench_incremental.py [--scale national] [--out DIR]
[--repeat N]``. Builds the demo world (or the national-scale one, on the shared gazetteer) with
its last survey year held back, runs the whole pipeline once (building the
gazetteer index and the geocode, ingest and report caches), then times, each in a new process
as a researcher's ``spillover run`` would be (imports included): a full run (``--fresh`` after
removing the ingest, spatial, disclosure, disclosure_blocks and report caches and the output
root, so that every stage computes and writes everything; the gazetteer index and the geocode
cache stay warm);
after one model spec is added to ``config.yaml``, the incremental run that fits only that spec
and publishes; and, once, the run after the held-back year's files are delivered. Prints the
median of ``--repeat`` rounds and what each stage did in the last runs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from spillover.config import load_config
from spillover.deliveries import year_files
from spillover.demo.national import national_params
from spillover.demo.world import WorldParams, build_demo_world

SHARED_GAZETTEER = (
    Path(__file__).resolve().parents[2] / "shared" / "gazetteer" / "japan_towns.csv.gz"
)

#: One round in a child process: run, then print the decisions and the stages' seconds.
CHILD = """
import json, sys
from spillover.pipeline import Selection, run_incremental
result = run_incremental(sys.argv[1], selection=Selection(fresh=sys.argv[2] == "fresh"))
seconds = {}
for path in (result.workdir / "reports").glob("*.json"):
    report = json.loads(path.read_text(encoding="utf-8"))
    if "reused_from" not in report:
        seconds[path.stem] = report["seconds"]
ran = {d.stage: list(d.refit or ()) if d.refit is not None else d.runs for d in result.decisions}
print(json.dumps({"ran": ran, "seconds": seconds}))
"""


def _timed(config: Path, mode: str) -> tuple[float, dict]:
    """Wall seconds of one run in a new process, and what it printed."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(config), mode],
        check=True,
        capture_output=True,
        text=True,
    )
    return time.perf_counter() - started, json.loads(done.stdout.splitlines()[-1])


def _add_spec(config: Path, number: int) -> None:
    """Append one neighbourhood spec (a new id each round) to the config file."""
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["models"].append(
        {
            "id": f"added_{number}",
            "dependent": "log1p(exports)",
            "regressors": ["opr", "external_demand", "log1p(shipments)"],
            "radius_km": 5,
            "fe": ["entity"],
            "vcov": {"type": "cluster", "by": ["entity"]},
        }
    )
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def _hold_back(config: Path, year: int, held: Path) -> list[tuple[Path, Path]]:
    """Move every file of survey ``year`` into ``held``; return (where it was, where it is)."""
    loaded = load_config(config)
    moved = []
    held.mkdir(parents=True, exist_ok=True)
    for sources in loaded.sources.values():
        for source in sources:
            if source.is_yearly:
                for name in year_files(source, loaded, year):
                    target = held / f"{len(moved)}-{Path(name).name}"
                    shutil.move(name, target)
                    moved.append((Path(name), target))
    return moved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=None, help="folder for the world (default: temporary)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="rounds (median reported)")
    parser.add_argument("--scale", choices=("demo", "national"), default="demo")
    parser.add_argument("--gazetteer", type=Path, default=SHARED_GAZETTEER)
    args = parser.parse_args()
    root = args.out or Path(tempfile.mkdtemp(prefix="spillover-bench-"))
    shutil.rmtree(root, ignore_errors=True)
    params = WorldParams() if args.scale == "demo" else national_params(args.gazetteer)
    world = build_demo_world(root, params)
    config = Path(world.config_path)
    moved = _hold_back(config, 2019, root / "held")
    _timed(config, "fresh")  # builds the gazetteer index and the caches

    full, spec_only, last = [], [], {}
    for number in range(args.repeat):
        loaded = load_config(config)
        kinds = ("ingest", "report", "spatial", "disclosure", "disclosure_blocks")
        for folder in (loaded.cache_path(kind) for kind in kinds):
            shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(loaded.resolve(loaded.output_root), ignore_errors=True)
        full.append(_timed(config, "fresh")[0])
        _add_spec(config, number)
        seconds, last = _timed(config, "incremental")
        spec_only.append(seconds)
    for original, kept in moved:
        shutil.move(kept, original)
    year_s, year = _timed(config, "incremental")
    print(f"{args.scale} world: {world.n_establishment_rows:,} establishment rows in 2012–2019")
    summary = {"year_s": year_s}
    if full:
        full_s, spec_s = statistics.median(full), statistics.median(spec_only)
        print(f"full run (--fresh, new process):      {full_s:.2f} s  (rounds: {full})")
        print(f"spec-only re-run (new process):        {spec_s:.2f} s  (rounds: {spec_only})")
        print(f"spec-only / full:                      {spec_s / full_s:.1%}  (target < 15%)")
        print(f"last spec-only run: ran {last['ran']}; stage seconds {last['seconds']}")
        summary = {"full_s": full_s, "spec_only_s": spec_s, "ratio": spec_s / full_s, **summary}
    print(f"2019 delivered (new process):          {year_s:.2f} s")
    print(f"that run: ran {year['ran']}; stage seconds {year['seconds']}")
    print(json.dumps(summary))
    if args.out is None:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
