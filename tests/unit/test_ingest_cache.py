"""The ingest cache: kept mappings equal fresh ones exactly, and only changed files are read."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pandas as pd
import pytest

from spillover import ingest
from spillover.config import load_config
from spillover.demo.world import WorldParams, build_demo_world
from spillover.ingest import SourceReport, ingest_all
from spillover.ingest_cache import IngestCache, MappedFile

pytestmark = pytest.mark.slow  # builds a small demo world

SMALL = WorldParams(
    n_establishments=2000,
    n_global_firms=15,
    n_large_firms=20,
    n_medium_firms=200,
    published_layouts=False,  # edits CSV rows
)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return build_demo_world(tmp_path_factory.mktemp("world"), SMALL)


@pytest.fixture
def reads(monkeypatch):
    """The raw files read (not taken from the cache) by ingest."""
    seen = []
    real = ingest.read_raw

    def counting(path, *args, **kwargs):
        seen.append(path.name)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(ingest, "read_raw", counting)
    return seen


def _assert_same(result, expected) -> None:
    assert result.tables.keys() == expected.tables.keys()
    for name, frame in expected.tables.items():
        pd.testing.assert_frame_equal(result.tables[name], frame, check_exact=True)
    pd.testing.assert_frame_equal(result.quarantine, expected.quarantine, check_exact=True)
    ours = [{**vars(r), "from_cache": None} for r in result.reports]
    assert ours == [{**vars(r), "from_cache": None} for r in expected.reports]


def test_kept_mappings_equal_the_files_mapped_again(world, tmp_path, reads):
    config = load_config(world.config_path)
    expected = ingest_all(config)  # no cache
    files = len(reads)
    assert files > 20 and len(expected.quarantine) > 0  # the demo's messy rows

    first = ingest_all(config, cache_dir=tmp_path / "cache")
    assert len(reads) == 2 * files and not any(r.from_cache for r in first.reports)
    _assert_same(first, expected)

    again = ingest_all(config, cache_dir=tmp_path / "cache")
    assert len(reads) == 2 * files  # nothing read
    assert all(r.from_cache for r in again.reports)
    _assert_same(again, expected)


def test_a_changed_file_alone_is_read_again(world, tmp_path, reads):
    config = load_config(world.config_path)
    ingest_all(config, cache_dir=tmp_path / "cache")
    path = world.root / "raw" / "kikatsu" / "kigyou_katsudou_2016.csv"
    original = path.read_bytes()
    try:
        lines = original.splitlines(keepends=True)
        path.write_bytes(b"".join(lines[:-1]))  # one firm fewer
        reads.clear()
        changed = ingest_all(config, cache_dir=tmp_path / "cache")
        assert reads == [path.name]
        _assert_same(changed, ingest_all(config))
    finally:
        path.write_bytes(original)


def test_a_config_change_to_the_mapping_reads_the_files_again(world, tmp_path, reads):
    config = load_config(world.config_path)
    ingest_all(config, cache_dir=tmp_path / "cache")
    stricter = config.model_copy(
        update={"quarantine": config.quarantine.model_copy(update={"max_share": 0.5})}
    )
    reads.clear()
    ingest_all(stricter, cache_dir=tmp_path / "cache")
    assert len(reads) > 20


def test_entries_unused_for_weeks_are_pruned(tmp_path):
    folder = tmp_path / "cache"
    (folder / "old").mkdir(parents=True)
    (folder / "recent").mkdir()
    (folder / "used").mkdir()
    month_ago = time.time() - 31 * 86400
    for name in ("old", "used"):
        os.utime(folder / name, (month_ago, month_ago))
    cache = IngestCache(folder)
    cache.used.add("used")
    cache.prune()
    assert sorted(p.name for p in folder.iterdir()) == ["recent", "used"]


def test_entries_are_written_in_the_background_and_a_failed_write_is_raised(tmp_path):
    good = pd.DataFrame({"establishment_id": ["a", "b"], "employees": [3.0, 4.0]})
    report = SourceReport(**{f: None for f in SourceReport.__dataclass_fields__})
    mapped = MappedFile("establishments", None, 2012, Path("x.csv"), 2, good, good[:0], report)
    cache = IngestCache(tmp_path / "cache")
    cache.store("k", mapped)
    cache.flush()
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "cache" / "k" / "rows.parquet"), good)
    (tmp_path / "file").write_text("not a folder")
    broken = IngestCache(tmp_path / "file")
    broken.store("k", mapped)  # returns at once; the error comes with flush
    with pytest.raises(OSError):
        broken.flush()
    broken.flush()  # reported once
