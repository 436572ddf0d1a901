"""Regression tables: coefficients over SEs, marks, footers, never a truncated number."""

import pandas as pd

from spillover.report.tables import column_blocks, regression_table


def _estimates():
    common = {"nobs": 1234, "n_entities": 85, "fe": "entity", "ssc": "fixest"}
    return pd.DataFrame(
        [
            {
                "spec_id": "a",
                "term": "opr",
                "coef": 24.1054,
                "se": 3.9761,
                "p": 1.93e-09,
                "n_clusters": 85,
                "vcov": "cluster(entity)",
                **common,
            },
            {
                "spec_id": "a",
                "term": "shipments",
                "coef": 0.0114,
                "se": 0.0091,
                "p": 0.21,
                "n_clusters": 85,
                "vcov": "cluster(entity)",
                **common,
            },
            {
                "spec_id": "b",
                "term": "opr",
                "coef": 24.1054,
                "se": 12.5,
                "p": 0.07,
                "n_clusters": None,
                "vcov": "conley(cutoff_km=20, kernel=bartlett, serial_lags=7)",
                **common,
            },
            {
                "spec_id": "b",
                "term": "exposure",
                "coef": 1.2e-07,
                "se": 3e-08,
                "p": 0.03,
                "n_clusters": None,
                "vcov": "conley(cutoff_km=20, kernel=bartlett, serial_lags=7)",
                **common,
            },
        ]
    )


def test_specs_side_by_side_with_marks_and_footers():
    table = regression_table(_estimates(), ["b", "a"])
    assert list(table.columns) == ["b", "a"]
    assert list(table.index[:6]) == ["opr", "", "exposure", "", "shipments", ""]
    assert table.iloc[0].tolist() == ["24.105*", "24.105***"]
    assert table.iloc[1].tolist() == ["(12.500)", "(3.976)"]
    assert table.iloc[2, 0] == "1.2e-07**" and table.iloc[2, 1] == ""  # tiny, never "0.000"
    assert table.iloc[4].tolist() == ["", "0.011"]
    footer = table.iloc[6:]
    assert footer.loc["N"].tolist() == ["1,234", "1,234"]
    assert footer.loc["Clusters"].tolist() == ["", "85"]
    assert footer.loc["Covariance"].tolist() == ["conley(20 km, bartlett, L=7)", "cluster(entity)"]


def test_wide_tables_are_split_into_blocks_not_cut():
    ids = [f"s{i}" for i in range(7)]
    assert column_blocks(ids, width=80, label_width=20, column_width=15) == [
        ids[:4],
        ids[4:],
    ]
    assert column_blocks(ids, width=10, label_width=20, column_width=15) == [[i] for i in ids]
