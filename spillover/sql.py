"""DuckDB access to a published output root through the views in ``sql/``.

The SQL files live in the repository's ``sql/`` folder; an installed (non-editable) package
finds them through the ``SPILLOVER_SQL_DIR`` environment variable (the Docker image sets it).
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

SQL_DIR = Path(os.environ.get("SPILLOVER_SQL_DIR", Path(__file__).resolve().parents[1] / "sql"))


def connect(output_root: str | Path, *, sql_dir: Path = SQL_DIR) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with one view per published dataset."""
    if not (sql_dir / "views.sql").exists():
        raise FileNotFoundError(
            f"{sql_dir / 'views.sql'} not found: set SPILLOVER_SQL_DIR to the repository's sql/"
        )
    connection = duckdb.connect()
    connection.execute("SET VARIABLE output_root = ?", [str(Path(output_root).resolve())])
    connection.execute((sql_dir / "views.sql").read_text(encoding="utf-8"))
    return connection


def query_file(
    connection: duckdb.DuckDBPyConnection, name: str, *, sql_dir: Path = SQL_DIR, **params
):
    """Run ``sql/<name>.sql`` with named parameters (``$radius_km`` …); return a DataFrame."""
    text = (sql_dir / f"{name}.sql").read_text(encoding="utf-8")
    return connection.execute(text, params or None).df()
