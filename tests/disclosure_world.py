"""Hand-made worlds for the disclosure tests: plants due north of a centre at given km.

On the spatial engine's sphere, so membership is plain to read: 5 km holds the plants at
d ≤ 5, 10 km those at d ≤ 10.
"""

import pandas as pd

KM = 1 / 111.19492664455873  # degrees of latitude per km (sphere of 6,371.0088 km)
DEFAULTS = dict(
    year=2015,
    lon=135.0,
    is_centre=False,
    large_firm=False,
    employees=10.0,
    shipments=100.0,
    exports=0.0,
    export_method="direct_share",
)


def world(*rows):
    """Plants as rows of a frame, ``km`` north of 35° N turned into ``lat``."""
    frame = pd.DataFrame([{**DEFAULTS, **row} for row in rows])
    frame["lat"] = 35.0 + frame.pop("km") * KM
    return frame


def centre(name, km=0.0, **values):
    """A global firm's plant (its own firm is large, so it is no neighbour)."""
    return dict(establishment_id=name, km=km, is_centre=True, large_firm=True, **values)


def plant(name, km, **values):
    """A neighbour candidate ``km`` north of 35° N."""
    return dict(establishment_id=name, km=km, **values)
