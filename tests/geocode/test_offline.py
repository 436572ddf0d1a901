"""The suite runs with network sockets blocked (pytest-socket in pyproject.toml's addopts).

So every test — the geocoder here, the whole pipeline in the end-to-end tests — proves it
opens no network connection: one that tried would fail.
"""

import socket

import pandas as pd
import pytest

from spillover.geocode import geocode_addresses, load_gazetteer


def test_sockets_are_blocked_for_the_whole_suite():
    with pytest.raises(Exception, match="[Ss]ocket"):
        socket.socket(socket.AF_INET, socket.SOCK_STREAM)


def test_geocode_with_sockets_blocked(geolonia_path, tmp_path):
    ix = load_gazetteer(geolonia_path, index_dir=tmp_path / "idx")
    r = geocode_addresses(
        pd.Series(["愛知県豊田市元町1-2-3", "浜松市中区栄町1-5"]),
        ix,
        cache_dir=tmp_path / "cache",
        progress=True,
    )
    assert r["level"].tolist() == ["town", "town"]
