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
#: The fallback (and ``export_method``) of exports = shipments × a public 鉱工業 export ratio.
INDUSTRY_RATIO: ExportFallback = "industry_ratio"

#: Who may see a published dataset.
DatasetClass = Literal["confidential", "releasable", "disclosure-controlled"]

#: Value columns of the neighbourhood sums and of the public table (persons, million yen).
ValueColumn = Literal["employees", "shipments", "exports", "exports_imputed"]
VALUE_COLUMN_NAMES: tuple[str, ...] = get_args(ValueColumn)

#: Why a value of ``public/neighbourhoods`` is suppressed (χ): ``primary`` (built from
#: 1..min-1 establishments with a non-zero value) and ``dominance`` protect the value itself;
#: the others are secondary (publishing the value would let another be derived): ``nested``
#: (ring between radii of one centre), ``overlap`` (differences between neighbourhoods),
#: ``cross_column`` (exports − imputed exports, imputed exports ÷ a public export ratio),
#: ``margin`` (a released total such as the decomposition's mean yearly change).
SuppressionReason = Literal["primary", "dominance", "nested", "overlap", "cross_column", "margin"]
SUPPRESSION_REASONS: tuple[str, ...] = get_args(SuppressionReason)
