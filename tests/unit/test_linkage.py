"""Firm linkage: the crosswalk by year, quarantine of unnamed firms, match rates by hand."""

import pandas as pd
import pytest

from spillover.linkage import CrosswalkError, check_crosswalk, link_table, match_rates

CROSSWALK = pd.DataFrame(
    {
        "source": ["kikatsu", "kikatsu", "kikatsu", "kogyo"],
        "source_id": ["K1", "K2", "K2", "E-100"],
        "firm_id": ["F1", "F2", "F9", "F1"],
        "valid_from": pd.array([None, None, 2015, None], dtype="Int64"),
        "valid_to": pd.array([None, 2014, None, None], dtype="Int64"),
        "source_file": "crosswalk.csv",
        "source_line": [2, 3, 4, 5],
    }
)


def _rows(table, column, ids, years, source):
    return pd.DataFrame(
        {
            "year": pd.array(years, dtype="Int64"),
            column: pd.array(ids, dtype="str"),
            "source_name": source,
            "source_file": f"{source}.csv",
            "source_line": range(2, len(ids) + 2),
        }
    )


def test_firm_ids_are_translated_by_year_and_unnamed_firms_quarantined():
    firms = _rows("firms", "firm_id", ["K1", "K2", "K2", "K3"], [2014, 2014, 2015, 2015], "kikatsu")
    linked, bad = link_table("firms", firms, CROSSWALK)
    assert linked["firm_id"].tolist() == ["F1", "F2", "F9"]
    assert bad[["line", "column", "reason"]].values.tolist() == [
        [5, "firm_id", "no firm_crosswalk row for kikatsu id 'K3' valid in 2015"]
    ]


def test_unlinked_establishments_stay_with_no_firm_and_other_sources_keep_their_ids():
    plants = pd.concat(
        [
            _rows("establishments", "firm_id", ["E-100", "E-200", None], [2014] * 3, "kogyo"),
            _rows("establishments", "firm_id", ["F7"], [2014], "census"),
        ],
        ignore_index=True,
    )
    linked, bad = link_table("establishments", plants, CROSSWALK)
    assert linked["firm_id"].fillna("<none>").tolist() == ["F1", "<none>", "<none>", "F7"]
    assert bad.empty and len(linked) == 4


def test_a_source_id_with_two_firms_in_a_year_is_an_error_naming_both_rows():
    clash = CROSSWALK.assign(valid_from=pd.array([None, None, 2014, None], dtype="Int64"))
    with pytest.raises(CrosswalkError) as caught:
        check_crosswalk(clash)
    assert str(caught.value) == (
        "firm_crosswalk: kikatsu id 'K2' has two firms in 2014: 'F2' (crosswalk.csv:3) and "
        "'F9' (crosswalk.csv:4); make valid_from/valid_to not overlap"
    )
    check_crosswalk(CROSSWALK)


def test_match_rates_count_distinct_firms_per_pair_and_accounts_year():
    tables = {
        # establishments of firms A, A, B, C and one without a firm in 2015
        "establishments": pd.DataFrame(
            {"year": [2015] * 5, "firm_id": pd.array(["A", "A", "B", "C", None], dtype="str")}
        ),
        # firm survey year 2016 = accounts 2015 with offset 1: knows A and Z
        "firms": pd.DataFrame({"year": [2016, 2016], "firm_id": ["A", "Z"]}),
        "parents": pd.DataFrame({"year": [2016], "firm_id": ["B"]}),
        "affiliates": pd.DataFrame({"year": [2016, 2016], "parent_firm_id": ["B", "Q"]}),
    }
    rates = {(r["from"], r["to"]): r for r in match_rates(tables, firm_year_offset=1)}
    assert rates["establishments", "firms"] == {
        "from": "establishments", "to": "firms", "year": 2015, "firms": 3, "linked": 1,
        "rate": round(1 / 3, 4),
    }  # fmt: skip
    assert (rates["establishments", "parents"]["linked"], rates["parents", "firms"]["linked"]) == (
        1,
        0,
    )
    assert rates["parents", "establishments"]["rate"] == 1.0
    assert (
        rates["affiliates", "parents"]["firms"] == 2
        and rates["affiliates", "parents"]["linked"] == 1
    )


def test_two_firms_for_one_id_from_the_same_year_stop_ingest(tmp_path):
    from spillover.config import load_config
    from spillover.demo.world import WorldParams, build_demo_world
    from spillover.ingest import ingest_all

    small = WorldParams(
        n_establishments=1500, n_global_firms=10, n_large_firms=15, n_medium_firms=150
    )
    world = build_demo_world(tmp_path, small)
    path = tmp_path / "raw" / "kikatsu" / "firm_crosswalk.csv"
    path.write_text(path.read_text() + "kigyou_katsudou,K000001,F000002,,\n")
    message = "kigyou_katsudou id 'K000001' has two firms from the first year: 'F000001'"
    with pytest.raises(CrosswalkError, match=message):
        ingest_all(load_config(world.config_path))


def test_a_crosswalk_that_names_too_few_firms_stops_ingest(tmp_path):
    from spillover.config import load_config
    from spillover.demo.world import WorldParams, build_demo_world
    from spillover.ingest import ingest_all
    from spillover.quarantine import QuarantineLimitError

    small = WorldParams(
        n_establishments=1500, n_global_firms=10, n_large_firms=15, n_medium_firms=150
    )
    world = build_demo_world(tmp_path, small)
    path = tmp_path / "raw" / "kikatsu" / "firm_crosswalk.csv"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[: len(lines) // 2]))  # half the firms
    with pytest.raises(
        QuarantineLimitError, match=r"^firms: firm ids of the crosswalk's sources: "
    ):
        ingest_all(load_config(world.config_path))
