"""Value recoding in config: regex extraction, explicit maps, concordances by year."""

import pandas as pd
import pytest

from spillover.concordance import ConcordanceError, load_concordance, shipped
from spillover.config import ConfigError, Source, parse_config
from spillover.demo.world import WorldParams, demo_config
from spillover.ingest import map_source_frame

COLUMNS = {"企業番号": "firm_id", "資本金": "capital", "売上高": "sales", "主業種": "industry"}


def _firms(codes: list[str]) -> tuple[pd.DataFrame, pd.Series]:
    raw = pd.DataFrame(
        {
            "企業番号": [f"F{i}" for i in range(len(codes))],
            "資本金": "100",
            "売上高": "900",
            "主業種": codes,
        },
        dtype="str",
    )
    return raw, pd.Series(range(2, len(codes) + 2))


def _map(codes, recode, *, year=2013, tmp_path=None):
    source = Source(name="kikatsu", path="x.csv", columns=COLUMNS, recode={"industry": recode})
    raw, lines = _firms(codes)
    config = None
    if tmp_path is not None:
        config = parse_config(demo_config(WorldParams()), base_dir=tmp_path)
    return map_source_frame(
        raw, lines, table="firms", source=source, path=tmp_path or ".", year=year, config=config
    )


def test_letter_prefixed_codes_are_extracted_and_the_rest_quarantined_with_the_key():
    good, bad = _map(
        ["E24", "Ｅ２４", "24", "I50", "E2X", "0931"], {"extract": r"^[A-Z]?(\d{2,4})$"}
    )
    assert good["industry"].tolist() == ["24", "24", "24", "50", "0931"]
    assert bad["line"].tolist() == [6]
    assert bad["column"].tolist() == ["industry"]
    assert bad["reason"].iloc[0] == (
        "'E2X' does not match sources.firms[kikatsu].recode.industry.extract '^[A-Z]?(\\\\d{2,4})$'"
    )


def test_an_explicit_map_recodes_listed_codes_and_refuses_the_others():
    good, bad = _map(["E24", "E25"], {"map": {"E24": "24"}})
    assert good["industry"].tolist() == ["24"]
    assert bad["reason"].tolist() == [
        "code 'E25' is not in sources.firms[kikatsu].recode.industry.map "
        "(sources.firms[kikatsu].recode.industry; unmatched: keep keeps it)"
    ]


def test_unmatched_keep_keeps_codes_outside_the_map():
    good, bad = _map(
        ["E24", "25"], {"extract": r"^E?(\d+)$", "map": {"24": "2400"}, "unmatched": "keep"}
    )
    assert good["industry"].tolist() == ["2400", "25"]
    assert bad.empty


REVISIONS = """\
# a made-up revision switch: 2931 split off 2929 from 2014
# source: the test
from,to,valid_from,valid_to,from_name
2929,2929,,,その他の電気機械
2931,2929,,2013,旧コード
2931,2931,2014,,新コード
09,09,,,食料品
"""


def test_a_concordance_translates_codes_by_the_file_year(tmp_path):
    (tmp_path / "jsic.csv").write_text(REVISIONS, encoding="utf-8")
    recode = {"concordance": "jsic.csv"}
    good13, bad13 = _map(["2931", "2929", "9"], recode, year=2013, tmp_path=tmp_path)
    good14, bad14 = _map(["2931", "2929", "3999"], recode, year=2014, tmp_path=tmp_path)
    assert good13["industry"].tolist() == ["2929", "2929"]  # "9" is not in the concordance
    assert good14["industry"].tolist() == ["2931", "2929"]
    assert bad13["reason"].tolist() == [
        "code '9' is not in concordance 'jsic' for 2013 "
        "(sources.firms[kikatsu].recode.industry; unmatched: keep keeps it)"
    ]
    assert bad14["line"].tolist() == [4]
    assert "'3999' is not in concordance 'jsic' for 2014" in bad14["reason"].iloc[0]
    assert load_concordance(str(tmp_path / "jsic.csv")).provenance[1] == "source: the test"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "from,to,valid_from\n24,24,\n24,2400,2014\n",
            "line 3: code '24' already has a row valid in 2014",
        ),
        ("code,to\n24,24\n", "line 1: the header lacks ['from']"),
        ("# about\nfrom,to,valid_to\n24,24,13\n", "line 3: valid_to '13' is not a year"),
        ("from,to\n24,\n", "line 2: empty 'to' code"),
        ("# c\nfrom,to,valid_from\n09,09,\n\n10,10,\n11,11,20x0\n", "line 6: valid_from '20x0'"),
        ("from,to,valid_to\n09,A,２０１０\n", "line 2: valid_to '２０１０' is not a year"),
        ("from,to\n09,A\n09,B\n", "line 3: code '09' already has a row valid in every year"),
        ("from,to\n09,A,x\n", "line 2: 3 fields, the header has 2"),
    ],
)
def test_a_malformed_concordance_names_its_line(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConcordanceError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_concordance(str(path))


def test_an_unknown_shipped_concordance_lists_the_shipped_ones():
    with pytest.raises(ConcordanceError, match="no shipped concordance 'jsic_rev99'; shipped: "):
        load_concordance("jsic_rev99")
    assert shipped(), "the package ships concordances"


def test_an_extract_without_a_group_is_a_config_error_naming_the_key(tmp_path):
    data = demo_config(WorldParams())
    data["sources"]["firms"][0]["recode"] = {"industry": {"extract": "^E\\d+$"}}
    with pytest.raises(ConfigError, match=r"sources\.firms\.0\.recode\.industry\.extract"):
        parse_config(data, base_dir=tmp_path)


def test_the_tankan_industry_map_can_be_the_shipped_concordance(tmp_path):
    data = demo_config(WorldParams())
    data["external_demand"].update(by_centre_industry=True, industry_map="jsic_to_tankan")
    settings = parse_config(data, base_dir=tmp_path).external_demand
    assert settings.industry_map["31"] == "輸送用機械" and settings.industry_map["10"] == "食料品"
    assert len(settings.industry_map) == 24
    data["external_demand"]["industry_map"] = "jsic_to_nowhere"
    with pytest.raises(ConfigError, match="external_demand.industry_map: .*no shipped concordance"):
        parse_config(data, base_dir=tmp_path)


def test_a_dated_concordance_needs_dated_files(tmp_path):
    (tmp_path / "jsic.csv").write_text(REVISIONS, encoding="utf-8")
    from spillover.concordance import recode_column
    from spillover.config import Recode

    codes = pd.Series(["2931"], dtype="str")
    with pytest.raises(ConcordanceError, match=r"maps codes by year .* list the source's `years`"):
        recode_column(
            codes, Recode(concordance=str(tmp_path / "jsic.csv")), key="k", year=None, config=None
        )
