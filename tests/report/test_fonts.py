"""The font used for Japanese labels has a glyph for every character we print (no tofu)."""

import gc
import io
import warnings

from fontTools.ttLib import TTFont
from matplotlib import font_manager

from spillover.report import fonts
from spillover.report.figures import decomposition_figure
from spillover.report.fonts import LABELS, font_context, font_path, label, term_label
from spillover.report.html import _subset


def test_the_font_has_every_character_of_the_label_table():
    with TTFont(font_path()) as font:
        cmap = font.getBestCmap()
    characters = {c for texts in LABELS.values() for text in texts.values() for c in text}
    missing = sorted(c for c in characters if ord(c) not in cmap)
    assert missing == []
    assert ord("輸") in cmap and ord("曝") in cmap  # the table really is checked in Japanese


def test_figures_are_drawn_with_that_font(tmp_path):
    import pandas as pd

    rows = pd.DataFrame(
        {
            "spec_id": ["s", "s"],
            "term": ["opr", "(other)"],
            "contribution": [1.0, 0.5],
            "ci_low": [0.5, None],
            "ci_high": [1.5, None],
            "dependent_mean_yearly_change": [1.5, 1.5],
            "unit": ["million yen per year"] * 2,
        }
    )
    figure = decomposition_figure(rows)
    with font_context():
        tick = figure.axes[0].get_xticklabels()[0]
        assert tick.get_text() == "海外生産比率"
        assert font_manager.findfont(tick.get_fontproperties()) == str(font_path())


def test_labels_and_terms_in_both_languages():
    assert (
        label("opr", "ja") == "海外生産比率" and label("opr", "en") == "Overseas production ratio"
    )
    assert term_label("d(log(opr))", "ja") == "d(log(海外生産比率))"
    assert term_label("n_unknown", "en") == "n_unknown"
    assert set(fonts.LANGS) == {"ja", "en"}
    assert all(set(texts) == {"ja", "en"} for texts in LABELS.values())


def test_the_html_font_subset_closes_the_font_file():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        subset_bytes = _subset("海外生産比率 abc")
        gc.collect()
    assert [str(w.message) for w in caught if w.category is ResourceWarning] == []
    with TTFont(io.BytesIO(subset_bytes)) as font:
        assert ord("輸") not in font.getBestCmap() and ord("海") in font.getBestCmap()
