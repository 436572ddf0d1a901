"""The published datasets and their data dictionary, kept here and nowhere else.

Each dataset is a folder under the output root with an access class: ``confidential`` (never
leaves the secure environment), ``releasable`` (model results) or ``disclosure-controlled``
(suppressed cells, no ids). Every column it holds is described once, by :class:`Column`:
name, Arrow type, unit, meaning and a Japanese label. From this one catalogue come

- the Parquet schemas the pipeline writes (:meth:`Dataset.arrow_schema`: types, field
  metadata ``description``, ``unit``, ``label_ja``; :func:`spillover.storage.write_datasets`
  refuses a frame whose columns differ from it);
- the DuckDB views and their ``COMMENT ON`` statements in ``sql/views.sql``
  (:func:`spillover.sql.views_sql`);
- ``docs/datasets.md`` (:func:`markdown`; ``python -m spillover.datasets > docs/datasets.md``);
- the Japanese headers of ``spillover export --format xlsx`` (:mod:`spillover.export`).

Tests keep the generated files equal to their generators and the columns a demo run writes
equal to the catalogue's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import pyarrow as pa

from spillover.errors import SpilloverError
from spillover.options import DatasetClass

ColumnType = Literal["string", "int64", "double", "bool", "geometry"]

#: Arrow type of each column type; ``geometry`` is WKB (GeoParquet encoding).
ARROW_TYPES: dict[ColumnType, pa.DataType] = {
    "string": pa.string(),
    "int64": pa.int64(),
    "double": pa.float64(),
    "bool": pa.bool_(),
    "geometry": pa.binary(),
}

#: The units a column may have, with their Japanese form (``""``: none, e.g. an id or a code).
UNITS: dict[str, str] = {
    "": "",
    "million yen": "百万円",
    "million yen per year": "百万円/年",
    "persons": "人",
    "percent": "%",
    "share 0–1": "比率",
    "degrees": "度",
    "km": "km",
    "count": "件",
    "DI points": "DIポイント",
    "percent × weight": "%×ウェイト",
    "WKB lon/lat": "WKB（経度・緯度）",
}

#: What may leave the secure room, per access class (Japanese label for exports).
ACCESS_JA: dict[str, str] = {
    "confidential": "秘匿（セキュアルーム外持出し不可）",
    "releasable": "公表可（推定結果）",
    "disclosure-controlled": "公表可（秘匿処理済み）",
}


class UnknownDatasetError(SpilloverError, KeyError):
    """A dataset name that is not in the catalogue (the message lists the catalogue)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


@dataclass(frozen=True)
class Column:
    """One column of a published dataset.

    Attributes
    ----------
    name : str
        Column name in the Parquet files and the DuckDB view.
    type : {"string", "int64", "double", "bool", "geometry"}
        Arrow type written (``int64`` columns may hold nulls; ``geometry`` is WKB).
    unit : str
        A key of :data:`UNITS` (``""`` for ids, codes, labels and flags).
    meaning : str
        What the value is, in one or two sentences (English).
    label_ja : str
        Short Japanese label, the header of Excel exports.
    """

    name: str
    type: ColumnType
    unit: str
    meaning: str
    label_ja: str

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise ValueError(f"column {self.name}: unit {self.unit!r} is not one of {list(UNITS)}")
        if self.type not in ARROW_TYPES:
            raise ValueError(f"column {self.name}: type {self.type!r} is not one of ARROW_TYPES")

    @property
    def header_ja(self) -> str:
        """Japanese label with the unit, e.g. ``輸出額（百万円）``."""
        unit = UNITS[self.unit]
        return f"{self.label_ja}（{unit}）" if unit else self.label_ja

    def arrow_field(self) -> pa.Field:
        """The Parquet field, with ``description``, ``unit`` and ``label_ja`` as metadata."""
        metadata = {"description": self.meaning, "unit": self.unit, "label_ja": self.label_ja}
        return pa.field(self.name, ARROW_TYPES[self.type], metadata=metadata)


Geometry = Literal["point", "circle"]


@dataclass(frozen=True)
class Dataset:
    """One published dataset.

    Attributes
    ----------
    name : str
        Folder under the output root (``public/neighbourhoods``).
    partitions : tuple of str
        Columns whose values name the sub-folders (``radius_km_5/year_2012/``); the columns
        stay in the files, so every reader gets their written types.
    access : {"confidential", "releasable", "disclosure-controlled"}
        Whether it may leave the secure room (README, 'Outputs').
    key : tuple of str
        Columns that identify a row.
    description : str
        One sentence on what a row is.
    columns : tuple of Column
        Every column, in file order.
    geometry : {"point", "circle"}, optional
        GeoParquet ``geometry`` column written by :func:`spillover.storage.write_datasets`:
        the point at ``lon, lat`` or the geodesic circle of ``radius_km`` around it.
    """

    name: str
    partitions: tuple[str, ...]
    access: DatasetClass
    key: tuple[str, ...]
    description: str
    columns: tuple[Column, ...]
    geometry: Geometry | None = None

    def __post_init__(self) -> None:
        names = [column.name for column in self.columns]
        if len(set(names)) != len(names) or not {*self.key, *self.partitions} <= set(names):
            raise ValueError(f"dataset {self.name}: duplicate columns, or key/partitions missing")

    @property
    def view(self) -> str:
        """Name of its DuckDB view (``public/neighbourhoods`` → ``public_neighbourhoods``)."""
        return self.name.replace("/", "_")

    @property
    def column_names(self) -> list[str]:
        """Column names in file order."""
        return [column.name for column in self.columns]

    def column(self, name: str) -> Column:
        """The column called ``name`` (``KeyError`` if it has none)."""
        return {column.name: column for column in self.columns}[name]

    def arrow_schema(self) -> pa.Schema:
        """The Parquet schema: one field per column, with its dictionary entry as metadata."""
        return pa.schema([column.arrow_field() for column in self.columns])


def _c(name: str, type_: ColumnType, unit: str, meaning: str, label_ja: str) -> Column:
    return Column(name, type_, unit, meaning, label_ja)


#: Columns that several datasets share, with their usual meaning (``_use`` adapts one).
_SHARED: dict[str, Column] = {
    c.name: c
    for c in (
        _c("year", "int64", "", "Accounts year of the establishment survey.", "年次"),
        _c("radius_km", "double", "km", "Neighbourhood radius (great-circle).", "半径"),
        _c("establishment_id", "string", "", "Survey establishment number.", "事業所番号"),
        _c("firm_id", "string", "", "Canonical firm number (empty: none linked).", "企業番号"),
        _c("centre_id", "string", "", "establishment_id of the centre plant.", "中心事業所番号"),
        _c("pref_code", "int64", "", "Prefecture code (JIS X 0401, 1–47).", "都道府県コード"),
        _c("industry", "string", "", "Industry code (JSIC, 2–4 digits).", "産業分類番号"),
        _c("lat", "double", "degrees", "Latitude (JGD2011 ≈ WGS84).", "緯度"),
        _c("lon", "double", "degrees", "Longitude (JGD2011 ≈ WGS84).", "経度"),
        _c("employees", "int64", "persons", "Persons employed.", "従業者数"),
        _c("shipments", "double", "million yen", "Value of manufactured goods shipped.", "出荷額"),
        _c(
            "exports",
            "double",
            "million yen",
            "Direct exports = shipments × direct-export share, or the configured fallback.",
            "輸出額",
        ),
        _c(
            "exports_imputed",
            "double",
            "million yen",
            "The part of exports not from the survey's own direct-export share "
            "(firm or industry ratio × shipments).",
            "輸出額（補完分）",
        ),
        _c("opr", "double", "percent", "Overseas production ratio of the firm.", "海外生産比率"),
        _c(
            "di_industry",
            "string",
            "",
            "Tankan industry whose DI is the external demand.",
            "短観業種",
        ),
        _c(
            "external_demand",
            "double",
            "DI points",
            "Annual mean of the Tankan overseas supply-demand DI (海外での製商品需給判断DI).",
            "海外需給判断DI",
        ),
        _c(
            "membership",
            "string",
            "",
            "Centre/neighbour rule: yearly, base_year (first year's status) or ever.",
            "区分ルール",
        ),
        _c(
            "n_neighbours",
            "int64",
            "count",
            "Establishments within the radius (centre and large-firm plants excluded).",
            "近隣事業所数",
        ),
        _c(
            "n_centres",
            "int64",
            "count",
            "Global-firm plants within the radius of the establishment.",
            "近隣中心事業所数",
        ),
        _c(
            "weight_sum",
            "double",
            "",
            "Σ kernel weights w(d) of those plants (their count with the uniform kernel).",
            "ウェイト合計",
        ),
        _c(
            "exposure",
            "double",
            "percent × weight",
            "Σ w(d) · OPR of the global-firm plants within the radius.",
            "曝露度",
        ),
        _c(
            "n_missing_opr",
            "int64",
            "count",
            "Plants within the radius whose firm has no OPR (left out of exposure).",
            "OPR欠損数",
        ),
        _c(
            "nearest_km",
            "double",
            "km",
            "Distance to the nearest global-firm plant within the radius (empty: none).",
            "最近接距離",
        ),
        _c("spec_id", "string", "", "Spec id, with grid point (baseline@r5@conley20).", "推定式ID"),
        _c("term", "string", "", "Regressor ((other) = what the regressors leave).", "説明変数"),
        _c("coef", "double", "", "Estimated coefficient (unit of y per unit of term).", "係数"),
    )
}


def _use(name: str, **changes: str) -> Column:
    """A shared column, with ``meaning`` or another field changed for this dataset."""
    return replace(_SHARED[name], **changes)


def _missing(value: str, label_ja: str) -> Column:
    return _c(
        f"n_missing_{value}",
        "int64",
        "count",
        f"Neighbours whose {value} is missing (counted as 0 in the sum).",
        f"{label_ja}欠損数",
    )


def _sum(name: str) -> Column:
    meaning = _SHARED[name].meaning.rstrip(".")
    return _use(name, meaning=f"Sum over the neighbours: {meaning[0].lower()}{meaning[1:]}.")


_NEIGHBOURHOOD_SUMS = (
    _use("n_neighbours"),
    _sum("employees"),
    _sum("shipments"),
    _sum("exports"),
    _sum("exports_imputed"),
    _missing("employees", "従業者数"),
    _missing("shipments", "出荷額"),
    _missing("exports", "輸出額"),
    _missing("exports_imputed", "輸出額（補完分）"),
    _use("lat", meaning="Latitude of the centre (JGD2011 ≈ WGS84)."),
    _use("lon", meaning="Longitude of the centre (JGD2011 ≈ WGS84)."),
)

_EXPOSURE = (
    _use("n_centres"),
    _use("weight_sum"),
    _use("exposure"),
    _use("n_missing_opr"),
    _use("nearest_km"),
)


def _overlap(value: str, label_ja: str) -> tuple[Column, ...]:
    return (
        _c(
            f"{value}_counted",
            "double",
            "million yen",
            f"Σ of the neighbourhoods' {value}: a plant in m neighbourhoods counts m times.",
            f"{label_ja}（重複込み）",
        ),
        _c(
            f"{value}_distinct",
            "double",
            "million yen",
            f"{value} of the distinct neighbours, each counted once.",
            f"{label_ja}（重複除く）",
        ),
        _c(
            f"share_{value}_in_shared",
            "double",
            "share 0–1",
            f"Share of {value}_counted from plants in two or more neighbourhoods.",
            f"重複事業所の{label_ja}比率",
        ),
        _c(
            f"share_{value}_excess",
            "double",
            "share 0–1",
            f"1 − {value}_distinct / {value}_counted: the share that is repeat counting "
            "(footnote 241).",
            f"{label_ja}の重複計上比率",
        ),
    )


def _geometry(meaning: str) -> Column:
    return _c("geometry", "geometry", "WKB lon/lat", meaning, "ジオメトリ")


def _suppression(value: str, label_ja: str) -> Column:
    return _c(
        f"suppression_{value}",
        "string",
        "",
        f"Why {value} is χ: primary (1–2 contributors or dominance), secondary (protects "
        "another value); empty: published.",
        f"{label_ja}の秘匿区分",
    )


_PUBLIC_VALUE = " χ (empty) unless disclosure control lets it out."

DATASETS: tuple[Dataset, ...] = (
    Dataset(
        "plants",
        ("year",),
        "confidential",
        ("year", "establishment_id"),
        "One establishment in one year: canonical survey row, location, classification, exports.",
        (
            _use("establishment_id"),
            _use("firm_id"),
            _use("pref_code", meaning="Prefecture code as surveyed (JIS X 0401, 1–47)."),
            _c("city_code", "string", "", "Municipality code (JIS, 5 digits).", "市区町村コード"),
            _c("address", "string", "", "Address (所在地) as written in the survey.", "所在地"),
            _use("lat", meaning="Latitude where placed (JGD2011 ≈ WGS84)."),
            _use("lon", meaning="Longitude where placed (JGD2011 ≈ WGS84)."),
            _c(
                "mesh_code",
                "string",
                "",
                "Standard grid square (地域メッシュ) code.",
                "メッシュコード",
            ),
            _use("industry"),
            _use("employees"),
            _use("shipments"),
            _c(
                "export_share",
                "double",
                "percent",
                "Direct-export share of shipments as surveyed (empty: not reported).",
                "直接輸出割合",
            ),
            _c("capital", "double", "million yen", "Capital as surveyed.", "資本金額"),
            _c("source_file", "string", "", "Raw file the row was read from.", "入力ファイル"),
            _c("source_line", "int64", "", "Line (record) of the row in that file.", "入力行"),
            _c(
                "geocode_level",
                "string",
                "",
                "How the row was placed: latlon (given), a geocoder level (pref … block), "
                "or mesh (grid-square centre).",
                "位置付けの精度",
            ),
            _c("geocode_pref", "string", "", "Prefecture matched by the geocoder.", "照合都道府県"),
            _c(
                "geocode_city",
                "string",
                "",
                "Municipality matched by the geocoder.",
                "照合市区町村",
            ),
            _c("geocode_town", "string", "", "Town (町字) matched by the geocoder.", "照合町字"),
            _c(
                "geocode_note",
                "string",
                "",
                "What the geocoder ignored or could not explain in the address (text before it, "
                "an unknown rest); empty when the whole address was read.",
                "照合の注記",
            ),
            _c(
                "geocode_municipality_mapped_from",
                "string",
                "",
                "The municipality as written in the address when the gazetteer lacks it and the "
                "municipal history mapped it to the gazetteer's (a pre-merger 町, 浜松市's 2024 "
                "wards against older ones); empty otherwise.",
                "市区町村の読替元",
            ),
            _c(
                "geocode_ambiguous",
                "bool",
                "",
                "Several gazetteer entries matched equally well.",
                "照合が曖昧",
            ),
            _c(
                "geocode_pref_code",
                "int64",
                "",
                "Prefecture code of the geocoder's match (empty when lat/lon were given).",
                "照合都道府県コード",
            ),
            _c(
                "pref_mismatch",
                "bool",
                "",
                "The geocoded prefecture differs from pref_code (kept by configuration).",
                "都道府県不一致",
            ),
            _c(
                "firm_capital",
                "double",
                "million yen",
                "Capital of the owning firm (from the firm surveys).",
                "企業資本金",
            ),
            _c(
                "capital_source",
                "string",
                "",
                "Where firm_capital comes from: parents (海外事業活動), firms (企業活動) "
                "or establishment (the survey row); empty: none.",
                "資本金の出所",
            ),
            _c(
                "large_firm",
                "bool",
                "",
                "Plant of a firm with capital ≥ the threshold: never counted as a neighbour.",
                "大企業",
            ),
            _c(
                "is_centre",
                "bool",
                "",
                "Domestic manufacturing plant of a global firm: a neighbourhood centre.",
                "中心事業所",
            ),
            _use("exports"),
            _c(
                "export_method",
                "string",
                "",
                "Rule behind exports: direct_share, firm_ratio, industry_ratio or none.",
                "輸出額の算出方法",
            ),
            _use("year"),
            _geometry("Point at lon, lat (GeoParquet; CRS OGC:CRS84, i.e. WGS84 ≈ JGD2011)."),
        ),
        geometry="point",
    ),
    Dataset(
        "global_firms",
        ("year",),
        "confidential",
        ("year", "firm_id"),
        "One firm in one year: capital, domestic and overseas manufacturing sales, OPR.",
        (
            _use("firm_id"),
            _c("capital", "double", "million yen", "Capital of the firm.", "資本金額"),
            _c(
                "capital_source",
                "string",
                "",
                "Survey the capital comes from: parents or firms.",
                "資本金の出所",
            ),
            _c(
                "domestic_sales",
                "double",
                "million yen",
                "Sales of the domestic corporation.",
                "国内売上高",
            ),
            _c(
                "domestic_sales_source",
                "string",
                "",
                "Survey domestic_sales comes from: parents or firms.",
                "国内売上高の出所",
            ),
            _c(
                "overseas_manufacturing_sales",
                "double",
                "million yen",
                "Sales of the firm's overseas manufacturing affiliates.",
                "海外製造子会社売上高",
            ),
            _c(
                "n_manufacturing_affiliates",
                "int64",
                "count",
                "Overseas manufacturing affiliates of the firm.",
                "海外製造子会社数",
            ),
            _use(
                "opr",
                meaning="Overseas production ratio: overseas manufacturing sales / "
                "(that + domestic sales) × 100.",
            ),
            _c(
                "is_global",
                "bool",
                "",
                "Global firm: capital ≥ the threshold and OPR > 0.",
                "グローバル企業",
            ),
            _use("year"),
        ),
    ),
    Dataset(
        "neighbourhoods",
        ("radius_km", "year"),
        "confidential",
        ("radius_km", "year", "centre_id"),
        "One centre's neighbourhood (radius, year): sums over the establishments within it.",
        (
            _use("centre_id"),
            *_NEIGHBOURHOOD_SUMS,
            _use("radius_km"),
            _use("year"),
            _geometry(
                "Geodesic circle of radius_km around the centre, 64 vertices (GeoParquet; "
                "CRS OGC:CRS84, i.e. WGS84 ≈ JGD2011)."
            ),
        ),
        geometry="circle",
    ),
    Dataset(
        "overlap",
        (),
        "confidential",
        ("year", "radius_km"),
        "One year and radius: how often plants are counted in several neighbourhoods.",
        (
            _use("year"),
            _use("radius_km"),
            _c("n_centres", "int64", "count", "Centres (neighbourhoods).", "中心事業所数"),
            _c(
                "n_memberships",
                "int64",
                "count",
                "Σ of the centres' n_neighbours (a plant in m neighbourhoods counts m times).",
                "延べ近隣事業所数",
            ),
            _c(
                "n_neighbours_distinct",
                "int64",
                "count",
                "Plants in at least one neighbourhood.",
                "近隣事業所数（重複除く）",
            ),
            _c(
                "n_neighbours_shared",
                "int64",
                "count",
                "Plants in two or more neighbourhoods.",
                "重複事業所数",
            ),
            _c(
                "share_neighbours_shared",
                "double",
                "share 0–1",
                "n_neighbours_shared / n_neighbours_distinct.",
                "重複事業所比率",
            ),
            _c(
                "mean_memberships",
                "double",
                "count",
                "Neighbourhoods per distinct neighbour, on average.",
                "平均所属数",
            ),
            _c(
                "max_memberships",
                "int64",
                "count",
                "Most neighbourhoods any one plant is in.",
                "最大所属数",
            ),
            *_overlap("exports", "輸出額"),
            *_overlap("shipments", "出荷額"),
        ),
    ),
    Dataset(
        "exposure",
        ("radius_km", "year"),
        "confidential",
        ("radius_km", "year", "establishment_id"),
        "One non-centre, non-large-firm establishment (radius, year): its exposure to "
        "global-firm plants.",
        (_use("establishment_id"), *_EXPOSURE, _use("radius_km"), _use("year")),
    ),
    Dataset(
        "panel",
        ("radius_km",),
        "confidential",
        ("radius_km", "centre_id", "year"),
        "The rows fed to the neighbourhood specs: a centre's neighbourhood in one year with "
        "its firm's OPR and the external demand.",
        (
            _use("year"),
            _use("centre_id"),
            *_NEIGHBOURHOOD_SUMS,
            _use("firm_id", meaning="Firm of the centre plant."),
            _use("pref_code", meaning="Prefecture code of the centre plant (JIS X 0401)."),
            _use("industry", meaning="Industry code of the centre plant (JSIC)."),
            _use("opr", meaning="Overseas production ratio of the centre's firm."),
            _use("di_industry"),
            _use("external_demand"),
            _use("membership"),
            _use("radius_km"),
        ),
    ),
    Dataset(
        "plant_panel",
        ("radius_km",),
        "confidential",
        ("radius_km", "establishment_id", "year"),
        "The rows fed to the plant specs: an establishment in one year with its exposure.",
        (
            _use("year"),
            _use("establishment_id"),
            *_EXPOSURE,
            _use("firm_id"),
            _use("pref_code"),
            _use("industry"),
            _use("lat"),
            _use("lon"),
            _use("exports"),
            _use("shipments"),
            _use("employees"),
            _use("exports_imputed", meaning="Exports from a fallback ratio (0: direct share)."),
            _use("di_industry"),
            _use("external_demand"),
            _use("membership"),
            _use("radius_km"),
        ),
    ),
    Dataset(
        "estimates",
        (),
        "releasable",
        ("spec_id", "term"),
        "One regressor of one fitted spec: coefficient, inference and fit summary.",
        (
            _use("spec_id"),
            _use("term"),
            _c("grid", "string", "", "The spec id as written in the config.", "推定式"),
            _c(
                "family",
                "string",
                "",
                "Panel the spec is fitted on: neighbourhood or plant.",
                "パネルの種類",
            ),
            _use("radius_km", meaning="Neighbourhood radius of the panel."),
            _use("coef"),
            _c("se", "double", "", "Standard error of coef (unit of coef).", "標準誤差"),
            _c("t", "double", "", "t statistic coef / se.", "t値"),
            _c("p", "double", "", "Two-sided p-value (t with df_inference, else normal).", "p値"),
            _c(
                "ci_low",
                "double",
                "",
                "Lower end of the 95% confidence interval.",
                "95%信頼区間下限",
            ),
            _c(
                "ci_high",
                "double",
                "",
                "Upper end of the 95% confidence interval.",
                "95%信頼区間上限",
            ),
            _c("nobs", "int64", "count", "Observations in the estimation sample.", "観測数"),
            _c("n_entities", "int64", "count", "Entities (centres or plants) in it.", "主体数"),
            _c(
                "n_clusters",
                "int64",
                "count",
                "Clusters of the covariance (empty: not clustered).",
                "クラスター数",
            ),
            _c(
                "singletons_dropped",
                "int64",
                "count",
                "Rows dropped as fixed-effect singletons.",
                "除外シングルトン数",
            ),
            _c(
                "df_inference",
                "int64",
                "count",
                "Degrees of freedom of the t distribution for p and CI (empty: normal).",
                "検定自由度",
            ),
            _c("fe", "string", "", "Fixed effects absorbed (entity, year, …).", "固定効果"),
            _c(
                "vcov",
                "string",
                "",
                "Covariance estimator, e.g. cluster(entity), conley(20 km, bartlett, L7).",
                "分散共分散推定",
            ),
            _c(
                "ssc",
                "string",
                "",
                "Small-sample correction: fixest, linearmodels or none.",
                "小標本補正",
            ),
            _c(
                "r2_within",
                "double",
                "share 0–1",
                "R² of the within (demeaned) regression.",
                "決定係数（within）",
            ),
        ),
    ),
    Dataset(
        "decomposition",
        (),
        "releasable",
        ("spec_id", "term"),
        "第II-2-4-4図: one regressor's contribution to the mean yearly change of the dependent.",
        (
            _use("spec_id"),
            _use("term"),
            _use("coef", meaning="Estimated coefficient (empty for (other))."),
            _c(
                "mean_yearly_change",
                "double",
                "",
                "Mean yearly change of the term over the sample (unit of the term).",
                "平均年間変化",
            ),
            _c(
                "contribution",
                "double",
                "million yen per year",
                "coef × mean_yearly_change, in the dependent's unit (see unit).",
                "寄与",
            ),
            _c(
                "ci_low",
                "double",
                "",
                "Lower end of its 95% confidence interval.",
                "95%信頼区間下限",
            ),
            _c(
                "ci_high",
                "double",
                "",
                "Upper end of its 95% confidence interval.",
                "95%信頼区間上限",
            ),
            _c(
                "dependent_mean_yearly_change",
                "double",
                "million yen per year",
                "Mean yearly change of the dependent (see unit).",
                "被説明変数の平均年間変化",
            ),
            _c("share", "double", "share 0–1", "contribution / dependent change.", "寄与率"),
            _c(
                "unit",
                "string",
                "",
                "Unit of contribution and dependent change (million yen per year, "
                "or log points for a log dependent).",
                "単位",
            ),
            _c("n_differences", "int64", "count", "Yearly differences averaged.", "年差分の数"),
        ),
    ),
    Dataset(
        "quarantine",
        ("stage",),
        "confidential",
        ("stage", "file", "line", "column"),
        "One rejected row: where it came from and why (raw values included).",
        (
            _c("table", "string", "", "Canonical table the row was meant for.", "テーブル"),
            _c("source", "string", "", "Source name in the config.", "入力名"),
            _c("file", "string", "", "Raw file.", "ファイル"),
            _c("line", "int64", "", "Line (record) in the file (empty: not from a file).", "行"),
            _c("column", "string", "", "Column at fault (several: comma-separated).", "列"),
            _c("reason", "string", "", "Why the row was rejected.", "理由"),
            _c("raw", "string", "", "The raw values as JSON (raw column names).", "元の値"),
            _c("stage", "string", "", "Stage that rejected it.", "処理段階"),
        ),
    ),
    Dataset(
        "public/neighbourhoods",
        ("radius_km", "year"),
        "disclosure-controlled",
        ("radius_km", "year", "neighbourhood_no"),
        "One neighbourhood (radius, year) after disclosure control: no identifiers, "
        "suppressed values χ.",
        (
            _c(
                "neighbourhood_no",
                "int64",
                "",
                "Rank of a keyed hash of the centre id: the same across years and radii, "
                "new each publication.",
                "近隣地域番号",
            ),
            _use("n_neighbours"),
            _c(
                "employees",
                "double",
                "persons",
                "Sum of persons employed;" + _PUBLIC_VALUE,
                "従業者数",
            ),
            _c("shipments", "double", "million yen", "Sum of shipments;" + _PUBLIC_VALUE, "出荷額"),
            _c("exports", "double", "million yen", "Sum of exports;" + _PUBLIC_VALUE, "輸出額"),
            _c(
                "exports_imputed",
                "double",
                "million yen",
                "Sum of imputed exports;" + _PUBLIC_VALUE,
                "輸出額（補完分）",
            ),
            _c(
                "suppression",
                "string",
                "",
                "The kinds of suppression among the cell's values, joined by +: primary, "
                "secondary, primary+secondary; empty: every value published.",
                "秘匿区分",
            ),
            _suppression("employees", "従業者数"),
            _suppression("shipments", "出荷額"),
            _suppression("exports", "輸出額"),
            _suppression("exports_imputed", "輸出額（補完分）"),
            _use("radius_km"),
            _use("year"),
        ),
    ),
)

_BY_NAME = {dataset.name: dataset for dataset in DATASETS}


def dataset(name: str) -> Dataset:
    """The catalogued dataset called ``name`` (``public/neighbourhoods`` or its view name).

    Raises
    ------
    UnknownDatasetError
        No such dataset; the message lists the catalogue with access classes.
    """
    found = _BY_NAME.get(name) or next((d for d in DATASETS if d.view == name), None)
    if found is None:
        listing = ", ".join(f"{d.name} ({d.access})" for d in DATASETS)
        raise UnknownDatasetError(f"no dataset {name!r}; the datasets are: {listing}")
    return found


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown() -> str:
    """``docs/datasets.md``: every dataset and column (name, type, unit, meaning, label)."""
    lines = [
        "# Published datasets: data dictionary",
        "",
        "Generated from `spillover/datasets.py` (`python -m spillover.datasets > "
        "docs/datasets.md`); a test keeps the two equal. The same descriptions are in each "
        "Parquet field's metadata (`description`, `unit`, `label_ja`) and in DuckDB "
        "(`COMMENT ON`, see `sql/views.sql`). Read any dataset with "
        '`pandas.read_parquet("<output_root>/<dataset>")`, polars or DuckDB '
        "(README, 'For analysts').",
        "",
        "| dataset | rows are | key | may leave the secure room? |",
        "|---|---|---|---|",
    ]
    for d in DATASETS:
        leaves = "no" if d.access == "confidential" else f"yes ({d.access})"
        lines.append(
            f"| [`{d.name}/`](#{d.view}) | {_cell(d.description)} | {', '.join(d.key)} | {leaves} |"
        )
    for d in DATASETS:
        folders = "/".join(f"{p}_<value>" for p in d.partitions)
        layout = f"`{d.name}/{folders + '/' if folders else ''}part-0.parquet`"
        geo = f"; GeoParquet 1.1 ({d.geometry} geometry)" if d.geometry else ""
        lines += [
            "",
            f'<a id="{d.view}"></a>',
            "",
            f"## `{d.name}/` ({d.access})",
            "",
            f"{d.description} Files: {layout}{geo}; DuckDB view `{d.view}`.",
            "",
            "| column | type | unit | meaning | 日本語 |",
            "|---|---|---|---|---|",
        ]
        for c in d.columns:
            lines.append(
                f"| `{c.name}` | {c.type} | {c.unit} | {_cell(c.meaning)} | {c.header_ja} |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover - writes docs/datasets.md
    print(markdown(), end="")
