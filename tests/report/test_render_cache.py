"""RenderCache.get_all: missing pieces drawn side by side in worker processes, then kept."""

from __future__ import annotations

import os

import pandas as pd

from spillover import threads
from spillover.report.cache import RenderCache, digest


def _pieces(count: int) -> list:
    # each piece says which it is and which process drew it
    return [(["piece", n], lambda n=n: f"{n}:{os.getpid()}".encode()) for n in range(count)]


def test_missing_pieces_are_drawn_in_workers_in_order_and_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(threads, "usable_cores", lambda at_most: min(2, at_most))
    cache = RenderCache(tmp_path)
    drawn = cache.get_all("png", _pieces(5))
    assert [data.split(b":")[0] for data in drawn] == [b"0", b"1", b"2", b"3", b"4"]
    assert {int(data.split(b":")[1]) for data in drawn}.isdisjoint({os.getpid()})
    assert cache.drawn == 5 and cache.reused == 0
    assert len(list(tmp_path.iterdir())) == 5

    again = RenderCache(tmp_path)
    assert again.get_all("png", _pieces(5)) == drawn  # kept: not drawn again
    assert again.drawn == 0 and again.reused == 5


def test_one_missing_piece_is_drawn_here_among_kept_ones(tmp_path, monkeypatch):
    monkeypatch.setattr(threads, "usable_cores", lambda at_most: min(2, at_most))
    first = RenderCache(tmp_path)
    kept = first.get_all("png", _pieces(2))
    cache = RenderCache(tmp_path)
    out = cache.get_all("png", _pieces(3))
    assert out[:2] == kept and out[2] == f"2:{os.getpid()}".encode()
    assert cache.drawn == 1 and cache.reused == 2


def test_without_a_folder_every_piece_is_drawn(monkeypatch):
    monkeypatch.setattr(threads, "usable_cores", lambda at_most: 1)
    cache = RenderCache(None)
    out = cache.get_all("png", _pieces(3))
    assert out == [f"{n}:{os.getpid()}".encode() for n in range(3)]
    assert cache.drawn == 3 and cache.used == set()


def test_a_frame_several_pieces_show_is_hashed_once(tmp_path, monkeypatch):
    frame = pd.DataFrame({"establishment_id": ["a", "b"], "lat": [35.0, 35.1]})
    hashed = []
    real = pd.util.hash_pandas_object
    monkeypatch.setattr(
        pd.util, "hash_pandas_object", lambda *args, **kw: hashed.append(1) or real(*args, **kw)
    )
    cache = RenderCache(tmp_path)
    cache.get_all("png", [(["density", frame], lambda: b"d"), (["exposure", frame], lambda: b"e")])
    assert len(hashed) == 1
    names = {f"{digest('png', [kind, frame.copy()])}.png" for kind in ("density", "exposure")}
    assert {path.name for path in tmp_path.iterdir()} == names  # named by content, as before
