"""The pipeline's stages, in the order they run.

Each reads its inputs from the run directory, makes one call into the module named after
it, and returns a :class:`~spillover.registry.StageResult` that
:func:`spillover.pipeline.run_stage` writes and reports on.
"""

from __future__ import annotations

import json
from functools import partial

import pandas as pd

from spillover import (
    exports,
    exposure,
    fingerprints,
    firms,
    locate,
    neighbourhoods,
    panel,
    quarantine,
)
from spillover.concordance import load_concordance
from spillover.ingest import ingest_all
from spillover.partitions import TableCache
from spillover.registry import StageResult, stage
from spillover.runs import PipelineError, Run
from spillover.schemas import validate
from spillover.storage import (
    build_manifest,
    dataset_sources,
    publish,
    reusable_datasets,
    version_dir,
    write_datasets,
)


def _year_cache(run: Run, name: str) -> TableCache:
    """The per-year table cache of a spatial stage, keyed by its settings (see partitions)."""
    settings = {
        "neighbourhoods": run.config.neighbourhoods.model_dump(mode="json"),
        "memberships": list(run.config.memberships),
    }
    return TableCache(run.config.cache_path("spatial") / name, name, settings)


def _counts(series: pd.Series) -> dict[str, int]:
    """A value-count or group-size Series as a JSON-ready dict."""
    return {str(key): int(value) for key, value in series.items()}


@stage(
    "ingest",
    conserves_rows=True,
    config=(
        "sources",
        "years",
        "completeness",
        "plausibility",
        "quarantine",
        "definitions.firm_year_offset",
        "exports.fallback",
        "external_demand",
    ),
    files=fingerprints.raw_files,
)
def ingest_stage(run: Run) -> StageResult:
    """Read every raw source into canonical tables; quarantine rows that break the contract."""
    result = ingest_all(
        run.config, progress=run.progress, cache_dir=run.config.cache_path("ingest")
    )
    sources = [vars(report) for report in result.reports]
    return StageResult(
        rows_in=sum(s["rows_in"] for s in sources),
        rows_out=sum(s["rows_out"] for s in sources),
        tables={name: validate(name, frame) for name, frame in result.tables.items()},
        quarantine=result.quarantine,
        details={"sources": sources, "linkage": result.linkage},
    )


@stage(
    "geocode",
    conserves_rows=True,
    limit_hint="is gazetteer.path the right file?",
    config=(
        "gazetteer.min_level",
        "gazetteer.on_pref_mismatch",
        "gazetteer.vintage",
        "quarantine",
    ),
    reads=("establishments",),
    files=fingerprints.gazetteer_files,
)
def geocode_stage(run: Run) -> StageResult:
    """Place every establishment; rows that cannot be placed go to quarantine.

    Without ``gazetteer.path`` rows are placed by their lat/lon or mesh code alone.
    """
    from spillover.geocode import load_gazetteer

    config = run.config
    establishments = run.table("establishments")
    index_dir = config.resolve(config.gazetteer.index_dir) if config.gazetteer.index_dir else None
    gazetteer = (
        load_gazetteer(
            config.resolve(config.gazetteer.path),
            index_dir=index_dir,
            vintage=config.gazetteer.vintage,
        )
        if config.gazetteer.path is not None
        else None
    )
    cache_dir = config.resolve(config.cache_dir) / "geocode" if config.cache_dir else None
    located, rejected, summary = locate.locate_plants(
        establishments,
        gazetteer,
        rules=config.gazetteer,
        cache_dir=cache_dir,
        progress=run.progress,
    )
    return StageResult(
        rows_in=len(establishments),
        rows_out=len(located),
        tables={"plants_located": located},
        quarantine=rejected,
        details=summary,
    )


@stage(
    "firms",
    conserves_rows=True,
    config=("definitions",),
    reads=("firms", "affiliates", "parents"),
)
def firms_stage(run: Run) -> StageResult:
    """Capital, OPR and the global-firm flag per firm and year."""
    affiliates = run.table("affiliates")
    table, rejected = firms.firm_table(
        run.table("firms"), affiliates, run.table("parents"), definitions=run.config.definitions
    )
    orphans = int((rejected["table"] == "affiliates").sum())
    return StageResult(
        rows_in=len(table) + len(affiliates),
        rows_out=len(table) + len(affiliates) - orphans,
        tables={"global_firms": table},
        quarantine=rejected,
        values_rejected=len(rejected) - orphans,  # firm-years kept, their OPR refused
        details={
            "opr_missing": int(table["opr"].isna().sum()),
            "global_firms_by_year": _counts(table[table["is_global"]].groupby("year").size()),
        },
    )


def _export_ratio_concordance(run: Run) -> pd.DataFrame | None:
    """JSIC → industry group: ``exports.concordance`` if set, else the source's table."""
    if run.config.exports.concordance is None:
        return run.optional_table("export_ratio_concordance")
    rows = load_concordance(run.config.exports.concordance, run.config).rows
    return pd.DataFrame({"jsic": rows["from"], "industry_group": rows["to"]})


@stage(
    "exports",
    conserves_rows=True,
    config=("years", "exports", "definitions"),
    reads=(
        "plants_located",
        "global_firms",
        "firms",
        "export_ratios",
        "export_ratio_concordance",
    ),
    files=fingerprints.export_concordance,
)
def exports_stage(run: Run) -> StageResult:
    """Classify plants (centre, large firm) and compute establishment exports."""
    located = run.table("plants_located")
    plants, rejected = exports.plant_table(
        located,
        run.table("global_firms"),
        run.table("firms"),
        run.optional_table("export_ratios"),
        _export_ratio_concordance(run),
        config=run.config,
    )
    return StageResult(
        rows_in=len(located),
        rows_out=len(plants),
        tables={"plants": plants},
        quarantine=rejected,
        details={
            "export_methods": _counts(plants["export_method"].value_counts()),
            "centres_by_year": _counts(plants[plants["is_centre"]].groupby("year").size()),
        },
    )


@stage(
    "neighbourhoods",
    config=("neighbourhoods.radii_km", "neighbourhoods.exclude_large_firms", "memberships"),
    reads=("plants",),
)
def neighbourhoods_stage(run: Run) -> StageResult:
    """Sum the qualifying establishments around every centre, per year and radius."""
    plants = run.table("plants", neighbourhoods.INPUT_COLUMNS)
    cache = _year_cache(run, "neighbourhoods")
    table, overlap, by_membership = neighbourhoods.neighbourhood_tables(
        plants, run.config.neighbourhoods, run.config.memberships, cache
    )
    cache.prune()
    repeat_counted = overlap.groupby("radius_km")["share_exports_excess"].mean()
    return StageResult(
        rows_in=len(plants),
        rows_out=len(table),
        tables={
            "neighbourhoods": table,
            "overlap": overlap,
            "neighbourhoods_membership": by_membership,
        },
        details={
            "cells_by_radius": _counts(table.groupby("radius_km").size()),
            "empty_neighbourhoods": int((table["n_neighbours"] == 0).sum()),
            **cache.summary(),
            "mean_share_exports_repeat_counted": {
                str(radius): round(float(share), 4) for radius, share in repeat_counted.items()
            },
        },
    )


@stage("exposure", config=("neighbourhoods", "memberships"), reads=("plants", "global_firms"))
def exposure_stage(run: Run) -> StageResult:
    """Plant-level exposure of every non-excluded establishment to global-firm plants nearby."""
    plants = run.table("plants", exposure.INPUT_COLUMNS)
    cache = _year_cache(run, "exposure")
    table, by_membership = exposure.exposure_tables(
        plants,
        run.table("global_firms"),
        run.config.neighbourhoods,
        run.config.memberships,
        cache,
    )
    cache.prune()
    exposed = table[table["n_centres"] > 0].groupby("radius_km").size()
    return StageResult(
        rows_in=len(plants),
        rows_out=len(table),
        tables={"exposure": table, "exposure_membership": by_membership},
        details={"exposed_establishment_years": _counts(exposed), **cache.summary()},
    )


@stage(
    "panel",
    config=("external_demand",),
    reads=(
        "neighbourhoods",
        "exposure",
        "plants",
        "global_firms",
        "external_demand",
        "neighbourhoods_membership",
        "exposure_membership",
    ),
)
def panel_stage(run: Run) -> StageResult:
    """Centre × year and establishment × year panels with OPR and external demand."""
    table, plant_table, demand = panel.panel_tables(
        run.table("neighbourhoods"),
        run.table("exposure"),
        run.table("plants", panel.INPUT_COLUMNS),
        run.table("global_firms"),
        run.table("external_demand"),
        settings=run.config.external_demand,
        membership_cells=run.table("neighbourhoods_membership"),
        membership_exposure=run.table("exposure_membership"),
    )
    rows = len(table) + len(plant_table)
    return StageResult(
        rows_in=rows,
        rows_out=rows,
        tables={"panel": table, "plant_panel": plant_table, "external_demand_annual": demand},
        details={
            "neighbourhood_rows": len(table),
            "plant_rows": len(plant_table),
            "missing_opr": int(table["opr"].isna().sum()),
            "missing_external_demand": int(table["external_demand"].isna().sum()),
        },
    )


@stage(
    "disclose",
    config=("disclosure", "neighbourhoods", "models"),
    reads=("neighbourhoods", "plants", "panel", "plant_panel"),
)
def disclose_stage(run: Run) -> StageResult:
    """Disclosure control: the releasable neighbourhood table (``public_neighbourhoods``).

    Depends on the model specs because their released decompositions are margins that the
    secondary suppression protects.
    """
    from spillover import disclosure  # lazy: scipy.stats
    from spillover.disclosure_blocks import BlockStore

    cells = run.table("neighbourhoods")
    panels = {"neighbourhood": run.table("panel"), "plant": run.table("plant_panel")}
    cache = disclosure.disclosure_cache(run.config.cache_path("disclosure"), run.config)
    blocks = BlockStore(run.config.cache_path("disclosure_blocks"))
    plants = run.table("plants", neighbourhoods.INPUT_COLUMNS)  # all that the rule reads
    try:
        release = disclosure.public_release(
            cells, plants, panels, run.config, cache=cache, blocks=blocks, progress=run.progress
        )
    finally:
        blocks.close()
    cache.prune()
    blocks.prune()
    return StageResult(
        rows_in=len(cells),
        rows_out=len(release.table),
        tables={"public_neighbourhoods": release.table},
        details={
            "disclosure": disclosure.manifest_section(run.config.disclosure, release),
            "suppression_from_cache": bool(cache.loaded),
            **blocks.summary(),
        },
    )


@stage(
    "estimate",
    conserves_rows=True,
    per_spec={"neighbourhood": "panel", "plant": "plant_panel"},
)
def estimate_stage(run: Run, spec_ids: list[str] | None = None) -> StageResult:
    """Fit each model spec (or only ``spec_ids``); write its estimates and decomposition.

    Rows of a spec's radius and years that miss a variable are left out of its sample
    (``rows_incomplete``).
    """
    specs = [s for s in run.config.specs if spec_ids is None or s.id in spec_ids]
    unknown = set(spec_ids or []) - {s.id for s in specs}
    if unknown:
        raise PipelineError(f"unknown model spec id(s) {sorted(unknown)}")
    panels = {"neighbourhood": run.table("panel"), "plant": run.table("plant_panel")}
    from spillover import estimate  # lazy: scipy and linearmodels, only where fitted

    fits = estimate.fit_specs(panels, specs, progress=run.progress)
    tables = {}
    for spec_id, fit in fits.items():
        tables[f"estimates/{spec_id}"] = fit.estimates
        tables[f"decomposition/{spec_id}"] = fit.decomposition
    selected = sum(fit.rows_selected for fit in fits.values())
    fitted = sum(fit.nobs for fit in fits.values())
    return StageResult(
        rows_in=selected,
        rows_out=fitted,
        tables=tables,
        rows_incomplete=selected - fitted,
        details={
            "nobs": {spec_id: fit.nobs for spec_id, fit in fits.items()},
            "rows_left_out": {spec_id: fit.dropped for spec_id, fit in fits.items()},
        },
        report=None if spec_ids is None else f"estimate-{'-'.join(spec_ids)}",
    )


#: Published datasets written from the run table of the same name.
_ONE_TABLE_DATASETS = (
    "plants",
    "global_firms",
    "neighbourhoods",
    "overlap",
    "exposure",
    "panel",
    "plant_panel",
)


@stage("publish", publishes=True, config=("*",), reads=("*",))
def publish_stage(run: Run) -> StageResult:
    """Write the analysts' datasets and ``manifest.json`` atomically under the output root.

    A dataset made from the same run tables (by content) as the one of the current
    publication is hard-linked from it instead of written again.
    """
    config = run.config
    loaders = {
        **{name: partial(run.arrow_table, name) for name in _ONE_TABLE_DATASETS},
        "estimates": partial(_per_spec, run, "estimates"),
        "decomposition": partial(_per_spec, run, "decomposition"),
        "quarantine": partial(_quarantine_files, run),
        "public/neighbourhoods": partial(run.arrow_table, "public_neighbourhoods"),
    }
    tables = {
        **{name: [name] for name in _ONE_TABLE_DATASETS},
        "estimates": [f"estimates/{spec.id}" for spec in config.specs],
        "decomposition": [f"decomposition/{spec.id}" for spec in config.specs],
        "quarantine": sorted(f"quarantine/{p.stem}" for p in _quarantine_paths(run)),
        "public/neighbourhoods": ["public_neighbourhoods"],
    }
    sources = dataset_sources(fingerprints.table_hashes(run.workdir), tables)
    output_root = config.resolve(config.output_root)
    unchanged = reusable_datasets(output_root, sources)
    version = version_dir(output_root, run.run_id)
    written = write_datasets(  # each dataset loaded when written, then let go
        version,
        {name: load for name, load in loaders.items() if name not in unchanged},
        linked={name: path for name, (path, _) in unchanged.items()},
    )
    reports = {
        p.stem: json.loads(p.read_text(encoding="utf-8"))
        for p in sorted((run.workdir / "reports").glob("*.json"))
    }
    run_info = json.loads((run.workdir / "run.json").read_text(encoding="utf-8"))
    rows = {name: written[name] if name in written else unchanged[name][1] for name in loaders}
    manifest = build_manifest(
        run_id=run.run_id,
        config=config,
        config_path=run_info["config_path"],
        reports=reports,
        rows=rows,
        sources=sources,
        disclosure=reports["disclose"]["disclosure"],
    )
    published = publish(version, output_root, manifest)
    from spillover.report.html import build_report  # lazy: matplotlib

    # in the version folder, so that a rollback brings its report back
    report_path = build_report(version, cache_dir=config.cache_path("report"))
    total = sum(rows.values())
    return StageResult(
        rows_in=total,
        rows_out=total,
        details={
            "output_root": str(output_root),
            "version": str(version),
            "run_id": run.run_id,
            "config_sha256": config.digest(),
            "rows": rows,
            "datasets": published,
            "linked": sorted(unchanged),
            "report": str(report_path),
        },
    )


def _per_spec(run: Run, folder: str) -> pd.DataFrame:
    frames = [run.table(f"{folder}/{spec.id}") for spec in run.config.specs]
    return pd.concat(frames, ignore_index=True)


def _quarantine_paths(run: Run) -> list:
    return sorted((run.workdir / "quarantine").glob("*.parquet"))


def _quarantine_files(run: Run) -> pd.DataFrame:
    files = _quarantine_paths(run)
    return quarantine.concat(pd.read_parquet(p) for p in files).astype({"line": "Int64"})
