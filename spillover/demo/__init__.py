"""Synthetic demo world: raw files in the surveys' layouts with planted effects."""
