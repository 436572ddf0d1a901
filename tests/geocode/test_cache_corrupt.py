"""A geocode cache that cannot be read is rebuilt with a warning, never trusted or fatal."""

import pandas as pd
import pytest

from spillover.geocode import geocode_addresses
from spillover.geocode.cache import CacheWarning, cache_path, raw_cache_path, read_cache

ADDRESSES = pd.Series(
    ["豊田市元町1-2-3", "府中市本町1-1", "愛知県豊田市トヨタ町1", "nowhere", None]
)


def _truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _garbage(data: bytes) -> bytes:
    return b"\x00garbage\xff" * 100


def _other_columns(data: bytes) -> bytes:
    import io

    buffer = io.BytesIO()
    pd.DataFrame({"key": ["豊田市元町1-2-3"], "level": ["block"]}).to_parquet(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("which", ["canonical", "raw"])
@pytest.mark.parametrize("damage", [_truncated, _garbage, _other_columns])
def test_a_damaged_cache_is_rebuilt_with_the_results_of_a_fresh_run(index, tmp_path, damage, which):
    fresh = geocode_addresses(ADDRESSES, index, cache_dir=tmp_path / "fresh")
    path = cache_path(tmp_path, index.checksum)
    raw = raw_cache_path(tmp_path, index.checksum)
    geocode_addresses(ADDRESSES, index, cache_dir=tmp_path)
    damaged = path if which == "canonical" else raw
    damaged.write_bytes(damage(damaged.read_bytes()))
    if which == "canonical":
        raw.unlink()  # so that the canonical cache is read
    with pytest.warns(CacheWarning, match=rf"geocode cache {damaged} is unreadable"):
        again = geocode_addresses(ADDRESSES, index, cache_dir=tmp_path)
    pd.testing.assert_frame_equal(again, fresh)
    assert set(read_cache(path)["key"]) == {
        "豊田市元町1-2-3",
        "府中市本町1-1",
        "愛知県豊田市トヨタ町1",
        "nowhere",
        "",
    }
