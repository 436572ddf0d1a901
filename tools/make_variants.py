"""Build spillover/geocode/variants.csv from two published 異体字 tables (facts only).

Usage: python tools/make_variants.py ITAIJI_DIC_JSON JA_ITAIJI_JSON > spillover/geocode/variants.csv

The two JSON files come from the wheels ``jageocoder==2.2.1.1`` (``jageocoder/itaiji_dic.json``)
and ``ja-itaiji==1.0.2`` (``ja_itaiji/data/term/ja-itaiji.json``), both MIT-licensed; neither
package is a dependency (``pip download --no-deps`` them, then unzip). The CSV starts with a
comment naming them. Rows:

- each pair of jageocoder's itaiji_dic.json, folded towards its JIS X 0208 level-1 kanji
  (檜 → 桧, 曾 → 曽); a pair of two level-1 kanji (阪/坂, 舟/船, 埼/崎) is left out, so the
  canonical keys keep the common characters apart;
- from ja-itaiji's families: each kanji outside JIS X 0208 (the NEC and IBM extension kanji
  of CP932 that registers typed on Windows contain — 瀨, 黑 — and the JIS X 0213 ones of
  UTF-8 registers — 驒) → the one JIS X 0208 kanji of its family, when there is exactly one.
"""

from __future__ import annotations

import csv
import json
import sys
import unicodedata


def jis_row(character: str) -> int | None:
    """The JIS X 0208 row of a character (16–47: level-1 kanji, 48–84: level 2), or None."""
    try:
        code = character.encode("euc_jp")
    except UnicodeEncodeError:
        return None
    return code[0] - 0xA0 if len(code) == 2 and 0xA1 <= code[0] <= 0xFE else None


def in_jis_x_0208(character: str) -> bool:
    """Whether the character is a JIS X 0208 kanji."""
    row = jis_row(character)
    return row is not None and 16 <= row <= 84


def level_1(character: str) -> bool:
    """Whether the character is a JIS X 0208 level-1 kanji (the common ones)."""
    row = jis_row(character)
    return row is not None and 16 <= row <= 47


def oriented(variant: str, canonical: str) -> tuple[str, str] | None:
    """A pair folded towards its level-1 kanji.

    None when both are level 1: two common characters that only some place names swap,
    like 阪/坂 or 舟/船, stay apart.
    """
    kanji = all(unicodedata.name(c, "").startswith("CJK") for c in (variant, canonical))
    if not kanji:  # kana and kanji written alike (ケ/が, 乃/の): as published
        return variant, canonical
    if level_1(variant) and level_1(canonical):
        return None
    if level_1(variant):
        return canonical, variant
    return variant, canonical


#: The CSV's header comment: what it is and where each row comes from.
HEADER = (
    "異体字 → the form both gazetteer names and addresses are folded to (facts only).",
    "jageocoder: jageocoder 2.2.1.1, jageocoder/itaiji_dic.json,",
    "  (c) 2021 Takeshi SAGARA, MIT License: towards the JIS X 0208 level-1 kanji;",
    "  pairs of two level-1 kanji left out.",
    "ja-itaiji: ja-itaiji 1.0.2, ja_itaiji/data/term/ja-itaiji.json,",
    "  (c) 2024 Manchuria Museum, MIT License: a kanji outside JIS X 0208 → the one",
    "  JIS X 0208 kanji of its family. Made by tools/make_variants.py.",
)


def main() -> None:
    """Write the CSV to standard output."""
    with open(sys.argv[1], encoding="utf-8") as handle:
        jageocoder = json.load(handle)
    with open(sys.argv[2], encoding="utf-8") as handle:
        itaiji = json.load(handle)
    pairs = (oriented(v, c) for v, c in jageocoder.items() if v != c)
    rows = [(*pair, "jageocoder") for pair in pairs if pair is not None]
    seen = {v for v, _, _ in rows}
    for character, family in sorted(itaiji.items()):
        kanji = unicodedata.name(character, "").startswith("CJK")
        if not kanji or character in seen or in_jis_x_0208(character):
            continue
        targets = sorted({c for c in family if in_jis_x_0208(c)})
        if len(targets) == 1:
            rows.append((character, targets[0], "ja-itaiji"))
    for line in HEADER:
        print(f"# {line}")
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["variant", "canonical", "source"])
    writer.writerows(rows)


if __name__ == "__main__":
    main()
