import pandas as pd
import pytest

from spillover.geocode import geocode_file


@pytest.mark.parametrize("out_name", ["out.parquet", "out.csv"])
def test_geocode_file_csv_cp932(tmp_path, geolonia_path, out_name):
    inp = tmp_path / "in.csv"
    inp.write_bytes(
        "id,address\n1,愛知県豊田市元町1-2-3\n2,静岡県浜松市新町3\n3,月面\n4,愛知県豊田市元町1-2-3\n".encode(
            "cp932"
        )
    )
    out = tmp_path / out_name
    summary = geocode_file(
        inp, geolonia_path, out, encoding="cp932", cache_dir=tmp_path / "c", progress=False
    )
    assert summary["rows"] == 4 and summary["unique_addresses"] == 3
    assert summary["levels"] == {"block": 0, "town": 2, "oaza": 0, "city": 1, "pref": 0, "none": 1}
    assert summary["ambiguous"] == 1
    got = pd.read_parquet(out) if out_name.endswith("parquet") else pd.read_csv(out)
    assert got["id"].astype(str).tolist() == ["1", "2", "3", "4"]
    assert {"id", "lat", "lon", "level", "pref", "city", "town"} <= set(got.columns)
    assert got["level"].tolist() == ["town", "city", "none", "town"]


def test_geocode_file_parquet_input(tmp_path, geolonia_path):
    inp = tmp_path / "in.parquet"
    pd.DataFrame({"id": [10, 11], "address": ["東大阪市荒本2", None]}).to_parquet(inp)
    summary = geocode_file(inp, geolonia_path, tmp_path / "o.parquet", progress=False)
    assert summary["levels"]["town"] == 1 and summary["levels"]["none"] == 1


def test_geocode_file_missing_column(tmp_path, geolonia_path):
    inp = tmp_path / "in.csv"
    inp.write_text("id,addr\n1,x\n")
    with pytest.raises(ValueError, match=r"in\.csv: input lacks column\(s\) \['address'\]"):
        geocode_file(inp, geolonia_path, tmp_path / "o.parquet", progress=False)
