"""The enumerated choices shared by the config, the engines and the published datasets.

Each choice is a ``Literal`` type (what the typed config accepts) with the tuple of its
values beside it (what engines check and loop over), so one list serves all three.
"""

from __future__ import annotations

from typing import Literal, get_args

#: Distance-decay weights w(d) for plant-level exposure (spillover.spatial.kernels).
Kernel = Literal["uniform", "triangular", "epanechnikov", "bisquare", "gaussian", "exponential"]
KERNELS: tuple[str, ...] = get_args(Kernel)

#: Geocoder match levels from finest to coarsest; ``none`` = not placed.
GeocodeLevel = Literal["block", "town", "oaza", "city", "pref", "none"]
GEOCODE_LEVELS: tuple[str, ...] = get_args(GeocodeLevel)
#: Levels ``gazetteer.min_level`` may name (every level that places an address).
AcceptedLevel = Literal["block", "town", "oaza", "city", "pref"]

#: Fallback rules for an establishment's exports when its own export share is missing.
ExportFallback = Literal["firm_ratio", "industry_ratio"]
#: ``plants.export_method`` of exports from the survey's own direct-export share.
DIRECT_SHARE = "direct_share"

#: Who may see a published dataset.
DatasetClass = Literal["confidential", "releasable", "disclosure-controlled"]
