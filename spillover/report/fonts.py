"""Words on figures and tables: one label table (Japanese and English) and the font for it.

Every text the figures, maps and tables print comes from :data:`LABELS`, so that the glyph
test (``tests/report/test_fonts.py``) can check that the font has every character of it. The
font is IPAexGothic, shipped inside the matplotlib-fontja package: Japanese labels render on a
fresh machine without a system CJK font. It is registered with matplotlib's font manager
without importing ``matplotlib_fontja`` (whose import changes the global rc settings) and used
only inside :func:`font_context`.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import matplotlib as mpl
from matplotlib import font_manager

LANGS = ("ja", "en")

#: key → {"ja": …, "en": …}. Terms of the spec grammar use their variable name as key.
LABELS: dict[str, dict[str, str]] = {
    # regressors and panel variables
    "opr": {"ja": "海外生産比率", "en": "Overseas production ratio"},
    "external_demand": {"ja": "海外需給判断DI", "en": "External demand DI"},
    "shipments": {"ja": "出荷額", "en": "Shipments"},
    "exports": {"ja": "輸出額", "en": "Exports"},
    "employees": {"ja": "従業者数", "en": "Employees"},
    "n_neighbours": {"ja": "近隣事業所数", "en": "Neighbouring establishments"},
    "exports_imputed": {"ja": "補完した輸出額", "en": "Imputed exports"},
    "exposure": {"ja": "曝露", "en": "Exposure"},
    "n_centres": {"ja": "近隣のグローバル企業事業所数", "en": "Global-firm plants nearby"},
    "weight_sum": {"ja": "距離ウェイト合計", "en": "Sum of distance weights"},
    "nearest_km": {"ja": "最寄りの距離 (km)", "en": "Nearest distance (km)"},
    "(other)": {"ja": "その他", "en": "Other"},
    # the decomposition figure (第II-2-4-4図)
    "decomposition_title": {
        "ja": "第II-2-4-4図 近隣事業所の輸出額の年平均変化の要因分解",
        "en": "Figure II-2-4-4: Contributions to the neighbourhoods' mean yearly export change",
    },
    "contribution": {"ja": "寄与", "en": "Contribution"},
    "dependent_change": {"ja": "輸出額の年平均変化", "en": "Mean yearly export change"},
    "ci95": {"ja": "ひげは95%信頼区間", "en": "Whiskers: 95% confidence intervals"},
    # units of the decomposition (the `unit` column)
    "million yen per year": {"ja": "百万円/年", "en": "million yen per year"},
    "log points per year": {"ja": "対数ポイント/年", "en": "log points per year"},
    # coefficient figures
    "radius_title": {"ja": "半径別の推定係数", "en": "Coefficients by radius"},
    "radius_km": {"ja": "半径 (km)", "en": "Radius (km)"},
    "coefficient": {"ja": "係数", "en": "Coefficient"},
    "coefficients_title": {"ja": "推定係数の比較", "en": "Coefficients across specifications"},
    "vcov_cluster": {"ja": "クラスター頑健", "en": "Clustered"},
    "vcov_conley": {"ja": "Conley (空間相関)", "en": "Conley (spatial)"},
    "vcov_driscoll_kraay": {"ja": "Driscoll–Kraay", "en": "Driscoll–Kraay"},
    "vcov_hetero": {"ja": "不均一分散頑健", "en": "Heteroskedasticity-robust"},
    "vcov_iid": {"ja": "均一分散", "en": "IID"},
    "vcov_wild_bootstrap": {"ja": "ワイルドブートストラップ", "en": "Wild bootstrap"},
    # overlap
    "overlap_title": {
        "ja": "近隣の重なり: 複数回数えられた輸出額の割合",
        "en": "Overlap: share of exports counted more than once",
    },
    "share_exports_excess": {
        "ja": "重複して数えられた輸出額の割合",
        "en": "Exports counted more than once",
    },
    "share_exports_in_shared": {
        "ja": "複数の近隣に属する事業所の輸出額の割合",
        "en": "Exports of establishments in several neighbourhoods",
    },
    "share": {"ja": "割合", "en": "Share"},
    "year_range": {"ja": "帯は年ごとの最小〜最大", "en": "Band: range over years"},
    # maps
    "density_title": {"ja": "事業所の分布", "en": "Establishments"},
    "exposure_title": {"ja": "グローバル企業への曝露", "en": "Exposure to global firms"},
    "all_japan": {"ja": "全国", "en": "All Japan"},
    "n_establishments": {"ja": "事業所数", "en": "Establishments"},
    "mean_exposure": {"ja": "平均曝露", "en": "Mean exposure"},
    "mesh_2": {"ja": "第2次地域区画 (約10km)", "en": "2nd-order mesh (≈10 km)"},
    "mesh_3": {"ja": "第3次地域区画 (約1km)", "en": "3rd-order mesh (≈1 km)"},
    "suppressed": {
        "ja": "χ: 1〜2事業所(または企業)の区画は表示しない",
        "en": "χ: cells of 1–2 establishments (or firms) not shown",
    },
    "centres": {"ja": "グローバル企業の事業所", "en": "Global-firm plants"},
    "circles": {"ja": "半径{radius}kmの近隣", "en": "{radius} km neighbourhoods"},
    "internal": {
        "ja": "内部資料 (秘匿情報を含む)",
        "en": "internal — contains confidential microdata",
    },
    "latitude": {"ja": "緯度", "en": "Latitude"},
    "longitude": {"ja": "経度", "en": "Longitude"},
    "year": {"ja": "年", "en": "Year"},
    # tables
    "N": {"ja": "観測数", "en": "N"},
    "Entities": {"ja": "主体数", "en": "Entities"},
    "Clusters": {"ja": "クラスター数", "en": "Clusters"},
    "Fixed effects": {"ja": "固定効果", "en": "Fixed effects"},
    "Covariance": {"ja": "分散共分散", "en": "Covariance"},
    "Small-sample rule": {"ja": "小標本補正", "en": "Small-sample rule"},
    "se_note": {"ja": "括弧内は標準誤差。", "en": "Standard errors in parentheses."},
}

_WRAPPED = re.compile(r"^(?P<op>[A-Za-z0-9]+)\((?P<inner>.+)\)$")


def label(key: str, lang: str) -> str:
    """The text for ``key`` in ``lang`` ("ja" or "en"); ``key`` itself when not in the table."""
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {LANGS}, got {lang!r}")
    return LABELS.get(key, {}).get(lang, key)


def term_label(term: str, lang: str) -> str:
    """A term of the spec grammar in words: ``log(opr)`` → ``log(海外生産比率)``."""
    match = _WRAPPED.match(term)
    if match:
        return f"{match['op']}({term_label(match['inner'], lang)})"
    return label(term, lang)


def font_path() -> Path:
    """The IPAexGothic TrueType file that matplotlib-fontja ships (found without importing it)."""
    spec = importlib.util.find_spec("matplotlib_fontja")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("matplotlib-fontja is not installed (pip install spillover)")
    return Path(next(iter(spec.submodule_search_locations))) / "fonts" / "ipaexg.ttf"


@cache
def _font_name() -> str:
    path = font_path()
    font_manager.fontManager.addfont(str(path))
    return font_manager.FontProperties(fname=str(path)).get_name()


@contextmanager
def font_context() -> Iterator[None]:
    """Matplotlib settings for our figures, for the duration of a ``with`` block.

    The Japanese font first (it has Latin letters too), DejaVu Sans for what it lacks; SVG text
    as paths (the file renders without the font), no creation date in the files (the same
    figure gives the same bytes).
    """
    settings = {
        "font.family": [_font_name(), "DejaVu Sans"],
        "svg.fonttype": "path",
        "svg.hashsalt": "spillover",
        "axes.unicode_minus": False,
    }
    with mpl.rc_context(settings):
        yield
