"""Proposing a firm crosswalk when none exists: 法人番号 first, then name and address.

A survey's firm list (``source_id, corporate_number, name, address``) is matched to the
canonical firm register (``firm_id, corporate_number, name, address``) in two exact steps:

1. 法人番号 (corporate number, 13 digits) whose check digit is right, equal on both sides;
2. 本社名称 and 所在地 equal after normalisation (:func:`normalise_name`: NFKC, legal-form
   words such as 株式会社/(株)/㈱ removed, spaces removed; the address by the geocoder's
   :func:`~spillover.geocode.normalize.canonical_text`), when exactly one register firm has
   them.

What is left is never linked: the best register names within the same normalised address
prefix are *reported* as near matches (rapidfuzz similarity, 0–100) for a person to accept
by adding rows to the crosswalk. Invalid corporate numbers are reported too.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import pandas as pd

#: Legal-form words dropped from firm names before comparing them (after NFKC).
LEGAL_FORMS = (
    "株式会社",
    "有限会社",
    "合同会社",
    "合資会社",
    "合名会社",
    "(株)",
    "(有)",
    "(同)",
    "(資)",
    "(名)",
)
#: Near matches scoring below this (rapidfuzz ``token_sort_ratio``, 0–100) are not listed.
NEAR_MATCH_SCORE = 80.0
#: Characters of the normalised address two firms must share to be compared by name.
ADDRESS_PREFIX = 6


def corporate_number_valid(number: str) -> bool:
    """Whether ``number`` is a 13-digit 法人番号 with the right check digit.

    The first digit is the check digit: 9 − (Σ Pₙ × Qₙ mod 9) over the 12 other digits,
    Pₙ the n-th digit counted from the right, Qₙ 1 for odd n and 2 for even n (国税庁).
    """
    if not re.fullmatch(r"\d{13}", number):
        return False
    digits = [int(d) for d in reversed(number[1:])]
    total = sum(d * (1 if n % 2 else 2) for n, d in enumerate(digits, start=1))
    return int(number[0]) == 9 - total % 9


def normalise_name(name: str) -> str:
    """A firm name for comparison: NFKC, legal-form words and all spaces removed."""
    text = unicodedata.normalize("NFKC", name or "")
    for form in LEGAL_FORMS:
        text = text.replace(form, "")
    return re.sub(r"\s+", "", text).lower()


def normalise_address(address: str) -> str:
    """An address for comparison, as the geocoder normalises it."""
    from spillover.geocode.normalize import canonical_text

    return canonical_text(address or "")


@dataclass
class Proposal:
    """What :func:`propose_crosswalk` found."""

    #: ``source, source_id, firm_id, valid_from, valid_to, method`` — exact matches only
    crosswalk: pd.DataFrame
    #: ``source_id, name, address, firm_id, firm_name, firm_address, score`` — to review
    near_matches: pd.DataFrame
    #: ``source_id, corporate_number`` whose check digit is wrong (on the survey side)
    invalid_numbers: pd.DataFrame
    #: survey firms neither linked nor with a near match
    unmatched: pd.DataFrame

    def counts(self) -> dict[str, int]:
        """Survey firms by outcome."""
        methods = self.crosswalk["method"].value_counts()
        return {
            "corporate_number": int(methods.get("corporate_number", 0)),
            "name_address": int(methods.get("name_address", 0)),
            "near_match_to_review": int(self.near_matches["source_id"].nunique()),
            "unmatched": len(self.unmatched),
            "invalid_corporate_numbers": len(self.invalid_numbers),
        }


def _prepared(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    if "corporate_number" not in out:
        out["corporate_number"] = None
    number = (
        out["corporate_number"].astype("str").str.strip().where(out["corporate_number"].notna())
    )
    out["corporate_number"] = number
    out["number_valid"] = number.fillna("").map(corporate_number_valid)
    out["key_name"] = out["name"].fillna("").map(normalise_name)
    out["key_address"] = out["address"].fillna("").map(normalise_address)
    return out


def _near_matches(rest: pd.DataFrame, register: pd.DataFrame) -> pd.DataFrame:
    """Register firms whose name scores ≥ :data:`NEAR_MATCH_SCORE`, same address prefix."""
    from rapidfuzz import fuzz, process

    found = []
    prefix = register["key_address"].str[:ADDRESS_PREFIX]
    for row in rest.itertuples():
        pool = register[prefix == row.key_address[:ADDRESS_PREFIX]]
        if pool.empty:
            continue
        hits = process.extract(
            row.key_name,
            pool["key_name"].tolist(),
            scorer=fuzz.token_sort_ratio,
            score_cutoff=NEAR_MATCH_SCORE,
            limit=3,
        )
        for _, score, position in hits:
            firm = pool.iloc[position]
            found.append(
                {
                    "source_id": row.source_id,
                    "name": row.name,
                    "address": row.address,
                    "firm_id": firm["firm_id"],
                    "firm_name": firm["name"],
                    "firm_address": firm["address"],
                    "score": round(float(score), 1),
                }
            )
    columns = ["source_id", "name", "address", "firm_id", "firm_name", "firm_address", "score"]
    return pd.DataFrame(found, columns=columns)


def propose_crosswalk(survey: pd.DataFrame, register: pd.DataFrame, *, source: str) -> Proposal:
    """Match a survey's firms to the register; link exact matches, report the rest.

    Parameters
    ----------
    survey : pandas.DataFrame
        ``source_id``, ``name``, ``address`` and optionally ``corporate_number``.
    register : pandas.DataFrame
        ``firm_id``, ``name``, ``address`` and optionally ``corporate_number``.
    source : str
        The survey's source name in the config (the crosswalk's ``source``).

    Returns
    -------
    Proposal
        The crosswalk rows (``method`` says which step linked them), near matches to
        review, invalid corporate numbers and the survey firms left unmatched.
    """
    left, right = _prepared(survey), _prepared(register)
    by_number = right[right["number_valid"]].drop_duplicates("corporate_number", keep=False)
    numbered = left[left["number_valid"]].merge(
        by_number[["corporate_number", "firm_id"]], on="corporate_number"
    )
    rest = left[~left["source_id"].isin(numbered["source_id"])]
    unique = right.drop_duplicates(["key_name", "key_address"], keep=False)
    named = rest[(rest["key_name"] != "") & (rest["key_address"] != "")].merge(
        unique[["key_name", "key_address", "firm_id"]], on=["key_name", "key_address"]
    )
    links = pd.concat(
        [
            numbered[["source_id", "firm_id"]].assign(method="corporate_number"),
            named[["source_id", "firm_id"]].assign(method="name_address"),
        ],
        ignore_index=True,
    )
    crosswalk = links.assign(source=source, valid_from=pd.NA, valid_to=pd.NA)[
        ["source", "source_id", "firm_id", "valid_from", "valid_to", "method"]
    ]
    rest = rest[~rest["source_id"].isin(named["source_id"])]
    near = _near_matches(rest, right)
    invalid = left[left["corporate_number"].notna() & ~left["number_valid"]]
    return Proposal(
        crosswalk=crosswalk,
        near_matches=near,
        invalid_numbers=invalid[["source_id", "corporate_number"]].reset_index(drop=True),
        unmatched=rest[~rest["source_id"].isin(near["source_id"])][
            ["source_id", "name", "address"]
        ].reset_index(drop=True),
    )
