"""``spillover audit-disclosure``: attack a publication with the confidential data.

:func:`audit_output` reads a publication (``public/neighbourhoods``, ``decomposition``) and
the confidential tables it was made from (a run directory, or the publication's confidential
datasets), lines every public row up with its confidential cell (:func:`line_up`; numbers
are keyed hashes, so a centre is recognised by its counts and published values) and runs
the attacks of :mod:`spillover.disclosure_attacks`:

1. ``nested radii``: the ring between two published radii of one centre and year;
2. ``zero contributors``: a published value whose other members are all 0, a suppressed
   value equal to a published one, the difference of two overlapping neighbourhoods;
3. ``ratio inversion``: imputed exports ÷ the public export ratio = shipments (of a value or
   a ring), shipments − imputed exports ÷ ratio, exports − imputed exports;
4. ``linear span``: any linear combination of all released numbers, decomposition included;
5. ``identifiers``: neighbourhood numbers or row order that follow the confidential ids.

A publication passes when no attack recovers anything (:attr:`AuditReport.recoverable` = 0).
Every releasable dataset of :data:`spillover.datasets.DATASETS` must be covered
(:data:`COVERED`): a new one stops the audit until it is modelled.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from spillover.config import Config, DisclosureConfig, load_config
from spillover.datasets import DATASETS
from spillover.disclosure import (
    CELL_KEYS,
    DisclosureError,
    decomposition_margins,
    numbered_members,
)
from spillover.disclosure_attacks import ATTACKS, AttackResult, Released
from spillover.disclosure_span import Margin
from spillover.errors import SpilloverError
from spillover.neighbourhoods import VALUE_COLUMNS, cell_members
from spillover.runs import open_run
from spillover.storage import read_dataset

#: Releasable datasets and how the audit covers them (any other releasable one is an error).
COVERED = {
    "public/neighbourhoods": "every value, radius, year and column (attacks 1–5)",
    "decomposition": "mean yearly changes of establishment sums, as linear margins (attack 4)",
    "estimates": "regression coefficients on whole panels: not disclosive, not modelled",
}


class AuditError(SpilloverError, ValueError):
    """The audit cannot run: missing or inconsistent inputs (the message says which)."""


@dataclass(frozen=True)
class AuditReport:
    """Every attack on one publication, how each releasable output is covered, seconds."""

    attacks: tuple[AttackResult, ...]
    covered: dict[str, str]
    seconds: float

    @property
    def recoverable(self) -> int:
        """Findings over all attacks (0: the publication passes)."""
        return sum(attack.recoverable for attack in self.attacks)


def audit_disclosure(released: Released) -> AuditReport:
    """Run every attack on a lined-up publication."""
    started = time.perf_counter()
    attacks = tuple(attack(released) for attack in ATTACKS)
    return AuditReport(attacks, dict(COVERED), time.perf_counter() - started)


def audit_output(output_root: str | Path, workdir: str | Path | None = None) -> AuditReport:
    """Audit the publication under ``output_root`` with the confidential data.

    Parameters
    ----------
    output_root : str or Path
        The output root (its ``manifest.json`` and datasets).
    workdir : str or Path, optional
        The run directory that published it (its config and tables; its run id must be the
        manifest's); by default the publication's confidential datasets and the config its
        manifest names, which must still hash to the manifest's ``config_sha256``.
    """
    started = time.perf_counter()
    report = audit_disclosure(load_release(output_root, workdir))
    return AuditReport(report.attacks, report.covered, time.perf_counter() - started)


def load_release(output_root: str | Path, workdir: str | Path | None = None) -> Released:
    """Read a publication and its confidential inputs, and line them up."""
    root = Path(output_root)
    manifest_path = root / "manifest.json"
    if not manifest_path.exists():
        raise AuditError(f"{root} has no manifest.json: not a published output root")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    unknown = [d.name for d in DATASETS if d.access != "confidential" and d.name not in COVERED]
    if unknown:
        raise AuditError(f"releasable dataset(s) {unknown} have no disclosure model in the audit")
    config, tables = _confidential(root, manifest, workdir)
    specs = set(read_dataset(root / "decomposition")["spec_id"])
    if specs != {spec.id for spec in config.specs}:
        raise AuditError(
            f"decomposition has specs {sorted(specs)} but the config has "
            f"{[s.id for s in config.specs]}: the audit cannot model it"
        )
    panels = {"neighbourhood": tables["panel"], "plant": tables["plant_panel"]}
    return line_up(
        read_dataset(root / "public" / "neighbourhoods"),
        tables["neighbourhoods"],
        cell_members(tables["plants"], config.neighbourhoods),
        decomposition_margins(panels, tables["plants"], config.specs, config.neighbourhoods),
        config.disclosure,
    )


def _confidential(root: Path, manifest: dict, workdir) -> tuple[Config, dict]:
    """The config and confidential tables behind a publication (run directory or root)."""
    names = ("plants", "neighbourhoods", "panel", "plant_panel")
    if workdir is not None:
        run = open_run(workdir)
        if run.run_id != manifest["run_id"]:
            raise AuditError(
                f"{workdir} is run {run.run_id!r}, {root} publishes {manifest['run_id']!r}"
            )
        return run.config, {name: run.table(name) for name in names}
    config = load_config(manifest["config_path"])
    if config.digest() != manifest["config_sha256"]:
        raise AuditError(f"{manifest['config_path']} changed since the publication: pass --workdir")
    return config, {name: read_dataset(root / name) for name in names}


def line_up(
    public: pd.DataFrame,
    cells: pd.DataFrame,
    members: pd.DataFrame,
    margins: list[Margin],
    rule: DisclosureConfig,
) -> Released:
    """Match every public row to its confidential cell and check the published values.

    Parameters
    ----------
    public : pandas.DataFrame
        ``public/neighbourhoods`` as published (row order kept).
    cells : pandas.DataFrame
        The confidential ``neighbourhoods`` table.
    members : pandas.DataFrame
        :func:`spillover.neighbourhoods.cell_members` of those cells.
    margins : list of Margin
        The released decomposition margins.
    rule : DisclosureConfig
        The rule the publication claims (minimum, dominance).
    """
    numbers = _match_numbers(public, cells)
    cells = cells.assign(neighbourhood_no=cells["centre_id"].map(numbers)).reset_index(drop=True)
    keys = ["radius_km", "year", "neighbourhood_no"]
    position = pd.MultiIndex.from_frame(public[keys].astype({"year": "int64"}))
    order = position.get_indexer(pd.MultiIndex.from_frame(cells[keys].astype({"year": "int64"})))
    if (order < 0).any() or len(public) != len(cells):
        raise AuditError("public/neighbourhoods and the confidential cells differ in rows")
    shown = public.iloc[order][VALUE_COLUMNS].to_numpy(dtype=float)
    truth = cells[VALUE_COLUMNS].to_numpy(dtype=float)
    published = ~np.isnan(shown)
    if not np.allclose(shown[published], truth[published], rtol=1e-9, atol=1e-6):
        raise AuditError("published values differ from the confidential sums: wrong run?")
    try:
        members = numbered_members(cells, members)
    except DisclosureError as exc:
        raise AuditError(f"the confidential tables do not fit together: {exc}") from None
    lined = cells[[*CELL_KEYS, "n_neighbours", "neighbourhood_no"]]
    return Released(lined, published, members, margins, rule, order)


def _match_numbers(public: pd.DataFrame, cells: pd.DataFrame) -> dict:
    """Confidential centre id → public neighbourhood number (counts, then values)."""
    columns = ["radius_km", "year"]
    conf = cells.pivot_table(index="centre_id", columns=columns, values="n_neighbours")
    pub = public.pivot_table(index="neighbourhood_no", columns=columns, values="n_neighbours")
    every = conf.columns.union(pub.columns)
    conf = conf.reindex(columns=every).fillna(-1).astype(int)
    pub = pub.reindex(columns=every).fillna(-1).astype(int)
    truth = cells.set_index(["centre_id", *columns])[VALUE_COLUMNS].astype(float)
    shown = public.set_index(["neighbourhood_no", *columns])[VALUE_COLUMNS].astype(float)
    waiting: dict[tuple, list] = {}
    for centre, counts in conf.iterrows():
        waiting.setdefault(tuple(counts), []).append(centre)
    numbers = {}
    for number, counts in pub.iterrows():
        seen = shown.loc[number]
        fits = [
            c
            for c in waiting.get(tuple(counts), [])
            if _agrees(seen, truth.loc[c].reindex(seen.index))
        ]
        if not fits:
            raise AuditError(f"neighbourhood_no {number} matches no confidential centre")
        if any(not truth.loc[c].equals(truth.loc[fits[0]]) for c in fits[1:]):
            raise AuditError(f"neighbourhood_no {number} fits several centres: cannot line up")
        numbers[fits[0]] = number
        waiting[tuple(counts)].remove(fits[0])
    return numbers


def _agrees(seen: pd.DataFrame, truth: pd.DataFrame) -> bool:
    """Whether the published values equal the true ones wherever published."""
    shown = seen.to_numpy()
    mask = ~np.isnan(shown)
    return bool(np.allclose(shown[mask], truth.to_numpy()[mask], rtol=1e-9, atol=1e-6))
