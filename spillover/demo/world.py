"""The synthetic demo world: the real surveys' layouts, fake numbers, planted effects.

:func:`build_demo_world` writes, under one folder, raw files in the layouts of
工業統計調査 / 経済センサス‐活動調査 (CP932 and UTF-8, Japanese column names, 万円 and 百万円),
企業活動基本調査, 海外事業活動基本調査 (現地法人票, 本社企業票), 鉱工業 export ratios, the Tankan
「海外での製商品需給判断DI」, a gazetteer in Geolonia ``latest.csv`` layout, a ``config.yaml``
that maps them, and ``truth.json`` with the planted coefficients (neighbourhood level by default,
plant level in the overlap setting, where neighbourhoods overlap).

The data-generating process, and why the planted coefficients are exactly identified, is
documented in :mod:`spillover.demo.dgp`. The world is built by:

* :mod:`spillover.demo.geography` — synthetic 町丁目, their gazetteer, where centres stand;
* :mod:`spillover.demo.firms` — firms, overseas affiliates (OPR), the firm survey;
* :mod:`spillover.demo.establishments` — the establishment pool;
* :mod:`spillover.demo.dgp` — the years, the planted effects and the Tankan DI;
* :mod:`spillover.demo.plant_effects` — the plant-level effect of the overlap setting;
* :mod:`spillover.demo.addresses` — addresses written as respondents type them;
* :mod:`spillover.demo.layouts` and :mod:`spillover.demo.writers` — the raw files and config.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spillover.demo.dgp import build_world_frames
from spillover.demo.layouts import demo_config
from spillover.demo.params import WorldParams
from spillover.demo.writers import write_config_and_truth, write_raw_files

__all__ = ["DemoWorld", "WorldParams", "build_demo_world", "build_world_frames", "demo_config"]


@dataclass
class DemoWorld:
    """What :func:`build_demo_world` wrote.

    Attributes
    ----------
    root : pathlib.Path
        Folder of the demo world.
    config_path : pathlib.Path
        Its ``config.yaml``.
    truth_path : pathlib.Path
        Its ``truth.json`` (planted coefficients).
    n_establishment_rows : int
        Rows written to the establishment files, broken rows included.
    n_centres : int
        Centres (plants of global firms).
    """

    root: Path
    config_path: Path
    truth_path: Path
    n_establishment_rows: int
    n_centres: int


def build_demo_world(out: str | Path, params: WorldParams | None = None) -> DemoWorld:
    """Generate the demo world under ``out``.

    Parameters
    ----------
    out : str or pathlib.Path
        Folder to write into (created if needed).
    params : WorldParams, optional
        Size, shape and seed of the world; the defaults if omitted.

    Returns
    -------
    DemoWorld
        Where its config and truth are, and how many rows and centres it has.
    """
    params = params or WorldParams()
    out = Path(out).resolve()
    world = build_world_frames(params)
    n_rows = write_raw_files(world, out, params, np.random.default_rng(params.seed + 1))
    config_path, truth_path = write_config_and_truth(out, params, world["truth"])
    return DemoWorld(out, config_path, truth_path, n_rows, world["truth"]["n_centres"])
