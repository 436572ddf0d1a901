"""Write the demo world's tables as the raw files of the real surveys.

工業統計調査 files are CP932 in 万円 (survey year = accounts year + 1), the 経済センサス file
UTF-8 in 百万円 with thousands separators, the overseas tables CP932; the Tankan period is
written 「2015年6月」. One 工業統計 file gets the broken rows a real file contains.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from spillover.demo import published
from spillover.demo.addresses import write_establishment_addresses
from spillover.demo.geography import gazetteer_frame
from spillover.demo.layouts import RAW_COLUMNS, demo_config, raw_frame
from spillover.demo.params import WorldParams
from spillover.demo.places import INDUSTRY_GROUPS

#: Canonical columns of the establishment files, in the order they are written.
_ESTABLISHMENT_COLUMNS = [
    "establishment_id",
    "firm_id",
    "pref_code",
    "city_code",
    "address",
    "industry",
    "employees",
    "shipments",
    "export_share",
    "capital",
]


def write_raw_files(world: dict, out: Path, params: WorldParams, rng: np.random.Generator) -> int:
    """Write the raw survey files and the gazetteer of a demo world under ``out``.

    Parameters
    ----------
    world : dict
        Tables from :func:`spillover.demo.dgp.build_world_frames` (canonical units).
    out : pathlib.Path
        Root folder of the demo world; files go to ``raw/`` and ``gazetteer/``.
    params : WorldParams
        Years of the world and whether to write broken rows.
    rng : numpy.random.Generator
        Draws the written form of the addresses and the export ratios.

    Returns
    -------
    int
        Rows written to the establishment files (broken rows included).
    """
    n_rows = _write_establishments(world, out, params, rng)
    if params.gazetteer is None:  # the national scale's config points at the real one
        _write_csv(gazetteer_frame(world["towns"]), out / "gazetteer" / "latest.csv")
    if params.published_layouts:
        _write_published(world, out, params, rng)
        return n_rows
    yearly = (
        ("firms", "kigyou_katsudou", "kikatsu/kigyou_katsudou", "utf-8"),
        ("affiliates", "genchi_houjin", "kaigai/genchi_houjin", "cp932"),
        ("parents", "honsha_kigyou", "kaigai/honsha_kigyou", "cp932"),
    )
    for table, source, stem, encoding in yearly:
        for year, frame in world[table].groupby("year"):
            _write_csv(raw_frame(frame, source), out / "raw" / f"{stem}_{year}.csv", encoding)
    tankan = world["tankan"].assign(
        period=lambda d: (
            d["period"].str[:4] + "年" + (d["period"].str[-1].astype(int) * 3).astype(str) + "月"
        )
    )
    _write_csv(
        raw_frame(tankan, "tankan"), out / "raw" / "tankan" / "tankan_overseas_supply_demand_di.csv"
    )
    _write_export_ratios(out, params, rng)
    return n_rows


def _write_published(world: dict, out: Path, params: WorldParams, rng: np.random.Generator) -> None:
    """The firm, overseas, Tankan and 鉱工業 sources in their published layouts."""
    for year, frame in world["firms"].groupby("year"):
        published.write_firm_survey(frame, int(year), out, rng)
    published.write_crosswalk(sorted(world["firms"]["firm_id"].unique()), params, out)
    for year, frame in world["affiliates"].groupby("year"):
        frame = frame.assign(industry=published.lettered(frame["industry"]))
        _write_csv(
            raw_frame(frame, "genchi_houjin"),
            out / "raw" / "kaigai" / f"genchi_houjin_{year}.csv",
            "cp932",
        )
    for year, frame in world["parents"].groupby("year"):
        published.write_parents(frame, int(year), out, RAW_COLUMNS["honsha_kigyou"])
    published.write_tankan(world["tankan"], out, rng)
    published.write_shipments_breakdown(params, out, rng)


def config_text(params: WorldParams) -> str:
    """The ``config.yaml`` text of a demo world (:func:`demo_config` as YAML, ``latest``)."""
    return yaml.safe_dump(demo_config(params, latest=True), allow_unicode=True, sort_keys=False)


def write_config_and_truth(out: Path, params: WorldParams, truth: dict) -> tuple[Path, Path]:
    """Write ``config.yaml`` (see :func:`demo_config`) and ``truth.json`` under ``out``.

    Parameters
    ----------
    out : pathlib.Path
        Root folder of the demo world.
    params : WorldParams
        Parameters of the world.
    truth : dict
        The planted coefficients (``world["truth"]``).

    Returns
    -------
    tuple of pathlib.Path
        Paths of the config and of the truth file.
    """
    config_path = out / "config.yaml"
    config_path.write_text(config_text(params), encoding="utf-8")
    truth_path = out / "truth.json"
    truth_path.write_text(json.dumps(truth, ensure_ascii=False, indent=2), encoding="utf-8")
    return config_path, truth_path


def _write_csv(frame: pd.DataFrame, path: Path, encoding: str = "utf-8") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, encoding=encoding)


def _man_yen(values: pd.Series) -> pd.Series:
    """Million yen → integer 万円 as the 工業統計 writes it."""
    return (values * 100).round().astype("Int64")


def _write_establishments(
    world: dict, out: Path, params: WorldParams, rng: np.random.Generator
) -> int:
    """Establishment files: 工業統計 for every year but accounts year 2015 (経済センサス)."""
    towns = world["towns"]
    est = world["establishments"]
    est = est.assign(
        address=write_establishment_addresses(est, towns, rng, params.address_rewrite_share)
    )
    est["pref_code"] = towns["pref_code"].to_numpy()[est["town"].to_numpy()]
    est["city_code"] = towns["city_code"].to_numpy()[est["town"].to_numpy()]
    est["capital"] = est["own_capital"].where(est["reports_capital"])
    est["export_share"] = est["export_share"].astype("Int64")
    n_rows = 0
    for year, frame in est.groupby("year"):
        if year == 2015:  # accounts year 2015 comes from 経済センサス‐活動調査 2016 (UTF-8, 百万円)
            raw = _keizai_census(frame)
            _write_csv(raw, out / "raw" / "establishments" / "keizai_census_2016.csv", "utf-8")
        else:  # 工業統計調査: survey year = accounts year + 1, CP932, 万円
            if params.published_layouts:  # the demo's classification revision
                frame = frame.assign(industry=published.revised(frame["industry"], year))
            raw = _kogyo_toukei(frame, year + 1)
            if params.broken_rows and year == params.first_year + 1:
                raw = pd.concat([raw, _broken_rows(raw, year + 1)], ignore_index=True)
            _write_csv(raw, out / "raw" / "establishments" / f"kogyo_{year + 1}.csv", "cp932")
        n_rows += len(raw)
    if params.published_layouts:
        published.write_revision_concordance(sorted(set(est["industry"])), out)
    return n_rows


def _keizai_census(frame: pd.DataFrame) -> pd.DataFrame:
    """経済センサス layout: 百万円 with thousands separators and an unmapped extra column."""
    shipments = RAW_COLUMNS["keizai_census"]["shipments"]
    raw = raw_frame(frame[_ESTABLISHMENT_COLUMNS], "keizai_census").assign(
        **{shipments: [f"{v:,.2f}" for v in frame["shipments"]]}
    )
    raw.insert(5, "産業小分類", frame["industry"].str[:3].to_numpy())
    return raw


def _kogyo_toukei(frame: pd.DataFrame, survey_year: int) -> pd.DataFrame:
    """工業統計調査 layout: money in 万円, the survey year as the first column."""
    canonical = frame[_ESTABLISHMENT_COLUMNS].assign(
        shipments=_man_yen(frame["shipments"]), capital=_man_yen(frame["capital"])
    )
    canonical.insert(0, "year", survey_year)
    return raw_frame(canonical, "kogyo_toukei")


def _broken_rows(raw: pd.DataFrame, survey_year: int) -> pd.DataFrame:
    """Rows a real file contains: bad codes, impossible values, unknown fields, a duplicate."""
    name = RAW_COLUMNS["kogyo_toukei"]
    template = raw.iloc[0].to_dict()
    broken = []
    for i, (column, value) in enumerate(
        [
            ("shipments", -5000),
            ("export_share", 150),
            ("pref_code", 99),
            ("employees", "不明"),
            ("shipments", "約500"),
            ("industry", "ABCD"),
            ("year", survey_year - 3),
            ("establishment_id", ""),
        ]
    ):
        broken.append({**template, name["establishment_id"]: f"X{i:07d}", name[column]: value})
    broken.append(raw.iloc[1].to_dict())  # exact duplicate of an existing establishment
    return pd.DataFrame(broken).astype(raw.dtypes.to_dict() | {c: object for c in raw.columns})


def _write_export_ratios(out: Path, params: WorldParams, rng: np.random.Generator) -> None:
    """鉱工業 export ratios by industry group and year (percent), and the JSIC concordance."""
    bases = rng.uniform(3, 30, len(INDUSTRY_GROUPS))
    ratios = pd.DataFrame(
        [
            {
                "year": year,
                "industry_group": group,
                "export_ratio": round(base + 0.3 * (year - params.first_year), 1),
            }
            for group, base in zip(INDUSTRY_GROUPS.values(), bases, strict=True)
            for year in range(params.first_year, params.last_year + 1)
        ]
    )
    kougyou = out / "raw" / "kougyou"
    _write_csv(raw_frame(ratios, "kougyou_export_ratios"), kougyou / "export_ratios.csv")
    concordance = pd.DataFrame(
        {"jsic": list(INDUSTRY_GROUPS), "industry_group": list(INDUSTRY_GROUPS.values())}
    )
    _write_csv(raw_frame(concordance, "jsic_to_group"), kougyou / "jsic_concordance.csv")
