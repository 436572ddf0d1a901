"""The geocode stage on a small demo world with an address no gazetteer knows."""

import json

import pandas as pd

from spillover.demo.world import WorldParams, build_demo_world
from spillover.pipeline import run_stage, start_run


def test_unplaceable_rows_are_quarantined_with_file_and_line(tmp_path):
    params = WorldParams(
        n_establishments=3000, n_global_firms=20, n_large_firms=30, n_medium_firms=300
    )
    world = build_demo_world(tmp_path, params)
    path = tmp_path / "raw" / "establishments" / "kogyo_2017.csv"
    raw = pd.read_csv(path, encoding="cp932", dtype=str)
    lost = raw.iloc[5].copy()
    lost["事業所番号"] = "E9999999"
    lost["所在地"] = "火星県オリンポス市1-1"
    raw = pd.concat([raw, lost.to_frame().T], ignore_index=True)
    raw.to_csv(path, index=False, encoding="cp932")

    workdir = start_run(world.config_path, run_id="t")
    for stage in ("ingest", "geocode"):
        run_stage(stage, workdir)

    report = json.loads((workdir / "reports" / "geocode.json").read_text(encoding="utf-8"))
    assert report["rows_quarantined"] == 1
    assert report["rows_in"] == report["rows_out"] + 1
    quarantine = pd.read_parquet(workdir / "quarantine" / "geocode.parquet")
    row = quarantine.iloc[0]
    assert row["file"] == str(path) and row["line"] == len(raw) + 1
    assert "火星県オリンポス市1-1" in row["reason"]
    assert json.loads(row["raw"])["establishment_id"] == "E9999999"
    plants = pd.read_parquet(workdir / "tables" / "plants_located.parquet")
    assert "E9999999" not in set(plants["establishment_id"])
    assert plants["source_line"].min() >= 2
