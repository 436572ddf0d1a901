"""Proposing a crosswalk: 法人番号 check digits, exact name+address links, near matches reported."""

import pandas as pd

from spillover.firm_matching import corporate_number_valid, normalise_name, propose_crosswalk

NTA = "7000012050002"  # 国税庁's own 法人番号


def _with_check_digit(base: str) -> str:
    digits = [int(d) for d in reversed(base)]
    total = sum(d * (1 if n % 2 else 2) for n, d in enumerate(digits, start=1))
    return f"{9 - total % 9}{base}"


def test_the_check_digit_is_verified():
    assert corporate_number_valid(NTA)
    assert not corporate_number_valid("8000012050002")  # check digit changed
    assert not corporate_number_valid("7000012050003")  # a digit changed
    assert not corporate_number_valid("700001205000")  # 12 digits
    assert corporate_number_valid(_with_check_digit("180301012345"))


def test_legal_forms_and_spaces_do_not_count_in_names():
    assert normalise_name("㈱ 髙橋製作所") == normalise_name("株式会社髙橋製作所") == "髙橋製作所"
    assert normalise_name("（株）ＡＢＣ　工業") == "abc工業"


REGISTER = pd.DataFrame(
    {
        "firm_id": ["F1", "F2", "F3", "F4"],
        "corporate_number": [NTA, None, None, _with_check_digit("180301012345")],
        "name": ["国税製作所", "株式会社豊田精機", "株式会社岡崎金属", "安城電機株式会社"],
        "address": [
            "東京都千代田区霞が関3-1-1",
            "愛知県豊田市元町1丁目2番地",
            "愛知県岡崎市康生町5",
            "愛知県安城市桜町1",
        ],
    }
)
SURVEY = pd.DataFrame(
    {
        "source_id": ["S1", "S2", "S3", "S4", "S5"],
        "corporate_number": [NTA, None, None, "8000012050002", None],
        "name": ["国税製作所", "(株)豊田精機", "岡崎金属工業", "安城電機", "知多造船"],
        "address": [
            "東京都千代田区霞が関三丁目1-1",
            "愛知県豊田市元町一丁目2番地",
            "愛知県岡崎市康生町5",
            "愛知県安城市桜町1",
            "愛知県半田市1",
        ],
    }
)


def test_exact_matches_are_linked_near_ones_only_reported():
    proposal = propose_crosswalk(SURVEY, REGISTER, source="kikatsu")
    assert proposal.crosswalk[["source", "source_id", "firm_id", "method"]].values.tolist() == [
        ["kikatsu", "S1", "F1", "corporate_number"],
        ["kikatsu", "S2", "F2", "name_address"],
        ["kikatsu", "S4", "F4", "name_address"],
    ]
    assert proposal.near_matches[["source_id", "firm_id"]].values.tolist() == [["S3", "F3"]]
    assert proposal.near_matches["score"].iloc[0] >= 80
    assert proposal.invalid_numbers.values.tolist() == [["S4", "8000012050002"]]
    assert proposal.unmatched["source_id"].tolist() == ["S5"]
    assert proposal.counts() == {
        "corporate_number": 1,
        "name_address": 2,
        "near_match_to_review": 1,
        "unmatched": 1,
        "invalid_corporate_numbers": 1,
    }


def test_the_cli_writes_the_crosswalk_and_the_review_lists(tmp_path):
    from typer.testing import CliRunner

    from spillover.cli import app

    SURVEY.to_csv(tmp_path / "survey.csv", index=False, encoding="cp932")
    REGISTER.to_csv(tmp_path / "register.csv", index=False, encoding="cp932")
    args = ["link-firms", str(tmp_path / "survey.csv"), str(tmp_path / "register.csv")]
    args += ["--source", "kikatsu", "--out", str(tmp_path / "out"), "--encoding", "cp932"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    crosswalk = pd.read_csv(tmp_path / "out" / "crosswalk.csv", dtype=str)
    assert crosswalk["source_id"].tolist() == ["S1", "S2", "S4"]
    assert pd.read_csv(tmp_path / "out" / "near_matches.csv")["source_id"].tolist() == ["S3"]

    REGISTER.drop(columns="name").to_csv(tmp_path / "register.csv", index=False, encoding="cp932")
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert "register.csv: the header lacks ['name']" in result.output
