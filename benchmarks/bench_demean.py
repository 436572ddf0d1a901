"""Demeaning speed: :class:`spillover.estimate.within.Demeaner` vs pyfixest, 10,000 × 8 panel.

Part 1 removes entity, entity + year and entity + pref^year fixed effects from 4 columns
of a 10,000-entity × 8-year panel (10 % of the rows missing at random) with our Demeaner
(build, then demean) and with pyfixest's Rust alternating projections
(``pyfixest.core.demean.demean``) at its default tolerance (1e-6) and at 1e-12, and prints
the largest difference. Part 2 fits 80 models (5 term sets × 2 fixed-effect sets × 2
repeats × 4 radii, as in the spec grids) both ways: ours builds fixed-effect codes, drops
singletons and demeans every column once per (radius, fixed effects), then solves OLS per
model; pyfixest runs ``feols`` (``vcov="iid"``) once per model. Best of ``--repeats``
runs. Run: ``python benchmarks/bench_demean.py``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from spillover.estimate.within import Demeaner, drop_singletons, fe_codes

RADII = (2.0, 5.0, 10.0, 20.0)
YEARS = range(2012, 2020)
FES = (["entity"], ["entity", "year"], ["entity", "pref^year"])
TERM_SETS = (
    ("exports", ["opr", "demand", "shipments"]),
    ("exports", ["opr", "shipments"]),
    ("log_exports", ["opr", "demand", "log_shipments"]),
    ("exports", ["opr", "demand", "shipments", "employees"]),
    ("log_exports", ["opr", "log_shipments"]),
)
MODEL_FES = (["entity"], ["entity", "pref^year"])
COLUMNS = ["exports", "log_exports", "opr", "demand", "shipments", "log_shipments", "employees"]


def build_panel(entities: int, seed: int = 0) -> pd.DataFrame:
    """Entities × years × radii, 10 % of (entity, year) rows missing; sums grow with radius."""
    rng = np.random.default_rng(seed)
    entity = np.repeat(np.arange(entities), len(YEARS))
    year = np.tile(np.array(YEARS), entities)
    present = rng.random(entity.size) > 0.1
    entity, year = entity[present], year[present]
    pref = rng.integers(1, 48, entities)[entity]
    frames = []
    for radius in RADII:
        n = entity.size
        opr = rng.uniform(0, 60, n)
        demand = rng.normal(0, 10, len(YEARS))[year - YEARS[0]] + rng.normal(0, 2, n)
        shipments = rng.lognormal(7 + np.log(radius), 0.5, n)
        exports = np.abs(25 * opr + 15 * demand + 0.05 * shipments + rng.normal(0, 50, n)) + 1
        frames.append(
            pd.DataFrame(
                {
                    "radius_km": radius,
                    "entity": entity,
                    "year": year,
                    "pref": pref,
                    "opr": opr,
                    "demand": demand,
                    "shipments": shipments,
                    "log_shipments": np.log(shipments),
                    "employees": rng.poisson(30 * radius, n).astype(float),
                    "exports": exports,
                    "log_exports": np.log(exports),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def best_of(repeats: int, run: Callable[[], object]) -> tuple[float, object]:
    """Smallest wall time of ``repeats`` calls (seconds) and the last result."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return min(times), result


def demean_only(panel: pd.DataFrame, repeats: int) -> None:
    """Part 1: one radius, 4 columns, each fixed-effect set."""
    from pyfixest.core.demean import demean

    rows = panel[panel["radius_km"] == RADII[0]].reset_index(drop=True)
    values = rows[["exports", "opr", "demand", "shipments"]].to_numpy()
    ones = np.ones(len(rows))
    print(f"Part 1: demean 4 columns, {len(rows):,} rows (ms, best of {repeats})")
    for fe in FES:
        codes = fe_codes(rows, fe)
        build, demeaner = best_of(repeats, lambda codes=codes: Demeaner(codes))
        ours_time, ours = best_of(repeats, lambda d=demeaner: d.demean(values))
        ids = np.column_stack(list(codes.values())).astype(np.uint64)
        line = f"  {'+'.join(fe):18} ours: build {build * 1e3:5.1f} demean {ours_time * 1e3:5.1f}"
        for tol in (1e-6, 1e-12):
            theirs_time, (theirs, _) = best_of(
                repeats, lambda tol=tol, ids=ids: demean(values, ids, ones, tol=tol)
            )
            gap = np.abs(ours - theirs).max() / np.abs(ours).max()
            line += f" | pyfixest tol {tol:g}: {theirs_time * 1e3:5.1f} (gap {gap:.0e})"
        print(line)


def fits_ours(panel: pd.DataFrame) -> dict:
    """Part 2, ours: codes, singletons and one demeaning per (radius, fixed effects)."""
    coefs = {}
    for radius in RADII:
        rows = panel[panel["radius_km"] == radius].reset_index(drop=True)
        for fe in MODEL_FES:
            codes = fe_codes(rows, fe)
            keep = drop_singletons(codes)
            kept = {name: c[keep] for name, c in codes.items()}
            demeaned = Demeaner(kept).demean(rows.loc[keep, COLUMNS].to_numpy())
            column = {name: demeaned[:, i] for i, name in enumerate(COLUMNS)}
            for repeat in range(2):
                for dependent, regressors in TERM_SETS:
                    x = np.column_stack([column[r] for r in regressors])
                    beta = np.linalg.lstsq(x, column[dependent], rcond=None)[0]
                    coefs[(radius, "+".join(fe), dependent, *regressors, repeat)] = beta
    return coefs


def fits_pyfixest(panel: pd.DataFrame) -> dict:
    """Part 2, pyfixest: one ``feols`` call per model."""
    import pyfixest

    data = panel.assign(pref_year=panel["pref"] * 10_000 + panel["year"])
    coefs = {}
    for radius in RADII:
        rows = data[data["radius_km"] == radius]
        for fe in MODEL_FES:
            absorbed = " + ".join(fe).replace("pref^year", "pref_year")
            for repeat in range(2):
                for dependent, regressors in TERM_SETS:
                    formula = f"{dependent} ~ {' + '.join(regressors)} | {absorbed}"
                    model = pyfixest.feols(formula, data=rows, vcov="iid")
                    key = (radius, "+".join(fe), dependent, *regressors, repeat)
                    coefs[key] = model.coef().to_numpy()
    return coefs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    panel = build_panel(args.entities)
    demean_only(panel, args.repeats * 5)
    ours_time, ours = best_of(args.repeats, lambda: fits_ours(panel))
    theirs_time, theirs = best_of(args.repeats, lambda: fits_pyfixest(panel))
    gap = max(float(np.max(np.abs(ours[k] / theirs[k] - 1))) for k in ours)
    print(f"Part 2: {len(ours)} models, {len(panel) // len(RADII):,} rows per radius (s)")
    print(f"  ours (shared demeaning + OLS): {ours_time:.3f}")
    print(f"  pyfixest feols × {len(theirs)}:       {theirs_time:.3f}")
    print(f"  largest relative coefficient difference: {gap:.1e}")


if __name__ == "__main__":
    main()
