"""Neighbourhood engine: exact great-circle radius search around plants.

Every function takes *centres* (``centre_id, lat, lon``) and *points* (``point_id, lat, lon``
plus values) as DataFrames in degrees and applies one neighbour rule: great-circle distance
``<= radius_km + BOUNDARY_TOLERANCE_KM`` on a sphere of radius ``EARTH_RADIUS_KM``, excluded
points never count, and a point never neighbours the centre with the same id. See
``docs/neighbours.md`` for the algorithm and benchmark figures.
"""

from spillover.neighbours._frames import MAX_RADIUS_KM
from spillover.neighbours._sweep import BOUNDARY_TOLERANCE_KM, EARTH_RADIUS_KM, haversine_km
from spillover.neighbours.exposure import plant_exposure
from spillover.neighbours.kernels import KERNELS, kernel_weights
from spillover.neighbours.overlap import overlap_diagnostics
from spillover.neighbours.sums import kernel_sums, neighbour_pairs, neighbourhood_sums, ring_sums

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
