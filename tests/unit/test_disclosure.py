"""The disclosure rule on hand-checkable worlds: which value is suppressed, and why.

Plants sit due north of the centre at the given distance (km) on the spatial engine's sphere,
so membership is plain to read: 5 km holds the plants at d ≤ 5, 10 km those at d ≤ 10.
"""

import itertools
import logging
import re

import numpy as np
import pandas as pd
import pytest
from disclosure_world import KM, centre, plant, world

from spillover import disclosure
from spillover.config import ConfigError, DisclosureConfig, ModelSpec, NeighbourhoodConfig
from spillover.disclosure import (
    _RingStats,
    _top_sums,
    decomposition_margins,
    disclosure_cache,
    neighbourhood_numbers,
    public_release,
    suppression_reasons,
)
from spillover.disclosure_span import KINDS, DisclosureError, Margin, span_basis, value_terms
from spillover.neighbourhoods import (
    VALUE_COLUMNS,
    cell_members,
    cell_members_by_year,
    neighbourhood_table,
)


def reasons(plants, radii=(5.0, 10.0), margins=(), **rule):
    settings = NeighbourhoodConfig(radii_km=list(radii))
    cells = neighbourhood_table(plants, settings)
    members = cell_members(plants, settings)
    out, _ = suppression_reasons(cells, members, list(margins), DisclosureConfig(**rule))
    return out.set_index(["radius_km", "year", "centre_id"])


def row(table, radius, centre_id="C", year=2015):
    return table.loc[(radius, year, centre_id)].to_dict()


def test_one_exporter_among_three_neighbours_is_suppressed():
    # the case: 5 km holds one plant (χ); 10 km holds three, two exporting nothing
    out = reasons(
        world(
            centre("C"),
            plant("A", 3, exports=10.0),
            plant("B", 7),
            plant("D", 8),
        )
    )
    assert row(out, 5.0) == dict.fromkeys(VALUE_COLUMNS, "primary")
    # 10 km: employees and shipments from 3 plants; exports from one; no imputed exports (0)
    assert row(out, 10.0) == {
        "employees": "",
        "shipments": "",
        "exports": "primary",
        "exports_imputed": "",
    }


def test_ring_of_one_contributor_suppresses_the_outer_radius_column_by_column():
    plants = world(
        centre("C"),
        plant("A", 1, exports=5.0),
        plant("B", 2, exports=6.0),
        plant("D", 3, exports=7.0),
        plant("E", 7),  # the ring 5–10 km: one plant, exporting nothing
    )
    out = reasons(plants)
    assert row(out, 5.0) == dict.fromkeys(VALUE_COLUMNS, "")
    # ring of one plant for employees and shipments; no exporter in the ring: exports publish
    assert row(out, 10.0) == {
        "employees": "nested",
        "shipments": "nested",
        "exports": "",
        "exports_imputed": "",
    }


def test_secondary_suppression_compares_with_the_nearest_published_radius():
    # 5 / 7 / 10 km with 3 / 4 / 4 plants: 7 km hides a one-plant ring; 10 km has the
    # same plants as 7 km, so publishing it would reveal the 7 km value (ring of 1 vs 5 km)
    plants = world(
        centre("C"),
        *(plant(f"P{d}", d, exports=1.0 + d) for d in (1, 2, 3)),
        plant("P6", 6, exports=9.0),
    )
    out = reasons(plants, radii=(5.0, 7.0, 10.0))
    assert {r: row(out, r)["exports"] for r in (5.0, 7.0, 10.0)} == {
        5.0: "",
        7.0: "nested",
        10.0: "nested",
    }


def test_dominance_applies_to_each_column_on_its_own():
    plants = world(
        centre("C"),
        plant("A", 1, exports=1000.0),
        *(plant(name, 2, exports=1.0) for name in "BDEF"),
    )
    # exports: top 2 hold 1001 / 1004 > 80 %; shipments: 200 / 500
    out = reasons(plants, radii=(5.0,), dominance_top_n=2, dominance_share=0.8)
    assert row(out, 5.0) == {
        "employees": "",
        "shipments": "",
        "exports": "dominance",
        "exports_imputed": "",
    }
    only_shipments = reasons(
        plants,
        radii=(5.0,),
        dominance_top_n=2,
        dominance_share=0.8,
        dominance_columns=["shipments"],
    )
    assert row(only_shipments, 5.0)["exports"] == ""


@pytest.mark.parametrize("n", [1, 2, 3])
def test_top_sums_add_each_cells_largest_values_largest_first(n):
    """Brute force: per cell, Σ of its n largest values added largest first from 0.0.

    With ties, cells of fewer than n rows, and sums whose last bits depend on the order.
    """
    rng = np.random.default_rng(n)
    sizes = rng.integers(1, 6, 300)
    cell = np.repeat(np.arange(300) * 2, sizes)  # every other cell has no row
    value = rng.choice([0.0, 1.0, 2.5, 0.1, 0.2, 0.30000000000000004, 1e15], cell.size)
    cells, sums = _top_sums(cell, value, n)
    assert cells.tolist() == sorted(set(cell.tolist()))
    for c, total in zip(cells, sums, strict=True):
        expected = 0.0
        for v in sorted(value[cell == c], reverse=True)[:n]:
            expected += v
        assert total == expected


@pytest.mark.parametrize("chunk", [1, 7, 10**9])
@pytest.mark.parametrize("grouped", [True, False])
def test_ring_statistics_are_those_of_each_cell_and_ring_by_brute_force(
    monkeypatch, chunk, grouped
):
    """Contributors and top-2 shares per cell, ring and column, whatever the row chunks.

    Members of 40 cells (some with none) with zeros, NaNs and negative values; rows grouped
    by cell or shuffled; chunks of one row (a cell per chunk), a few cells, or everything.
    """
    rng = np.random.default_rng(chunk)
    radii = [2.0, 5.0, 10.0]
    cells = pd.DataFrame({"radius_km": rng.choice(radii, 40), "n_neighbours": 0})
    sizes = rng.integers(0, 9, 40)
    cell = np.repeat(np.arange(40), sizes)
    inner = np.minimum(rng.choice(radii, cell.size), cells["radius_km"].to_numpy()[cell])
    members = pd.DataFrame({"cell": cell, "inner_radius_km": inner})
    for column in VALUE_COLUMNS:
        members[column] = rng.choice([0.0, np.nan, -4.0, 1.0, 3.0, 50.0], cell.size)
    if not grouped:
        members = members.sample(frac=1.0, random_state=1).reset_index(drop=True)
    monkeypatch.setattr(disclosure, "RING_CHUNK_ROWS", chunk)
    rule = DisclosureConfig(dominance_top_n=2, dominance_share=0.8)
    stats = _RingStats(cells, rule)
    stats.add(members)
    for lower in [0.0, 2.0, 5.0]:
        for index, column in enumerate(VALUE_COLUMNS):
            for c in range(40):
                rows = members[(members["cell"] == c) & (members["inner_radius_km"] > lower)]
                value = np.abs(rows[column].fillna(0.0).to_numpy())
                assert stats.count[lower][c, index] == (value != 0).sum()
                top = np.sort(value)[::-1][:2].sum()
                share = top / value.sum() if value.sum() > 0 else 0.0
                assert stats.share[lower][c, index] == pytest.approx(share, rel=1e-12)


def test_dominance_is_judged_cell_by_cell():
    """Each year's cell has its own top establishments (not the table's first rows)."""
    exports = {2015: [1000.0, 1.0, 1.0, 1.0], 2016: [10.0] * 4, 2017: [1.0, 1.0, 1.0, 1000.0]}
    plants = world(
        *(centre("C", year=year) for year in exports),
        *(
            plant(f"P{i}", 1 + i, year=year, exports=value)
            for year, values in exports.items()
            for i, value in enumerate(values)
        ),
    )
    out = reasons(plants, radii=(5.0,), dominance_top_n=2, dominance_share=0.8)
    found = {year: row(out, 5.0, year=year)["exports"] for year in exports}
    assert found == {2015: "dominance", 2016: "", 2017: "dominance"}


@pytest.mark.parametrize(
    "inner, ring, outer",
    [
        ([1000.0] * 4, [10.0] * 4, ""),  # a balanced ring around heavy inner plants
        ([100.0] * 4, [1000.0, 1.0, 1.0, 1.0], "nested"),  # the ring is dominated, not the cell
    ],
)
def test_dominance_of_the_ring_decides_the_outer_radius(inner, ring, outer):
    plants = world(
        centre("C"),
        *(plant(f"I{i}", 1 + i, exports=value) for i, value in enumerate(inner)),
        *(plant(f"R{i}", 6 + i, exports=value) for i, value in enumerate(ring)),
    )
    rule = {"dominance_top_n": 2, "dominance_share": 0.8, "dominance_columns": ["exports"]}
    out = reasons(plants, **rule)
    assert row(out, 5.0)["exports"] == ""
    assert row(out, 10.0)["exports"] == outer


def test_imputed_exports_of_two_plants_are_suppressed():
    plants = world(
        centre("C"),
        plant("A", 1, exports=20.0, export_method="industry_ratio"),
        plant("B", 2, exports=20.0, export_method="industry_ratio"),
        *(plant(name, 3, exports=9.0) for name in "DEF"),
    )
    out = reasons(plants, radii=(5.0,))
    assert row(out, 5.0) == {
        "employees": "",
        "shipments": "",
        "exports": "",
        "exports_imputed": "primary",
    }


def test_exports_minus_imputed_exports_of_one_plant_is_protected():
    # 3 plants imputed with the same public ratio (20 %) and one direct exporter: exports (4)
    # − imputed exports (3) would be E's exports, exports − 0.2 × shipments a value of E alone
    # (its exports − 0.2 × its shipments): both columns need a χ
    plants = world(
        centre("C"),
        *(plant(n, 1, exports=20.0, export_method="industry_ratio") for n in "ABD"),
        plant("E", 2, exports=9.0),
    )
    out = reasons(plants, radii=(5.0,))
    assert row(out, 5.0) == {
        "employees": "",
        "shipments": "",
        "exports": "cross_column",
        "exports_imputed": "cross_column",
    }


@pytest.mark.parametrize("extra", [["F"], ["F", "G"]])
def test_overlapping_neighbourhoods_differing_by_one_or_two_plants(extra):
    # C2 sits 0.5 km north of C1; F and G (5.3 km) are within 5 km of C2 only, exporting 0
    plants = world(
        centre("C1"),
        centre("C2", 0.5),
        *(plant(n, d, exports=5.0) for n, d in zip("ABDE", (1, 2, 3, 4), strict=True)),
        *(plant(name, 5.3) for name in extra),
    )
    out = reasons(plants, radii=(5.0,))
    assert row(out, 5.0, "C1") == {
        "employees": "overlap",
        "shipments": "overlap",
        "exports": "",
        "exports_imputed": "",
    }
    assert row(out, 5.0, "C2") == dict.fromkeys(VALUE_COLUMNS, "")


def _three_centres():
    """X, Y, Z 100 km apart, 2018 and 2019; X has a single exporter in 2019."""
    rows = []
    exporters = {("X", 2018): 4, ("X", 2019): 1, ("Y", 2018): 3, ("Y", 2019): 4}
    for year in (2018, 2019):
        for name, km in (("X", 0.0), ("Y", 100.0), ("Z", 200.0)):
            rows.append(centre(name, km, year=year))
            for i in range(4 if name != "Z" else 5):
                exports = 3.0 + i + year % 10 if i < exporters.get((name, year), 5) else 0.0
                rows.append(plant(f"{name}{i}", km + 1 + i / 2, year=year, exports=exports))
    return world(*rows)


def _margin(column="exports"):
    weights = pd.DataFrame(
        {
            "radius_km": 5.0,
            "year": [2018, 2019] * 3,
            "centre_id": ["X", "X", "Y", "Y", "Z", "Z"],
            "weight": [-1.0, 1.0] * 3,
        }
    )
    return Margin(f"decomposition/m/{column}", column, weights)


def test_a_released_total_gets_a_complementary_suppression():
    plants = _three_centres()
    alone = reasons(plants, radii=(5.0,))
    assert (alone["exports"] != "").sum() == 1  # X 2019: one exporter
    # the mean change of exports over X, Y, Z minus the published cells is X 2019's value:
    # one more value of the total is suppressed, the one with the fewest exporters (Y 2018)
    out = reasons(plants, radii=(5.0,), margins=[_margin()])
    suppressed = out.loc[out["exports"] != "", "exports"].to_dict()
    assert suppressed == {(5.0, 2019, "X"): "primary", (5.0, 2018, "Y"): "margin"}


def test_each_search_logs_its_blocks_and_what_it_found(caplog, monkeypatch):
    from spillover import disclosure_span

    monkeypatch.setattr(disclosure_span, "TRACKED_FROM_BLOCKS", 1)  # the world has few
    plants = world(  # overlapping neighbourhoods of C1 and C2, differing by plant F
        centre("C1"),
        centre("C2", 0.5),
        *(plant(n, d, exports=5.0) for n, d in zip("ABDE", (1, 2, 3, 4), strict=True)),
        plant("F", 5.3),
    )
    settings = NeighbourhoodConfig(radii_km=[5.0])
    cells = neighbourhood_table(plants, settings)
    members = cell_members(plants, settings)
    with caplog.at_level(logging.INFO, logger="spillover.progress"):
        out, rounds = suppression_reasons(cells, members, [], DisclosureConfig())
    lines = [r.getMessage() for r in caplog.records if r.name == "spillover.progress"]
    searches = [re.match(r"disclose: search (\d+): (.*)", line) for line in lines]
    searches = [found.groups() for found in searches if found]
    assert rounds >= 1 and [int(number) for number, _ in searches] == list(range(1, rounds + 2))
    assert searches[-1][1] == "nothing derivable, release certified"
    added = [re.match(r"\d+ value\(s\) derivable; (\d+) more", text) for _, text in searches]
    secondary = out[VALUE_COLUMNS].isin(["margin", "overlap", "cross_column"]).to_numpy().sum()
    assert sum(int(found.group(1)) for found in added[:-1]) == secondary == 2
    blocks = [line for line in lines if " blocks of search 1 " in line]
    assert blocks and re.fullmatch(r"disclose: (\d+)/\1 blocks of search 1 \(100%\).*", blocks[-1])


def test_decomposition_margins_by_hand():
    panel = pd.DataFrame(
        {
            "radius_km": 5.0,
            "centre_id": ["a", "a", "a", "b", "b"],
            "year": [2012, 2013, 2014, 2012, 2014],  # b: no consecutive years
            "firm_id": "f",
            "pref_code": 1,
            "exports": [1.0, 2.0, 3.0, 4.0, 5.0],
            "shipments": [9.0, 9.0, 19.0, 9.0, 9.0],
            "opr": [1.0, 2.0, 4.0, 1.0, 1.0],
        }
    )
    spec = ModelSpec(id="d", regressors=["opr", "shipments"])
    margins = decomposition_margins({"neighbourhood": panel}, pd.DataFrame(), [spec])
    assert [m.name for m in margins] == ["decomposition/d/exports", "decomposition/d/shipments"]
    weights = margins[0].weights.set_index(["centre_id", "year"])["weight"].to_dict()
    # Δ over consecutive years telescopes to (+1 at the last year, −1 at the first)
    assert weights == {("a", 2012): -1.0, ("a", 2014): 1.0}
    log = ModelSpec(id="l", regressors=["opr"], transform="log1p")
    (margin,) = decomposition_margins({"neighbourhood": panel}, pd.DataFrame(), [log])
    weights = margin.weights.set_index(["centre_id", "year"])["weight"].to_dict()
    assert weights == pytest.approx({("a", 2012): -1 / 2.0, ("a", 2014): 1 / 4.0})


@pytest.mark.parametrize(
    ("dependent", "regressor"),
    [("d(log1p(exports))", "L1(shipments)"), ("asinh(exports)", "F1(log(shipments))")],
)
def test_decomposition_margin_weights_are_the_gradient_of_the_released_sum(dependent, regressor):
    """Oracle: finite differences of Σ over released pairs of ΔT, cell by cell."""
    from spillover.estimate import decomposition_pairs
    from spillover.estimate.sample import term_values
    from spillover.specs import parse_term

    rng = np.random.default_rng(3)
    keys = [(c, y) for c in "abc" for y in range(2012, 2018) if (c, y) != ("b", 2015)]
    panel = pd.DataFrame(keys, columns=["centre_id", "year"]).assign(
        radius_km=5.0,
        firm_id="f",
        pref_code=1,
        exports=lambda f: rng.uniform(1, 50, len(f)),
        shipments=lambda f: rng.uniform(10, 90, len(f)),
        opr=lambda f: rng.uniform(0, 30, len(f)),
    )
    spec = ModelSpec(id="g", dependent=dependent, regressors=["opr", regressor])
    pairs = decomposition_pairs(panel, spec)
    later = pairs[pairs["later"]].set_index(["centre_id", "year"]).index

    def released(frame, text):
        values = term_values(frame.rename(columns={"centre_id": "entity"}), parse_term(text))
        series = pd.Series(
            values.to_numpy(), pd.MultiIndex.from_frame(frame[["centre_id", "year"]])
        )
        before = [(c, y - 1) for c, y in later]
        return float(series.loc[later].sum() - series.loc[before].sum())

    margins = decomposition_margins({"neighbourhood": panel}, pd.DataFrame(), [spec])
    assert [m.name for m in margins] == [
        f"decomposition/g/{dependent}",
        f"decomposition/g/{regressor}",
    ]
    for margin, text in zip(margins, (dependent, regressor), strict=True):
        weights = margin.weights.set_index(["centre_id", "year"])["weight"]
        column = margin.column
        for row in range(len(panel)):
            key = tuple(panel.loc[row, ["centre_id", "year"]])
            step = 1e-6 * panel.loc[row, column]
            up, down = panel.copy(), panel.copy()
            up.loc[row, column] += step
            down.loc[row, column] -= step
            gradient = (released(up, text) - released(down, text)) / (2 * step)
            assert weights.get(key, 0.0) == pytest.approx(gradient, rel=1e-5, abs=1e-9), key


def test_neighbourhood_numbers_are_a_keyed_permutation():
    ids = pd.Series([f"E{i:04d}" for i in range(60)])
    numbers = neighbourhood_numbers(ids, b"key one")
    assert sorted(numbers.values()) == list(range(1, 61))
    ranked = [numbers[i] for i in sorted(ids)]
    assert ranked != sorted(ranked) and ranked != sorted(ranked, reverse=True)
    assert neighbourhood_numbers(ids, b"key one") == numbers
    assert neighbourhood_numbers(ids, b"key two") != numbers


def _demo_config(tmp_path):
    """The demo's config with radii 5 and 10 km and no model specs."""
    from spillover.config import parse_config
    from spillover.demo.world import WorldParams, demo_config

    return parse_config(
        {**demo_config(WorldParams()), "neighbourhoods": {"radii_km": [5.0, 10.0]}, "models": []},
        base_dir=tmp_path,
    )


def test_public_table_hides_values_and_identifiers(tmp_path):
    config = _demo_config(tmp_path)
    plants = world(
        centre("C2"),
        centre("C1", 50.0),
        plant("A", 3, exports=10.0),
        plant("B", 7),
        plant("D", 8),
        *(plant(f"Q{i}", 50.5 + i, exports=1.0 + i) for i in range(4)),
    )
    cells = neighbourhood_table(plants, config.neighbourhoods)
    release = public_release(cells, plants, {}, config, key=b"fixed key")
    table = release.table
    assert list(table.columns) == [
        "radius_km",
        "year",
        "neighbourhood_no",
        "n_neighbours",
        *VALUE_COLUMNS,
        "suppression",
        *(f"suppression_{c}" for c in VALUE_COLUMNS),
    ]
    assert table[["radius_km", "year", "neighbourhood_no"]].equals(
        table[["radius_km", "year", "neighbourhood_no"]].sort_values(
            ["radius_km", "year", "neighbourhood_no"]
        )
    )
    c2 = neighbourhood_numbers(cells["centre_id"], b"fixed key")["C2"]
    at = table.set_index(["radius_km", "neighbourhood_no"])
    assert at.loc[(5.0, c2), "suppression"] == "primary"
    assert np.isnan(at.loc[(5.0, c2), VALUE_COLUMNS].to_numpy(dtype=float)).all()
    assert at.loc[(10.0, c2), "suppression_exports"] == "primary"
    assert np.isnan(at.loc[(10.0, c2), "exports"])
    assert at.loc[(10.0, c2), "shipments"] == 300.0
    assert at.loc[(10.0, c2), "exports_imputed"] == 0.0  # nobody: a published 0


def test_public_table_names_each_cells_kinds_of_suppression():
    """Per cell, the kinds of its values' reasons: primary (rules 1–2), secondary, or both."""
    reasons_of = {
        "c0": ["", "", "", ""],
        "c1": ["primary", "", "dominance", ""],
        "c2": ["", "overlap", "", "nested"],
        "c3": ["dominance", "margin", "", "cross_column"],
    }
    cells = pd.DataFrame(
        {
            "radius_km": 5.0,
            "year": 2015,
            "centre_id": list(reasons_of),
            "n_neighbours": 4,
            **{column: [1.0, 2.0, 3.0, 4.0] for column in VALUE_COLUMNS},
        }
    )
    reasons = cells[["radius_km", "year", "centre_id"]].assign(
        **{c: [reasons_of[k][i] for k in reasons_of] for i, c in enumerate(VALUE_COLUMNS)}
    )
    table = disclosure.public_table(cells, reasons, b"key")
    numbers = neighbourhood_numbers(cells["centre_id"], b"key")
    by_centre = table.set_index("neighbourhood_no").loc[[numbers[k] for k in reasons_of]]
    assert list(by_centre["suppression"]) == ["", "primary", "secondary", "primary+secondary"]
    assert list(by_centre.loc[numbers["c3"], [f"suppression_{c}" for c in VALUE_COLUMNS]]) == [
        "primary",
        "secondary",
        "",
        "secondary",
    ]
    assert by_centre.loc[numbers["c3"], VALUE_COLUMNS[2]] == 4.0  # published: its own value
    assert by_centre[VALUE_COLUMNS].isna().sum().sum() == 7  # exactly the 7 reasons hidden


def test_a_kept_suppression_serves_only_the_same_inputs_and_rule(tmp_path):
    config = _demo_config(tmp_path)
    plants = world(
        centre("C1"),
        plant("A", 3, exports=10.0),
        plant("B", 4),
        *(plant(f"Q{i}", 7.0 + i, exports=1.0 + i) for i in range(3)),
    )
    cells = neighbourhood_table(plants, config.neighbourhoods)

    def release(frame, settings, cache=None):
        cache = cache or disclosure_cache(tmp_path / "kept", settings)
        return cache, public_release(cells, frame, {}, settings, key=b"k", cache=cache)

    first, searched = release(plants, config)
    again, kept = release(plants, config)
    assert (first.computed, again.computed, again.loaded) == (["all"], [], ["all"])
    pd.testing.assert_frame_equal(kept.table, searched.table, check_exact=True)
    pd.testing.assert_frame_equal(kept.reasons, searched.reasons, check_exact=True)
    assert (kept.margins, kept.rounds) == (searched.margins, searched.rounds)
    salted = config.model_copy(
        update={"disclosure": config.disclosure.model_copy(update={"number_salt": "s"})}
    )
    assert release(plants, salted)[0].loaded == ["all"]  # the salt numbers, it hides nothing

    split = plants.copy()  # the same sums, another number of exporters
    split.loc[split["establishment_id"].isin(["A", "B"]), "exports"] = 5.0
    changed, other = release(split, config)
    assert changed.computed == ["all"]
    assert (other.reasons["exports"] != searched.reasons["exports"]).any()
    stricter = config.model_copy(
        update={"disclosure": config.disclosure.model_copy(update={"min_establishments": 5})}
    )
    assert release(plants, stricter)[0].computed == ["all"]
    assert release(plants, config, disclosure_cache(None, config))[0].loaded == []


@pytest.mark.parametrize("minimum", [1, 2])
def test_fewer_than_three_establishments_is_a_config_error(tmp_path, minimum):
    from spillover.config import parse_config
    from spillover.demo.world import WorldParams, demo_config

    data = {**demo_config(WorldParams()), "disclosure": {"min_establishments": minimum}}
    with pytest.raises(ConfigError) as error:
        parse_config(data, base_dir=tmp_path, origin="c.yaml")
    assert "disclosure.min_establishments" in str(error.value)
    assert "at least 3" in str(error.value)


def test_cell_members_by_hand():
    plants = world(
        centre("C"),
        plant("p1", 1, shipments=20.0),
        plant("p2", 2.4, shipments=100.0),
        plant("p3", 4.5, shipments=50.0),
        plant("big", 1, large_firm=True, shipments=5000.0),
    )
    settings = NeighbourhoodConfig(radii_km=[2.5, 5.0])
    members = cell_members(plants, settings)
    by_radius = members.groupby("radius_km")["establishment_id"].apply(sorted).to_dict()
    assert by_radius == {2.5: ["p1", "p2"], 5.0: ["p1", "p2", "p3"]}  # "big" is excluded
    inner = members.groupby("establishment_id")["inner_radius_km"].agg(set).to_dict()
    assert inner == {"p1": {2.5}, "p2": {2.5}, "p3": {5.0}}
    counts = neighbourhood_table(plants, settings).set_index("radius_km")["n_neighbours"]
    assert counts.to_dict() == {2.5: 2, 5.0: 3}


def _random_world(seed):
    """Three centres within 2 km and 18 plants within 5 km: plenty of overlap.

    About a third of the plants have exports imputed with a public ratio of 10 or 20 %; the
    last two always do, one of each, at the same place.
    """
    rng = np.random.default_rng(seed)
    lon_km = KM / np.cos(np.radians(35.0))
    rows = [centre(f"C{i}", km=0.0) for i in range(3)]
    frame_rows = []
    for i in range(18):
        ratio = rng.random() < 0.3 or i >= 16
        shipments = float(rng.integers(50, 500))
        exports = shipments * (0.1 if i % 2 else 0.2) if ratio else float(rng.integers(0, 3)) * 7
        method = "industry_ratio" if ratio else ("firm_ratio" if rng.random() < 0.2 else None)
        frame_rows.append(
            plant(f"P{i:02d}", 0.0, shipments=shipments, exports=exports)
            | ({"export_method": method} if method else {})
        )
    plants = world(*rows, *frame_rows)
    offsets = rng.uniform(-4.0, 4.0, size=(len(plants), 2))
    offsets[:3] = rng.uniform(-1.0, 1.0, size=(3, 2))
    offsets[-1] = offsets[-2]
    plants["lat"] = 35.0 + offsets[:, 0] * KM
    plants["lon"] = 135.0 + offsets[:, 1] * lon_km
    return plants, rng


def _brute_force(model_rows, targets, owners, minimum):
    """Recoverable targets and minimal sets of < minimum owners, by dense linear algebra."""
    a = np.array(model_rows)
    rank = np.linalg.matrix_rank(a, tol=1e-9)
    recovered = [np.linalg.matrix_rank(np.vstack([a, t]), tol=1e-9) == rank for t in targets]
    people = sorted(set(owners))
    carried = set()
    for size in range(1, minimum):
        for group in itertools.combinations(people, size):
            if any(set(c) <= set(group) for c in carried):
                continue
            unit = np.eye(a.shape[1])[[i for i, o in enumerate(owners) if o in group]]
            both = np.linalg.matrix_rank(np.vstack([a, unit]), tol=1e-9)
            if both < rank + len(unit):
                carried.add(frozenset(group))
    return recovered, carried


class _Dense:
    """Released rows as dense vectors over variables (establishment, kind), built as needed."""

    def __init__(self):
        self.variables: dict = {}

    def row(self, terms, weight=1.0) -> dict:
        out: dict = {}
        for term in terms.itertuples():
            key = self.variables.setdefault((term.establishment_id, term.kind), len(self.variables))
            out[key] = out.get(key, 0.0) + weight * term.coef
        return out

    def array(self, row: dict) -> np.ndarray:
        return np.array([row.get(i, 0.0) for i in range(len(self.variables))])

    def owners(self) -> list:
        return [name for name, _ in sorted(self.variables, key=self.variables.get)]


def _random_release(seed):
    plants, rng = _random_world(seed)
    settings = NeighbourhoodConfig(radii_km=[2.0, 4.0])
    cells = neighbourhood_table(plants, settings).reset_index(drop=True)
    members = cell_members(plants, settings)
    index = pd.MultiIndex.from_frame(cells[["radius_km", "year", "centre_id"]])
    members["cell"] = index.get_indexer(
        pd.MultiIndex.from_frame(members[["radius_km", "year", "centre_id"]])
    )
    weights = cells[["radius_km", "year", "centre_id"]].assign(
        weight=rng.choice([-1.0, 0.0, 1.0], size=len(cells))
    )
    own = plants[~plants["is_centre"]].sample(4, random_state=seed).assign(weight=1.0)
    margins = [Margin("m/exports", "exports", weights), Margin("p/shipments", "shipments", own)]
    published = rng.random((len(cells), len(VALUE_COLUMNS))) < 0.6
    return cells, members, margins, published


def _compare_with_brute_force(seed) -> tuple[int, int, int]:
    """Assert the engine's findings on a random world; return (recovered, hidden, carried)."""
    from spillover.disclosure_span import LinearRelease, value_terms

    cells, members, (total, own), published = _random_release(seed)
    dense = _Dense()
    rows = {
        (c, column): dense.row(value_terms(members[members["cell"] == c], column))
        for c in range(len(cells))
        for column in VALUE_COLUMNS
    }
    shown = {key for key in rows if published[key[0], VALUE_COLUMNS.index(key[1])]}
    margin: dict = {}
    for c, weight in enumerate(total.weights["weight"]):
        for variable, coef in rows[(c, "exports")].items():
            margin[variable] = margin.get(variable, 0.0) + weight * coef
    released = [rows[key] for key in shown] + [
        margin,
        dense.row(value_terms(own.weights, "shipments")),
    ]
    hidden = [key for key, row in rows.items() if row and key not in shown]
    recovered, carried = _brute_force(
        [dense.array(r) for r in released],
        [dense.array(rows[k]) for k in hidden],
        dense.owners(),
        3,
    )
    findings = LinearRelease(cells, members, [total, own]).disclosures(published, 3)
    suppressed = {(f.cell, f.column) for f in findings if f.kind == "suppressed"}
    assert suppressed == {key for key, r in zip(hidden, recovered, strict=True) if r}
    small = {frozenset(f.establishments) for f in findings if f.kind == "small"}
    assert carried <= small | {frozenset(f.establishments) for f in findings}
    assert all(any(c <= s for c in carried) for s in small)
    return len(suppressed), len(hidden), len(carried)


@pytest.mark.parametrize("seed", range(32))
def test_linear_span_engine_agrees_with_brute_force(seed):
    """Atoms, pruning, blocks and the set search against dense algebra over variables.

    32 worlds: fewer miss cases (a wrong pseudo-inverse of the margins' coupled vectors on a
    block's big atoms shows in 1 world of 40).
    """
    recovered, hidden, _ = _compare_with_brute_force(seed)
    assert hidden > recovered  # some suppressed values stay hidden in every world


def test_the_random_worlds_have_recoveries_and_small_values():
    outcomes = [_compare_with_brute_force(seed) for seed in range(3)]
    assert all(recovered and carried for recovered, _, carried in outcomes)


@pytest.mark.parametrize("seed", range(3))
def test_each_atom_enters_a_row_with_its_variables_coefficient(seed):
    """Σ over atoms of entry × establishments equals Σ of the row's coefficients (all x = 1)."""
    from spillover.disclosure_span import LinearRelease, value_terms

    cells, members, margins, _ = _random_release(seed)
    model = LinearRelease(cells, members, margins)
    through_atoms = model.matrix @ model.atom_size.astype(float)
    for cell in range(len(cells)):
        for index, column in enumerate(VALUE_COLUMNS):
            terms = value_terms(members[members["cell"] == cell], column)
            row = cell * len(VALUE_COLUMNS) + index
            assert through_atoms[row] == pytest.approx(terms["coef"].sum(), rel=1e-12)
    assert (model.atom_size > 1).sum() >= 5  # atoms of several establishments are tested


def test_atoms_do_not_depend_on_the_chunk_of_terms_hashed(monkeypatch):
    """Atoms (hashed chunk by chunk at national scale) are the same for any chunk size."""
    from spillover import disclosure_span
    from spillover.disclosure_span import LinearRelease

    cells, members, margins, _ = _random_release(5)
    whole = LinearRelease(cells, members, margins)
    monkeypatch.setattr(disclosure_span, "TERM_CHUNK", 7)
    chunked = LinearRelease(cells, members, margins)
    assert whole.n_atoms == chunked.n_atoms > 10
    assert (whole.matrix != chunked.matrix).nnz == 0
    assert np.array_equal(whole.owner_atom, chunked.owner_atom)


def _yearly_release(worlds):
    """Cells and numbered members of random worlds taken as the years from 2015 on."""
    plants = pd.concat(
        [plants.assign(year=2015 + number) for number, plants in enumerate(worlds)],
        ignore_index=True,
    )
    settings = NeighbourhoodConfig(radii_km=[2.0, 4.0])
    cells = neighbourhood_table(plants, settings).reset_index(drop=True)
    members = cell_members(plants, settings)
    keys = ["radius_km", "year", "centre_id"]
    members["cell"] = pd.MultiIndex.from_frame(cells[keys]).get_indexer(
        pd.MultiIndex.from_frame(members[keys])
    )
    return cells, members


def _three_years_shuffled():
    """Three random years, plants in random row order, and margins over cells and plants.

    The plant margin weighs every plant of every year by 1: a plant in no cell has the same
    shipments coefficient in each year, so its years are one atom across parts.
    """
    worlds = [_random_world(seed)[0].assign(year=2015 + n) for n, seed in enumerate((21, 22, 23))]
    plants = pd.concat(worlds, ignore_index=True).sample(frac=1.0, random_state=0)
    plants = plants.reset_index(drop=True)
    settings = NeighbourhoodConfig(radii_km=[2.0, 4.0])
    cells = neighbourhood_table(plants, settings).reset_index(drop=True)
    keys = ["radius_km", "year", "centre_id"]
    margins = [
        Margin("m/exports", "exports", cells[keys].assign(weight=1.0)),
        Margin("p/shipments", "shipments", plants.assign(weight=1.0)),
    ]
    return plants, settings, cells, margins


def test_members_read_year_by_year_are_the_whole_table():
    """The yearly parts, put in ``order``, are :func:`cell_members` row for row."""
    plants, settings, _, _ = _three_years_shuffled()
    parts = list(cell_members_by_year(plants, settings))
    assert [part["year"].unique().tolist() for part in parts] == [[2015], [2016], [2017]]
    joined = pd.concat(parts, ignore_index=True).sort_values("order", kind="stable")
    whole = cell_members(plants, settings)
    assert len(whole) > 100
    pd.testing.assert_frame_equal(
        joined.drop(columns="order").reset_index(drop=True), whole, check_categorical=False
    )
    ids = [part["establishment_id"].cat.categories for part in parts]
    assert all(own.equals(ids[0]) for own in ids)  # one set of categories


def test_a_release_built_year_by_year_is_the_release_built_whole():
    """Atoms, establishments and the matrix do not depend on reading the members by year."""
    from spillover.disclosure_span import LinearRelease

    plants, settings, cells, margins = _three_years_shuffled()
    keys = ["radius_km", "year", "centre_id"]
    index = pd.MultiIndex.from_frame(cells[keys])

    def numbered(members):
        return members.assign(cell=index.get_indexer(pd.MultiIndex.from_frame(members[keys])))

    whole = LinearRelease(cells, numbered(cell_members(plants, settings)), margins)
    parts = LinearRelease(
        cells, [numbered(part) for part in cell_members_by_year(plants, settings)], margins
    )
    assert whole.n_atoms == parts.n_atoms > 20
    assert (whole.matrix != parts.matrix).nnz == 0
    assert np.array_equal(whole.matrix.indices, parts.matrix.indices)
    assert list(whole.establishments) == list(parts.establishments)
    members = cell_members(plants, settings)  # numbered by first appearance among the terms
    terms = [value_terms(members, column) for column in VALUE_COLUMNS]
    terms.append(value_terms(margins[1].weights, "shipments"))
    expected = pd.unique(pd.concat(terms)["establishment_id"].astype(str))
    assert list(whole.establishments) == list(expected)
    assert np.array_equal(whole.owner_atom, parts.owner_atom)
    assert np.array_equal(whole.owner_code, parts.owner_code)
    published = np.random.default_rng(1).random((len(cells), len(VALUE_COLUMNS))) < 0.6
    assert whole.disclosures(published, 3) == parts.disclosures(published, 3)


def test_suppression_is_the_same_from_the_yearly_members():
    """:func:`suppression_reasons` of the yearly parts: the reasons of the whole table."""
    plants, settings, cells, margins = _three_years_shuffled()
    rule = DisclosureConfig(dominance_top_n=2, dominance_share=0.8)
    whole, rounds = suppression_reasons(cells, cell_members(plants, settings), margins, rule)
    yearly = suppression_reasons(cells, cell_members_by_year(plants, settings), margins, rule)
    assert rounds > 0 and (whole[VALUE_COLUMNS] != "").to_numpy().any()
    pd.testing.assert_frame_equal(yearly[0], whole)
    assert yearly[1] == rounds


def test_a_year_in_two_parts_is_refused():
    """Parts must hold whole years: a variable split over two would be two atoms."""
    from spillover.disclosure_span import LinearRelease

    plants, settings, cells, margins = _three_years_shuffled()
    members = cell_members(plants, settings)
    index = pd.MultiIndex.from_frame(cells[["radius_km", "year", "centre_id"]])
    members["cell"] = index.get_indexer(
        pd.MultiIndex.from_frame(members[["radius_km", "year", "centre_id"]])
    )
    halves = [members.iloc[: len(members) // 2], members.iloc[len(members) // 2 :]]
    with pytest.raises(DisclosureError, match=r"year\(s\) \[2015, 2016, 2017\] in two parts"):
        LinearRelease(cells, halves, margins)


def test_margins_do_not_join_the_blocks():
    """A margin over every cell of two years stays out of the blocks (it would join them)."""
    from spillover.disclosure_span import LinearRelease

    first, rng = _random_world(3)
    second, _ = _random_world(4)
    cells, members = _yearly_release([first, second])
    keys = ["radius_km", "year", "centre_id"]
    margin = Margin("m/exports", "exports", cells[keys].assign(weight=1.0))
    published = rng.random((len(cells), len(VALUE_COLUMNS))) < 0.6
    model = LinearRelease(cells, members, [margin])
    model.disclosures(published, 3)
    blocks = [np.frombuffer(key[1], dtype=np.int64) for key in model._blocks]  # row ids
    assert all((rows >= 0).all() for rows in blocks)  # margins have negative ids
    years = [set(cells["year"].to_numpy()[rows // len(VALUE_COLUMNS)]) for rows in blocks]
    assert all(len(y) == 1 for y in years)  # every block lies in one year
    assert set().union(*years) == {2015, 2016}


@pytest.mark.parametrize(("seed", "n_dependent"), [(s, n) for s in range(5) for n in (0, 4)])
def test_block_row_weights_are_the_least_norm_solution(seed, n_dependent):
    """The derivation's row weights equal the pseudo-inverse's, rows of any length or rank."""
    import scipy.sparse as sp

    from spillover.disclosure_span import _Block

    rng = np.random.default_rng(seed)
    base = rng.integers(0, 2, size=(6, 9)) * rng.choice([1.0, 0.37, 12.5], size=(6, 9))
    dependent = rng.normal(size=(n_dependent, 6)) @ base  # rank ≤ 6 among 6 + n rows
    rows = np.vstack([base, dependent]) * rng.choice([0.01, 1.0, 300.0], size=(6 + n_dependent, 1))
    rows = rows[np.abs(rows).sum(axis=1) > 0]
    block = _Block(sp.csr_matrix(rows), np.arange(9))
    vector = rows.T @ rng.normal(size=len(rows))
    expected = np.linalg.pinv(rows.T, rcond=1e-9) @ vector
    np.testing.assert_allclose(block.row_weights(vector), expected, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_a_full_rank_block_with_copied_rows_needs_no_eigenproblem(monkeypatch, seed):
    """Rows of full rank but for copies (one scaled by 2, equal once of unit length): Cholesky.

    The copies share their distinct row; projections and the least-norm row weights are the
    dense pseudo-inverse's, and a derivation names every copy it uses.
    """
    import scipy.sparse as sp

    from spillover.disclosure_span import _Block

    rng = np.random.default_rng(seed)
    base = _incidence_rows(rng, 8, 30)
    assert np.linalg.matrix_rank(base) == len(base)
    rows = np.vstack([base, base[[2, 5]], 2.0 * base[[2]], 4.0 * base[[0]]])
    calls = []
    eigh = np.linalg.eigh
    monkeypatch.setattr(np.linalg, "eigh", lambda *a, **k: calls.append(1) or eigh(*a, **k))
    block = _Block(sp.csr_matrix(rows), np.arange(30))
    assert not calls
    assert block._group.tolist() == [*range(len(base)), 2, 5, 2, 0]
    vector = rows.T @ rng.normal(size=len(rows))
    expected = np.linalg.pinv(rows.T, rcond=1e-9) @ vector
    np.testing.assert_allclose(block.row_weights(vector), expected, rtol=1e-9, atol=1e-11)
    _, expected_v = _dense_row_space(rows)
    np.testing.assert_allclose(block.projection(np.eye(30)), expected_v @ expected_v.T, atol=1e-12)
    np.testing.assert_allclose(block.basis.T @ block.basis, np.eye(len(base)), atol=1e-12)
    assert set(block.derivation(rows[2])) == {2, len(base), len(base) + 2}


def test_a_block_of_dependent_rows_keeps_the_eigenproblem():
    """Rows that stay dependent once copies are set aside go to :func:`_row_space`."""
    import scipy.sparse as sp

    from spillover.disclosure_span import _Block

    rows = _incidence_rows(np.random.default_rng(3), 12, 40, dependent=2)
    block = _Block(sp.csr_matrix(rows), np.arange(40))
    assert block._group is None
    assert len(block._singular) == np.linalg.matrix_rank(rows) < len(rows)


def test_rows_are_matched_by_their_entries_not_by_their_hash(monkeypatch):
    """Each row's first equal row (bit for bit); a hash shared by unequal rows matches none."""
    import scipy.sparse as sp

    from spillover import disclosure_span

    dense = np.array(
        [[1, 0, 2], [0, 1, 0], [1, 0, 2], [1, 0, 2 + 1e-15], [0, 1, 0], [0, 0, 0], [0, 0, 0]],
        dtype=float,
    )
    rows = sp.csr_matrix(dense)
    assert disclosure_span._first_identical(rows).tolist() == [0, 1, 0, 3, 1, 5, 5]
    monkeypatch.setattr(disclosure_span, "_mix", lambda values: np.zeros_like(values))
    first = disclosure_span._first_identical(rows)  # every row hashes alike
    assert all((dense[first[i]] == dense[i]).all() for i in range(len(dense)))
    assert first.tolist() == [0, 1, 0, 3, 4, 5, 6]


def test_null_directions_are_orthonormal_or_left_to_the_whole_split():
    """MRRR on a cluster of zero eigenvalues can return one vector twice: never used as such."""
    from spillover.disclosure_span import _column_split, _null_directions

    tiny = -1.1102230246251565e-15  # a rounding left where a block's V has an exact 0
    rows = np.array([[0.0, 0.0, 0.6324555320336762, 0.31622776601683816, tiny]])
    null = _null_directions(rows)
    if null is None:
        null = _column_split(rows)[3]
    assert null.shape == (5, 4)
    np.testing.assert_allclose(null.T @ null, np.eye(4), atol=1e-12)
    np.testing.assert_allclose(rows @ null, 0.0, atol=1e-12)


@pytest.mark.parametrize(("seed", "dependent"), [(0, 0), (1, 3), (2, 40)])
def test_a_block_rebuilds_its_dropped_basis_bit_for_bit(seed, dependent):
    """V dropped between searches comes back identical; projections without it agree."""
    import scipy.sparse as sp

    from spillover.disclosure_span import _Block

    rng = np.random.default_rng(seed)
    rows = _incidence_rows(rng, 60, 200, dependent) * rng.choice([0.5, 1.0, 40.0], (1, 200))
    block = _Block(sp.csr_matrix(rows), np.arange(200))
    basis = block.basis.copy()
    at = np.flatnonzero(rng.random(200) < 0.1)
    part = rng.normal(size=len(at))
    vector = rows.T @ rng.normal(size=len(rows))
    vectors = rng.normal(size=(200, 3))
    weights = rng.normal(size=(len(block._singular), 3))
    dense = {"in_span": block.in_span(at, part), "coordinates": block.coordinates(vector)}
    dense["weights"] = block.row_weights(vector)
    dense["projection"] = block.projection(vectors)
    dense["combination"] = block.combination(weights)
    block.forget_derivations()
    assert block._basis is None  # dropped: the Gram route can rebuild it
    np.testing.assert_allclose(block.in_span(at, part), dense["in_span"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(block.coordinates(vector), dense["coordinates"], atol=1e-11)
    np.testing.assert_allclose(block.row_weights(vector), dense["weights"], atol=1e-11)
    np.testing.assert_allclose(block.projection(vectors), dense["projection"], atol=1e-11)
    np.testing.assert_allclose(block.combination(weights), dense["combination"], atol=1e-11)
    some = rng.random(200) < 0.3
    np.testing.assert_array_equal(block.basis_rows(some), basis[some])  # rows alone, exact
    assert block._basis is None  # the projections went through the sparse rows
    np.testing.assert_array_equal(block.basis, basis)


@pytest.mark.parametrize("svd", [False, True])
def test_a_block_made_without_its_basis_has_the_same_one_when_asked(monkeypatch, svd):
    """A kept block's search needs no V: it is built when asked, bit for bit the same.

    Where the dense SVD decided the rank, V comes with it and is kept either way.
    """
    import scipy.sparse as sp

    from spillover import disclosure_span

    if svd:
        monkeypatch.setattr(disclosure_span, "SURELY_KEPT", 2.0)  # nothing is surely kept
    rows = sp.csr_matrix(_incidence_rows(np.random.default_rng(8), 30, 90, 5))
    eager = disclosure_span._Block(rows, np.arange(90))
    lazy = disclosure_span._Block(rows, np.arange(90), basis=False)
    assert (lazy._basis is not None) is svd
    np.testing.assert_array_equal(lazy._left, eager._left)
    np.testing.assert_array_equal(lazy.basis, eager.basis)


def test_a_block_keeps_the_basis_only_the_svd_gave(monkeypatch):
    """Where the dense SVD decided the rank, V is not M̃ᵀ·U·S⁻¹: it is kept, not dropped."""
    import scipy.sparse as sp

    from spillover import disclosure_span

    rows = _incidence_rows(np.random.default_rng(5), 20, 50)
    monkeypatch.setattr(disclosure_span, "SURELY_KEPT", 2.0)  # nothing is surely kept
    block = disclosure_span._Block(sp.csr_matrix(rows), np.arange(50))
    basis = block.basis
    block.forget_derivations()
    assert block._basis is basis


def _incidence_rows(rng, n_rows, n_atoms, dependent=0):
    """0/1 rows with a public-ratio coefficient here and there, plus sums of earlier rows."""
    rows = (rng.random((n_rows, n_atoms)) < 0.3) * rng.choice([1.0, 1.0, 0.244], (n_rows, n_atoms))
    rows = rows[np.abs(rows).sum(axis=1) > 0]
    sums = [rows[rng.choice(len(rows), 2, replace=False)].sum(axis=0) for _ in range(dependent)]
    return np.vstack([rows, *sums]) if sums else rows


def _dense_row_space(rows):
    scaled = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    u, s, vt = np.linalg.svd(scaled, full_matrices=False)
    rank = int((s > 1e-9 * s[0]).sum())
    return s[:rank], vt[:rank].T


@pytest.mark.parametrize(("seed", "dependent"), [(0, 0), (1, 3), (2, 40), (3, 1)])
def test_row_space_is_that_of_the_dense_svd(seed, dependent):
    """The Gram route gives the SVD's rank, singular values, projector and left vectors."""
    import scipy.sparse as sp

    from spillover.disclosure_span import _row_space

    rng = np.random.default_rng(seed)
    rows = _incidence_rows(rng, 60, 200, dependent)
    scaled = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    left, singular, basis, rebuilt = _row_space(sp.csr_matrix(scaled))
    assert rebuilt  # the Gram route: V = M̃ᵀ·U·S⁻¹
    expected_s, expected_v = _dense_row_space(rows)
    assert len(singular) == len(expected_s) == np.linalg.matrix_rank(rows)
    np.testing.assert_allclose(singular, expected_s, rtol=1e-10)
    np.testing.assert_allclose(basis @ basis.T, expected_v @ expected_v.T, atol=1e-11)
    np.testing.assert_allclose(basis.T @ basis, np.eye(len(singular)), atol=1e-11)
    np.testing.assert_allclose(scaled, (left * singular) @ basis.T, atol=1e-11)


def test_row_space_leaves_an_uncertain_rank_to_the_svd(monkeypatch):
    """A direction between surely kept and surely null (here σ ≈ 1e-5·σ₀) goes to the SVD."""
    import scipy.sparse as sp

    from spillover import disclosure_span

    rng = np.random.default_rng(7)
    rows = _incidence_rows(rng, 20, 50)
    nudge = np.zeros(rows.shape[1])
    nudge[np.flatnonzero(rows[0] == 0)[0]] = 1e-5
    rows = np.vstack([rows, rows[0] + nudge])  # nearly a copy of row 0
    scaled = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    calls = []
    svd = np.linalg.svd
    monkeypatch.setattr(np.linalg, "svd", lambda *a, **k: calls.append(1) or svd(*a, **k))
    _, singular, basis, rebuilt = disclosure_span._row_space(sp.csr_matrix(scaled))
    assert calls and not rebuilt  # the dense SVD decided
    expected_s, expected_v = _dense_row_space(rows)
    assert len(singular) == len(expected_s) == len(rows)  # the SVD keeps σ ≈ 1e-5·σ₀
    np.testing.assert_allclose(basis @ basis.T, expected_v @ expected_v.T, atol=1e-9)


@pytest.mark.parametrize(
    ("seed", "share", "leak"), [(0, 0.2, 0), (1, 0.5, 0), (2, 0.9, 0), (3, 0.6, 1e-6)]
)
def test_column_split_is_that_of_the_dense_svd(monkeypatch, seed, share, leak):
    """Rows of an orthonormal basis: the kept part and the null space match the SVD's.

    With ``leak``, one basis vector lives on the left-out rows but for that share of its
    length on the kept ones: a singular value between surely kept and surely null, which the
    SVD decides (it keeps it).
    """
    from spillover.disclosure_span import TOLERANCE, _column_split

    rng = np.random.default_rng(seed)
    chosen = rng.random(120) < share
    vectors = _incidence_rows(rng, 30, 120).T  # 120 atoms × 30
    if leak:
        vectors[:, 0] = np.where(chosen, leak, 1.0) * rng.random(120)
    rows = np.linalg.qr(vectors)[0][chosen]  # fewer or more rows than columns
    calls = []
    svd = np.linalg.svd
    monkeypatch.setattr(np.linalg, "svd", lambda *a, **k: calls.append(1) or svd(*a, **k))
    u, s, v, null = _column_split(rows)
    assert bool(calls) == bool(leak)  # the SVD decides only an uncertain split
    u = rows @ v / s if u is None else u
    _, expected_s, vt = svd(rows, full_matrices=True)
    rank = int((expected_s > TOLERANCE).sum())
    assert len(s) == rank and null.shape == (rows.shape[1], rows.shape[1] - rank)
    assert rank == min(rows.shape)
    np.testing.assert_allclose(s, expected_s[:rank], rtol=1e-10)
    np.testing.assert_allclose(null @ null.T, vt[rank:].T @ vt[rank:], atol=1e-11)
    np.testing.assert_allclose(rows @ null, 0.0, atol=1e-12)
    np.testing.assert_allclose(u.T @ u, np.eye(rank), atol=1e-11)
    np.testing.assert_allclose(u * s @ v.T, rows, atol=1e-11)


@pytest.mark.parametrize(
    ("seed", "share", "leak"), [(0, 0.2, 0), (1, 0.5, 0), (2, 0.9, 0), (3, 0.6, 1e-6)]
)
def test_null_directions_alone_are_the_column_splits(seed, share, leak):
    """The null space computed alone (a partial eigenproblem) is the whole split's.

    An uncertain split (``leak``) is left to the whole split (None).
    """
    from spillover.disclosure_span import _column_split, _null_directions

    rng = np.random.default_rng(seed)
    chosen = rng.random(120) < share
    vectors = _incidence_rows(rng, 30, 120).T
    if leak:
        vectors[:, 0] = np.where(chosen, leak, 1.0) * rng.random(120)
    rows = np.linalg.qr(vectors)[0][chosen]
    null = _null_directions(rows)
    if leak:
        assert null is None
        return
    expected = _column_split(rows)[3]
    assert null.shape == expected.shape == (30, max(0, 30 - len(rows)))
    np.testing.assert_allclose(null @ null.T, expected @ expected.T, atol=1e-11)
    np.testing.assert_allclose(null.T @ null, np.eye(null.shape[1]), atol=1e-11)


@pytest.mark.parametrize("seed", range(3))
def test_big_part_is_the_range_and_pseudo_inverse_of_the_big_atoms_rows(seed):
    """A block's values on its big atoms: an orthonormal basis of them and the pseudo-inverse."""
    import scipy.sparse as sp

    from spillover.disclosure_span import _Block

    rng = np.random.default_rng(seed)
    rows = _incidence_rows(rng, 25, 60, dependent=4)
    block = _Block(sp.csr_matrix(rows), np.arange(60))
    big = rng.random(60) < 0.5
    for _ in range(2):  # computed, then kept
        u, s, v = block.big_part(big)
        part = block.basis[big]
        np.testing.assert_allclose(u.T @ u, np.eye(u.shape[1]), atol=1e-11)
        np.testing.assert_allclose(u @ u.T @ part, part, atol=1e-11)
        np.testing.assert_allclose(v / s @ u.T, np.linalg.pinv(part, rcond=1e-9), atol=1e-9)


@pytest.mark.parametrize("seed", range(3))
def test_findings_do_not_depend_on_the_threads_decomposing_blocks(monkeypatch, seed):
    """Blocks decomposed on one thread or on several (one BLAS thread each): same findings."""
    from spillover import disclosure_span
    from spillover.disclosure_span import LinearRelease

    cells, members = _yearly_release([_random_world(seed + 10 * y)[0] for y in range(3)])
    published = np.random.default_rng(seed).random((len(cells), len(VALUE_COLUMNS))) < 0.6
    found = {}
    for threads in (1, 3):
        monkeypatch.setattr(disclosure_span, "BLOCK_THREADS", threads)
        model = LinearRelease(cells, members, [])
        found[threads] = model.disclosures(published, 3)
        assert len(model._blocks) >= 6  # several blocks, decomposed concurrently
    assert found[1] and found[1] == found[3]


@pytest.mark.parametrize("seed", range(3))
def test_a_model_kept_between_rounds_finds_what_a_new_one_finds(seed):
    """Fewer values released call after call, then more again: the same findings as anew."""
    from spillover.disclosure_span import LinearRelease

    cells, members = _yearly_release([_random_world(seed + 10 * y)[0] for y in range(2)])
    keys = ["radius_km", "year", "centre_id"]
    margin = Margin("m/exports", "exports", cells[keys].assign(weight=1.0))
    rng = np.random.default_rng(seed)
    published = rng.random((len(cells), len(VALUE_COLUMNS))) < 0.9
    fewer = published & (rng.random(published.shape) < 0.8)
    kept = LinearRelease(cells, members, [margin])
    suppressed = 0
    for mask in (published, fewer, fewer & (rng.random(published.shape) < 0.7), published):
        found = kept.disclosures(mask, 3)
        assert found == LinearRelease(cells, members, [margin]).disclosures(mask, 3)
        suppressed += sum(f.kind == "suppressed" for f in found)
    assert suppressed  # the case derives suppressed values


def _pruned_by_brute_force(model, active, targets, minimum):
    """Keep mask: drop rows while some row's private atoms belong to ``minimum`` or more owners.

    An atom is private to a kept row when no other kept row and no target holds it.
    """
    dense = active.toarray() != 0
    in_target = (targets.toarray() != 0).any(axis=0)
    keep = np.ones(len(dense), dtype=bool)
    while True:
        rows_of_atom = dense[keep].sum(axis=0)
        drop = np.zeros_like(keep)
        for row in np.flatnonzero(keep):
            private = np.flatnonzero(dense[row] & (rows_of_atom == 1) & ~in_target)
            owners = set().union(*[set(model.owners([a]).tolist()) for a in private])
            drop[row] = len(owners) >= minimum
        if not drop.any():
            return keep
        keep &= ~drop


def _owned_atoms(rng, n_atoms, n_establishments):
    """A LinearRelease shell whose atoms belong to 1–3 random establishments each."""
    from spillover.disclosure_span import LinearRelease

    model = object.__new__(LinearRelease)
    owners = [
        np.sort(rng.choice(n_establishments, rng.integers(1, 4), replace=False))
        for _ in range(n_atoms)
    ]
    model.n_atoms = n_atoms
    model.establishments = pd.Index(np.arange(n_establishments))
    model.owner_atom = np.repeat(np.arange(n_atoms), [len(o) for o in owners])
    model.owner_code = np.concatenate(owners)
    model.owner_start = np.concatenate([[0], np.cumsum([len(o) for o in owners])])
    return model


@pytest.mark.parametrize("seed", range(12))
def test_pruned_rows_are_those_of_the_brute_force(seed):
    """Rows that cannot enter a derivation, dropped until none is left (random rows)."""
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    model = _owned_atoms(rng, 60, 40)
    dense = (rng.random((30, 60)) < 0.06) * rng.choice([1.0, 0.25, 0.0], size=(30, 60))
    active = sp.csr_matrix(dense)
    active.data[rng.random(active.nnz) < 0.05] = 0.0  # explicit zeros are no entries
    targets = sp.csr_matrix((rng.random((3, 60)) < 0.05).astype(float))
    minimum = int(rng.integers(2, 5))
    keep = model._prune(active, targets, minimum)
    assert np.array_equal(keep, _pruned_by_brute_force(model, active, targets, minimum))


def test_pruning_cascades():
    """Row 0 alone holds atom 0 (3 establishments): dropped; then atom 1 is row 1's alone."""
    import scipy.sparse as sp

    model = _owned_atoms(np.random.default_rng(0), 3, 9)
    model.owner_atom, model.owner_code = np.repeat([0, 1, 2], 3), np.arange(9)
    model.owner_start = np.array([0, 3, 6, 9])
    active = sp.csr_matrix(np.array([[1.0, 1.0, 0.0], [0.0, 1.0, 1.0], [0.0, 0.0, 1.0]]))
    targets = sp.csr_matrix(np.array([[0.0, 0.0, 1.0]]))
    assert model._prune(active, targets, 3).tolist() == [False, False, True]
    assert model._prune(active, targets, 4).tolist() == [True, True, True]


def test_row_entries_by_hand():
    from spillover.disclosure_span import _row_entries

    indptr = np.array([0, 2, 2, 5, 6])
    assert _row_entries(indptr, np.array([0, 2, 3])).tolist() == [0, 1, 2, 3, 4, 5]
    assert _row_entries(indptr, np.array([1, 3])).tolist() == [5]
    assert _row_entries(indptr, np.array([2])).tolist() == [2, 3, 4]
    assert _row_entries(indptr, np.array([], dtype=int)).tolist() == []


@pytest.mark.parametrize(("size", "n"), [(10, 0), (10, 1), (50, 1000), (10**7, 30)])
def test_bounded_factorize_numbers_keys_as_pandas_does(size, n):
    """Codes by first appearance and the keys in that order (table or hash route)."""
    from spillover.disclosure_span import _factorize_bounded

    keys = np.random.default_rng(n).integers(0, size, n)
    codes, uniques = _factorize_bounded(keys, size)
    expected_codes, expected_uniques = pd.factorize(keys)
    assert np.array_equal(codes, expected_codes) and codes.dtype == np.int32
    assert np.array_equal(uniques, expected_uniques)


@pytest.mark.parametrize("as_text", [False, True])
def test_members_are_numbered_by_their_cell_as_a_multiindex_would(as_text):
    """Categorical or plain-text ids: each member gets its cell's row; a stranger is refused."""
    from spillover.disclosure import _cell_positions, numbered_members

    plants = pd.concat(
        [_random_world(seed)[0].assign(year=2015 + seed) for seed in range(3)], ignore_index=True
    )
    settings = NeighbourhoodConfig(radii_km=[1.0, 2.0, 4.0])
    cells = neighbourhood_table(plants, settings).sample(frac=1.0, random_state=1)
    cells = cells.reset_index(drop=True)
    members = cell_members(plants, settings)
    assert isinstance(members["centre_id"].dtype, pd.CategoricalDtype)
    if as_text:
        members = members.astype({"centre_id": "str", "establishment_id": "str"})
    keys = ["radius_km", "year", "centre_id"]
    expected = pd.MultiIndex.from_frame(cells[keys].astype({"year": "int64"})).get_indexer(
        pd.MultiIndex.from_frame(members[keys].astype({"year": "int64", "centre_id": "str"}))
    )
    numbered = numbered_members(cells, members)
    assert set(expected) == set(np.flatnonzero(cells["n_neighbours"] > 0))
    assert np.array_equal(numbered["cell"].to_numpy(), expected)
    # cells without a year, a centre and a radius: their members are found nowhere (-1)
    fewer = cells[(cells["year"] != 2016) & (cells["centre_id"] != "C1") & (cells["radius_km"] > 1)]
    fewer = fewer.reset_index(drop=True)
    expected = pd.MultiIndex.from_frame(fewer[keys].astype({"year": "int64"})).get_indexer(
        pd.MultiIndex.from_frame(members[keys].astype({"year": "int64", "centre_id": "str"}))
    )
    assert (expected < 0).any() and (expected >= 0).any()
    assert np.array_equal(_cell_positions(fewer, members), expected)
    with pytest.raises(DisclosureError, match="n_neighbours"):
        numbered_members(fewer, members)


@pytest.mark.parametrize("radii", [[2.0, 4.0], [1.0, 2.5, 4.0]])
def test_a_members_inner_radius_is_its_smallest_radius_in_that_centre_year(radii):
    """Brute force: the least radius at which the same establishment is in the same cell."""
    plants = pd.concat(
        [_random_world(seed)[0].assign(year=2015 + seed) for seed in range(2)], ignore_index=True
    )
    members = cell_members(plants, NeighbourhoodConfig(radii_km=radii))
    keys = ["year", "centre_id", "establishment_id"]
    smallest = members.groupby(keys)["radius_km"].transform("min")
    assert members["inner_radius_km"].nunique() > 1
    assert np.array_equal(members["inner_radius_km"].to_numpy(), smallest.to_numpy())


def test_imputed_exports_are_the_public_ratio_times_shipments_by_hand():
    """ρ = exports ÷ shipments (public for the industry) turns imputed exports into shipments."""
    frame = pd.DataFrame(
        {
            "year": 2015,
            "establishment_id": list("ABCDE"),
            "shipments": [100.0, 300.0, 50.0, 80.0, 7.0],
            "exports": [10.0, 60.0, 5.0, 0.0, 1.0],
            "export_method": [
                "industry_ratio",
                "industry_ratio",
                "direct_share",
                "industry_ratio",
                "firm_ratio",
            ],
        }
    ).assign(exports_imputed=lambda f: f["exports"])
    exports = value_terms(frame, "exports")
    assert exports["establishment_id"].tolist() == ["A", "B", "C", "E"]  # D exports nothing
    assert [KINDS[k] for k in exports["kind"]] == ["shipments", "shipments", "exports", "exports"]
    assert exports["coef"].tolist() == [0.1, 0.2, 1.0, 1.0]
    imputed = value_terms(frame, "exports_imputed")
    assert imputed["establishment_id"].tolist() == ["A", "B", "E"]  # C's are its own
    assert imputed["coef"].tolist() == [0.1, 0.2, 1.0]


@pytest.mark.parametrize("seed", range(5))
def test_span_basis_spans_exactly_the_columns_with_a_dependent_one_first(seed):
    """[a, 3a, b]: the projector onto span{a, b}, whatever the rounding of the dependent column.

    A QR without pivoting (the earlier code) kept a direction outside the span here (the
    projector off by 0.07–0.16): the coupled search then missed a derivable small value.
    """
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((2, 7))
    basis = span_basis(np.column_stack([a, 3 * a, b]))
    assert basis.shape == (7, 2)
    exact = np.linalg.lstsq(np.column_stack([a, b]), np.eye(7), rcond=None)[0]
    projector = np.column_stack([a, b]) @ exact
    assert np.abs(basis @ basis.T - projector).max() < 1e-12
    assert np.allclose(basis.T @ basis, np.eye(2), atol=1e-12)
    assert span_basis(np.zeros((7, 0))).shape == (7, 0)


@pytest.mark.parametrize("seed", range(4))
def test_blocks_are_the_connected_pieces_cut_from_the_released_rows(seed):
    """Each block's matrix is the released rows' submatrix on its atoms, entry for entry."""
    import scipy.sparse as sp

    from spillover.disclosure_span import _blocks

    rng = np.random.default_rng(seed)
    pieces = [  # independent pieces, rows and atoms then shuffled together
        sp.random(int(rng.integers(1, 15)), int(rng.integers(1, 40)), density=0.2, random_state=k)
        for k in range(6 + seed)
    ]
    mixed = sp.block_diag(pieces, format="csr")
    mixed = mixed[rng.permutation(mixed.shape[0])][:, rng.permutation(mixed.shape[1])]
    active = mixed[np.flatnonzero(np.diff(mixed.indptr) > 0)]
    seen_rows, seen_atoms = [], []
    for rows, atoms, cut in _blocks(active):
        matrix, expected = cut(), active[rows][:, atoms]
        expected.sort_indices()  # the cut's atoms are in order; the shuffled columns are not
        assert matrix.shape == expected.shape
        for part in ("indptr", "indices", "data"):
            np.testing.assert_array_equal(getattr(matrix, part), getattr(expected, part))
        outside = np.setdiff1d(np.arange(active.shape[1]), atoms)
        assert active[rows][:, outside].nnz == 0  # nothing of these rows is left out
        seen_rows.append(rows)
        seen_atoms.append(atoms)
    assert np.array_equal(np.sort(np.concatenate(seen_rows)), np.arange(active.shape[0]))
    used = np.flatnonzero(np.diff(active.tocsc().indptr) > 0)
    assert np.array_equal(np.sort(np.concatenate(seen_atoms)), used)
    assert len(seen_rows) > 2
