"""The error raised when a spec cannot be estimated."""

from __future__ import annotations

from spillover.errors import SpilloverError


class EstimationError(SpilloverError, ValueError):
    """A spec cannot be estimated on the panel (too few rows, unknown variable, ...)."""
