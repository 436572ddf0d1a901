"""The geocoder never opens a network connection."""

import socket

import pandas as pd
import pytest
from pytest_socket import disable_socket, enable_socket

from spillover.geocode import geocode_addresses, load_gazetteer


@pytest.fixture
def no_network():
    disable_socket()
    yield
    enable_socket()


def test_sockets_are_blocked(no_network):
    with pytest.raises(Exception, match="[Ss]ocket"):
        socket.socket(socket.AF_INET, socket.SOCK_STREAM)


def test_geocode_with_sockets_blocked(no_network, geolonia_path, tmp_path):
    ix = load_gazetteer(geolonia_path, index_dir=tmp_path / "idx")
    r = geocode_addresses(
        pd.Series(["愛知県豊田市元町1-2-3", "浜松市中区栄町1-5"]),
        ix,
        cache_dir=tmp_path / "cache",
        progress=True,
    )
    assert r["level"].tolist() == ["town", "town"]
