import pytest

from spillover.geocode import normalize_address
from spillover.geocode.normalize import canonical_text, kanji_to_int


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("一", 1),
        ("十", 10),
        ("十二", 12),
        ("二十", 20),
        ("二十八", 28),
        ("百", 100),
        ("百二", 102),
        ("三百十五", 315),
        ("千二百", 1200),
        ("一〇二", 102),
        ("壱", 1),
        ("弐拾", 20),
    ],
)
def test_kanji_to_int(text, value):
    assert kanji_to_int(text) == value


def test_kanji_to_int_rejects_non_numerals():
    with pytest.raises(ValueError, match="not a kanji numeral"):
        kanji_to_int("三島")


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        # full-width digits, full-width dash
        ("愛知県豊田市元町１丁目２－３", "愛知県豊田市元町1丁目2-3"),
        # postal code, with and without 〒, and a full-width space
        ("〒471-0001 愛知県豊田市トヨタ町１番地", "愛知県豊田市トヨタ町1番地"),
        # a long-vowel mark or a box-drawing line as the postal code's hyphen
        ("〒068ー7581 北海道岩見沢市", "北海道岩見沢市"),
        ("〒068─7581北海道岩見沢市", "北海道岩見沢市"),
        ("471-0001　愛知県豊田市トヨタ町1番地", "愛知県豊田市トヨタ町1番地"),
        ("〒4710001愛知県豊田市トヨタ町1番地", "愛知県豊田市トヨタ町1番地"),
        # 漢数字 incl. 十/百 forms next to 丁目・番地・号
        ("東京都大田区西六郷四丁目二十八番一号", "東京都大田区西六郷4丁目28番1号"),
        ("高丘百二番地", "高丘102番地"),
        # 番地の / ノ / 之 forms
        ("元町一丁目２番地の３", "元町1丁目2番地ノ3"),
        ("元町1丁目2番地之3", "元町1丁目2番地ノ3"),
        ("元町1丁目2ノ3", "元町1丁目2ノ3"),
        # 大字 and 字 markers
        ("豊田市大字高丘字北1234", "豊田市高丘北1234"),
        # ケ / ヶ / が
        ("豊田市桜ヶ丘1", "豊田市桜ケ丘1"),
        ("豊田市桜が丘1", "豊田市桜ケ丘1"),
        # 旧字体
        ("東京都世田谷區深澤一丁目", "東京都世田谷区深沢1丁目"),
        # spaces between words vanish, a space between two numbers stays
        ("愛知県 豊田市 元町 1-2-3 205号室", "愛知県豊田市元町1-2-3 205号室"),
        # katakana long vowel used as a dash between numbers, other dashes
        ("元町1ー2ー3", "元町1-2-3"),
        ("元町1‐2−3", "元町1-2-3"),
        # kanji numerals inside names are left alone, on both sides alike
        ("静岡県三島市", "静岡県三島市"),
        ("新潟県十日町市", "新潟県十日町市"),
        ("北海道札幌市中央区北一条西二丁目", "北海道札幌市中央区北1条西2丁目"),
        # a leading country name, but not 日本橋
        ("日本国東京都大田区", "東京都大田区"),
        ("日本東京都中央区日本橋小舟町", "東京都中央区日本橋小舟町"),
        ("中央区日本橋小舟町", "中央区日本橋小舟町"),
        # a malformed numeral run keeps its name part: 郷六 + 二十八番地
        ("郷六二十八番地の四", "郷六28番地ノ4"),
        # 小字 is not a marker of its own: 西小 + 字 + 長尾
        ("加茂町西小字長尾24番地", "加茂町西小長尾24番地"),
        # numbered 小字 of 岩手 (地割) and 北海道 (号)
        ("手代森二十二地割1番19号", "手代森22地割1番19号"),
        ("東鷹栖四線十号", "東鷹栖4線10号"),
        ("", ""),
    ],
)
def test_canonical_text_rules(raw, canonical):
    assert canonical_text(raw) == canonical


def test_canonical_text_is_idempotent():
    samples = ["〒471-0001 愛知県豊田市元町１丁目２番地の３ 山田ビル３F", "大字高丘字北二番地の三"]
    for s in samples:
        once = canonical_text(s)
        assert canonical_text(once) == once


def test_normalize_without_gazetteer_is_character_level():
    assert normalize_address("愛知県豊田市元町１丁目２番地の３") == "愛知県豊田市元町1丁目2番地ノ3"


@pytest.mark.parametrize(
    "variant",
    [
        "愛知県豊田市元町一丁目2番3号",
        "豊田市元町1-2-3",
        "愛知県豊田市元町１丁目２－３　山田ビル３F",
        "〒471-0001 愛知県豊田市元町1丁目2番地3",
        "愛知県豊田市元町一丁目２番地の３",
        "愛知県豊田市元町1丁目2-3 5階",
    ],
)
def test_normalize_with_gazetteer_gives_one_key(variant, index):
    assert normalize_address(variant, index=index) == "愛知県豊田市元町1丁目2-3"


@pytest.mark.parametrize(
    ("variant", "key"),
    [
        # 政令市 without its 区, resolved because 栄町 is unique in 浜松市
        ("静岡県浜松市栄町1-5", "静岡県浜松市中区栄町1-5"),
        ("浜松市中区栄町1-5", "静岡県浜松市中区栄町1-5"),
        # 郡 omitted
        ("長野県下諏訪町桜町1-2", "長野県諏訪郡下諏訪町桜町1-2"),
        # prefecture omitted
        ("東大阪市荒本2", "大阪府東大阪市荒本2"),
        # 大字 and 字 omitted or written
        ("愛知県豊田市高丘1234番地", "愛知県豊田市高丘1234"),
        ("愛知県豊田市大字高丘字1234番地", "愛知県豊田市高丘1234"),
    ],
)
def test_normalize_with_gazetteer_gazetteer_rules(variant, key, index):
    assert normalize_address(variant, index=index) == key


def test_normalize_series(index):
    import pandas as pd

    s = pd.Series(["豊田市元町1-2-3", "愛知県豊田市元町一丁目2番3号"], index=[7, 9])
    out = normalize_address(s, index=index)
    assert out.index.tolist() == [7, 9]
    assert out.tolist() == ["愛知県豊田市元町1丁目2-3"] * 2
    assert normalize_address(s).tolist() == ["豊田市元町1-2-3", "愛知県豊田市元町1丁目2番3号"]
