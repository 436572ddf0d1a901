"""Spatial engine: exact great-circle radius search around plants (neighbourhoods, exposure).

Every function takes *centres* (``centre_id, lat, lon``) and *points* (``point_id, lat, lon``
plus values) as DataFrames in degrees and applies one neighbour rule: great-circle distance
``<= radius_km + BOUNDARY_TOLERANCE_KM`` on a sphere of radius ``EARTH_RADIUS_KM``, excluded
points never count, and a point never neighbours the centre with the same id. See
``docs/spatial.md`` for the algorithm and benchmark figures.
"""

from spillover.spatial._frames import MAX_RADIUS_KM
from spillover.spatial._sweep import BOUNDARY_TOLERANCE_KM, EARTH_RADIUS_KM, haversine_km
from spillover.spatial.exposure import plant_exposure
from spillover.spatial.kernels import KERNELS, kernel_weights
from spillover.spatial.overlap import overlap_diagnostics
from spillover.spatial.sums import kernel_sums, neighbour_pairs, neighbourhood_sums, ring_sums

__all__ = [
    "BOUNDARY_TOLERANCE_KM",
    "EARTH_RADIUS_KM",
    "KERNELS",
    "MAX_RADIUS_KM",
    "haversine_km",
    "kernel_sums",
    "kernel_weights",
    "neighbour_pairs",
    "neighbourhood_sums",
    "overlap_diagnostics",
    "plant_exposure",
    "ring_sums",
]
