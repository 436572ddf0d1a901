"""Figures: what is drawn equals the data (read back from the Axes), files and texts in ja/en."""

import re

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex

from spillover.report.figures import (
    build_figures,
    coefficient_figure,
    decomposition_figure,
    overlap_figure,
    radius_figure,
    save_figure,
)


def _decomposition():
    return pd.DataFrame(
        {
            "spec_id": ["a"] * 4 + ["b"] * 2,
            "term": ["opr", "external_demand", "shipments", "(other)", "exposure", "(other)"],
            "contribution": [32.1, 18.9, 3.6, -1.4, 0.17, -0.05],
            "ci_low": [21.6, 11.9, -2.4, np.nan, 0.12, np.nan],
            "ci_high": [42.7, 25.9, 9.6, np.nan, 0.22, np.nan],
            "dependent_mean_yearly_change": [53.2] * 4 + [0.12] * 2,
            "unit": ["million yen per year"] * 6,
        }
    )


def _estimates():
    rows = []
    for radius, shift in ((5.0, 0.0), (10.0, -6.0), (20.0, -9.0)):
        for vcov, half in (
            ("cluster(entity)", 8.0),
            ("conley(cutoff_km=20, kernel=bartlett)", 9.0),
        ):
            coef = 24.0 + shift
            rows.append(
                {
                    "spec_id": f"g@r{radius:g}@{vcov[:6]}",
                    "grid": "g",
                    "term": "opr",
                    "radius_km": radius,
                    "vcov": vcov,
                    "coef": coef,
                    "ci_low": coef - half,
                    "ci_high": coef + half,
                }
            )
    return pd.DataFrame(rows).iloc[::-1].reset_index(drop=True)  # largest radius first


def test_decomposition_bars_are_the_contributions_and_whiskers_the_cis():
    frame = _decomposition()
    figure = decomposition_figure(frame)
    assert len(figure.axes) == 2
    for ax, (spec_id, rows) in zip(figure.axes, frame.groupby("spec_id"), strict=True):
        assert ax.get_title() == spec_id
        heights = [patch.get_height() for patch in ax.patches]
        np.testing.assert_allclose(heights, rows["contribution"])
        (whiskers,) = ax.collections
        segments = whiskers.get_segments()
        with_ci = rows.dropna(subset=["ci_low"])
        np.testing.assert_allclose([s[0][1] for s in segments], with_ci["ci_low"])
        np.testing.assert_allclose([s[1][1] for s in segments], with_ci["ci_high"])
        labels = [tick.get_text() for tick in ax.get_xticklabels()]
        assert labels[-1] == "その他"
        assert to_hex(ax.patches[-1].get_facecolor()) != to_hex(ax.patches[0].get_facecolor())
    assert figure.axes[0].get_ylabel() == "寄与 (百万円/年)"


def test_decomposition_of_a_chosen_spec_and_an_unknown_one():
    figure = decomposition_figure(_decomposition(), spec_ids=["b"], lang="en")
    assert [ax.get_title() for ax in figure.axes] == ["b"]
    assert [t.get_text() for t in figure.axes[0].get_xticklabels()] == ["Exposure", "Other"]
    with pytest.raises(ValueError, match="'zz'"):
        decomposition_figure(_decomposition(), spec_ids=["zz"])


def test_radius_figure_has_one_line_per_vcov_through_the_estimates():
    frame = _estimates()
    (ax,) = radius_figure(frame, grid="g", lang="en").axes
    lines = {
        line.get_label(): line for line in ax.get_lines() if not line.get_label().startswith("_")
    }
    assert sorted(lines) == [
        "Clustered: cluster(entity)",
        "Conley (spatial): conley(20 km, bartlett)",
    ]
    for line, (_vcov, rows) in zip(lines.values(), frame.groupby("vcov", sort=False), strict=True):
        np.testing.assert_allclose(line.get_xdata(), [5.0, 10.0, 20.0])
        np.testing.assert_allclose(line.get_ydata(), rows.sort_values("radius_km")["coef"])
    low, high = ax.get_ylim()
    assert low <= frame["ci_low"].min() and high >= frame["ci_high"].max()  # whiskers visible
    with pytest.raises(ValueError, match="grid 'nope'"):
        radius_figure(frame, grid="nope")


def test_coefficient_figure_dots_per_spec():
    frame = _estimates()
    (ax,) = coefficient_figure(frame, spec_ids=list(frame["spec_id"][:2])).axes
    (dots,) = [line for line in ax.get_lines() if line.get_marker() == "o"]
    np.testing.assert_allclose(dots.get_xdata(), frame["coef"][:2])
    assert [t.get_text() for t in ax.get_yticklabels()] == list(frame["spec_id"][:2])


def test_overlap_figure_plots_the_mean_share_per_radius():
    overlap = pd.DataFrame(
        {
            "year": [2012, 2013, 2012, 2013],
            "radius_km": [5.0, 5.0, 10.0, 10.0],
            "share_exports_excess": [0.0, 0.0, 0.3, 0.4],
            "share_exports_in_shared": [0.0, 0.0, 0.6, 0.7],
        }
    )
    (ax,) = overlap_figure(overlap).axes
    first = ax.get_lines()[0]
    assert first.get_label() == "重複して数えられた輸出額の割合"
    np.testing.assert_allclose(first.get_ydata(), [0.0, 0.35])


@pytest.mark.parametrize(
    ("lang", "texts"),
    [
        ("ja", ["第II-2-4-4図", "海外生産比率", "その他", "寄与 (百万円/年)", "ひげは95%信頼区間"]),
        ("en", ["Figure II-2-4-4", "Overseas", "Shipments", "Other", "million yen per year"]),
    ],
)
def test_files_written_and_the_svg_carries_the_texts(tmp_path, lang, texts):
    paths = save_figure(decomposition_figure(_decomposition(), lang=lang), tmp_path, "d")
    assert [p.name for p in paths] == ["d.png", "d.svg"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and paths[0].stat().st_size > 10_000
    svg = paths[1].read_text(encoding="utf-8")
    comments = set(re.findall(r"<!-- (.*?) -->", svg))
    for text in texts:
        assert any(text in comment for comment in comments), text
    assert "<dc:date>" not in svg
    with pytest.raises(ValueError, match="formats"):
        save_figure(decomposition_figure(_decomposition()), tmp_path, "d", formats=("gif",))


@pytest.mark.slow
def test_build_figures_for_the_demo(demo_run, tmp_path):
    _world, _workdir, root = demo_run
    built = build_figures(root, tmp_path / "ja", regions=["愛知県"])
    assert set(built) == {
        "decomposition",
        "coefficients",
        "overlap",
        "radius_baseline",
        "map_density",
        "map_exposure",
        "map_density_愛知県",
        "map_exposure_愛知県",
    }
    for paths in built.values():
        assert [p.suffix for p in paths] == [".png", ".svg"]
        assert all(p.stat().st_size > 10_000 for p in paths)
    for name in ("map_density", "map_exposure"):
        svg = built[name][1].read_text(encoding="utf-8")
        assert "内部資料" not in svg and "χ" in svg
    english = build_figures(root, tmp_path / "en", lang="en", formats=("svg",))
    svg = english["decomposition"][0].read_text(encoding="utf-8")
    assert "Overseas" in svg and "Shipments" in svg and "海外生産比率" not in svg
    internal = build_figures(root, tmp_path / "int", internal=True, formats=("svg",))
    assert "内部資料 (秘匿情報を含む)" in internal["map_density"][0].read_text(encoding="utf-8")
