"""``spillover audit-disclosure``: each attack finds what the old rule let out, none after.

The *old rule* (before the fix, reproduced here) counted neighbours instead of contributors,
walked nested radii on neighbour counts, looked at shipments only for dominance and numbered
neighbourhoods by the rank of the centre id. Each hand-made world holds one situation of the
issue; its attack must find the disclosure under the old rule and nothing under the new one.
The slow tests do the same on the whole demo world.
"""

import numpy as np
import pandas as pd
import pytest
from disclosure_world import centre, plant, world
from typer.testing import CliRunner

from spillover.cli import app
from spillover.config import DisclosureConfig, NeighbourhoodConfig
from spillover.disclosure import public_table, suppression_reasons
from spillover.disclosure_attacks import AttackResult
from spillover.disclosure_audit import AuditReport, audit_disclosure, audit_output, line_up
from spillover.disclosure_span import Margin
from spillover.neighbourhoods import VALUE_COLUMNS, cell_members, neighbourhood_table

CELL = ["radius_km", "year", "centre_id"]
ATTACK_NAMES = [
    "nested radii",
    "zero contributors",
    "ratio inversion",
    "linear span",
    "identifiers",
]


def old_rule(cells, members, rule):
    """The public table as the code published it before the fix."""
    out = cells.reset_index(drop=True).copy()
    n = out["n_neighbours"].to_numpy()
    reason = np.where((n > 0) & (n < rule.min_establishments), "primary", "").astype(object)
    if rule.dominance_top_n:
        top = members.sort_values("shipments", ascending=False).groupby(CELL)
        share = top["shipments"].apply(lambda s: s.iloc[: rule.dominance_top_n].sum() / s.sum())
        share = share.reindex(pd.MultiIndex.from_frame(out[CELL])).fillna(0).to_numpy()
        reason[(share > rule.dominance_share) & (reason == "")] = "dominance"
    for _, group in out.sort_values(["centre_id", "year", "radius_km"]).groupby(
        ["centre_id", "year"]
    ):
        published_n = None
        for i in group.index:
            if reason[i]:
                continue
            if published_n is not None and 0 < n[i] - published_n < rule.min_establishments:
                reason[i] = "secondary"
                continue
            published_n = n[i]
    numbers = {c: i + 1 for i, c in enumerate(sorted(out["centre_id"].unique()))}
    public = out.assign(neighbourhood_no=out["centre_id"].map(numbers), suppression=reason)
    for column in VALUE_COLUMNS:
        public[column] = public[column].astype(float).where(reason == "", np.nan)
    keep = ["radius_km", "year", "neighbourhood_no", "n_neighbours", *VALUE_COLUMNS]
    return public[[*keep, "suppression"]]


def new_rule(cells, members, rule, margins):
    reasons, _ = suppression_reasons(cells, members, margins, rule)
    return public_table(cells, reasons, b"test key")


def audit(plants, publish, radii=(5.0, 10.0), margins=(), **settings):
    rule = DisclosureConfig(**settings)
    config = NeighbourhoodConfig(radii_km=list(radii))
    cells = neighbourhood_table(plants, config)
    members = cell_members(plants, config)
    public = (
        old_rule(cells, members, rule)
        if publish == "old"
        else new_rule(cells, members, rule, list(margins))
    )
    report = audit_disclosure(line_up(public, cells, members, list(margins), rule))
    return {attack.name: attack for attack in report.attacks}


def ring_of_one_exporter():
    # 5 km: three exporters; the ring 5–10 km: four plants, one of them exporting
    return world(
        centre("C"),
        *(plant(f"A{i}", 1 + i, exports=5.0 + i) for i in range(3)),
        plant("R", 6, exports=7.0),
        *(plant(f"Z{i}", 7 + i) for i in range(3)),
    )


def one_exporter_among_three():
    # the issue's case: 5 km holds one plant (χ); 10 km three, two of them exporting 0
    return world(centre("C"), plant("A", 3, exports=10.0), plant("B", 7), plant("D", 8))


def imputed_exports_of_one_plant():
    return world(
        centre("C"),
        plant("A", 1, exports=20.0, export_method="industry_ratio"),
        *(plant(f"D{i}", 2, exports=3.0 + i) for i in range(3)),
    )


def single_exporter_in_a_total(plants_in_x=2):
    """X, Y, Z 100 km apart in 2018–2019; X has ``plants_in_x`` plants in 2019, one exporting."""
    rows = []
    for year in (2018, 2019):
        for name, km in (("X", 0.0), ("Y", 100.0), ("Z", 200.0)):
            rows.append(centre(name, km, year=year))
            count = plants_in_x if (name, year) == ("X", 2019) else 4
            for i in range(count):
                exports = 0.0 if (name, year) == ("X", 2019) and i else 3.0 + i + year % 10
                rows.append(plant(f"{name}{i}", km + 1 + i / 2, year=year, exports=exports))
    margin = pd.DataFrame(
        {
            "radius_km": 5.0,
            "year": [2018, 2019] * 3,
            "centre_id": ["X", "X", "Y", "Y", "Z", "Z"],
            "weight": [-1.0, 1.0] * 3,
        }
    )
    return world(*rows), [Margin("decomposition/m/exports", "exports", margin)]


def test_nested_radius_differencing():
    old = audit(ring_of_one_exporter(), "old")
    findings = old["nested radii"].findings
    assert findings[["column", "radius_km", "establishments"]].values.tolist() == [
        ["exports", 10.0, 1]
    ]
    assert audit(ring_of_one_exporter(), "new")["nested radii"].recoverable == 0


def test_zero_contributor_differencing():
    old = audit(one_exporter_among_three(), "old")["zero contributors"].findings
    assert sorted(old["what"]) == [
        "published value of few establishments (others 0)",  # 10 km = A's exports
        "suppressed value = a published value",  # the χ at 5 km, read off 10 km
    ]
    assert set(old["column"]) == {"exports"}
    assert audit(one_exporter_among_three(), "new")["zero contributors"].recoverable == 0


def test_ratio_inversion():
    old = audit(imputed_exports_of_one_plant(), "old", radii=(5.0,))["ratio inversion"]
    assert old.findings[["column", "establishments"]].values.tolist() == [["exports_imputed", 1]]
    assert "shipments" in old.findings["what"].iloc[0]
    new = audit(imputed_exports_of_one_plant(), "new", radii=(5.0,))
    assert new["ratio inversion"].recoverable == 0


def test_linear_span_through_the_decomposition():
    plants, margins = single_exporter_in_a_total()
    old = audit(plants, "old", radii=(5.0,), margins=margins)
    # X 2019 (2 plants) is χ under the old rule, but the total minus the published cells is it
    (finding,) = old["linear span"].findings.itertuples()
    assert (finding.column, finding.year, finding.establishments) == ("exports", 2019, 1)
    assert "decomposition/m/exports" in finding.what
    assert all(old[name].recoverable == 0 for name in ATTACK_NAMES[:3])  # only attack 4 sees it
    new = audit(plants, "new", radii=(5.0,), margins=margins)
    assert new["linear span"].recoverable == 0


def test_identifiers():
    plants, _ = single_exporter_in_a_total(plants_in_x=4)
    assert audit(plants, "old", radii=(5.0,))["identifiers"].recoverable == 1
    assert audit(plants, "new", radii=(5.0,))["identifiers"].recoverable == 0


@pytest.mark.parametrize(
    "plants",
    [ring_of_one_exporter(), one_exporter_among_three(), imputed_exports_of_one_plant()],
    ids=["ring", "zero", "ratio"],
)
def test_the_new_rule_passes_every_attack(plants):
    report = audit(plants, "new", dominance_top_n=2, dominance_share=0.8)
    assert {name: attack.recoverable for name, attack in report.items()} == dict.fromkeys(
        ATTACK_NAMES, 0
    )


def test_cli_exits_1_when_something_is_recoverable(monkeypatch, tmp_path):
    finding = pd.DataFrame(
        [["exports", 2015, 5.0, 3, 1, "published value of few establishments (others 0)"]],
        columns=["column", "year", "radius_km", "neighbourhood_no", "establishments", "what"],
    )
    attack = AttackResult("zero contributors", "…", {"exports": 10}, finding)
    report = AuditReport((attack,), {"public/neighbourhoods": "…"}, 0.1)
    monkeypatch.setattr("spillover.disclosure_audit.audit_output", lambda root, workdir: report)
    result = CliRunner().invoke(app, ["audit-disclosure", "--output-root", str(tmp_path)])
    assert result.exit_code == 1
    assert "1 recoverable values" in result.output


def test_cli_names_a_missing_publication(tmp_path):
    result = CliRunner().invoke(app, ["audit-disclosure", "--output-root", str(tmp_path)])
    assert result.exit_code == 1
    assert "no manifest.json" in result.output


@pytest.mark.slow
def test_demo_publication_passes_every_attack(demo_run):
    _, workdir, root = demo_run
    report = audit_output(root, workdir)
    assert [a.name for a in report.attacks] == ATTACK_NAMES
    assert all(sum(a.examined.values()) > 0 for a in report.attacks)
    assert report.recoverable == 0
    assert audit_output(root).recoverable == 0  # from the published confidential datasets


@pytest.mark.slow
def test_audit_command_on_the_demo_prints_zero(demo_run):
    _, workdir, root = demo_run
    result = CliRunner().invoke(
        app, ["audit-disclosure", "--output-root", str(root), "--workdir", str(workdir)]
    )
    assert result.exit_code == 0, result.output
    assert "0 recoverable values" in result.output


@pytest.mark.slow
def test_the_demo_world_holds_every_situation_of_the_issue(demo_run):
    """The old rule on the demo run: every attack finds something (the new rule: nothing)."""
    from spillover.disclosure import decomposition_margins
    from spillover.runs import open_run

    _, workdir, _ = demo_run
    run = open_run(workdir)
    plants, cells = run.table("plants"), run.table("neighbourhoods")
    panels = {"neighbourhood": run.table("panel"), "plant": run.table("plant_panel")}
    members = cell_members(plants, run.config.neighbourhoods)
    margins = decomposition_margins(panels, plants, run.config.specs, run.config.neighbourhoods)

    def old_findings(rule):
        public = old_rule(cells, members, rule)
        report = audit_disclosure(line_up(public, cells, members, margins, rule))
        return {a.name: a.findings for a in report.attacks}

    found = old_findings(run.config.disclosure)  # the demo's rule: dominance (2, 80 %)
    assert all(len(f) for f in found.values()), {name: len(f) for name, f in found.items()}
    zero = found["zero contributors"]
    assert (zero["column"] == "exports_imputed").sum() > 100  # imputed exports of 1–2 plants
    dominated = zero.loc[zero["what"] == "published value dominated", "column"]
    assert len(dominated) and "shipments" not in set(dominated)  # dominated on exports only
    # with the README's default rule (no dominance) the decomposition's total gives one away
    plain = old_findings(DisclosureConfig())
    assert plain["linear span"]["what"].str.contains("decomposition/").any()


def test_the_release_reads_the_panels_for_its_margins_then_lets_them_go(demo_run):
    """``panels`` is emptied (the national plant panel is ~0.8 GB), after the margins use it."""
    from spillover.disclosure import decomposition_margins, public_release
    from spillover.runs import open_run

    _, workdir, _ = demo_run
    run = open_run(workdir)
    plants, cells = run.table("plants"), run.table("neighbourhoods")
    panels = {"neighbourhood": run.table("panel"), "plant": run.table("plant_panel")}
    margins = decomposition_margins(panels, plants, run.config.specs, run.config.neighbourhoods)
    release = public_release(cells, plants, panels, run.config, key=b"k")
    assert panels == {}
    assert release.margins == tuple(m.name for m in margins)
    assert any(m.startswith("decomposition/") for m in release.margins)
    shown = run.table("public_neighbourhoods")
    assert sorted(release.table["suppression"]) == sorted(shown["suppression"])
