"""The demo world at national scale: plants in the real towns of a user's gazetteer.

``spillover demo-world --scale national --gazetteer FILE`` builds a world of about
190,000 establishments a year in several hundred real municipalities, for benchmarks at the
size of the real 工業統計 (:func:`national_params`). The towns come from the gazetteer the
user downloaded (Geolonia ``latest.csv``, the MLIT 位置参照情報 CSVs or the shared
``japan_towns.csv.gz`` layout); nothing of it is shipped, and the world's ``config.yaml``
points at that file instead of writing a synthetic one. Municipalities are drawn with
probability proportional to their number of towns, so dense industrial regions hold many
centres and neighbourhoods overlap there; the plant-level effect of the overlap setting is
planted (:mod:`spillover.demo.plant_effects`), whose truth is checked by estimation.

Municipality codes in the establishment files are serial numbers within the prefecture
(``{pref:02d}{serial:03d}``), not JIS codes: gazetteers in the shared layout carry none.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from spillover.demo.params import WorldParams
from spillover.geocode.address_styles import split_chome
from spillover.geocode.readers import GazetteerFormatError, gazetteer_files, read_gazetteer

#: Municipalities with fewer towns than this are never drawn (villages without industry).
MIN_TOWNS = 20


def national_params(gazetteer: str | Path, *, seed: int = 2023) -> WorldParams:
    """The national-scale world: ≈ 190k establishments a year, ≈ 3,000 centres.

    Parameters
    ----------
    gazetteer : str or pathlib.Path
        A real gazetteer file or folder (see the module docstring).
    seed : int
        Seed of the world.

    Returns
    -------
    WorldParams
        400 municipalities, 2,400 global firms (≈ 3,000 plants), firms of the other kinds
        in the demo's proportions, centres 3 km apart (overlap setting), and 8 % of an
        establishment's addresses rewritten in a new style each year.
    """
    return WorldParams(
        seed=seed,
        n_establishments=190_000,
        n_global_firms=2_400,
        n_large_firms=2_100,
        n_medium_firms=21_500,
        overlap=True,
        gazetteer=str(Path(gazetteer).resolve()),
        n_municipalities=400,
        address_rewrite_share=0.08,
    )


def national_towns(params: WorldParams, rng: np.random.Generator) -> pd.DataFrame:
    """Towns of ``params.n_municipalities`` real municipalities drawn from the gazetteer.

    Parameters
    ----------
    params : WorldParams
        ``gazetteer`` (path) and ``n_municipalities``.
    rng : numpy.random.Generator
        The world's generator.

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`spillover.demo.geography.make_towns`: one row per 大字・町丁目
        (小字 rows left out), ``lat``/``lon`` the gazetteer's point (degrees), ``weight`` the
        municipality's draw times a log-normal town factor.

    Raises
    ------
    GazetteerFormatError
        If the gazetteer has fewer eligible municipalities than asked for.
    """
    _, rows, _ = read_gazetteer(gazetteer_files(Path(params.gazetteer)))
    rows = rows[rows["koaza"] == ""].drop_duplicates(["pref_code", "city", "town"])
    sizes = rows.groupby(["pref_code", "pref", "city"]).size().rename("n_towns").reset_index()
    sizes["city_code"] = [
        f"{pref:02d}{serial:03d}"
        for pref, serial in zip(
            sizes["pref_code"], sizes.groupby("pref_code").cumcount() + 1, strict=True
        )
    ]
    eligible = sizes[sizes["n_towns"] >= MIN_TOWNS].reset_index(drop=True)
    if len(eligible) < params.n_municipalities:
        raise GazetteerFormatError(
            f"{params.gazetteer}: {len(eligible)} municipalities have {MIN_TOWNS} towns or "
            f"more; the national world needs {params.n_municipalities}"
        )
    chosen = eligible.iloc[
        np.sort(
            rng.choice(
                len(eligible),
                params.n_municipalities,
                replace=False,
                p=eligible["n_towns"] / eligible["n_towns"].sum(),
            )
        )
    ].assign(muni=lambda d: np.arange(len(d)), muni_weight=lambda d: rng.lognormal(0, 0.8, len(d)))
    towns = rows.merge(chosen, on=["pref_code", "pref", "city"]).reset_index(drop=True)
    towns["stem"], towns["chome"] = zip(*map(split_chome, towns["town"]), strict=True)
    towns["weight"] = towns["muni_weight"] * rng.lognormal(0, 0.7, len(towns))
    return towns[
        [
            "muni",
            "stem",
            "chome",
            "lat",
            "lon",
            "weight",
            "town",
            "pref_code",
            "pref",
            "city_code",
            "city",
        ]
    ]
