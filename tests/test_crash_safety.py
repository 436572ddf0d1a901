"""Reliability: publish killed (SIGKILL) at each step, and concurrent runs on one output root.

A small demo world is run up to ``estimate`` once per module; each case copies that run and
an output root holding two complete publications, kills a publish subprocess at one step
(``tests/publish_child.py``), checks what readers see, then publishes again.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from spillover.config import load_config
from spillover.demo.world import WorldParams, build_demo_world
from spillover.pipeline import STAGES, read_output, run_stage, start_run
from spillover.storage import ROOT_MARKER, is_complete, read_dataset

pytestmark = pytest.mark.slow  # runs the pipeline on a small world, then publish many times

CHILD = Path(__file__).with_name("publish_child.py")
SMALL = WorldParams(n_establishments=3000, n_global_firms=20, n_large_firms=30, n_medium_firms=300)
#: Kill point → (is the new version complete, does ``current`` point at it) when it dies.
STEPS = {
    "version-created": (False, False),
    "first-dataset-linked": (False, False),
    "first-dataset-written": (False, False),
    "dataset-torn": (False, False),
    "manifest-not-renamed": (False, False),
    "manifest-written": (False, False),
    "marked-complete": (True, False),
    "current-switched": (True, True),
    "pruning": (True, True),
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return build_demo_world(tmp_path_factory.mktemp("world"), SMALL)


@pytest.fixture(scope="module")
def estimated(world, tmp_path_factory):
    """A run up to ``estimate`` and an output root with two complete publications of it."""
    workdir = start_run(world.config_path, run_id="crash")
    for name in STAGES:
        if name != "publish":
            run_stage(name, workdir)
    template = _copy_run(workdir, tmp_path_factory.mktemp("template"))
    for _ in range(2):
        run_stage("publish", template)
    return template


def _copy_run(workdir: Path, folder: Path) -> Path:
    """Copy a run directory; its publications go to ``folder/out``."""
    run = shutil.copytree(workdir, folder / "run")
    config = json.loads((run / "config.json").read_text(encoding="utf-8"))
    config["output_root"] = str(folder / "out")
    (run / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return run


def _versions(root: Path) -> list[str]:
    return sorted(p.name for p in (root / ".versions").iterdir())


def _current(root: Path) -> str:
    return (root / "current").resolve().name


def _files(version: Path) -> list[str]:
    """The Parquet files of a version (the same names for every publication of a run)."""
    return sorted(str(p.relative_to(version)) for p in version.rglob("*.parquet"))


def _estimates(root: Path) -> pd.DataFrame:
    frame = read_output(root, "estimates")
    return frame.sort_values(["spec_id", "term"]).reset_index(drop=True)


def _kill_at(run: Path, step: str) -> None:
    child = subprocess.run(
        [sys.executable, str(CHILD), str(run), step], capture_output=True, text=True, timeout=300
    )
    assert child.returncode == -signal.SIGKILL, (child.returncode, child.stderr[-2000:])


def _assert_recovered(root: Path, kept: set[str]) -> None:
    """The next publication succeeds, keeps ``kept`` and removes everything else."""
    run_stage("publish", root.parent / "run")
    *versions, new = _versions(root)
    assert versions == sorted(kept) and _current(root) == new
    assert all(is_complete(root / ".versions" / name) for name in versions)
    links = {
        "manifest.json",
        "current",
        *json.loads((root / "manifest.json").read_text())["datasets"],
    }
    expected = {ROOT_MARKER, ".lock", ".versions", *{name.split("/")[0] for name in links}}
    assert {p.name for p in root.iterdir()} == expected


@pytest.mark.parametrize("step", list(STEPS))
def test_publish_killed_at_a_step_leaves_a_complete_current_version(estimated, tmp_path, step):
    run = _copy_run(estimated, tmp_path)
    shutil.copytree(estimated.parent / "out", tmp_path / "out", symlinks=True)
    root = tmp_path / "out"
    before, previous = _versions(root), _current(root)
    expected = _estimates(root)

    _kill_at(run, step)

    complete, switched = STEPS[step]
    killed = [name for name in _versions(root) if name not in before]
    assert len(killed) == 1, _versions(root)
    assert _current(root) == (killed[0] if switched else previous)
    assert is_complete(root / "current") and is_complete(root / ".versions" / previous)
    assert is_complete(root / ".versions" / killed[0]) == complete
    for version in (root / ".versions").iterdir():  # "complete" means every file is there
        if is_complete(version):
            assert _files(version) == _files(root / ".versions" / previous), version.name
    pd.testing.assert_frame_equal(_estimates(root), expected)
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["run_id"] == "crash" and (root / "current" / "manifest.json").exists()

    # kept: what readers saw at the kill, and the newest complete version if that is another
    _assert_recovered(root, kept={_current(root), killed[0] if complete else previous})
    pd.testing.assert_frame_equal(_estimates(root), expected)


def test_the_first_publication_killed_before_its_links_is_completed_next_time(estimated, tmp_path):
    run = _copy_run(estimated, tmp_path)
    root = tmp_path / "out"
    _kill_at(run, "current-switched")
    assert not (root / "estimates").exists() and is_complete(root / "current")
    _assert_recovered(root, kept={_current(root)})
    pd.testing.assert_frame_equal(_estimates(root), _estimates(estimated.parent / "out"))


def _variant(world, tmp_path: Path, name: str, radii: list[float]) -> Path:
    """A copy of the world's config with other radii, publishing under ``tmp_path``."""
    config = yaml.safe_load(world.config_path.read_text(encoding="utf-8"))
    config.update(output_root=str(tmp_path / "out"), work_root=str(tmp_path / "work"))
    config["neighbourhoods"]["radii_km"] = radii
    path = world.root / f"{tmp_path.name}-{name}.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def _run_both(configs: list[Path], *extra: str) -> list[subprocess.CompletedProcess]:
    """Start ``spillover run`` on each config at once; wait for both."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "spillover.cli", "run", "--config", str(path), *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for path in configs
    ]
    return [
        subprocess.CompletedProcess(p.args, p.wait(timeout=600), p.stdout.read(), p.stderr.read())
        for p in procs
    ]


def _assert_versions_match_their_configs(root: Path) -> list[dict]:
    """Every complete version's manifest and data belong to one config: its own."""
    manifests = []
    for version in sorted((root / ".versions").iterdir()):
        assert is_complete(version), version
        manifest = json.loads((version / "manifest.json").read_text(encoding="utf-8"))
        config = load_config(manifest["config_path"])
        assert manifest["config_sha256"] == config.digest()
        assert manifest["radii_km"] == config.neighbourhoods.radii_km
        radii = sorted(read_dataset(version / "neighbourhoods")["radius_km"].unique())
        assert radii == config.neighbourhoods.radii_km
        manifests.append(manifest)
    return manifests


def test_two_runs_on_one_output_root_at_once_never_mix_configs(world, tmp_path):
    configs = [_variant(world, tmp_path, "a", [5, 10]), _variant(world, tmp_path, "b", [5, 10, 20])]
    results = _run_both(configs)
    for result in results:
        assert result.returncode == 0 or (
            result.returncode == 1 and "is locked by run" in result.stderr
        ), result.stderr[-2000:]
    assert any(result.returncode == 0 for result in results)
    manifests = _assert_versions_match_their_configs(tmp_path / "out")
    assert len(manifests) == sum(result.returncode == 0 for result in results)
    assert len({m["run_id"] for m in manifests}) == len(manifests)  # default ids differ
    assert len(list((tmp_path / "work").iterdir())) == 2


def test_two_runs_with_one_run_id_and_different_configs_do_not_mix(world, tmp_path):
    configs = [_variant(world, tmp_path, "a", [5, 10]), _variant(world, tmp_path, "b", [5, 10, 20])]
    results = _run_both(configs, "--run-id", "nightly")
    codes = sorted(result.returncode for result in results)
    assert codes == [0, 1], [result.stderr[-2000:] for result in results]
    loser = next(result for result in results if result.returncode == 1)
    assert "run id 'nightly' is taken" in loser.stderr
    winner = configs[[result.returncode for result in results].index(0)]
    (manifest,) = _assert_versions_match_their_configs(tmp_path / "out")
    assert manifest["config_path"] == str(winner.resolve()) and manifest["run_id"] == "nightly"
