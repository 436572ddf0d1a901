"""The synthetic demo world: the real surveys' layouts, fake numbers, planted effects.

:func:`build_demo_world` writes, under one folder, raw files in the layouts of
工業統計調査 / 経済センサス‐活動調査 (CP932 and UTF-8, Japanese column names, 万円 and 百万円),
企業活動基本調査, 海外事業活動基本調査 (現地法人票, 本社企業票), 鉱工業 export ratios, the Tankan
「海外での製商品需給判断DI」, a gazetteer in Geolonia ``latest.csv`` layout, a ``config.yaml``
that maps them, and ``truth.json`` with the planted coefficients.

The data generating process (all money in million yen, OPR in percent)::

    exports_jt = s_j · shipments_jt                                   for exporter j
               + (β_opr · OPR_k,t + β_di · DI_t + a_k) / m_k,t        if j is in N_k,t

N_k,t is the neighbourhood of centre k (a plant of a global firm) in year t under the
pipeline's own rules (great-circle ≤ radius, firm capital < threshold), and m_k,t counts its
exporters that report an export share. Summing over N_k,t gives exactly the white paper's
neighbourhood equation with coefficients β_opr and β_di plus the fixed effect a_k, so the
pipeline must recover them. Centres are sited at least ``2 · radius + 0.5`` km apart, so at
the default radius neighbourhoods do not overlap (the white paper's footnote 241 caveat does
not bite in the demo); export shares are rounded to whole percent as in the survey, which adds
noise but no bias. Non-response (missing share) is drawn only among establishments that carry
no planted increment, so the fallback imputation cannot attenuate the planted effect.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from spillover.demo.addresses import kanji_number, write_addresses
from spillover.demo.places import (
    COUNTRIES,
    INDUSTRIES,
    INDUSTRY_GROUPS,
    MUNICIPALITIES,
    TOWN_STEMS,
)
from spillover.neighbours import haversine_km

CAPITAL_THRESHOLD = 1000.0

#: Planted truth (neighbourhood level): million yen per OPR point / per DI point.
BETA_OPR = 25.0
BETA_DI = 15.0


@dataclass(frozen=True)
class WorldParams:
    """Size and shape of the demo world."""

    seed: int = 2023
    first_year: int = 2012
    last_year: int = 2019
    n_establishments: int = 23_000
    n_global_firms: int = 150
    n_large_firms: int = 260
    n_medium_firms: int = 2_600
    radius_km: float = 5.0
    broken_rows: bool = True


# ------------------------------------------------------------------ geography


def make_towns(rng: np.random.Generator) -> pd.DataFrame:
    """Synthetic 町丁目 around each municipality, unique names within a city."""
    rows = []
    for m_index, muni in enumerate(MUNICIPALITIES):
        n_stems = int(18 + 14 * muni.weight)
        stems = rng.choice(len(TOWN_STEMS), size=min(n_stems, len(TOWN_STEMS)), replace=False)
        for stem_index in stems:
            stem = TOWN_STEMS[stem_index]
            dist = min(abs(rng.normal(0, muni.spread_km)), 3 * muni.spread_km)
            angle = rng.uniform(0, 2 * np.pi)
            lat0 = muni.lat + dist * np.cos(angle) / 111.0
            lon0 = muni.lon + dist * np.sin(angle) / (111.0 * np.cos(np.radians(muni.lat)))
            n_chome = int(rng.choice([0, 0, 2, 3, 4, 5]))
            for chome in range(1, n_chome + 1) if n_chome else [0]:
                jitter = rng.normal(0, 0.35, size=2) if chome else np.zeros(2)
                rows.append(
                    {
                        "muni": m_index,
                        "stem": stem,
                        "chome": chome,
                        "lat": round(lat0 + jitter[0] / 111.0, 6),
                        "lon": round(lon0 + jitter[1] / 91.0, 6),
                        "weight": muni.weight * rng.lognormal(0, 0.7),
                    }
                )
    towns = pd.DataFrame(rows)
    towns["town"] = [_town_name(s, c) for s, c in zip(towns["stem"], towns["chome"], strict=True)]
    return towns


def _town_name(stem: str, chome: int) -> str:
    return f"{stem}{kanji_number(chome)}丁目" if chome else stem


def gazetteer_frame(towns: pd.DataFrame) -> pd.DataFrame:
    """The demo gazetteer in Geolonia ``latest.csv`` column layout."""
    munis = [MUNICIPALITIES[i] for i in towns["muni"]]
    return pd.DataFrame(
        {
            "都道府県コード": [f"{m.pref_code:02d}" for m in munis],
            "都道府県名": [m.pref for m in munis],
            "都道府県名カナ": "",
            "都道府県名ローマ字": "",
            "市区町村コード": [m.city_code for m in munis],
            "市区町村名": [m.county + m.city + m.ward for m in munis],
            "市区町村名カナ": "",
            "市区町村名ローマ字": "",
            "大字町丁目名": towns["town"].to_numpy(),
            "大字町丁目名カナ": "",
            "大字町丁目名ローマ字": "",
            "小字・通称名": "",
            "緯度": towns["lat"].to_numpy(),
            "経度": towns["lon"].to_numpy(),
        }
    )


def site_centres(
    rng: np.random.Generator, towns: pd.DataFrame, n_plants: int, min_separation_km: float
) -> np.ndarray:
    """Greedy random choice of town indices at least ``min_separation_km`` apart."""
    order = rng.permutation(len(towns))
    chosen: list[int] = []
    lat, lon = towns["lat"].to_numpy(), towns["lon"].to_numpy()
    for index in order:
        if (
            chosen
            and haversine_km(lat[index], lon[index], lat[chosen], lon[chosen]).min()
            < min_separation_km
        ):
            continue
        chosen.append(int(index))
        if len(chosen) == n_plants:
            break
    return np.array(chosen)


# ------------------------------------------------------------------ firms


def make_firms(rng: np.random.Generator, params: WorldParams) -> pd.DataFrame:
    """Firms with their type, log-normal capital (million yen) and plant counts."""
    kinds = (
        ["global"] * params.n_global_firms
        + ["large"] * params.n_large_firms
        + ["medium"] * params.n_medium_firms
    )
    n = len(kinds)
    kind = np.array(kinds)
    capital = np.where(
        kind == "medium",
        np.clip(rng.lognormal(np.log(120), 0.9, n), 30, 990),
        CAPITAL_THRESHOLD * np.exp(np.abs(rng.normal(0, 1.6, n))),
    )
    plants = np.where(
        kind == "global",
        rng.choice([1, 1, 1, 2], n),
        np.where(kind == "large", rng.choice([1, 2, 3, 4], n), rng.choice([1, 1, 1, 2], n)),
    )
    # some medium firms have factories abroad (OPR > 0) but are below the capital threshold;
    # some large firms only have sales affiliates abroad (OPR = 0): neither is global
    has_affiliates = (kind == "global") | (rng.random(n) < np.where(kind == "large", 0.4, 0.05))
    return pd.DataFrame(
        {
            "firm_id": [f"F{i:06d}" for i in range(1, n + 1)],
            "kind": kind,
            "capital": np.round(capital, 0),
            "n_plants": plants,
            "has_affiliates": has_affiliates,
            "industry": rng.choice([c for c, _ in INDUSTRIES], n, p=_probs(INDUSTRIES)),
        }
    )


def _probs(pairs) -> np.ndarray:
    weights = np.array([w for _, w in pairs], dtype=float)
    return weights / weights.sum()


# ------------------------------------------------------------------ the world


@dataclass
class DemoWorld:
    """What :func:`build_demo_world` wrote."""

    root: Path
    config_path: Path
    truth_path: Path
    n_establishment_rows: int
    n_centres: int


def build_world_frames(params: WorldParams) -> dict[str, pd.DataFrame | dict]:
    """Generate every table of the demo world in canonical units (no files written)."""
    rng = np.random.default_rng(params.seed)
    years = np.arange(params.first_year, params.last_year + 1)
    n_years = len(years)
    towns = make_towns(rng)
    firms = make_firms(rng, params)

    # --- plants of global firms: the centres, sited far enough apart
    global_firms = firms[firms["kind"] == "global"]
    n_centres = int(global_firms["n_plants"].sum())
    centre_towns = site_centres(rng, towns, n_centres, 2 * params.radius_km + 0.5)
    if len(centre_towns) < n_centres:  # not enough room: shed plants from multi-plant firms
        n_centres = len(centre_towns)
    centre_firm = np.repeat(
        global_firms["firm_id"].to_numpy(), global_firms["n_plants"].to_numpy()
    )[:n_centres]

    # --- other plants: towns weighted by district size, boosted near centres (suppliers)
    lat, lon = towns["lat"].to_numpy(), towns["lon"].to_numpy()
    near = haversine_km(
        lat[:, None], lon[:, None], lat[centre_towns][None, :], lon[centre_towns][None, :]
    )
    town_weight = towns["weight"].to_numpy() * (1 + 2.0 * (near <= params.radius_km).any(axis=1))
    others = firms[firms["kind"] != "global"]
    linked_owner = np.repeat(others["firm_id"].to_numpy(), others["n_plants"].to_numpy())
    n_small = params.n_establishments - n_centres - len(linked_owner)
    owner = np.concatenate([centre_firm, linked_owner, np.full(n_small, None, dtype=object)])
    n_est = len(owner)
    town_of = np.concatenate(
        [centre_towns, rng.choice(len(towns), n_est - n_centres, p=town_weight / town_weight.sum())]
    )
    firm_info = firms.set_index("firm_id")
    owner_kind = np.array(
        ["small" if f is None else firm_info.at[f, "kind"] for f in owner], dtype=object
    )
    est = pd.DataFrame(
        {
            "establishment_id": [f"E{i:07d}" for i in range(1, n_est + 1)],
            "firm_id": owner,
            "kind": owner_kind,
            "town": town_of,
            "lat": lat[town_of],
            "lon": lon[town_of],
            "is_centre": np.arange(n_est) < n_centres,
        }
    )
    industry_codes = np.array([c for c, _ in INDUSTRIES])
    est["industry"] = np.where(
        est["firm_id"].isna(),
        rng.choice(industry_codes, n_est, p=_probs(INDUSTRIES)),
        est["firm_id"].map(firm_info["industry"]).fillna("2441"),
    )
    size = {"global": 6.3, "large": 5.5, "medium": 4.0, "small": 2.6}
    est["employees"] = np.maximum(
        1, np.round(rng.lognormal(est["kind"].map(size).to_numpy(dtype=float), 0.6))
    ).astype(int)
    base_ship = est["employees"].to_numpy() * rng.lognormal(np.log(25), 0.5, n_est)  # million yen
    # own capital as reported by the establishment survey (法人 only); a few unlinked plants
    # belong to large subsidiaries that the firm survey does not link: excluded by own capital
    small_capital = np.clip(rng.lognormal(np.log(15), 1.0, n_est), 1, 990)
    big_unlinked = (est["kind"] == "small") & (rng.random(n_est) < 0.01)
    est["own_capital"] = np.where(
        est["firm_id"].notna(),
        est["firm_id"].map(firm_info["capital"]),
        np.where(big_unlinked, 2500.0, small_capital),
    )
    est["reports_capital"] = rng.random(n_est) < 0.6
    est.loc[big_unlinked, "reports_capital"] = True
    est["large_owner"] = est["own_capital"] >= CAPITAL_THRESHOLD
    est.loc[est["kind"] == "small", "large_owner"] = big_unlinked[est["kind"] == "small"]

    # --- entry and exit (centres live through the whole period)
    start = np.where(rng.random(n_est) < 0.93, years[0], rng.choice(years[1:], n_est))
    end = np.where(rng.random(n_est) < 0.95, years[-1], rng.choice(years[:-1], n_est))
    end = np.maximum(start, end)
    start[est["is_centre"]], end[est["is_centre"]] = years[0], years[-1]

    # --- exporters, shares and yearly shipments
    exporter = rng.random(n_est) < np.where(est["large_owner"], 0.6, 0.28)
    own_share = np.where(exporter, rng.beta(1.3, 12, n_est), 0.0)
    shock = rng.normal(0, 0.12, size=(n_est, n_years))

    # --- overseas production: OPR of global firms trends upward (percent)
    opr_start = rng.uniform(8, 40, len(global_firms))
    opr_slope = rng.normal(1.2, 0.9, len(global_firms))
    opr_path = np.clip(
        opr_start[:, None]
        + opr_slope[:, None] * np.arange(n_years)
        + rng.normal(0, 1.5, (len(global_firms), n_years)),
        1.0,
        85.0,
    )
    affiliates, parents, opr_written = _overseas_tables(rng, firms, global_firms, opr_path, years)

    # --- Tankan DI (quarterly, integer) and its annual mean
    di = _tankan(rng, years)
    di_annual = (
        di[(di["industry"] == "製造業") & (di["size_class"] == "大企業")]
        .assign(year=lambda d: d["period"].str[:4].astype(int))
        .groupby("year")["di"]
        .mean()
    )

    # --- planted neighbourhood increments, year by year, under the pipeline's rules
    centres = est[est["is_centre"]].reset_index()
    centre_fe = rng.uniform(200, 2000, len(centres))
    eligible_base = ~est["large_owner"].to_numpy() & ~est["is_centre"].to_numpy()
    dist = haversine_km(
        centres["lat"].to_numpy()[:, None],
        centres["lon"].to_numpy()[:, None],
        est["lat"].to_numpy()[None, :],
        est["lon"].to_numpy()[None, :],
    )
    inside = dist <= params.radius_km
    # every centre gets at least three exporting neighbours present in every year
    stable = (start == years[0]) & (end == years[-1])
    for k in range(len(centres)):
        members = np.flatnonzero(inside[k] & eligible_base & stable)
        if len(members) and exporter[members].sum() < 3:
            flip = rng.choice(members, min(3, len(members)), replace=False)
            exporter[flip] = True
            own_share[flip] = rng.beta(1.3, 12, len(flip))
    increment = np.zeros((n_est, n_years))
    m_count = np.zeros((len(centres), n_years), dtype=int)
    for t, year in enumerate(years):
        active = (start <= year) & (end >= year)
        for k, centre in centres.iterrows():
            members = np.flatnonzero(inside[k] & eligible_base & active & exporter)
            m_count[k, t] = len(members)
            if len(members) == 0:
                continue
            opr = opr_written.at[(centre["firm_id"], year)]
            total = BETA_OPR * opr + BETA_DI * di_annual[year] + centre_fe[k]
            increment[members, t] += total / len(members)
    # shipments large enough that planted exports stay well below 100 % of shipments
    floor = 3.0 * increment.max(axis=1) / np.exp(-3 * 0.12)
    base_ship = np.maximum(base_ship, floor)
    shipments = np.round(base_ship[:, None] * np.exp(shock), 2)
    exports = own_share[:, None] * shipments + increment
    share = np.round(100 * exports / shipments)
    share[~exporter] = 0.0
    carries_increment = increment > 0
    non_response = (rng.random((n_est, n_years)) < 0.03) & ~carries_increment
    share = np.where(non_response, np.nan, share)

    panel_rows = []
    for t, year in enumerate(years):
        active = (start <= year) & (end >= year)
        frame = est.loc[active].copy()
        frame["year"] = year
        frame["shipments"] = shipments[active, t]
        frame["export_share"] = share[active, t]
        panel_rows.append(frame)
    establishments = pd.concat(panel_rows, ignore_index=True)

    firm_years = _firm_survey(rng, firms, establishments, years)
    truth = {
        "description": "planted neighbourhood-level coefficients of the demo world",
        "seed": params.seed,
        "radius_km": params.radius_km,
        "capital_threshold_million_yen": CAPITAL_THRESHOLD,
        "coefficients": {"opr": BETA_OPR, "external_demand": BETA_DI},
        "units": {
            "opr": "million yen of neighbourhood exports per percentage point of OPR",
            "external_demand": "million yen of neighbourhood exports per DI point",
        },
        "n_centres": len(centres),
        "min_exporting_neighbours": int(m_count.min()),
        "centres_separation_km": 2 * params.radius_km + 0.5,
    }
    return {
        "towns": towns,
        "establishments": establishments,
        "firms": firm_years,
        "affiliates": affiliates,
        "parents": parents,
        "tankan": di,
        "truth": truth,
    }


def _overseas_tables(rng, firms, global_firms, opr_path, years):
    """現地法人票 and 本社企業票 whose written sales reproduce the OPR path exactly."""
    affiliates, parents, opr_rows = [], [], []
    with_aff = firms[firms["has_affiliates"]]
    opr_by_firm = dict(zip(global_firms["firm_id"], opr_path, strict=True))
    affiliate_seq = 0
    for firm in with_aff.itertuples():
        n_mfg = int(rng.integers(1, 6)) if firm.kind != "large" else 0
        n_sales = int(rng.integers(0, 3)) + (1 if firm.kind == "large" else 0)
        countries = rng.choice([c for c, _ in COUNTRIES], n_mfg + n_sales, p=_probs(COUNTRIES))
        weights = rng.dirichlet(np.ones(max(n_mfg, 1)))
        ids = [f"A{affiliate_seq + i:07d}" for i in range(n_mfg + n_sales)]
        affiliate_seq += n_mfg + n_sales
        domestic0 = firm.capital * rng.uniform(3, 12)
        for t, year in enumerate(years):
            domestic = round(domestic0 * (1 + 0.01 * t) * rng.lognormal(0, 0.03), 0)
            if firm.kind == "global":
                opr = opr_by_firm[firm.firm_id][t]
            elif n_mfg:
                opr = rng.uniform(5, 30)
            else:
                opr = 0.0
            overseas = opr / (100 - opr) * domestic
            mfg_sales = np.round(overseas * weights[:n_mfg], 0) if n_mfg else np.array([])
            for i in range(n_mfg + n_sales):
                is_mfg = i < n_mfg
                affiliates.append(
                    {
                        "year": year,
                        "affiliate_id": ids[i],
                        "parent_firm_id": firm.firm_id,
                        "country": countries[i],
                        "industry": firm.industry[:2] if is_mfg else rng.choice(["50", "51", "52"]),
                        "sales": float(mfg_sales[i])
                        if is_mfg
                        else round(domestic * rng.uniform(0.02, 0.2), 0),
                    }
                )
            parents.append(
                {
                    "year": year,
                    "firm_id": firm.firm_id,
                    "capital": firm.capital,
                    "sales": domestic,
                    "industry": firm.industry[:2],
                }
            )
            written = mfg_sales.sum()
            opr_rows.append((firm.firm_id, year, 100 * written / (written + domestic)))
    opr_written = pd.Series(
        [v for *_, v in opr_rows], index=pd.MultiIndex.from_tuples([(f, y) for f, y, _ in opr_rows])
    )
    return pd.DataFrame(affiliates), pd.DataFrame(parents), opr_written


def _tankan(rng, years) -> pd.DataFrame:
    """Quarterly 海外での製商品需給判断DI (最近), integer points, by industry and size."""
    quarters = [f"{y}Q{q}" for y in range(years[0] - 1, years[-1] + 2) for q in range(1, 5)]
    cycle = np.cumsum(rng.normal(0, 2.5, len(quarters))) - 8
    rows = []
    for industry, offset in (
        ("製造業", 0.0),
        ("輸送用機械", 3.0),
        ("電気機械", -2.0),
        ("金属製品", -5.0),
    ):
        for size, s_off in (("大企業", 0.0), ("中堅企業", -2.0), ("中小企業", -4.0)):
            noise = (
                rng.normal(0, 1.5, len(quarters)) if industry != "製造業" or size != "大企業" else 0
            )
            values = np.clip(np.round(cycle + offset + s_off + noise), -60, 60)
            rows.extend(
                {"period": p, "industry": industry, "size_class": size, "di": float(v)}
                for p, v in zip(quarters, values, strict=True)
            )
    return pd.DataFrame(rows)


def _firm_survey(rng, firms, establishments, years) -> pd.DataFrame:
    """企業活動基本調査: large and medium firms (≥ 50 employees), sales and direct exports."""
    covered = firms[firms["kind"] != "small"]
    rows = []
    for firm in covered.itertuples():
        sales0 = firm.capital * rng.uniform(4, 15)
        ratio = rng.beta(1.5, 8)
        for t, year in enumerate(years):
            sales = round(sales0 * (1 + 0.01 * t) * rng.lognormal(0, 0.04), 0)
            rows.append(
                {
                    "year": year,
                    "firm_id": firm.firm_id,
                    "capital": firm.capital,
                    "sales": sales,
                    "exports": round(sales * ratio, 0),
                    "employees": int(50 + rng.lognormal(5, 1)),
                    "industry": firm.industry[:2],
                }
            )
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ writing raw files


def _write_csv(frame: pd.DataFrame, path: Path, encoding: str = "utf-8") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, encoding=encoding)


def _man_yen(values: pd.Series) -> pd.Series:
    """Million yen → integer 万円 as the 工業統計 writes it."""
    return (values * 100).round().astype("Int64")


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


def _raw(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """``frame`` (canonical names) with the raw column names of ``source``."""
    return frame.rename(columns=RAW_COLUMNS[source])


def _write_establishments(world, towns, out: Path, params: WorldParams, rng) -> int:
    est = world["establishments"]
    est = est.assign(address=write_addresses(est, towns, rng))
    munis = [MUNICIPALITIES[towns.at[t, "muni"]] for t in est["town"]]
    est["pref_code"] = [m.pref_code for m in munis]
    est["city_code"] = [m.city_code for m in munis]
    est["capital"] = est["own_capital"].where(est["reports_capital"])
    est["export_share"] = est["export_share"].astype("Int64")
    columns = [
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
    n_rows = 0
    for year, frame in est.groupby("year"):
        if year == 2015:  # accounts year 2015 comes from 経済センサス‐活動調査 2016 (UTF-8, 百万円)
            raw = _raw(frame[columns], "keizai_census").assign(
                **{
                    RAW_COLUMNS["keizai_census"]["shipments"]: [
                        f"{v:,.2f}" for v in frame["shipments"]
                    ]
                }
            )
            raw.insert(5, "産業小分類", frame["industry"].str[:3].to_numpy())  # an unmapped extra
            path = out / "raw" / "establishments" / "keizai_census_2016.csv"
            _write_csv(raw, path, "utf-8")
        else:  # 工業統計調査: survey year = accounts year + 1, CP932, 万円
            canonical = frame[columns].assign(
                shipments=_man_yen(frame["shipments"]), capital=_man_yen(frame["capital"])
            )
            canonical.insert(0, "year", year + 1)
            raw = _raw(canonical, "kogyo_toukei")
            if params.broken_rows and year == params.first_year + 1:
                raw = pd.concat([raw, _broken_rows(raw, year + 1)], ignore_index=True)
            path = out / "raw" / "establishments" / f"kogyo_{year + 1}.csv"
            _write_csv(raw, path, "cp932")
        n_rows += len(raw)
    return n_rows


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


def build_demo_world(out: str | Path, params: WorldParams | None = None) -> DemoWorld:
    """Generate the demo world under ``out`` and return where its config and truth are."""
    params = params or WorldParams()
    out = Path(out).resolve()
    world = build_world_frames(params)
    rng = np.random.default_rng(params.seed + 1)
    towns = world["towns"]
    n_rows = _write_establishments(world, towns, out, params, rng)
    _write_csv(gazetteer_frame(towns), out / "gazetteer" / "latest.csv")
    yearly = (
        ("firms", "kigyou_katsudou", "kikatsu/kigyou_katsudou", "utf-8"),
        ("affiliates", "genchi_houjin", "kaigai/genchi_houjin", "cp932"),
        ("parents", "honsha_kigyou", "kaigai/honsha_kigyou", "cp932"),
    )
    for table, source, stem, encoding in yearly:
        for year, frame in world[table].groupby("year"):
            _write_csv(_raw(frame, source), out / "raw" / f"{stem}_{year}.csv", encoding)
    tankan = world["tankan"].assign(
        period=lambda d: (
            d["period"].str[:4] + "年" + (d["period"].str[-1].astype(int) * 3).astype(str) + "月"
        )
    )
    _write_csv(
        _raw(tankan, "tankan"), out / "raw" / "tankan" / "tankan_overseas_supply_demand_di.csv"
    )
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
    _write_csv(_raw(ratios, "kougyou_export_ratios"), out / "raw" / "kougyou" / "export_ratios.csv")
    concordance = pd.DataFrame(
        {"jsic": list(INDUSTRY_GROUPS), "industry_group": list(INDUSTRY_GROUPS.values())}
    )
    _write_csv(_raw(concordance, "jsic_to_group"), out / "raw" / "kougyou" / "jsic_concordance.csv")
    config_path = out / "config.yaml"
    config_path.write_text(
        yaml.safe_dump(demo_config(params), allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    truth_path = out / "truth.json"
    truth_path.write_text(
        json.dumps(world["truth"], ensure_ascii=False, indent=2), encoding="utf-8"
    )
    return DemoWorld(out, config_path, truth_path, n_rows, world["truth"]["n_centres"])


def demo_config(params: WorldParams) -> dict:
    """The config mapping the demo world's raw files (paths relative to the config file)."""
    years = list(range(params.first_year, params.last_year + 1))
    kogyo_years = [y for y in years if y != 2015]

    def source(name: str, path: str, source_years: list[int] | None = None, **options) -> dict:
        columns = {raw: canonical for canonical, raw in RAW_COLUMNS[name].items()}
        entry = {"name": name, "path": f"raw/{path}", "columns": columns, **options}
        return entry if source_years is None else {**entry, "years": source_years}

    return {
        "project": "spillover-demo",
        "years": [params.first_year, params.last_year],
        "output_root": "output",
        "work_root": "work",
        "cache_dir": "cache",
        "gazetteer": {"path": "gazetteer/latest.csv", "index_dir": "cache/gazetteer"},
        "sources": {
            "establishments": [
                source(
                    "kogyo_toukei",
                    "establishments/kogyo_{survey_year}.csv",
                    kogyo_years,
                    survey_year_offset=1,
                    encoding="cp932",
                    scale={"shipments": 0.01, "capital": 0.01},
                ),
                source("keizai_census", "establishments/keizai_census_2016.csv", [2015]),
            ],
            "firms": [source("kigyou_katsudou", "kikatsu/kigyou_katsudou_{year}.csv", years)],
            "affiliates": [
                source("genchi_houjin", "kaigai/genchi_houjin_{year}.csv", years, encoding="cp932")
            ],
            "parents": [
                source("honsha_kigyou", "kaigai/honsha_kigyou_{year}.csv", years, encoding="cp932")
            ],
            "export_ratios": [source("kougyou_export_ratios", "kougyou/export_ratios.csv")],
            "export_ratio_concordance": [source("jsic_to_group", "kougyou/jsic_concordance.csv")],
            "external_demand": [source("tankan", "tankan/tankan_overseas_supply_demand_di.csv")],
        },
        "external_demand": {
            "industry": "製造業",
            "size_class": "大企業",
            "by_centre_industry": False,
            "industry_map": {"31": "輸送用機械", "29": "電気機械", "24": "金属製品"},
        },
        "neighbourhoods": {"radii_km": [params.radius_km, 10.0]},
        "models": [
            {
                "id": "baseline",
                "dependent": "exports",
                "regressors": ["opr", "external_demand", "shipments"],
                "radius_km": params.radius_km,
                "entity_effects": True,
                "time_effects": False,
                "cov_type": "clustered",
                "cluster": "entity",
            },
            {
                "id": "twoway_no_di",
                "dependent": "exports",
                "regressors": ["opr", "shipments"],
                "radius_km": params.radius_km,
                "entity_effects": True,
                "time_effects": True,
                "cov_type": "clustered",
                "cluster": "entity",
            },
            {
                "id": "plant_exposure",
                "family": "plant",
                "dependent": "exports",
                "regressors": ["exposure", "external_demand", "shipments"],
                "radius_km": params.radius_km,
                "entity_effects": True,
                "time_effects": False,
                "cov_type": "clustered",
                "cluster": "entity",
            },
            {
                "id": "radius10",
                "dependent": "exports",
                "regressors": ["opr", "external_demand", "shipments"],
                "radius_km": 10.0,
                "entity_effects": True,
                "time_effects": False,
                "cov_type": "clustered",
                "cluster": "entity",
            },
        ],
    }
