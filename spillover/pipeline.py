"""The pipeline: stage functions over a run directory, used by the CLI and the Airflow DAG.

A run directory (``<work_root>/<run_id>/``) holds the frozen config (``config.json``), each
stage's Parquet outputs under ``tables/``, rejected rows under ``quarantine/`` and a JSON
report per stage under ``reports/`` (rows in / out / quarantined, seconds). Stages read only
from the run directory, so a retried stage overwrites its own outputs (idempotent), and the
CLI and the DAG pass nothing but the run directory's path.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from spillover import aggregate, disclosure, estimate, exports, firms, panel
from spillover.config import Config, ModelSpec, dump_config, load_config, parse_config
from spillover.errors import SpilloverError
from spillover.ingest import ingest_all
from spillover.quarantine import COLUMNS as QUARANTINE_COLUMNS
from spillover.quarantine import rejected_rows
from spillover.schemas import validate
from spillover.storage import (
    package_versions,
    publish,
    read_dataset,
    version_dir,
    write_dataset,
    write_json_atomic,
)

STAGES = (
    "ingest",
    "geocode",
    "firms",
    "exports",
    "neighbourhoods",
    "exposure",
    "panel",
    "estimate",
    "publish",
)

#: Datasets of the output root and whether they may leave the secure environment.
DATASETS = {
    "plants": "confidential",
    "global_firms": "confidential",
    "neighbourhoods": "confidential",
    "overlap": "confidential",
    "exposure": "confidential",
    "panel": "confidential",
    "plant_panel": "confidential",
    "quarantine": "confidential",
    "estimates": "releasable",
    "decomposition": "releasable",
    "public/neighbourhoods": "disclosure-controlled",
}


class PipelineError(SpilloverError, RuntimeError):
    """A stage cannot run (missing inputs, bad data above the configured limits)."""


@dataclass(frozen=True)
class Run:
    """An open run: its directory and frozen config."""

    workdir: Path
    run_id: str
    config: Config

    def table(self, name: str) -> pd.DataFrame:
        """Read an intermediate table written by an earlier stage."""
        path = self.workdir / "tables" / f"{name}.parquet"
        if not path.exists():
            raise PipelineError(f"{path} is missing: run the stage that writes {name!r} first")
        return pd.read_parquet(path)

    def write(self, name: str, frame: pd.DataFrame) -> None:
        """Write an intermediate table (replacing an earlier attempt)."""
        path = self.workdir / "tables" / f"{name}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(path, index=False)

    def quarantine(self, stage: str, frame: pd.DataFrame) -> None:
        """Write the rows a stage rejected (an empty file when there are none)."""
        path = self.workdir / "quarantine" / f"{stage}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.reindex(columns=QUARANTINE_COLUMNS).astype({"line": "Int64"}).to_parquet(
            path, index=False
        )


# ---------------------------------------------------------------- runs


def _safe_run_id(run_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-]+", "_", run_id).strip("_") or "run"


def start_run(config_path: str | Path, *, run_id: str | None = None) -> Path:
    """Validate the config, create the run directory and freeze the config into it."""
    config = load_config(config_path)
    run_id = _safe_run_id(run_id or datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"))
    workdir = config.resolve(config.work_root) / run_id
    for stale in ("tables", "quarantine", "reports"):  # a re-used run id starts clean
        shutil.rmtree(workdir / stale, ignore_errors=True)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "config.json").write_text(dump_config(config), encoding="utf-8")
    write_json_atomic(
        {
            "run_id": run_id,
            "config_path": str(Path(config_path).resolve()),
            "config_sha256": config.digest(),
            "started": datetime.now(UTC).isoformat(),
        },
        workdir / "run.json",
    )
    return workdir


def open_run(workdir: str | Path) -> Run:
    """Load a run directory created by :func:`start_run`."""
    workdir = Path(workdir)
    if not (workdir / "config.json").exists() or not (workdir / "run.json").exists():
        raise PipelineError(
            f"{workdir} is not a run directory (no config.json/run.json): start one with "
            "`spillover run --config …` or pipeline.start_run()"
        )
    data = json.loads((workdir / "config.json").read_text(encoding="utf-8"))
    config = parse_config(
        data, base_dir=Path(data["base_dir"]), origin=str(workdir / "config.json")
    )
    run_info = json.loads((workdir / "run.json").read_text(encoding="utf-8"))
    return Run(workdir, run_info["run_id"], config)


def _counts(series: pd.Series) -> dict[str, int]:
    """A value-count or group-size Series as a JSON-ready dict."""
    return {str(key): int(value) for key, value in series.items()}


def _report(run: Run, stage: str, started: float, **fields) -> dict:
    report = {"stage": stage, "seconds": round(time.perf_counter() - started, 3), **fields}
    write_json_atomic(report, run.workdir / "reports" / f"{stage}.json")
    return report


# ---------------------------------------------------------------- stages


def stage_ingest(run: Run) -> dict:
    """Read every raw source into canonical tables; quarantine rows that break the contract."""
    started = time.perf_counter()
    result = ingest_all(run.config)
    for name, frame in result.tables.items():
        run.write(name, validate(name, frame))
    run.quarantine("ingest", result.quarantine)
    sources = [vars(report) for report in result.reports]
    return _report(
        run,
        "ingest",
        started,
        rows_in=sum(s["rows_in"] for s in sources),
        rows_out=sum(s["rows_out"] for s in sources),
        rows_quarantined=sum(s["rows_quarantined"] for s in sources),
        sources=sources,
    )


def locate_establishments(
    establishments: pd.DataFrame, gazetteer, *, cache_dir: Path | None, progress: bool
) -> pd.DataFrame:
    """Coordinates for every establishment row: given lat/lon, else address, else mesh.

    ``geocode_level`` is ``latlon`` (given and inside Japan), a geocoder level
    (block/town/oaza/city/pref) or ``mesh`` (mesh-cell centre used where the address did not
    reach town level), else ``none``.
    """
    from spillover.geocode import geocode_addresses, mesh_to_latlon, validate_latlon

    out = establishments.copy()
    given = out["lat"].notna() & out["lon"].notna()
    given &= pd.Series(
        validate_latlon(out["lat"].to_numpy(), out["lon"].to_numpy()), index=out.index
    )
    coded = geocode_addresses(
        out["address"].fillna(""), gazetteer, cache_dir=cache_dir, progress=progress
    )
    out["geocode_level"] = coded["level"].where(~given, "latlon")
    out["lat"] = out["lat"].where(given, coded["lat"])
    out["lon"] = out["lon"].where(given, coded["lon"])
    for column in ("pref", "city", "town"):
        out[f"geocode_{column}"] = coded[column].where(~given)
    out["geocode_ambiguous"] = coded["ambiguous"].where(~given, False).astype(bool)
    out["geocode_pref_code"] = coded["pref_code"].where(~given)
    coarse = ~given & ~coded["level"].isin(["block", "town", "oaza"]) & out["mesh_code"].notna()
    if coarse.any():
        mesh_lat, mesh_lon = mesh_to_latlon(out.loc[coarse, "mesh_code"])
        ok = ~np.isnan(mesh_lat)
        hit = coarse[coarse].index[ok]
        out.loc[hit, "lat"], out.loc[hit, "lon"] = mesh_lat[ok], mesh_lon[ok]
        out.loc[hit, "geocode_level"] = "mesh"
    out["pref_mismatch"] = (
        out["geocode_pref_code"].notna() & (out["geocode_pref_code"] != out["pref_code"])
    ).astype(bool)
    return out


def stage_geocode(run: Run, progress: bool = False) -> dict:
    """Place every establishment; rows that cannot be placed go to quarantine."""
    from spillover.geocode import load_gazetteer

    started = time.perf_counter()
    config = run.config
    establishments = run.table("establishments")
    index_dir = config.resolve(config.gazetteer.index_dir) if config.gazetteer.index_dir else None
    gazetteer = load_gazetteer(config.resolve(config.gazetteer.path), index_dir=index_dir)
    cache_dir = config.resolve(config.cache_dir) / "geocode" if config.cache_dir else None
    located = locate_establishments(
        establishments, gazetteer, cache_dir=cache_dir, progress=progress
    )
    reasons = geocode_rejections(located, config)
    rejected = reasons.notna()
    run.quarantine(
        "geocode",
        rejected_rows(
            located[rejected],
            stage="geocode",
            table="establishments",
            column="address",
            reasons=reasons,
        ),
    )
    share = rejected.mean() if len(located) else 0.0
    if share > config.quarantine.max_share:
        raise PipelineError(
            f"geocode: {int(rejected.sum())} of {len(located)} establishment rows ({share:.1%}) "
            f"could not be placed, above quarantine.max_share = {config.quarantine.max_share:.1%}"
            f" (is gazetteer.path the right file?); see {run.workdir / 'quarantine'}"
        )
    run.write("plants_located", located.loc[~rejected])
    return _report(
        run,
        "geocode",
        started,
        rows_in=len(located),
        rows_out=int((~rejected).sum()),
        rows_quarantined=int(rejected.sum()),
        levels=_counts(located["geocode_level"].value_counts()),
        pref_mismatch=int(located["pref_mismatch"].sum()),
        ambiguous=int(located["geocode_ambiguous"].sum()),
    )


#: Geocoder levels from finest to coarsest.
LEVEL_ORDER = ("block", "town", "oaza", "city", "pref", "none")


def geocode_rejections(located: pd.DataFrame, config: Config) -> pd.Series:
    """Why each located row cannot be used (NaN where it can)."""
    address = located["address"].fillna("(empty)").astype("str")
    level = located["geocode_level"]
    rank = level.map({name: i for i, name in enumerate(LEVEL_ORDER)})
    minimum = config.gazetteer.min_level
    too_coarse = rank > LEVEL_ORDER.index(minimum)  # latlon / mesh have no rank: accepted
    reasons = pd.Series(np.nan, index=located.index, dtype="object")
    unplaced = located["lat"].isna()
    reasons[unplaced] = (
        "address not resolved by the gazetteer and no usable mesh code or lat/lon: "
        + address[unplaced]
    )
    too_coarse &= ~unplaced
    reasons[too_coarse] = (
        "address resolved only to "
        + level[too_coarse]
        + ", coarser than gazetteer.min_level = "
        + minimum
        + " (and no usable mesh code or lat/lon): "
        + address[too_coarse]
    )
    if config.gazetteer.on_pref_mismatch == "quarantine":
        mismatch = located["pref_mismatch"] & reasons.isna()
        reasons[mismatch] = (
            "address lies in "
            + located.loc[mismatch, "geocode_pref"].astype("str")
            + " ("
            + located.loc[mismatch, "geocode_pref_code"].astype("str")
            + ") but pref_code is "
            + located.loc[mismatch, "pref_code"].astype("str")
            + ": "
            + address[mismatch]
        )
    return reasons


def stage_firms(run: Run) -> dict:
    """Capital, OPR and the global-firm flag per firm and year."""
    started = time.perf_counter()
    affiliates = run.table("affiliates")
    definitions = run.config.definitions
    table = firms.global_firms(
        run.table("firms"), affiliates, run.table("parents"), definitions=definitions
    )
    orphans = firms.orphan_affiliates(affiliates, table, offset=definitions.firm_year_offset)
    run.quarantine(
        "firms",
        rejected_rows(
            affiliates[orphans],
            stage="firms",
            table="affiliates",
            column="parent_firm_id",
            reasons=pd.Series(
                "parent firm is in neither 本社企業票 nor 企業活動基本調査 that year: its sales "
                "cannot enter any OPR",
                index=affiliates.index,
            ),
        ),
    )
    run.write("global_firms", table)
    return _report(
        run,
        "firms",
        started,
        rows_in=len(table) + len(affiliates),
        rows_out=len(table) + int((~orphans).sum()),
        rows_quarantined=int(orphans.sum()),
        opr_missing=int(table["opr"].isna().sum()),
        global_firms_by_year=_counts(table[table["is_global"]].groupby("year").size()),
    )


def stage_exports(run: Run) -> dict:
    """Classify plants (centre, large firm) and compute establishment exports."""
    started = time.perf_counter()
    config = run.config
    located = run.table("plants_located")
    in_years = located["year"].between(*config.years)
    first, last = config.years
    run.quarantine(
        "exports",
        rejected_rows(
            located[~in_years],
            stage="exports",
            table="establishments",
            column="year",
            reasons=pd.Series(f"year outside the run's years {first}–{last}", index=located.index),
        ),
    )
    plants = exports.classify_plants(located[in_years], run.table("global_firms"), config=config)
    ratios = run.table("export_ratios") if config.sources.get("export_ratios") else None
    concordance = (
        run.table("export_ratio_concordance")
        if config.sources.get("export_ratio_concordance")
        else None
    )
    plants = exports.establishment_exports(
        plants,
        run.table("firms"),
        ratios,
        concordance,
        fallback=list(config.exports.fallback),
        firm_year_offset=config.definitions.firm_year_offset,
    )
    run.write("plants", plants)
    return _report(
        run,
        "exports",
        started,
        rows_in=len(in_years),
        rows_out=len(plants),
        rows_quarantined=int((~in_years).sum()),
        export_methods=_counts(plants["export_method"].value_counts()),
        centres_by_year=_counts(plants[plants["is_centre"]].groupby("year").size()),
    )


def stage_neighbourhoods(run: Run) -> dict:
    """Sum the qualifying establishments around every centre, per year and radius."""
    started = time.perf_counter()
    plants = run.table("plants")
    settings = run.config.neighbourhoods
    table = aggregate.neighbourhood_table(plants, settings)
    overlap = aggregate.overlap_table(plants, settings)
    run.write("neighbourhoods", table)
    run.write("overlap", overlap)
    return _report(
        run,
        "neighbourhoods",
        started,
        rows_in=len(plants),
        rows_out=len(table),
        rows_quarantined=0,
        cells_by_radius=_counts(table.groupby("radius_km").size()),
        empty_neighbourhoods=int((table["n_neighbours"] == 0).sum()),
        mean_share_exports_repeat_counted={
            str(radius): round(float(share), 4)
            for radius, share in overlap.groupby("radius_km")["share_exports_excess"].mean().items()
        },
    )


def stage_exposure(run: Run) -> dict:
    """Plant-level exposure of every non-excluded establishment to global-firm plants nearby."""
    started = time.perf_counter()
    plants = run.table("plants")
    table = aggregate.exposure_table(plants, run.table("global_firms"), run.config.neighbourhoods)
    run.write("exposure", table)
    return _report(
        run,
        "exposure",
        started,
        rows_in=len(plants),
        rows_out=len(table),
        rows_quarantined=0,
        exposed_establishment_years=_counts(
            table[table["n_centres"] > 0].groupby("radius_km").size()
        ),
    )


def stage_panel(run: Run) -> dict:
    """Centre × year panel: neighbourhood sums, OPR and external demand."""
    started = time.perf_counter()
    settings = run.config.external_demand
    demand = panel.annual_external_demand(run.table("external_demand"), settings)
    plants = run.table("plants")
    table = panel.build_panel(
        run.table("neighbourhoods"),
        plants[plants["is_centre"]],
        run.table("global_firms"),
        demand,
        settings=settings,
    )
    plant_table = panel.build_plant_panel(run.table("exposure"), plants, demand, settings=settings)
    run.write("panel", table)
    run.write("plant_panel", plant_table)
    run.write("external_demand_annual", demand)
    return _report(
        run,
        "panel",
        started,
        rows_in=len(table) + len(plant_table),
        rows_out=len(table) + len(plant_table),
        rows_quarantined=0,
        neighbourhood_rows=len(table),
        plant_rows=len(plant_table),
        missing_opr=int(table["opr"].isna().sum()),
        missing_external_demand=int(table["external_demand"].isna().sum()),
    )


def spec_ids(workdir: str | Path) -> list[str]:
    """The model spec ids of a run (for mapped estimation tasks)."""
    return [spec.id for spec in open_run(workdir).config.models]


def stage_estimate(run: Run, only: list[str] | None = None) -> dict:
    """Fit each model spec (or only the given ids); write its estimates and decomposition."""
    started = time.perf_counter()
    tables = {"neighbourhood": run.table("panel"), "plant": run.table("plant_panel")}
    specs: list[ModelSpec] = [s for s in run.config.models if only is None or s.id in only]
    unknown = set(only or []) - {s.id for s in specs}
    if unknown:
        raise PipelineError(f"unknown model spec id(s) {sorted(unknown)}")
    fitted, selected = {}, {}
    for spec in specs:
        table = tables[spec.family]
        selected[spec.id] = len(estimate.spec_rows(table, spec))
        result = estimate.fit_spec(table, spec)
        rows = estimate.estimates_table(spec, result)
        run.write(f"estimates/{spec.id}", rows)
        run.write(f"decomposition/{spec.id}", estimate.decomposition(table, spec, rows))
        fitted[spec.id] = int(result.nobs)
    # rows of a spec's radius and years that miss a variable are left out of its sample
    return _report(
        run,
        "estimate" if only is None else f"estimate-{'-'.join(only)}",
        started,
        rows_in=sum(selected.values()),
        rows_out=sum(fitted.values()),
        rows_quarantined=0,
        rows_incomplete=sum(selected.values()) - sum(fitted.values()),
        nobs=fitted,
    )


def _collect(run: Run, folder: str) -> pd.DataFrame:
    frames = [run.table(f"{folder}/{spec.id}") for spec in run.config.models]
    return pd.concat(frames, ignore_index=True)


def _public_neighbourhoods(
    cells: pd.DataFrame, plants: pd.DataFrame, config: Config
) -> pd.DataFrame:
    rule = config.disclosure
    top_column = None
    if rule.dominance_top_n and rule.dominance_share:
        shares = aggregate.top_shares(plants, config.neighbourhoods, rule.dominance_top_n)
        cells = cells.merge(shares, on=["radius_km", "year", "centre_id"], how="left")
        cells["top_share"] = cells["top_share"].fillna(0.0)
        top_column = "top_share"
    return disclosure.public_neighbourhoods(
        cells, aggregate.VALUE_COLUMNS, rule, top_share_column=top_column
    )


def _quarantine_all(run: Run) -> pd.DataFrame:
    frames = [pd.read_parquet(p) for p in sorted((run.workdir / "quarantine").glob("*.parquet"))]
    frames = [f for f in frames if len(f)]
    return (
        pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=QUARANTINE_COLUMNS)
    )


def stage_publish(run: Run) -> dict:
    """Write the analysts' datasets and ``manifest.json`` atomically under the output root."""
    started = time.perf_counter()
    config = run.config
    output_root = config.resolve(config.output_root)
    version = version_dir(output_root, run.run_id)
    plants = run.table("plants")
    neighbourhoods = run.table("neighbourhoods")
    public = _public_neighbourhoods(neighbourhoods, plants, config)
    quarantine = _quarantine_all(run)
    datasets = {
        "plants": (plants, ["year"]),
        "global_firms": (run.table("global_firms"), ["year"]),
        "neighbourhoods": (neighbourhoods, ["radius_km", "year"]),
        "overlap": (run.table("overlap"), None),
        "exposure": (run.table("exposure"), ["radius_km", "year"]),
        "panel": (run.table("panel"), ["radius_km"]),
        "plant_panel": (run.table("plant_panel"), ["radius_km"]),
        "estimates": (_collect(run, "estimates"), None),
        "decomposition": (_collect(run, "decomposition"), None),
        "quarantine": (quarantine.astype({"line": "Int64"}), ["stage"]),
        "public/neighbourhoods": (public, ["radius_km", "year"]),
    }
    for name, (frame, partitions) in datasets.items():
        write_dataset(frame, version / name, partition_cols=partitions)
    reports = {
        p.stem: json.loads(p.read_text(encoding="utf-8"))
        for p in sorted((run.workdir / "reports").glob("*.json"))
    }
    run_info = json.loads((run.workdir / "run.json").read_text(encoding="utf-8"))
    manifest = {
        "run_id": run.run_id,
        "project": config.project,
        "created": datetime.now(UTC).isoformat(),
        "config_path": run_info["config_path"],
        "config_sha256": config.digest(),
        "years": list(config.years),
        "radii_km": list(config.neighbourhoods.radii_km),
        "inputs": [
            {"table": s["table"], "source": s["source"], "file": s["file"], "sha256": s["sha256"]}
            for s in reports.get("ingest", {}).get("sources", [])
        ],
        "packages": package_versions(),
        "stages": {
            name: {
                k: v
                for k, v in report.items()
                if k in ("rows_in", "rows_out", "rows_quarantined", "seconds")
            }
            for name, report in reports.items()
        },
        "stage_details": reports,
        "datasets": {
            name: {"rows": len(frame), "class": DATASETS[name]}
            for name, (frame, _) in datasets.items()
        },
        "disclosure": {
            "rule": disclosure.describe_rule(config.disclosure),
            "applied_to": ["public/neighbourhoods"],
            "cells": disclosure.disclosure_summary(public),
            "not_for_release": [n for n, c in DATASETS.items() if c == "confidential"],
        },
    }
    published = publish(version, output_root, manifest)
    return _report(
        run,
        "publish",
        started,
        rows_in=sum(len(f) for f, _ in datasets.values()),
        rows_out=sum(len(f) for f, _ in datasets.values()),
        rows_quarantined=0,
        output_root=str(output_root),
        datasets=published,
    )


def run_stage(
    stage: str, workdir: str | Path, *, progress: bool = False, spec_ids: list[str] | None = None
) -> str:
    """Run one stage on a run directory; return the run directory (for the next task)."""
    run = open_run(workdir)
    if stage == "ingest":
        stage_ingest(run)
    elif stage == "geocode":
        stage_geocode(run, progress=progress)
    elif stage == "firms":
        stage_firms(run)
    elif stage == "exports":
        stage_exports(run)
    elif stage == "neighbourhoods":
        stage_neighbourhoods(run)
    elif stage == "exposure":
        stage_exposure(run)
    elif stage == "panel":
        stage_panel(run)
    elif stage == "estimate":
        stage_estimate(run, only=spec_ids)
    elif stage == "publish":
        stage_publish(run)
    else:
        raise PipelineError(f"unknown stage {stage!r}; stages are {', '.join(STAGES)}")
    return str(run.workdir)


def run_pipeline(
    config_path: str | Path,
    *,
    run_id: str | None = None,
    on_stage: Callable[[str, dict], None] | None = None,
    progress: bool = False,
) -> Path:
    """Run every stage in order; return the run directory."""
    workdir = start_run(config_path, run_id=run_id)
    for stage in STAGES:
        run_stage(stage, workdir, progress=progress)
        if on_stage is not None:
            report_path = workdir / "reports" / f"{stage}.json"
            on_stage(stage, json.loads(report_path.read_text(encoding="utf-8")))
    return workdir


def output_root(workdir: str | Path) -> Path:
    """The output root of a run."""
    run = open_run(workdir)
    return run.config.resolve(run.config.output_root)


def read_output(root: str | Path, dataset: str) -> pd.DataFrame:
    """Read one published dataset (e.g. ``estimates``) from an output root."""
    return read_dataset(Path(root) / dataset)


__all__ = [
    "STAGES",
    "PipelineError",
    "Run",
    "start_run",
    "open_run",
    "run_stage",
    "run_pipeline",
    "spec_ids",
    "output_root",
    "read_output",
]
