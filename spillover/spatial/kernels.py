"""Named distance-decay kernels for weighted neighbourhood sums and plant-level exposure."""

from __future__ import annotations

import numpy as np

from spillover.options import KERNELS


def kernel_weights(distance_km, *, kernel: str, bandwidth_km: float) -> np.ndarray:
    """Weight of a neighbour at ``distance_km`` under a named kernel.

    Parameters
    ----------
    distance_km : array_like
        Great-circle distances in km (>= 0).
    kernel : str
        One of :data:`spillover.options.KERNELS`. With ``u = distance_km / bandwidth_km``:
        ``uniform`` 1; ``triangular`` max(1 − u, 0); ``epanechnikov`` max(1 − u², 0);
        ``bisquare`` max(1 − u², 0)²; ``gaussian`` exp(−u²/2); ``exponential`` exp(−u).
    bandwidth_km : float
        Kernel bandwidth in km (> 0). The search radius still decides who is a neighbour;
        the compact kernels give 0 beyond the bandwidth.

    Returns
    -------
    numpy.ndarray
        Weights (unitless, 1 at distance 0), same shape as ``distance_km``.
    """
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
    if not (np.isfinite(bandwidth_km) and bandwidth_km > 0):
        raise ValueError(f"bandwidth_km must be a positive number of km, got {bandwidth_km!r}")
    u = np.asarray(distance_km, dtype=float) / bandwidth_km
    if kernel == "uniform":
        return np.ones_like(u)
    if kernel == "triangular":
        return np.maximum(1.0 - u, 0.0)
    if kernel == "epanechnikov":
        return np.maximum(1.0 - u * u, 0.0)
    if kernel == "bisquare":
        return np.maximum(1.0 - u * u, 0.0) ** 2
    if kernel == "gaussian":
        return np.exp(-0.5 * u * u)
    return np.exp(-u)
