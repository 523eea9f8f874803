"""SQL the services share that SQLAlchemy spells differently per database."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert


def insert_ignoring_conflicts(dialect: str, table: Any, index_elements: list[str]) -> Any:
    """INSERT ... ON CONFLICT (index_elements) DO NOTHING, on SQLite or PostgreSQL: the row is
    written unless one with the same key exists (the result's rowcount says which).

    For "first one wins" rows (an acknowledgement, a vote) instead of a SAVEPOINT around a plain
    INSERT: on SQLite, through Python's sqlite3, a savepoint that is a transaction's first write
    begins the transaction and its RELEASE commits it, which would make the caller's unit of work
    two transactions."""
    maker = pg_insert if dialect == "postgresql" else sqlite_insert
    return maker(table).on_conflict_do_nothing(index_elements=index_elements)
