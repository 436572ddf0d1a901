"""Character-level normalisation of Japanese addresses (no gazetteer needed).

The same function, :func:`canonical_text`, is applied to gazetteer names and to
survey addresses, so that every rule below only has to be *consistent*, not
linguistically perfect: a rule that rewrites 「三島」 would rewrite it on both
sides and still match.  Rules that need the gazetteer (prefecture omitted,
政令市 written without its 区, omitted 郡, block numbers and trailing building
names) live in :mod:`spillover.geocode.match`.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from pathlib import Path

from spillover.geocode._prefectures import PREFECTURES

__all__ = ["RULES_VERSION", "canonical_text", "kanji_to_int"]

RULES_VERSION = 5
"""Bump whenever :func:`canonical_text` changes its output: persisted indexes and
geocode caches are keyed by it, so stale keys are never reused."""

# 旧字体 → 新字体 (both sides are mapped, so a name written either way matches); the
# published variant tables of variants.csv are folded in by _variant_map.
_OLD_NEW = (
    "亞亜惡悪壓圧圍囲爲為醫医榮栄衞衛驛駅圓円鹽塩應応櫻桜假仮價価會会繪絵擴拡覺覚學学嶽岳"
    "樂楽勸勧卷巻觀観關関巖巌顏顔歸帰氣気龜亀舊旧據拠擧挙峽峡狹狭曉暁區区驅駆徑径莖茎惠恵"
    "溪渓經経繼継螢蛍輕軽鷄鶏藝芸缺欠儉倹劍剣圈圏檢検權権獻献縣県險険顯顕驗験嚴厳效効廣広"
    "恆恒鑛鉱國国濟済碎砕齋斎劑剤雜雑慘惨棧桟蠶蚕贊賛殘残絲糸兒児辭辞濕湿實実舍舎寫写釋釈"
    "壽寿收収從従澁渋獸獣縱縦肅粛處処緖緒敍叙將将燒焼稱称證証乘乗剩剰壤壌孃嬢條条淨浄疊畳"
    "穰穣讓譲釀醸觸触寢寝愼慎眞真盡尽圖図粹粋醉酔隨随髓髄數数樞枢聲声靜静齊斉攝摂專専戰戦"
    "淺浅潛潜纖繊踐践錢銭禪禅雙双壯壮搜捜插挿爭争總総莊荘裝装騷騒藏蔵臟臓卽即屬属續続墮堕"
    "體体對対帶帯滯滞臺台瀧滝擇択澤沢單単擔担膽胆團団彈弾斷断遲遅晝昼蟲虫鑄鋳廳庁聽聴鎭鎮"
    "遞逓鐵鉄轉転點点傳伝黨党盜盗燈灯當当鬪闘德徳獨独讀読屆届繩縄惱悩腦脳廢廃拜拝賣売麥麦"
    "發発髮髪拔抜蠻蛮祕秘濱浜濵浜拂払佛仏竝並變変邊辺邉辺辨弁瓣弁辯弁舖舗穗穂寶宝豐豊沒没"
    "萬万滿満默黙譯訳藥薬豫予餘余與与譽誉搖揺樣様謠謡來来賴頼亂乱覽覧龍竜兩両獵猟壘塁勵励"
    "禮礼靈霊齡齢戀恋爐炉勞労樓楼祿禄錄録灣湾髙高﨑崎嵜崎嶋島嶌島淵渕舘館塲場峯峰槇槙冨富"
    "壹壱貳弐參参"
)
#: The published variant tables (jageocoder's itaiji_dic.json, ja-itaiji's families), with
#: their sources in the file's header comment; see tools/make_variants.py.
VARIANTS_PATH = Path(__file__).with_name("variants.csv")


def _common(character: str) -> bool:
    """Whether a character is a JIS X 0208 level-1 kanji (rows 16–47 of EUC-JP)."""
    try:
        code = character.encode("euc_jp")
    except UnicodeEncodeError:
        return False
    return len(code) == 2 and 16 <= code[0] - 0xA0 <= 47


def _variant_map() -> dict[int, str]:
    """Every variant character → the one form its class is folded to.

    The classes join the 旧字体 pairs above, the kana written interchangeably in place
    names (ケ/ヶ/ヵ/が/ガ, ノ/の/之/乃, ツ/ッ/っ) and every pair of :data:`VARIANTS_PATH`.
    A class is folded to its form from the pairs above when it has one (so keys keep their
    新字体 and ケ/ノ), else to the form the published table folds to. Two classes whose
    forms are both common kanji (JIS X 0208 level 1) are never joined through a published
    pair: 貳 is 弐 here and 二 in jageocoder's table, and 二 must stay 二.
    """
    preferred = list(zip(_OLD_NEW[0::2], _OLD_NEW[1::2], strict=True))
    preferred += [(c, "ケ") for c in "ヶヵが"] + [(c, "ノ") for c in "の之"]
    with VARIANTS_PATH.open(encoding="utf-8") as handle:
        published = [
            (row["variant"], row["canonical"])
            for row in csv.DictReader(line for line in handle if not line.startswith("#"))
        ]
    parent: dict[str, str] = {}

    def root(character: str) -> str:
        while parent.get(character, character) != character:
            character = parent[character]
        return character

    kept = {canonical for _, canonical in preferred}
    for number, (variant, canonical) in enumerate(preferred + published):
        a, b = root(variant), root(canonical)
        if a == b or (number >= len(preferred) and _common(a) and _common(b)):
            continue  # never join two common kanji (弐 of 貳 and 二 of 貳 stay apart)
        if a in kept and b not in kept:  # a form from the pairs above stays the form
            a, b = b, a
        parent[a] = b
    members = set(parent) | set(parent.values())
    return {ord(c): root(c) for c in members if root(c) != c}


_CHAR_MAP = _variant_map()
# Dash-like characters (NFKC already maps the full-width hyphen-minus 「－」).
_CHAR_MAP.update({ord(c): "-" for c in "‐‑‒–—―−﹣"})

# A regex over the mapped characters is several times faster than str.translate.
_CHAR_RE = re.compile("[" + re.escape("".join(map(chr, _CHAR_MAP))) + "]")


def _char_repl(m: re.Match[str]) -> str:
    return _CHAR_MAP[ord(m.group())]


_NUM = "〇一二三四五六七八九十百千壱弐参拾"
_DIGIT = {c: i for i, c in enumerate("〇一二三四五六七八九")}
_DIGIT.update({"壱": 1, "弐": 2, "参": 3})
_UNIT = {"十": 10, "拾": 10, "百": 100, "千": 1000}

_HAS_NUM = re.compile(f"[{_NUM}]")
_WS_DROP = re.compile(r"(?<!\d)\s+|\s+(?!\d)")
_WS_KEEP = re.compile(r"\s+")
_POSTAL = re.compile(r"^〒?\s*\d{3}[-ー─━]?\d{4}(?!\d)\s*|〒\s*\d{3}[-ー─━]?\d{4}(?!\d)\s*|〒")
# 「日本」 only before a prefecture name: 「日本橋…」 is a town, not the country.
_LEADING_COUNTRY = re.compile(rf"^日本国?(?={'|'.join(PREFECTURES)})")
_LONG_DASH = re.compile(rf"(?<=[\d{_NUM}])[ー─━](?=[\d{_NUM}])")
# 漢数字 followed by an address unit (丁目, 番地, 号, 条, 線, 地割, or a dash/ノ before
# another number) ...
_NUM_BEFORE_UNIT = re.compile(rf"[{_NUM}]+(?=丁目|丁|番地|番|号|条|線|地割|[-ノ][{_NUM}\d])")
# ... or following one (「二番地の三」 → the 三).
_NUM_AFTER_UNIT = re.compile(
    rf"(?:(?<=\d[-ノ])|(?<=番地)|(?<=地ノ)|(?<=番ノ)|(?<=[番号]))[{_NUM}]+"
)


def kanji_to_int(text: str) -> int:
    """Convert a run of kanji numerals to an integer.

    Parameters
    ----------
    text : str
        Kanji numerals, either positional (「一〇二」 = 102) or with the units
        十, 百, 千 (「三百十五」 = 315, 「十」 = 10); 壱/弐/参/拾 are accepted.

    Returns
    -------
    int
        The value.

    Raises
    ------
    ValueError
        If `text` is empty or contains a character that is not a kanji numeral.
    """
    if not text or any(c not in _DIGIT and c not in _UNIT for c in text):
        raise ValueError(f"not a kanji numeral: {text!r}")
    if not any(c in _UNIT for c in text):
        return int("".join(str(_DIGIT[c]) for c in text))
    total, current = 0, 0
    for c in text:
        if c in _UNIT:
            total += (current or 1) * _UNIT[c]
            current = 0
        else:
            current = current * 10 + _DIGIT[c]
    return total + current


_WELL_FORMED = re.compile(
    "(?:[一二三四五六七八九壱弐参]?千)?(?:[一二三四五六七八九壱弐参]?百)?"
    "(?:[一二三四五六七八九壱弐参]?[十拾])?[一二三四五六七八九壱弐参]?"
)


def _kanji_repl(m: re.Match[str]) -> str:
    """Convert a numeral run; a malformed run keeps its leading characters as text.

    「六二十八」 (the name 郷六 followed by 二十八) becomes 「六28」, not 628.
    """
    text = m.group(0)
    if any(c in _UNIT for c in text):
        for i in range(len(text)):
            if _WELL_FORMED.fullmatch(text, i):
                return text[:i] + str(kanji_to_int(text[i:]))
    return str(kanji_to_int(text))


def canonical_text(text: str) -> str:
    """Normalise an address or a gazetteer name character by character.

    Rules, in order:

    1. Unicode NFKC (full-width digits, letters and spaces become ASCII;
       half-width katakana become full-width).
    2. 旧字体・異体字 → 新字体 (澤→沢, 邊→辺, 龍→竜, 﨑→崎, …); ヶ/ヵ/が → ケ;
       の/之 → ノ; dash-like characters (‐, –, —, ―, −) → ``-``.
    3. 「日本」/「日本国」 before a leading prefecture name, and postal codes
       (「〒471-0001」 anywhere, 「471-0001」/「4710001」 at the start; the dash may also
       be 「ー」, 「─」 or 「━」) are removed.
    4. Whitespace is removed, except between two digits where one space is
       kept as a separator (「1-2-3 205号室」 keeps its number groups apart).
    5. 「大字」 and 「字」 markers are removed (「小字」 is not special: 「西小字長尾」
       is the town 西小 and the 小字 長尾).
    6. Kanji numerals next to address units become Arabic numerals:
       「一丁目」→「1丁目」, 「二番地の三」→「2番地ノ3」, 「北一条」→「北1条」.
       Numerals elsewhere (「三島」, 「十日町」) are left alone. A run that is not
       a well-formed number keeps its leading numerals as text (「郷六二十八番地」
       → 「郷六28番地」).
    7. 「ー」 or 「─」 between two numbers becomes ``-``.

    Parameters
    ----------
    text : str
        Raw address or gazetteer name.

    Returns
    -------
    str
        Canonical text; the empty string for empty input.

    Examples
    --------
    >>> canonical_text("〒471-0001 愛知県豊田市元町１丁目２－３")
    '愛知県豊田市元町1丁目2-3'
    >>> canonical_text("大字高丘字北ヶ谷 二番地の三")
    '高丘北ケ谷2番地ノ3'
    """
    s = text if unicodedata.is_normalized("NFKC", text) else unicodedata.normalize("NFKC", text)
    s = _CHAR_RE.sub(_char_repl, s)
    if "日本" in s:
        s = _LEADING_COUNTRY.sub("", s.lstrip())
    if "〒" in s or s[:1].isdigit():
        s = _POSTAL.sub("", s)
    if " " in s or not s.isprintable():
        s = _WS_KEEP.sub(" ", _WS_DROP.sub("", s)).strip()
    if "字" in s:
        s = s.replace("大字", "").replace("字", "")
    if _HAS_NUM.search(s):
        s = _NUM_BEFORE_UNIT.sub(_kanji_repl, s)
        s = _NUM_AFTER_UNIT.sub(_kanji_repl, s)
    if "ー" in s or "─" in s or "━" in s:
        s = _LONG_DASH.sub("-", s)
    return s
