"""The ingest cache: each raw file's canonical rows and quarantine, kept by what made them.

A yearly run meets last year's files again, unchanged. The ingest stage keeps, per raw file,
its mapped rows, its quarantined rows and its accounting under a key that hashes everything
they depend on: the file's bytes (SHA-256), its path (kept on every row as provenance), its
source entry in the config (less the years it covers), its year, the plausibility rules,
``quarantine.max_share``, ``completeness.require_final_newline``, the package version and
the source of the modules that map a file (an edited ingest misses, even in a development
install). A file whose key is kept is not read again, so a new survey year reads only the
new year's files. Rows loaded from the cache equal the rows mapped from the file, to the
byte (``tests/unit/test_ingest_cache.py``).

Each entry is a folder ``<key>/`` with ``rows.parquet``, ``quarantine.parquet`` and
``entry.json``, renamed into place whole, by a background thread while the next file is
mapped (:meth:`IngestCache.flush` waits for them). Entries not used for :data:`KEEP_DAYS`
days are removed at the end of an ingest.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from spillover import __version__
from spillover.cache_folders import prune_entries, write_entry
from spillover.concordance import recode_digests
from spillover.storage import write_internal

if TYPE_CHECKING:
    from spillover.config import Config, Source
    from spillover.ingest import SourceReport

__all__ = ["KEEP_DAYS", "IngestCache", "MappedFile"]

#: Days an unused entry is kept.
KEEP_DAYS = 30
#: Modules whose code decides a file's mapping.
_MAPPING_MODULES = (
    "ingest",
    "rawfiles",
    "parsing",
    "plausibility",
    "schemas",
    "quarantine",
    "concordance",
    "boj_tankan",
    "meti_shipments",
)
#: Data files whose content decides a file's mapping (the Tankan series table).
_MAPPING_DATA = ("tankan_series.csv",)


@cache
def _code_digest() -> str:
    """SHA-256 of :data:`_MAPPING_MODULES`, :data:`_MAPPING_DATA` and the package version."""
    digest = hashlib.sha256(__version__.encode())
    for name in _MAPPING_MODULES:
        digest.update((Path(__file__).parent / f"{name}.py").read_bytes())
    for name in _MAPPING_DATA:
        digest.update((Path(__file__).parent / name).read_bytes())
    return digest.hexdigest()


@dataclass
class MappedFile:
    """One raw file mapped onto its table: rows read, canonical rows, quarantine, accounting."""

    table: str
    source: Source
    year: int | None
    path: Path
    rows: int
    good: pd.DataFrame
    bad: pd.DataFrame
    report: SourceReport


class IngestCache:
    """Mapped raw files in ``folder`` (``None``: nothing is kept, every file is read)."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self.used: set[str] = set()
        self._writer: ThreadPoolExecutor | None = None
        self._writing: list[Future] = []

    @staticmethod
    def key(
        *, table: str, source: Source, year: int | None, path: Path, sha256: str, config: Config
    ) -> str:
        """SHA-256 of everything the mapping of one raw file depends on."""
        parts = {
            "code": _code_digest(),
            "table": table,
            # which years a source covers picks its files; it does not change one file's rows
            "source": source.model_dump(mode="json", exclude={"years", "skip_years"}),
            "year": year,
            "path": str(path),
            "sha256": sha256,
            "concordances": recode_digests(source.recode, config),
            "plausibility": config.plausibility.model_dump(mode="json"),
            "max_share": config.quarantine.max_share,
            "final_newline": config.completeness.require_final_newline,
        }
        text = json.dumps(parts, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()

    def load(self, key: str, *, source: Source, year: int | None, path: Path) -> MappedFile | None:
        """The kept mapping of ``key``, or ``None``."""
        if self.folder is None:
            return None
        from spillover.ingest import SourceReport

        entry = self.folder / key
        try:
            about = json.loads((entry / "entry.json").read_text(encoding="utf-8"))
            good = pd.read_parquet(entry / "rows.parquet")
            bad = pd.read_parquet(entry / "quarantine.parquet")
        except (FileNotFoundError, NotADirectoryError):
            return None
        self.used.add(key)
        os.utime(entry)
        report = SourceReport(**about["report"])
        return MappedFile(report.table, source, year, path, about["rows"], good, bad, report)

    def store(self, key: str, mapped: MappedFile) -> None:
        """Keep ``mapped`` under ``key`` (a folder renamed into place whole).

        The entry is written in the background (Parquet encoding releases the interpreter):
        ``mapped``'s frames must not change afterwards. :meth:`flush` waits for it.
        """
        if self.folder is None:
            return
        self.used.add(key)

        def write(folder: Path) -> None:
            write_internal(mapped.good, folder / "rows.parquet")
            write_internal(mapped.bad, folder / "quarantine.parquet")
            about = {"rows": mapped.rows, "report": asdict(mapped.report)}
            (folder / "entry.json").write_text(json.dumps(about), encoding="utf-8")

        if self._writer is None:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="ingest-cache")
        self._writing.append(self._writer.submit(write_entry, self.folder, key, write))

    def flush(self) -> None:
        """Wait until every stored entry is written; raise the first write's error."""
        writing, self._writing = self._writing, []
        if self._writer is not None:
            self._writer.shutdown(wait=True)
            self._writer = None
        for future in writing:
            future.result()

    def prune(self, *, keep_days: float = KEEP_DAYS) -> None:
        """Remove entries not used by this cache and not used for ``keep_days`` days.

        Entries still being written are waited for first.
        """
        self.flush()
        prune_entries(self.folder, self.used, keep_days)
