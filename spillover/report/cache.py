"""Pieces of a report kept by what they show: figure PNGs and font subsets.

A publication re-built by an incremental run mostly shows what the last one showed: the maps
of unchanged plants, the figures of unchanged estimates. Each piece is stored under the
SHA-256 of its inputs and of the code that draws it (this package's version, the source of
the report modules, the versions of matplotlib, fontTools and the font package), so a piece
is drawn again only when what it shows or how it is drawn changed. After a report,
:meth:`RenderCache.prune` removes the pieces that report did not use: the folder holds the
pieces of the last report built with it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from functools import cache
from importlib import metadata
from pathlib import Path

import pandas as pd

from spillover import __version__

__all__ = ["RenderCache", "digest"]

#: Distributions whose version changes what a piece looks like.
_DRAWING_PACKAGES = ("matplotlib", "fonttools", "matplotlib-fontja", "geopandas", "shapely")


@cache
def _code_digest() -> str:
    """SHA-256 of the report modules' source and the drawing packages' versions."""
    parts = [__version__]
    for module in sorted(Path(__file__).parent.glob("*.py")):
        parts.append(hashlib.sha256(module.read_bytes()).hexdigest())
    for name in _DRAWING_PACKAGES:
        try:
            parts.append(f"{name}={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{name}=-")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _canonical(value: object, frames: dict[int, dict]) -> object:
    """A JSON-able stand-in for ``value``; a frame by its columns, types and row hashes.

    ``frames`` keeps the stand-in of each frame object hashed so far (by ``id``: the caller
    keeps the frames alive), so that a frame several pieces show is hashed once.
    """
    if isinstance(value, pd.DataFrame):
        if id(value) not in frames:
            rows = pd.util.hash_pandas_object(value, index=False).to_numpy()
            frames[id(value)] = {
                "columns": [str(c) for c in value.columns],
                "dtypes": [str(t) for t in value.dtypes],
                "rows": hashlib.sha256(rows.tobytes()).hexdigest(),
            }
        return frames[id(value)]
    if isinstance(value, dict):
        return {str(k): _canonical(v, frames) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v, frames) for v in value]
    return value


def digest(kind: str, inputs: object, frames: dict[int, dict] | None = None) -> str:
    """SHA-256 naming a piece: its kind, its inputs (frames by content) and the drawing code.

    ``frames``: the frames already hashed by this caller (see :func:`_canonical`).
    """
    canonical = _canonical(inputs, {} if frames is None else frames)
    text = json.dumps(
        [kind, canonical, _code_digest()], sort_keys=True, ensure_ascii=False, default=str
    )
    return hashlib.sha256(text.encode()).hexdigest()


class RenderCache:
    """Rendered pieces in ``folder`` (``None``: nothing kept, every piece is drawn)."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self.used: set[str] = set()
        self.drawn = 0
        self.reused = 0

    def get(self, kind: str, inputs: object, draw: Callable[[], bytes]) -> bytes:
        """The bytes of the piece ``kind`` showing ``inputs``: kept ones, else ``draw()``."""
        return self.get_all(kind, [(inputs, draw)])[0]  # one piece is drawn in this process

    def get_all(self, kind: str, pieces: Sequence[tuple[object, Callable[[], bytes]]]) -> list:
        """:meth:`get` of each ``(inputs, draw)``, the missing pieces drawn side by side.

        Drawing holds the interpreter, so each missing piece is drawn in a forked worker
        process (:func:`spillover.processes.forked_map`, on every usable core; in this process
        when one is missing): ``draw`` is inherited, its bytes come back. Pieces are drawn in
        the order given.
        """
        out: list = [None] * len(pieces)
        names: dict[int, str] = {}  # of the missing pieces, when kept
        frames: dict[int, dict] = {}  # a frame several pieces show (the maps' plants): hashed once
        for number, (inputs, _) in enumerate(pieces):
            if self.folder is None:
                continue
            name = f"{digest(kind, inputs, frames)}.{kind}"
            self.used.add(name)
            try:
                out[number] = (self.folder / name).read_bytes()
            except FileNotFoundError:
                names[number] = name
            else:
                self.reused += 1
        missing = [number for number, data in enumerate(out) if data is None]
        if not missing:
            return out
        from spillover.processes import MAX_WORKERS, forked_map
        from spillover.storage import replace_atomically
        from spillover.threads import usable_cores

        draws = [pieces[number][1] for number in missing]
        workers = min(usable_cores(MAX_WORKERS), len(draws))
        drawn = forked_map(lambda at: draws[at](), range(len(draws)), 1, workers=workers)
        for number, (data,) in zip(missing, drawn, strict=True):
            out[number] = data
            self.drawn += 1
            if number in names:
                replace_atomically(
                    self.folder / names[number],
                    lambda temporary, data=data: temporary.write_bytes(data),
                )
        return out

    def prune(self) -> None:
        """Remove the kept pieces this cache's report did not use (not files being written)."""
        if self.folder is None or not self.folder.is_dir():
            return
        for path in self.folder.iterdir():
            if path.is_file() and not path.name.startswith(".") and path.name not in self.used:
                path.unlink(missing_ok=True)
