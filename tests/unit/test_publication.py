"""Publication under an output root: completion markers, pruning, ownership, modes, locks."""

from __future__ import annotations

import json
import os
import stat
import threading
import time

import pandas as pd
import pytest

from spillover import locks
from spillover.errors import SpilloverError
from spillover.storage import (
    PublishError,
    is_complete,
    output_root_lock,
    publish,
    read_dataset,
    rollback,
    version_dir,
    write_dataset,
    write_json_atomic,
)


def _publish(root, run_id, value, *, keep=2):
    with output_root_lock(root, f"run {run_id}"):
        version = version_dir(root, run_id)
        frame = pd.DataFrame({"year": [2015, 2016], "value": [value, value + 1.0]})
        write_dataset(frame, version / "things", partition_cols=["year"])
        publish(version, root, {"run_id": run_id}, keep=keep)
    return version


def _crashed(root, run_id):
    """A publication that died after its manifest, before ``.complete``."""
    with output_root_lock(root, f"run {run_id}"):
        version = version_dir(root, run_id)
        write_dataset(pd.DataFrame({"year": [2015], "value": [-1.0]}), version / "things")
        write_json_atomic({"run_id": run_id}, version / "manifest.json")
    return version


def _values(root):
    return read_dataset(root / "things").sort_values("year")["value"].tolist()


def _versions(root):
    return sorted(p.name for p in (root / ".versions").iterdir())


def test_a_crashed_publication_is_never_current_and_the_next_one_removes_it(tmp_path):
    root = tmp_path / "out"
    _publish(root, "good1", 1.0)
    good = _publish(root, "good2", 2.0)
    broken = _crashed(root, "crashed")
    assert broken.name > good.name and broken.stat().st_mtime >= good.stat().st_mtime
    assert is_complete(good) and not is_complete(broken)
    assert (root / "current").resolve() == good.resolve() and _values(root) == [2.0, 3.0]
    after = _publish(root, "next", 4.0)
    # the last good version stays for a rollback; the half-written one and the oldest go
    assert _versions(root) == [good.name, after.name]
    assert _values(root) == [4.0, 5.0]


def test_pruning_orders_versions_by_name_not_modification_time(tmp_path):
    root = tmp_path / "out"
    first = _publish(root, "a", 1.0, keep=3)
    second = _publish(root, "b", 2.0, keep=3)
    future = time.time() + 3600
    os.utime(first, (future, future))  # e.g. touched by a backup tool
    third = _publish(root, "c", 3.0, keep=2)
    assert _versions(root) == [second.name, third.name]


def test_the_completion_marker_must_match_the_manifest(tmp_path):
    root = tmp_path / "out"
    first = _publish(root, "a", 1.0, keep=3)
    _publish(root, "b", 2.0, keep=3)
    assert is_complete(first)
    (first / "manifest.json").write_text(json.dumps({"run_id": "edited"}))
    assert not is_complete(first)
    with pytest.raises(PublishError, match=r"cannot roll back to a complete version older"):
        rollback(root)


def test_rollback_points_current_at_an_earlier_complete_version(tmp_path):
    root = tmp_path / "out"
    first = _publish(root, "a", 1.0, keep=3)
    second = _publish(root, "b", 2.0, keep=3)
    third = _publish(root, "c", 3.0, keep=3)
    broken = _crashed(root, "d")
    assert rollback(root) == second.name and _values(root) == [2.0, 3.0]
    assert rollback(root) == first.name and _values(root) == [1.0, 2.0]
    with pytest.raises(PublishError, match="older than") as caught:
        rollback(root)
    assert first.name in str(caught.value) and broken.name not in str(caught.value)
    with pytest.raises(PublishError, match=rf"cannot roll back to '{broken.name}'"):
        rollback(root, to=broken.name)
    assert rollback(root, to=third.name) == third.name and _values(root) == [3.0, 4.0]
    with pytest.raises(PublishError, match="not a spillover output root"):
        rollback(tmp_path)


def test_the_next_publication_keeps_the_version_rolled_back_to(tmp_path):
    root = tmp_path / "out"
    first = _publish(root, "a", 1.0)
    second = _publish(root, "b", 2.0)
    assert rollback(root) == first.name  # b was bad
    third = _publish(root, "c", 3.0)
    assert _versions(root) == [first.name, second.name, third.name]
    assert rollback(root, to=first.name) == first.name and _values(root) == [1.0, 2.0]
    fourth = _publish(root, "d", 4.0)  # back to normal: the newest two and the previous current
    assert _versions(root) == [first.name, third.name, fourth.name]
    _publish(root, "e", 5.0)
    assert first.name not in _versions(root) and len(_versions(root)) == 2


def test_an_output_root_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "out").write_text("x")
    with pytest.raises(PublishError, match=r"output root .*out is a file"):
        _publish(tmp_path / "out", "a", 1.0)


def test_a_folder_that_is_not_an_output_root_is_refused_untouched(tmp_path):
    root = tmp_path / "out"
    (root / "plants").mkdir(parents=True)
    (root / "plants" / "mine.csv").write_text("x")
    (root / "notes.txt").write_text("n")
    with pytest.raises(PublishError, match="is not empty") as caught:
        with output_root_lock(root, "run a"):
            pass
    assert str(root) in str(caught.value) and "notes.txt, plants" in str(caught.value)
    assert sorted(p.name for p in root.iterdir()) == ["notes.txt", "plants"]
    assert (root / "plants" / "mine.csv").read_text() == "x"


def test_entries_in_the_way_of_a_dataset_link_are_refused_not_deleted(tmp_path):
    root = tmp_path / "out"
    first = _publish(root, "a", 1.0)
    (root / "plants").mkdir()  # a folder of the user's where the catalogue links plants/
    (root / "plants" / "mine.csv").write_text("x")
    with pytest.raises(PublishError, match=r"plants not spillover's link"):
        with output_root_lock(root, "run b"):
            version_dir(root, "b")
    (root / "plants" / "mine.csv").unlink()
    (root / "plants").rmdir()
    (root / "things").unlink()  # and a dataset's link replaced by a file
    (root / "things").write_text("mine")
    with pytest.raises(PublishError, match=r"things not spillover's link"):
        _publish(root, "c", 2.0)
    assert (root / "things").read_text() == "mine"
    assert (root / "current").resolve() == first.resolve()


def test_an_output_root_from_before_the_marker_is_adopted(tmp_path):
    root = tmp_path / "out"
    old = root / ".versions" / "demo.20250101T000000.000000Z"
    write_dataset(pd.DataFrame({"year": [2015], "value": [0.0]}), old / "things")
    (root / "current").symlink_to(".versions/demo.20250101T000000.000000Z")
    (root / "things").symlink_to("current/things")
    new = _publish(root, "a", 1.0)
    assert (root / ".spillover-output-root").exists()
    # the old current (no .complete) stays through one publication, then goes
    assert _values(root) == [1.0, 2.0] and _versions(root) == sorted([old.name, new.name])
    newer = _publish(root, "b", 2.0)
    assert _versions(root) == [new.name, newer.name]


@pytest.mark.parametrize(
    ("mask", "file_mode", "dir_mode"), [(0o022, 0o644, 0o755), (0o027, 0o640, 0o750)]
)
def test_every_file_gets_the_same_mode_from_the_umask(tmp_path, umask, mask, file_mode, dir_mode):
    umask(mask)
    root = tmp_path / "out"
    _publish(root, "a", 1.0)
    _publish(root, "b", 2.0)
    seen = set()
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = os.path.join(folder, name)
            if os.path.islink(path):
                continue
            expected = dir_mode if os.path.isdir(path) else file_mode
            assert stat.S_IMODE(os.lstat(path).st_mode) == expected, path
            seen.add(name)
    assert {"manifest.json", ".complete", ".lock", ".spillover-output-root"} <= seen


def test_publishing_needs_the_output_root_lock(tmp_path):
    with pytest.raises(PublishError, match="needs its lock"):
        version_dir(tmp_path, "a")
    with output_root_lock(tmp_path, "run a"):
        version = version_dir(tmp_path, "a")
    with pytest.raises(PublishError, match="needs its lock"):
        publish(version, tmp_path, {"run_id": "a"})
    assert not (tmp_path / "current").exists()


def test_a_second_publisher_waits_then_fails_naming_the_holder(tmp_path, hold_lock):
    root = tmp_path / "out"
    _publish(root, "first", 1.0)
    holder = hold_lock(root / ".lock", "run 20260101T000000Z-abcdef, stage publish")
    started = time.monotonic()
    with pytest.raises(locks.LockTimeout) as caught:
        with output_root_lock(root, "run second", timeout=0.5):
            pass
    assert 0.5 <= time.monotonic() - started < 10
    assert (
        f"output root {root} is locked by run 20260101T000000Z-abcdef, stage publish "
        f"(pid {holder.pid} on"
    ) in str(caught.value)
    acquired = threading.Event()

    def wait_for_it():
        with output_root_lock(root, "run second", timeout=30):
            acquired.set()

    waiter = threading.Thread(target=wait_for_it)
    waiter.start()
    assert not acquired.wait(0.3)  # still waiting while the holder holds it
    holder.stdin.close()  # the holder lets go
    waiter.join(30)
    assert acquired.is_set()


def test_the_wait_limit_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(locks.TIMEOUT_ENV, raising=False)
    assert locks.wait_limit() == 600
    monkeypatch.setenv(locks.TIMEOUT_ENV, "2.5")
    assert locks.wait_limit() == 2.5
    for bad in ("soon", "-1", "nan"):
        monkeypatch.setenv(locks.TIMEOUT_ENV, bad)
        with pytest.raises(SpilloverError, match=f"SPILLOVER_LOCK_TIMEOUT='{bad}'"):
            locks.wait_limit()


def test_the_rollback_command_switches_current_or_says_why_not(tmp_path):
    from typer.testing import CliRunner

    from spillover.cli import app

    root = tmp_path / "out"
    first = _publish(root, "a", 1.0)
    _publish(root, "b", 2.0)
    result = CliRunner().invoke(app, ["rollback", "--output-root", str(root)])
    assert result.exit_code == 0, result.output
    assert first.name in result.output and _values(root) == [1.0, 2.0]
    result = CliRunner().invoke(app, ["rollback", "--output-root", str(root), "--to", "nope"])
    assert result.exit_code != 0 and "cannot roll back to 'nope'" in result.output
