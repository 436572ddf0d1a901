"""DuckDB access to a published output root through the views in ``sql/``."""

from __future__ import annotations

from pathlib import Path

import duckdb

SQL_DIR = Path(__file__).resolve().parents[1] / "sql"


def connect(output_root: str | Path, *, sql_dir: Path = SQL_DIR) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with one view per published dataset."""
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
