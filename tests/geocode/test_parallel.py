"""Geocoding on worker processes gives what one process gives, address for address."""

from __future__ import annotations

import pandas as pd

import spillover.geocode.api as api
from spillover import processes
from spillover.geocode import geocode_addresses
from tests.geocode.conftest import GEOLONIA_ROWS


def _messy_addresses() -> list[str]:
    """Addresses of every test town as registers write them, and some that match nothing."""
    out = []
    for number, (_, pref, _, city, town, _, _, _) in enumerate(GEOLONIA_ROWS):
        out += [
            f"{pref}{city}{town}{number % 5 + 1}-{number % 3 + 1}",
            f"{city}{town}{number + 1}番地　第二工場",
            f"〒100-0001 {pref} {city} {town}１２－３",
            f"{city}{town[:2]}",
            f"{pref}{city}",
        ]
    return out + ["nowhere", "", "東京都", "豊田市元町9丁目"]


def test_workers_match_each_address_as_one_process_does(index, tmp_path, monkeypatch):
    addresses = pd.Series(_messy_addresses() * 2)
    monkeypatch.setattr(processes, "PARALLEL_AT_LEAST", 10**9)
    alone = geocode_addresses(addresses, index)
    monkeypatch.setattr(processes, "PARALLEL_AT_LEAST", 1)
    monkeypatch.setattr(api, "_PROGRESS_EVERY", 7)  # many chunks, in order
    spread = geocode_addresses(addresses, index, cache_dir=tmp_path)
    pd.testing.assert_frame_equal(spread, alone)
    assert (alone["level"] != "none").sum() > len(addresses) / 2
