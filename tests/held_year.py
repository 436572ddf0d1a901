"""A demo world's last survey year held back, then delivered (as a new year's files arrive)."""

from __future__ import annotations

import shutil
from pathlib import Path

#: The files of survey year 2019 in the demo world's layout (kogyo is named by survey year).
FILES_2019 = [
    "raw/establishments/kogyo_2020.csv",
    "raw/kikatsu/kigyou_katsudou_2019.txt",
    "raw/kaigai/genchi_houjin_2019.csv",
    "raw/kaigai/honsha_kigyou_2019.xlsx",
]


def hold_back(root: Path, held: Path) -> None:
    """Move the 2019 files of the world at ``root`` into the new folder ``held``."""
    held.mkdir()
    for name in FILES_2019:
        shutil.move(root / name, held / name.replace("/", "__"))


def deliver(root: Path, held: Path) -> None:
    """Move the held-back files back into the world at ``root``."""
    for name in FILES_2019:
        shutil.move(held / name.replace("/", "__"), root / name)
