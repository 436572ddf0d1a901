"""Shared fixtures: the demo world and one pipeline run on it (built once per session)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spillover.demo.world import WorldParams, build_demo_world

REPO = Path(__file__).resolve().parents[1]
SHARED_GAZETTEER = REPO.parent / "shared" / "gazetteer" / "japan_towns.csv.gz"


@pytest.fixture(scope="session")
def demo_world(tmp_path_factory):
    """The full-size demo world (the same one `make demo` builds)."""
    return build_demo_world(tmp_path_factory.mktemp("demo"), WorldParams())


@pytest.fixture(scope="session")
def demo_run(demo_world):
    """The whole pipeline run once on the demo world: (world, run directory, output root)."""
    from spillover.pipeline import output_root, run_pipeline

    workdir = run_pipeline(demo_world.config_path, run_id="test")
    return demo_world, workdir, output_root(workdir)


@pytest.fixture(scope="session")
def truth(demo_world) -> dict:
    """The coefficients planted in the demo world."""
    return json.loads(demo_world.truth_path.read_text(encoding="utf-8"))
