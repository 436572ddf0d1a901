import pandas as pd
import pytest

from spillover.config import Definitions, parse_config
from spillover.demo.world import WorldParams, demo_config
from spillover.exports import establishment_exports
from spillover.firms import firm_capital, global_firms
from spillover.plants import classify_plants


def _tables():
    affiliates = pd.DataFrame(
        {
            "year": [2015, 2015, 2015, 2015],
            "affiliate_id": ["a1", "a2", "a3", "a4"],
            "parent_firm_id": ["A", "A", "A", "B"],
            "country": ["CN", "TH", "US", "VN"],
            "industry": ["31", "2914", "50", "24"],  # a3 is a sales affiliate: not counted
            "sales": [300.0, 100.0, 500.0, 50.0],
        }
    )
    parents = pd.DataFrame(
        {
            "year": [2015, 2015],
            "firm_id": ["A", "B"],
            "capital": [1500.0, 500.0],
            "sales": [600.0, 450.0],
            "industry": ["31", "24"],
        }
    )
    firms = pd.DataFrame(
        {
            "year": [2015, 2015, 2015],
            "firm_id": ["A", "B", "C"],
            "capital": [1400.0, 500.0, 2000.0],
            "sales": [900.0, 500.0, 1000.0],
            "exports": [90.0, 100.0, 0.0],
            "employees": [900, 80, 300],
            "industry": ["31", "24", "29"],
        }
    )
    return firms, affiliates, parents


def test_opr_and_global_flag_by_hand():
    firms, affiliates, parents = _tables()
    table = global_firms(firms, affiliates, parents, definitions=Definitions()).set_index("firm_id")
    # A: (300 + 100) / (300 + 100 + 600) = 40 %, capital 1,500 (本社企業票 wins) -> global
    assert table.loc["A", "opr"] == pytest.approx(40.0)
    assert table.loc["A", "capital"] == 1500.0 and table.loc["A", "capital_source"] == "parents"
    assert bool(table.loc["A", "is_global"])
    # B: 50 / 500 = 10 % but capital 500 < 1,000 -> not global
    assert table.loc["B", "opr"] == pytest.approx(10.0) and not table.loc["B", "is_global"]
    # C: large, no affiliates -> OPR 0 -> not global
    assert table.loc["C", "opr"] == 0.0 and not table.loc["C", "is_global"]


def test_firm_year_offset_maps_fiscal_to_accounts_year():
    firms, affiliates, parents = _tables()
    table = global_firms(firms, affiliates, parents, definitions=Definitions(firm_year_offset=1))
    assert set(table["year"]) == {2014}
    assert set(firm_capital(firms, parents, offset=1)["year"]) == {2014}


def test_export_fallback_chain_by_hand():
    plants = pd.DataFrame(
        {
            "year": [2015] * 4,
            "establishment_id": ["e1", "e2", "e3", "e4"],
            "firm_id": ["B", "B", None, None],
            "industry": ["2441", "2441", "3113", "0911"],
            "shipments": [200.0, 200.0, 100.0, 50.0],
            "export_share": [25.0, None, None, None],
        }
    )
    firms, _, _ = _tables()
    ratios = pd.DataFrame(
        {"year": [2015], "industry_group": ["輸送機械工業"], "export_ratio": [30.0]}
    )
    concordance = pd.DataFrame({"jsic": ["31"], "industry_group": ["輸送機械工業"]})
    out = establishment_exports(
        plants, firms, ratios, concordance, fallback=["firm_ratio", "industry_ratio"]
    )
    # e1: 200 × 25 %; e2: firm B exports/sales = 100/500; e3: industry 31 at 30 %;
    # e4: no rule applies
    assert out["exports"].tolist()[:3] == pytest.approx([50.0, 40.0, 30.0])
    assert pd.isna(out["exports"].iloc[3])
    assert out["export_method"].tolist() == ["direct_share", "firm_ratio", "industry_ratio", "none"]


def test_centres_and_exclusions(tmp_path):
    config = parse_config(demo_config(WorldParams()), base_dir=tmp_path)
    firms, affiliates, parents = _tables()
    plants = pd.DataFrame(
        {
            "year": [2015] * 5,
            "establishment_id": ["p1", "p2", "p3", "p4", "p5"],
            "firm_id": ["A", "B", "C", None, None],
            "industry": ["3113", "2441", "2911", "2441", "2441"],
            "capital": [None, None, None, 2500.0, None],
        }
    )
    out = classify_plants(
        plants,
        global_firms(firms, affiliates, parents, definitions=config.definitions),
        config=config,
    ).set_index("establishment_id")
    assert out["is_centre"].to_dict() == {
        "p1": True,
        "p2": False,
        "p3": False,
        "p4": False,
        "p5": False,
    }
    # large: A and C by firm capital, p4 by its own reported capital;
    # p5 is unlinked and reports no capital -> small
    assert out["large_firm"].to_dict() == {
        "p1": True,
        "p2": False,
        "p3": True,
        "p4": True,
        "p5": False,
    }
    assert out.loc["p4", "capital_source"] == "establishment"


def test_domestic_sales_fall_back_to_the_firm_survey_and_orphans_are_found():
    from spillover.firms import orphan_affiliates

    firms, affiliates, parents = _tables()
    affiliates = pd.concat(
        [
            affiliates,
            pd.DataFrame(
                {
                    "year": [2015, 2015],
                    "affiliate_id": ["c1", "z1"],
                    "parent_firm_id": ["C", "Z"],
                    "country": ["CN", "MX"],
                    "industry": ["29", "31"],
                    "sales": [250.0, 70.0],
                }
            ),
        ],
        ignore_index=True,
    )
    table = global_firms(firms, affiliates, parents, definitions=Definitions()).set_index("firm_id")
    # C has no 本社企業票: domestic sales 1,000 from 企業活動基本調査 -> 250 / 1,250 = 20 %
    assert table.loc["C", "domestic_sales_source"] == "firms"
    assert table.loc["C", "opr"] == pytest.approx(20.0) and bool(table.loc["C", "is_global"])
    orphans = orphan_affiliates(affiliates, table.reset_index())
    assert affiliates.loc[orphans, "affiliate_id"].tolist() == ["z1"]


def test_opr_is_missing_without_any_domestic_sales():
    firms, affiliates, parents = _tables()
    firms = firms[firms["firm_id"] != "C"]
    parents = pd.concat(
        [
            parents,
            pd.DataFrame(
                {
                    "year": [2015],
                    "firm_id": ["D"],
                    "capital": [5000.0],
                    "sales": [None],
                    "industry": ["31"],
                }
            ),
        ],
        ignore_index=True,
    )
    affiliates = pd.concat(
        [
            affiliates,
            pd.DataFrame(
                {
                    "year": [2015],
                    "affiliate_id": ["d1"],
                    "parent_firm_id": ["D"],
                    "country": ["TH"],
                    "industry": ["31"],
                    "sales": [10.0],
                }
            ),
        ],
        ignore_index=True,
    )
    table = global_firms(firms, affiliates, parents, definitions=Definitions()).set_index("firm_id")
    assert pd.isna(table.loc["D", "opr"]) and not table.loc["D", "is_global"]


def test_offset_moves_values_not_just_labels():
    firms, affiliates, parents = _tables()
    shifted = pd.concat([f.assign(year=2016) for f in (firms,)], ignore_index=True)
    table = global_firms(
        shifted,
        affiliates.assign(year=2016),
        parents.assign(year=2016),
        definitions=Definitions(firm_year_offset=1),
    ).set_index("firm_id")
    assert set(table["year"]) == {2015}
    assert table.loc["A", "opr"] == pytest.approx(40.0) and table.loc["A", "capital"] == 1500.0


def test_unlinked_plants_without_capital_can_be_excluded(tmp_path):
    data = demo_config(WorldParams())
    data["definitions"] = {"unlinked_capital_rule": "exclude"}
    config = parse_config(data, base_dir=tmp_path)
    firms, affiliates, parents = _tables()
    plants = pd.DataFrame(
        {
            "year": 2015,
            "establishment_id": ["u1", "u2"],
            "firm_id": [None, None],
            "industry": "2441",
            "capital": [None, 20.0],
        }
    )
    out = classify_plants(
        plants,
        global_firms(firms, affiliates, parents, definitions=config.definitions),
        config=config,
    ).set_index("establishment_id")
    assert out["large_firm"].to_dict() == {"u1": True, "u2": False}


def test_zero_domestic_sales_leave_opr_missing_and_quarantine_the_firm_year():
    from spillover.firms import firm_table

    firms, affiliates, parents = _tables()
    # A's 本社企業票 says domestic sales 0 (it would be OPR 100 %); C has no affiliates
    parents = parents.assign(
        sales=[0.0, 450.0], source_file="raw/honsha_2015.csv", source_line=[2, 3]
    )
    firms = firms.assign(sales=[900.0, 500.0, 0.0])
    affiliates = affiliates.assign(source_file="raw/genchi_2015.csv", source_line=[2, 3, 4, 5])
    table, rejected = firm_table(firms, affiliates, parents, definitions=Definitions())
    table = table.set_index("firm_id")
    assert pd.isna(table.loc["A", "opr"]) and not table.loc["A", "is_global"]
    assert table.loc["B", "opr"] == pytest.approx(10.0)
    assert table.loc["C", "opr"] == 0.0  # no overseas production: OPR 0 whatever the sales
    assert rejected[["stage", "table", "file", "line", "column", "reason"]].to_dict("records") == [
        {
            "stage": "firms",
            "table": "parents",
            "file": "raw/honsha_2015.csv",
            "line": 2,
            "column": "sales",
            "reason": "domestic sales 0 million yen (本社企業票) with 400 million yen of overseas "
            "manufacturing sales: OPR = overseas / (overseas + domestic) needs domestic sales "
            "> 0 (it would be 100%); OPR left missing",
        }
    ]
    assert rejected["raw"].tolist() == ['{"year": 2015, "firm_id": "A"}']
