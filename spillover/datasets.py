"""The published datasets: one list for publishing, the manifest and the DuckDB views.

Each dataset is a folder under the output root (hive-partitioned by ``partitions`` where
given) with an access class: ``confidential`` (never leaves the secure environment),
``releasable`` (model results) or ``disclosure-controlled`` (suppressed cells, no ids).
``sql/views.sql`` defines one view per dataset, named :attr:`Dataset.view`; a test keeps the
two in step.
"""

from __future__ import annotations

from dataclasses import dataclass

from spillover.options import DatasetClass


@dataclass(frozen=True)
class Dataset:
    """One published dataset: folder name, partition columns and access class."""

    name: str
    partitions: tuple[str, ...]
    access: DatasetClass

    @property
    def view(self) -> str:
        """Name of its DuckDB view (``public/neighbourhoods`` → ``public_neighbourhoods``)."""
        return self.name.replace("/", "_")


DATASETS: tuple[Dataset, ...] = (
    Dataset("plants", ("year",), "confidential"),
    Dataset("global_firms", ("year",), "confidential"),
    Dataset("neighbourhoods", ("radius_km", "year"), "confidential"),
    Dataset("overlap", (), "confidential"),
    Dataset("exposure", ("radius_km", "year"), "confidential"),
    Dataset("panel", ("radius_km",), "confidential"),
    Dataset("plant_panel", ("radius_km",), "confidential"),
    Dataset("estimates", (), "releasable"),
    Dataset("decomposition", (), "releasable"),
    Dataset("quarantine", ("stage",), "confidential"),
    Dataset("public/neighbourhoods", ("radius_km", "year"), "disclosure-controlled"),
)
