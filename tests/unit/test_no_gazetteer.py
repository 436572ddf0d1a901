"""Coordinates without a gazetteer: lat/lon or mesh codes place rows, the rest are quarantined."""

import pandas as pd
import pytest

from spillover.config import ConfigError, GazetteerConfig, parse_config
from spillover.demo.layouts import demo_config
from spillover.demo.params import WorldParams
from spillover.locate import locate_plants


def test_gazetteer_is_optional_when_every_source_gives_coordinates(tmp_path):
    data = demo_config(WorldParams())
    del data["gazetteer"]
    kogyo, census = (source["columns"] for source in data["sources"]["establishments"])
    census["メッシュ"] = "mesh_code"
    with pytest.raises(ConfigError, match=r"unless every .* \['kogyo_toukei'\] map neither"):
        parse_config(data, base_dir=tmp_path)
    kogyo.update({"緯度": "lat", "経度": "lon"})
    assert parse_config(data, base_dir=tmp_path).gazetteer.path is None


def test_rows_needing_an_address_match_are_quarantined_with_that_reason():
    establishments = pd.DataFrame(
        {
            "year": 2015,
            "establishment_id": ["given", "mesh", "address", "seoul"],
            "pref_code": pd.array([23, 23, 23, 23], dtype="Int64"),
            "address": ["豊田市元町1-2-3"] * 4,
            "lat": [35.1, None, None, 37.57],
            "lon": [137.2, None, None, 126.98],
            "mesh_code": [None, "52374017", None, None],
            "source_file": "raw/e.csv",
            "source_line": [2, 3, 4, 5],
        }
    )
    rules = GazetteerConfig()
    located, refused, summary = locate_plants(
        establishments, None, rules=rules, cache_dir=None, progress=False
    )
    assert located.set_index("establishment_id")["geocode_level"].to_dict() == {
        "given": "latlon",
        "mesh": "mesh",
    }
    assert summary["levels"] == {"latlon": 1, "mesh": 1, "none": 2}
    reasons = refused["reason"].tolist()
    assert len(reasons) == 2
    assert all(r.startswith("no gazetteer (gazetteer.path) to match the address") for r in reasons)
    assert reasons[1].endswith("lie outside Japan")
