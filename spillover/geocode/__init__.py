"""Offline geocoding of Japanese plant addresses against public gazetteers.

No address ever leaves the machine: matching uses only the gazetteer file(s)
given to :func:`load_gazetteer`. See ``docs/geocoding.md``.
"""

from spillover.geocode.api import geocode_addresses, normalize_address
from spillover.geocode.batch import geocode_file
from spillover.geocode.gazetteer import load_gazetteer
from spillover.geocode.index import GazetteerIndex
from spillover.geocode.match import LEVELS
from spillover.geocode.mesh import mesh_to_latlon
from spillover.geocode.readers import GazetteerFormatError
from spillover.geocode.territory import in_japan

__all__ = [
    "in_japan",
    "LEVELS",
    "GazetteerFormatError",
    "GazetteerIndex",
    "geocode_addresses",
    "geocode_file",
    "load_gazetteer",
    "mesh_to_latlon",
    "normalize_address",
]
