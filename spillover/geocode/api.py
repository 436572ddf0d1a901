"""Public geocoding functions: series in, frame out."""

from __future__ import annotations

import gc
from pathlib import Path

import numpy as np
import pandas as pd

from spillover.geocode.cache import (
    RAW_TYPES,
    cache_path,
    cached_results,
    empty_cache,
    empty_raw_cache,
    raw_cache_path,
    read_cache,
    read_raw_cache,
    write_cache,
    write_raw_cache,
)
from spillover.geocode.index import GazetteerIndex
from spillover.geocode.match import RESULT_FIELDS, Matcher, MatchResult
from spillover.geocode.normalize import canonical_text
from spillover.processes import forked_map

__all__ = ["geocode_addresses", "normalize_address"]

_PROGRESS_EVERY = 10_000
"""Distinct addresses matched between progress-bar updates."""

_FLUSH_EVERY = 200_000
"""Distinct addresses matched between cache writes (and one write at the end)."""

_PROGRESS_THRESHOLD = 50_000
"""A progress bar is shown only when more distinct addresses than this need matching."""


def _canonical_uniques(addresses: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Codes into the list of distinct canonical addresses (missing → "")."""
    raw_codes, raw_uniques = pd.factorize(addresses, use_na_sentinel=True)
    keys = [canonical_text(str(v)) for v in np.asarray(raw_uniques, dtype=object).tolist()]
    key_codes, key_uniques = pd.factorize(pd.Series(keys + [""], dtype=object))
    codes = np.where(raw_codes < 0, key_codes[-1], key_codes[raw_codes])
    return codes, [str(k) for k in key_uniques]


def _match_all(
    keys: list[str], index: GazetteerIndex, *, cache_dir: Path | None, progress: bool
) -> list[MatchResult]:
    path = cache_path(cache_dir, index.checksum) if cache_dir is not None else None
    known = read_cache(path) if path is not None else empty_cache()
    wanted = pd.Index(pd.unique(np.asarray(keys, dtype=object)))  # distinct, in order
    position = pd.Index(known["key"]).get_indexer(wanted)
    hit = position >= 0
    found = dict(zip(wanted[hit], cached_results(known.take(position[hit])), strict=True))
    todo = wanted[~hit].tolist()
    matcher = Matcher(index)
    bar = None
    if progress and len(todo) > _PROGRESS_THRESHOLD:
        from rich.progress import Progress

        bar = Progress(transient=True)
        task = bar.add_task("geocoding", total=len(todo))
        bar.start()
    matched: list[MatchResult] = []
    try:  # on every core: matching is string work that holds the interpreter
        for results in forked_map(matcher.match, todo, _PROGRESS_EVERY):
            matched += results
            done = len(matched)
            if path is not None and (done % _FLUSH_EVERY == 0 or done == len(todo)):
                new = _results_frame(matched)
                new.insert(0, "key", pd.array(todo[:done], dtype="str"))
                write_cache(path, pd.concat([known, new], ignore_index=True))
            if bar is not None:
                bar.update(task, advance=len(results))
    finally:
        if bar is not None:
            bar.stop()
    found.update(zip(todo, matched, strict=True))
    return [found[k] for k in keys]


def _results_frame(results: list[MatchResult]) -> pd.DataFrame:
    """Match results as a typed frame of :data:`RESULT_FIELDS` (the raw cache's types)."""
    cols = (
        dict(zip(RESULT_FIELDS, zip(*results, strict=True), strict=True))
        if results
        else {c: () for c in RESULT_FIELDS}
    )
    frame = pd.DataFrame({c: pd.array(list(cols[c]), dtype="str") for c in RESULT_FIELDS})
    for column, dtype in RAW_TYPES.items():
        frame[column] = np.asarray(cols[column], dtype=dtype)
    return frame


def _distinct_results(
    raws: list[str], index: GazetteerIndex, *, cache_dir: Path | None, progress: bool
) -> pd.DataFrame:
    """Results of the distinct written addresses ``raws``, in their order.

    Addresses in the raw cache are taken from it by one join; the others are normalised,
    then answered by the canonical cache or matched (:func:`_match_all`), and added to the
    raw cache.
    """
    path = raw_cache_path(cache_dir, index.checksum) if cache_dir is not None else None
    known = read_raw_cache(path) if path is not None else empty_raw_cache()
    position = pd.Index(known["raw"]).get_indexer(raws)
    missing = np.flatnonzero(position < 0)
    if len(missing):
        new_raws = [raws[i] for i in missing]
        keys = [key for part in forked_map(canonical_text, new_raws, 50_000) for key in part]
        new = _results_frame(_match_all(keys, index, cache_dir=cache_dir, progress=progress))
        new.insert(0, "raw", pd.array(new_raws, dtype="str"))
        known = pd.concat([known[new.columns], new], ignore_index=True)
        known = known.drop_duplicates("raw", ignore_index=True)
        if path is not None:
            write_raw_cache(path, known)
        position = pd.Index(known["raw"]).get_indexer(raws)
    return known.drop(columns="raw").take(position).reset_index(drop=True)


def geocode_addresses(
    addresses: pd.Series,
    index: GazetteerIndex,
    *,
    cache_dir: Path | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Geocode Japanese addresses offline against a gazetteer.

    Each distinct address is normalised and matched once, whatever the length
    of `addresses`; nothing leaves the machine. With ``cache_dir``, an address
    written exactly as in an earlier call is answered from the raw cache
    without being normalised.

    Parameters
    ----------
    addresses : pandas.Series
        Addresses as typed by respondents (str; missing values give level
        ``"none"``).
    index : GazetteerIndex
        From :func:`spillover.geocode.load_gazetteer`.
    cache_dir : pathlib.Path, optional
        Directory of the result cache (see :mod:`spillover.geocode.cache`);
        addresses already geocoded against the same gazetteer are not matched
        again, and new results are added (atomically).
    progress : bool, default False
        Show a rich progress bar when more than 50,000 distinct addresses
        need matching.

    Returns
    -------
    pandas.DataFrame
        Same index as `addresses`, columns:

        - ``lat``, ``lon`` (float64, degrees WGS84): the point of the deepest level
          reached; NaN when ``level == "none"``.
        - ``level`` (str): ``block``, ``town``, ``oaza``, ``city``, ``pref`` or ``none``.
        - ``pref``, ``city``, ``town`` (str): matched gazetteer names, missing
          (NaN) where not reached (for ``oaza`` the 大字 name, e.g. 元町; for a 政令市
          written without its 区 and not resolved to one ward, the city name).
        - ``pref_code`` (Int64): JIS prefecture code, <NA> for ``none``.
        - ``normalized`` (str): canonical address key (prefecture, municipality and
          town as in the gazetteer, block numbers joined by ``-``, building
          names dropped) where matched; the character-normalised text otherwise.
        - ``ambiguous`` (bool): True when several gazetteer places fit equally
          well, or text after a town could name a longer town; the result then
          stops at the deepest level they share.
        - ``note`` (str): what was not used or not explained (text before the
          address, unexplained text after a town, a dropped 町/村 suffix);
          missing when nothing.
        - ``municipality_mapped_from`` (str): the municipality as written (canonical
          form) when the gazetteer lacks it and the municipal history mapped it to the
          gazetteer's municipalities (浜松市中央区 against a gazetteer with the old wards,
          筑紫郡那珂川町 against one with 那珂川市); missing otherwise.

    Raises
    ------
    TypeError
        If `addresses` is not a pandas Series.
    """
    if not isinstance(addresses, pd.Series):
        raise TypeError(f"addresses must be a pandas Series, not {type(addresses).__name__}")
    # The cyclic garbage collector would rescan the index's millions of objects
    # again and again while results are allocated; none of them form cycles.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        raw_codes, raw_uniques = pd.factorize(addresses, use_na_sentinel=True)
        raws = [str(v) for v in np.asarray(raw_uniques, dtype=object).tolist()] + [""]
        codes = np.where(raw_codes < 0, len(raws) - 1, raw_codes)  # missing → ""
        distinct = _distinct_results(raws, index, cache_dir=cache_dir, progress=progress)
    finally:
        if gc_was_enabled:
            gc.enable()
    # one vectorised take per column
    pref_code = distinct["pref_code"].to_numpy(dtype=np.int64)[codes]
    note = distinct["note"].where(distinct["note"] != "")
    mapped = distinct["municipality_mapped_from"]
    mapped = mapped.where(mapped != "")
    return pd.DataFrame(
        {
            "lat": distinct["lat"].to_numpy()[codes],
            "lon": distinct["lon"].to_numpy()[codes],
            "level": distinct["level"].array.take(codes),
            "pref": distinct["pref"].array.take(codes),
            "city": distinct["city"].array.take(codes),
            "town": distinct["town"].array.take(codes),
            "pref_code": pd.arrays.IntegerArray(pref_code, pref_code <= 0),
            "normalized": distinct["normalized"].array.take(codes),
            "ambiguous": distinct["ambiguous"].to_numpy()[codes],
            "note": note.array.take(codes),
            "municipality_mapped_from": mapped.array.take(codes),
        },
        index=addresses.index,
    )


def normalize_address(address: str | pd.Series, *, index: GazetteerIndex | None = None):
    """Turn an address into its canonical key.

    Without a gazetteer only character-level rules apply (see
    :func:`spillover.geocode.normalize.canonical_text`): NFKC, 旧字体, ケ/ヶ/が,
    ノ/の/之, dashes, postal codes, spaces, 大字/字, 漢数字 next to 丁目・番地・号.
    With a gazetteer the key is rebuilt from the matched names, which also
    resolves an omitted prefecture, an omitted 郡, a 政令市 written without its
    区, 「1-2-3」 for 「1丁目2番3号」 and 番地/号 forms, and drops trailing
    building and floor names.

    Parameters
    ----------
    address : str or pandas.Series
        Address(es).
    index : GazetteerIndex, optional
        Gazetteer for the full canonical key.

    Returns
    -------
    str or pandas.Series
        Same shape as `address`.

    Examples
    --------
    >>> normalize_address("〒471-0001 愛知県豊田市元町１丁目２番地の３ 山田ビル")
    '愛知県豊田市元町1丁目2番地ノ3山田ビル'
    """
    if isinstance(address, pd.Series):
        if index is None:
            codes, keys = _canonical_uniques(address)
            return pd.Series(
                np.asarray(keys, dtype=object)[codes], index=address.index, dtype="str"
            )
        return geocode_addresses(address, index)["normalized"]
    if index is None:
        return canonical_text(address)
    return Matcher(index).match(canonical_text(address))[RESULT_FIELDS.index("normalized")]
