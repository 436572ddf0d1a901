import pandas as pd
import pytest

import spillover.geocode.api as api
from spillover.geocode import geocode_addresses
from spillover.geocode.cache import (
    COLUMNS,
    cache_path,
    cached_results,
    empty_cache,
    raw_cache_path,
    read_cache,
    read_raw_cache,
    write_cache,
)


def test_cache_round_trip_and_reuse(index, tmp_path, monkeypatch):
    s = pd.Series(["豊田市元町1-2-3", "府中市本町1-1", "nowhere", None])
    first = geocode_addresses(s, index, cache_dir=tmp_path)
    path = cache_path(tmp_path, index.checksum)
    cached = read_cache(path)
    assert set(cached["key"]) == {"豊田市元町1-2-3", "府中市本町1-1", "nowhere", ""}

    calls = []
    real = api.Matcher.match

    def counting(self, key):
        calls.append(key)
        return real(self, key)

    monkeypatch.setattr(api.Matcher, "match", counting)
    again = geocode_addresses(s, index, cache_dir=tmp_path)
    pd.testing.assert_frame_equal(first, again)
    assert calls == []
    # a new year's file: only the unseen address is matched
    geocode_addresses(
        pd.Series(["豊田市元町1-2-3", "愛知県豊田市トヨタ町1"]), index, cache_dir=tmp_path
    )
    assert calls == ["愛知県豊田市トヨタ町1"]
    assert len(read_cache(path)) == 5


def test_cache_is_keyed_by_gazetteer(index, tmp_path):
    geocode_addresses(pd.Series(["豊田市元町1-2-3"]), index, cache_dir=tmp_path)
    assert cache_path(tmp_path, index.checksum).exists()
    assert not cache_path(tmp_path, "0" * 64).exists()


def test_crash_during_write_keeps_previous_cache(index, tmp_path, monkeypatch):
    path = cache_path(tmp_path, index.checksum)
    geocode_addresses(pd.Series(["豊田市元町1-2-3"]), index, cache_dir=tmp_path)
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", boom)
    with pytest.raises(OSError, match="disk full"):
        geocode_addresses(pd.Series(["愛知県豊田市トヨタ町1"]), index, cache_dir=tmp_path)
    assert path.read_bytes() == before
    raw = raw_cache_path(tmp_path, index.checksum)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([path.name, raw.name])


def test_write_cache_preserves_missing_values(tmp_path):
    path = tmp_path / "c.parquet"
    entry = ("none", 0, None, None, None, float("nan"), float("nan"), True, "x", "", "")
    frame = pd.DataFrame([("x", *entry)], columns=list(COLUMNS))
    write_cache(path, frame)
    (got,) = cached_results(read_cache(path))
    assert got[:5] == ("none", 0, None, None, None)
    assert got[5] != got[5] and got[7] is True
    assert type(got[1]) is int and got[8:] == ("x", "", "")


def test_crash_midway_keeps_flushed_results(index, tmp_path, monkeypatch):
    monkeypatch.setattr(api, "_PROGRESS_EVERY", 2)
    monkeypatch.setattr(api, "_FLUSH_EVERY", 2)
    real = api.Matcher.match

    def dies_on_third(self, key):
        if key.startswith("愛知県豊田市トヨタ町"):
            raise RuntimeError("power cut")
        return real(self, key)

    monkeypatch.setattr(api.Matcher, "match", dies_on_third)
    s = pd.Series(["豊田市元町1-2-3", "東大阪市荒本2", "愛知県豊田市トヨタ町1", "東京都どこか"])
    with pytest.raises(RuntimeError, match="power cut"):
        geocode_addresses(s, index, cache_dir=tmp_path)
    assert set(read_cache(cache_path(tmp_path, index.checksum))["key"]) == {
        "豊田市元町1-2-3",
        "東大阪市荒本2",
    }


def test_addresses_written_as_before_are_not_normalised_again(index, tmp_path, monkeypatch):
    """The raw cache answers an address written exactly as before, by a join.

    No normalisation, no canonical cache read, no matching.
    """
    s = pd.Series(["豊田市元町1-2-3", "〒471-0001 豊田市元町１－２－３", "nowhere", None, ""])
    first = geocode_addresses(s, index, cache_dir=tmp_path)
    raw = read_raw_cache(raw_cache_path(tmp_path, index.checksum))
    assert sorted(raw["raw"]) == sorted(
        ["豊田市元町1-2-3", "〒471-0001 豊田市元町１－２－３", "nowhere", ""]
    )

    normalised, read, matched = [], [], []
    monkeypatch.setattr(api, "canonical_text", lambda text: normalised.append(text) or text)
    monkeypatch.setattr(api, "read_cache", lambda path: read.append(path) or empty_cache())
    monkeypatch.setattr(api.Matcher, "match", lambda self, key: matched.append(key))
    again = geocode_addresses(s.iloc[::-1], index, cache_dir=tmp_path).loc[s.index]
    pd.testing.assert_frame_equal(again, first)
    assert normalised == read == matched == []
    assert first.loc[0].equals(first.loc[1])


def test_a_new_writing_of_a_known_place_uses_the_canonical_cache(index, tmp_path, monkeypatch):
    first = geocode_addresses(pd.Series(["豊田市元町1-2-3"]), index, cache_dir=tmp_path)
    matched = []
    real = api.Matcher.match
    monkeypatch.setattr(
        api.Matcher, "match", lambda self, key: matched.append(key) or real(self, key)
    )
    again = geocode_addresses(pd.Series(["豊田市元町１－２－３"]), index, cache_dir=tmp_path)
    pd.testing.assert_frame_equal(again, first)
    assert matched == []
    kept = read_raw_cache(raw_cache_path(tmp_path, index.checksum))
    assert sorted(kept["raw"]) == ["", "豊田市元町1-2-3", "豊田市元町１－２－３"]


def test_only_the_asked_cached_entries_become_results(index, tmp_path, monkeypatch):
    """A run with new addresses turns the cached rows it needs into results, not every row."""
    known = ["豊田市元町1-2-3", "府中市本町1-1", "nowhere"]
    fresh = geocode_addresses(pd.Series(known[:1]), index)
    geocode_addresses(pd.Series(known), index, cache_dir=tmp_path)
    raw_cache_path(tmp_path, index.checksum).unlink()  # so that the canonical cache answers
    converted = []
    real = api.cached_results
    monkeypatch.setattr(
        api, "cached_results", lambda rows: converted.append(len(rows)) or real(rows)
    )
    new = "愛知県豊田市トヨタ町1"
    got = geocode_addresses(pd.Series([known[0], new, known[0]]), index, cache_dir=tmp_path)
    assert converted == [2]  # of 4 cached: the known address and "" (always looked up)
    pd.testing.assert_frame_equal(got.iloc[[0]], fresh)
    pd.testing.assert_frame_equal(got.iloc[[2]].reset_index(drop=True), fresh)
    assert list(read_cache(cache_path(tmp_path, index.checksum))["key"]) == [*known, "", new]
