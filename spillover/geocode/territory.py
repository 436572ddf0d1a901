"""Japan's territory as a few polygons, to tell whether a coordinate is plausibly in Japan.

A bounding box (20–46° N, 122–154° E) also holds Seoul, Busan, Vladivostok and much of the
Yellow Sea, so coordinates are tested against :data:`JAPAN` instead: six polygons (WGS84 /
JGD2011 degrees) that cover Japan's land and the sea within roughly 10–40 km of it, and
nothing of Korea, China, Russia or Taiwan.

Source: drawn by hand for this project; no external file is read. The vertices lie in the
straits and open sea between Japan's outermost islands and the neighbouring coasts, placed
from their published coordinates (the extreme points as listed by 国土地理院「日本の東西南北
端点の経度緯度」: 択捉島 45.56° N, 沖ノ鳥島 20.42° N, 与那国島 122.93° E, 南鳥島 153.99° E). They
are generalised on purpose (a few dozen vertices, not a coastline): the test is "inside
Japan's land or near sea", not "on land". The polygons follow the territory as defined by
the Government of Japan (including 北方領土 and 竹島, which carry JIS X 0402 municipality
codes). ``tests/unit/test_plausibility.py`` checks that every town point of the real
位置参照情報 gazetteer (277,207 points with coordinates, all at least 10 km inside an edge)
lies inside, and that Seoul, Busan, Vladivostok, Shanghai, Taipei and (0, 0) lie outside.
"""

from __future__ import annotations

import numpy as np
import shapely

__all__ = ["JAPAN", "POLYGONS", "in_japan"]

#: Vertices (longitude, latitude) of each polygon, in degrees.
POLYGONS: dict[str, tuple[tuple[float, float], ...]] = {
    # Hokkaido, Honshu, Shikoku, Kyushu and their islands (Tsushima, Goto, Oki, Sado,
    # Rishiri, Izu islands down to Aogashima), 北方領土, and the Nansei chain from
    # Tanegashima to Yonaguni and the Senkaku islands. Clockwise from the Korea Strait.
    "main_and_nansei": (
        (128.0, 33.3),  # west of the Goto islands, south of the Korea Strait
        (128.95, 34.05),  # south-west of Tsushima
        (129.05, 34.55),  # west of Tsushima (Korea's coast: 128.8° E at 35° N)
        (129.3, 34.85),  # north of Tsushima, south of Busan
        (130.0, 35.0),  # Korea Strait, eastern channel
        (131.2, 35.75),
        (132.6, 36.6),  # north-west of the Oki islands
        (134.6, 36.9),
        (136.6, 38.05),  # north of Hegurajima
        (138.0, 38.65),  # north of Sado
        (139.0, 40.2),  # west of the Oga peninsula
        (139.1, 41.9),  # west of Okushiri
        (139.9, 43.5),  # west of Shakotan
        (140.6, 45.2),  # west of Rebun
        (140.9, 45.7),
        (142.0, 45.65),  # La Pérouse Strait, south of Cape Crillon (Sakhalin, 45.9° N)
        (144.4, 44.75),  # Sea of Okhotsk, north of Shiretoko
        (146.4, 45.05),
        (147.7, 45.75),  # north of Etorofu
        (149.2, 45.75),  # between Etorofu and Urup (Russia)
        (149.2, 45.25),
        (146.9, 43.4),  # south of Shikotan and the Habomai islands
        (145.6, 42.9),
        (143.5, 41.7),  # south of Cape Erimo
        (142.5, 39.5),  # east of Sanriku
        (141.9, 37.9),
        (141.2, 35.6),  # east of Choshi
        (140.3, 34.85),  # south-east of the Boso peninsula
        (140.25, 32.2),  # south-east of Aogashima
        (139.3, 32.2),
        (136.0, 33.1),  # south of Shionomisaki
        (134.4, 33.0),  # south of Muroto
        (133.0, 32.4),  # south of Ashizuri
        (131.8, 31.2),  # south-east of Cape Toi
        (131.6, 29.6),  # east of Tanegashima
        (130.6, 28.0),  # east of Kikaijima and Amami
        (128.9, 26.2),  # east of Okinawa
        (128.2, 25.6),
        (125.8, 24.3),  # south-east of Miyako
        (124.0, 23.8),  # south of Hateruma
        (122.6, 23.9),  # south-west of Yonaguni (Taiwan's east coast: 121.9° E)
        (122.6, 24.8),
        (123.2, 25.6),  # west of Uotsurijima (Senkaku)
        (123.3, 26.1),
        (124.8, 26.1),
        (126.3, 26.6),  # west of Kumejima
        (127.6, 27.6),
        (128.6, 28.6),  # west of Amami
        (128.8, 29.3),
        (129.4, 30.1),  # west of the Tokara islands
        (129.55, 30.8),
        (129.4, 31.5),  # west of Koshikijima
        (127.9, 31.6),  # south-west of the Danjo islands
    ),
    # Daito islands (北大東島, 南大東島, 沖大東島)
    "daito": ((130.9, 24.2), (131.6, 24.2), (131.6, 26.2), (130.9, 26.2)),
    # Ogasawara: the Bonin islands, Nishinoshima and the Volcano islands (硫黄島)
    "ogasawara": ((140.6, 24.0), (142.6, 24.0), (142.6, 27.9), (140.6, 27.9)),
    "minamitorishima": ((153.8, 24.1), (154.2, 24.1), (154.2, 24.5), (153.8, 24.5)),
    "okinotorishima": ((135.9, 20.3), (136.3, 20.3), (136.3, 20.6), (135.9, 20.6)),
    # 竹島 (隠岐の島町), 90 km from Ulleungdo (130.9° E) which lies outside
    "takeshima": ((131.75, 37.15), (132.0, 37.15), (132.0, 37.35), (131.75, 37.35)),
}

#: Union of :data:`POLYGONS`, prepared for fast point tests.
JAPAN = shapely.MultiPolygon([shapely.Polygon(ring) for ring in POLYGONS.values()])
shapely.prepare(JAPAN)


def in_japan(lat, lon) -> np.ndarray:
    """Whether each point lies inside Japan's land or near sea (:data:`JAPAN`).

    Parameters
    ----------
    lat, lon : array-like of float
        Latitude and longitude in degrees (WGS84 / JGD2011).

    Returns
    -------
    numpy.ndarray of bool
        True where both are finite and the point lies inside one of the polygons;
        False for missing, non-finite or foreign points.
    """
    la = np.asarray(lat, dtype=np.float64)
    lo = np.asarray(lon, dtype=np.float64)
    finite = np.isfinite(la) & np.isfinite(lo)
    inside = np.zeros(la.shape, dtype=bool)
    inside[finite] = shapely.contains_xy(JAPAN, lo[finite], la[finite])
    return inside
