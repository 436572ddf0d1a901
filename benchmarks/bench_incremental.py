"""Benchmark: a spec-only re-run of the demo against a full run (issue 10: < 15 %).

Run with ``.venv/bin/python benchmarks/bench_incremental.py [--out DIR] [--repeat N]``. Builds
the demo world, runs the whole pipeline once to build the gazetteer index and geocode cache,
then times, each in a new process as a researcher's ``spillover run`` would be (imports
included): a full run (``--fresh``), and after one model spec is added to ``config.yaml`` the
incremental run that fits only that spec and publishes. Prints the median of ``--repeat``
rounds and what each stage did in the last incremental run.
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

from spillover.demo.world import WorldParams, build_demo_world

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=None, help="folder for the world (default: temporary)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="rounds (median reported)")
    args = parser.parse_args()
    root = args.out or Path(tempfile.mkdtemp(prefix="spillover-bench-"))
    shutil.rmtree(root, ignore_errors=True)
    world = build_demo_world(root, WorldParams())
    config = Path(world.config_path)
    _timed(config, "fresh")  # builds the gazetteer index and the geocode cache

    full, spec_only, last = [], [], {}
    for number in range(args.repeat):
        full.append(_timed(config, "fresh")[0])
        _add_spec(config, number)
        seconds, last = _timed(config, "incremental")
        spec_only.append(seconds)
    full_s, spec_s = statistics.median(full), statistics.median(spec_only)
    print(f"demo world: {world.n_establishment_rows:,} establishment rows")
    print(f"full run (--fresh, new process):      {full_s:.2f} s  (rounds: {full})")
    print(f"spec-only re-run (new process):        {spec_s:.2f} s  (rounds: {spec_only})")
    print(f"spec-only / full:                      {spec_s / full_s:.1%}  (target < 15%)")
    print(f"last incremental run: ran {last['ran']}; stage seconds {last['seconds']}")
    print(json.dumps({"full_s": full_s, "spec_only_s": spec_s, "ratio": spec_s / full_s}))


if __name__ == "__main__":
    main()
