"""Raw file layouts of the demo sources, and the config that maps them back.

Files are written with the raw column names of :data:`RAW_COLUMNS` and
:func:`demo_config` maps them back to canonical names, so each layout is stated once.
"""

from __future__ import annotations

import pandas as pd

from spillover.demo.params import EXPOSURE_KERNEL, WorldParams

#: Raw column names of each demo source, canonical → raw. Files are written with these
#: names and :func:`demo_config` maps them back, so each layout is stated once.
RAW_COLUMNS: dict[str, dict[str, str]] = {
    "kogyo_toukei": {
        "year": "調査年",
        "establishment_id": "事業所番号",
        "firm_id": "企業番号",
        "pref_code": "都道府県コード",
        "city_code": "市区町村コード",
        "address": "所在地",
        "industry": "産業分類番号",
        "employees": "従業者数",
        "shipments": "製造品出荷額等（万円）",
        "export_share": "直接輸出額の割合（％）",
        "capital": "資本金額（万円）",
    },
    "keizai_census": {
        "establishment_id": "事業所ID",
        "firm_id": "企業ID",
        "pref_code": "都道府県",
        "city_code": "市区町村",
        "address": "事業所の所在地",
        "industry": "産業細分類",
        "employees": "従業者数合計",
        "shipments": "製造品出荷額等（百万円）",
        "export_share": "輸出比率（％）",
        "capital": "資本金（百万円）",
    },
    "kigyou_katsudou": {
        "year": "調査年度",
        "firm_id": "企業番号",
        "capital": "資本金（百万円）",
        "sales": "売上高（百万円）",
        "exports": "直接輸出額（百万円）",
        "employees": "常時従業者数",
        "industry": "主業種",
    },
    "genchi_houjin": {
        "year": "調査年度",
        "affiliate_id": "現地法人番号",
        "parent_firm_id": "本社企業番号",
        "country": "所在国コード",
        "industry": "業種コード",
        "sales": "売上高（百万円）",
    },
    "honsha_kigyou": {
        "year": "調査年度",
        "firm_id": "企業番号",
        "capital": "資本金（百万円）",
        "sales": "売上高（百万円）",
        "industry": "業種コード",
    },
    "kougyou_export_ratios": {
        "year": "年",
        "industry_group": "業種グループ",
        "export_ratio": "輸出比率（％）",
    },
    "jsic_to_group": {"jsic": "中分類", "industry_group": "業種グループ"},
    "tankan": {
        "period": "調査時点",
        "industry": "業種",
        "size_class": "規模",
        "di": "海外での製商品需給判断DI（最近）",
    },
}


def raw_frame(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """Rename a canonical table to the raw layout of one source.

    Parameters
    ----------
    frame : pandas.DataFrame
        Table with canonical column names.
    source : str
        Key of :data:`RAW_COLUMNS`.

    Returns
    -------
    pandas.DataFrame
        ``frame`` with the raw column names of ``source`` (other columns unchanged).
    """
    return frame.rename(columns=RAW_COLUMNS[source])


def demo_config(params: WorldParams, *, latest: bool = False) -> dict:
    """Build the config mapping the demo world's raw files.

    Parameters
    ----------
    params : WorldParams
        Years and neighbourhood radius (km) of the world.
    latest : bool
        End ``years`` with ``latest`` (the newest year every yearly family has files for,
        so a delivered year is picked up without editing the config) instead of the
        world's last year; the demo world's ``config.yaml`` does.

    Returns
    -------
    dict
        The content of ``config.yaml`` (paths relative to the config file), in the
        order it is written.
    """
    return {
        "project": "spillover-demo",
        "years": [params.first_year, "latest" if latest else params.last_year],
        "output_root": "output",
        "work_root": "work",
        "cache_dir": "cache",
        "gazetteer": {
            "path": params.gazetteer or "gazetteer/latest.csv",
            "index_dir": "cache/gazetteer",
        },
        "sources": _sources(params),
        "external_demand": {
            "industry": "製造業",
            "size_class": "大企業",
            "by_centre_industry": False,
            "industry_map": {"31": "輸送用機械", "29": "電気機械", "24": "金属製品"},
        },
        **({"exports": {"concordance": "jsic_to_iip_group"}} if params.published_layouts else {}),
        "neighbourhoods": _neighbourhoods(params),
        "models": _models(params.radius_km),
        "disclosure": {"min_establishments": 3, "dominance_top_n": 2, "dominance_share": 0.8},
    }


def _neighbourhoods(params: WorldParams) -> dict:
    """The ``neighbourhoods`` section: radii (km); the overlap setting names its kernel."""
    radii = {"radii_km": [params.radius_km, 10.0]}
    return {**radii, "exposure_kernel": EXPOSURE_KERNEL} if params.overlap else radii


def _source(name: str, path: str, source_years: list[int] | None = None, **options) -> dict:
    """One source entry: its file pattern under ``raw/`` and its raw → canonical columns.

    A yearly family (``{year}`` in the path) gets no ``years`` list: it covers the run's years.
    """
    columns = {raw: canonical for canonical, raw in RAW_COLUMNS[name].items()}
    entry = {"name": name, "path": f"raw/{path}", "columns": columns, **options}
    return entry if source_years is None else {**entry, "years": source_years}


def _sources(params: WorldParams) -> dict[str, list[dict]]:
    """The ``sources`` section: every raw file of the demo world."""
    plain = _plain_sources(params)
    if not params.published_layouts:
        return plain
    from spillover.demo.published import published_sources

    kogyo = plain["establishments"][0]
    kogyo["recode"] = {"industry": {"concordance": "raw/concordances/jsic_revision.csv"}}
    sources = {**plain, **published_sources(_source, params)}
    del sources["export_ratio_concordance"]  # exports.concordance: jsic_to_iip_group
    return sources


def _plain_sources(params: WorldParams) -> dict[str, list[dict]]:
    """The ``sources`` of the plain layouts: a CSV of each canonical table."""
    return {
        "establishments": [
            _source(
                "kogyo_toukei",
                "establishments/kogyo_{survey_year}.csv",
                skip_years=[2015],  # the 経済センサス year
                survey_year_offset=1,
                encoding="cp932",
                scale={"shipments": 0.01, "capital": 0.01},
            ),
            _source("keizai_census", "establishments/keizai_census_2016.csv", [2015]),
        ],
        "firms": [_source("kigyou_katsudou", "kikatsu/kigyou_katsudou_{year}.csv")],
        "affiliates": [
            _source("genchi_houjin", "kaigai/genchi_houjin_{year}.csv", encoding="cp932")
        ],
        "parents": [_source("honsha_kigyou", "kaigai/honsha_kigyou_{year}.csv", encoding="cp932")],
        "export_ratios": [_source("kougyou_export_ratios", "kougyou/export_ratios.csv")],
        "export_ratio_concordance": [_source("jsic_to_group", "kougyou/jsic_concordance.csv")],
        "external_demand": [_source("tankan", "tankan/tankan_overseas_supply_demand_di.csv")],
    }


def _models(radius_km: float) -> list[dict]:
    """The ``models`` section: a grid of 4 white-paper specs, year effects, a plant model.

    The grid: ``radius_km`` and 10 km, each with entity-clustered and Conley errors.
    """
    regressors = ["opr", "external_demand", "shipments"]
    entity = {"type": "cluster", "by": ["entity"]}
    # neighbourhoods of centres < 2 radii apart share plants: correlate errors within 20 km
    conley = {"type": "conley", "cutoff_km": 20, "kernel": "bartlett", "serial_lags": 7}
    return [
        {
            "id": "baseline",
            "dependent": "exports",
            "regressors": regressors,
            "radius_km": [radius_km, 10.0],
            "fe": ["entity"],
            "vcov": [entity, conley],
        },
        {
            "id": "twoway_no_di",
            "dependent": "exports",
            "regressors": ["opr", "shipments"],
            "radius_km": radius_km,
            "fe": ["entity", "year"],
            "vcov": entity,
        },
        {
            "id": "plant_exposure",
            "family": "plant",
            "dependent": "exports",
            "regressors": ["exposure", "external_demand", "shipments"],
            "radius_km": radius_km,
            "fe": ["entity"],
            "vcov": entity,
        },
    ]
