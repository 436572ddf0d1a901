"""The geocode stage on a small demo world with an address no gazetteer knows."""

import json

import pandas as pd
import pytest

from spillover.demo.world import WorldParams, build_demo_world
from spillover.pipeline import run_stage, start_run

pytestmark = pytest.mark.slow  # builds a demo world and runs two stages


def test_unplaceable_rows_are_quarantined_with_file_and_line(tmp_path):
    params = WorldParams(
        n_establishments=3000, n_global_firms=20, n_large_firms=30, n_medium_firms=300
    )
    world = build_demo_world(tmp_path, params)
    path = tmp_path / "raw" / "establishments" / "kogyo_2017.csv"
    raw = pd.read_csv(path, encoding="cp932", dtype=str)
    extra = pd.DataFrame([raw.iloc[5]] * 4).reset_index(drop=True)
    extra["事業所番号"] = ["E9999999", "E9999998", "E9999997", "E9999996"]
    extra["所在地"] = [
        "火星県オリンポス市1-1",
        "愛知県豊田市",
        "愛知県豊田市元町一丁目1番1号",
        "（株）デモ製作所 本社工場 " + raw.iloc[5]["所在地"],  # placed, with a note
    ]
    extra["都道府県コード"] = ["23", "23", "13", raw.iloc[5]["都道府県コード"]]  # E9999997: Tokyo
    extra["市区町村コード"] = ["23211", "23211", "", raw.iloc[5]["市区町村コード"]]
    raw = pd.concat([raw, extra], ignore_index=True)
    raw.to_csv(path, index=False, encoding="cp932")

    workdir = start_run(world.config_path, run_id="t")
    for stage in ("ingest", "geocode"):
        run_stage(stage, workdir)

    report = json.loads((workdir / "reports" / "geocode.json").read_text(encoding="utf-8"))
    assert report["rows_quarantined"] == 3 and report["noted"] == 1
    assert report["rows_in"] == report["rows_out"] + 3
    quarantine = pd.read_parquet(workdir / "quarantine" / "geocode.parquet")
    by_id = quarantine.set_index(quarantine["raw"].map(lambda r: json.loads(r)["establishment_id"]))
    assert (by_id["file"] == str(path)).all()
    assert by_id["line"].to_dict() == {
        "E9999999": len(raw) - 2,
        "E9999998": len(raw) - 1,
        "E9999997": len(raw),
    }
    assert by_id.loc["E9999999", "reason"].startswith("address not resolved by the gazetteer")
    assert "coarser than gazetteer.min_level = oaza" in by_id.loc["E9999998", "reason"]
    assert by_id.loc["E9999997", "reason"].startswith(
        "address lies in 愛知県 (23) but pref_code is 13"
    )
    plants = pd.read_parquet(workdir / "tables" / "plants_located.parquet")
    assert not {"E9999999", "E9999998", "E9999997"} & set(plants["establishment_id"])
    assert plants["source_line"].min() >= 2
    noted = plants.set_index("establishment_id").loc["E9999996"]
    assert noted["geocode_level"] in {"town", "block"}
    assert noted["geocode_note"] == "ignored before the address: (株)デモ製作所本社工場"
    original = plants[plants["source_line"] == 7].iloc[0]  # raw.iloc[5] is line 7
    assert (noted["lat"], noted["lon"]) == (original["lat"], original["lon"])
