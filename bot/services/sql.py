"""SQL the services share that SQLAlchemy spells differently per database."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel.ext.asyncio.session import AsyncSession


def insert_ignoring_conflicts(dialect: str, table: Any, index_elements: list[str]) -> Any:
    """INSERT ... ON CONFLICT (index_elements) DO NOTHING, on SQLite or PostgreSQL: the row is
    written unless one with the same key exists (the result's rowcount says which).

    For "first one wins" rows (an acknowledgement, a vote) instead of a SAVEPOINT around a plain
    INSERT: on SQLite, through Python's sqlite3, a savepoint that is a transaction's first write
    begins the transaction and its RELEASE commits it, which would make the caller's unit of work
    two transactions."""
    maker = pg_insert if dialect == "postgresql" else sqlite_insert
    return maker(table).on_conflict_do_nothing(index_elements=index_elements)


async def lock_rows(session: AsyncSession, table: Any, ids: list[int]) -> None:
    """Hold these rows (by `id`) until the transaction ends, so that what the transaction reads
    next is what it writes against, and a concurrent writer of them waits for its commit.

    PostgreSQL: `SELECT ... FOR UPDATE`, in id order (two transactions never wait for each other
    in a circle). SQLite has one writer at a time and Python's sqlite3 reads outside a
    transaction until the first write: a do-nothing UPDATE of the rows begins the transaction
    and takes the database's write lock now, before the reads, not at the first real write."""
    if not ids:
        return
    connection = await session.connection()
    column = table.c.id
    if connection.dialect.name == "postgresql":
        await connection.execute(
            select(column).where(column.in_(sorted(ids))).order_by(column).with_for_update()
        )
    else:
        await connection.execute(update(table).where(column.in_(ids)).values(id=column))


def upsert(dialect: str, table: Any, index_elements: list[str], values: dict[str, Any]) -> Any:
    """INSERT ... ON CONFLICT (index_elements) DO UPDATE SET the other columns, on SQLite or
    PostgreSQL: write the row whether or not it exists."""
    maker = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = maker(table).values(**values)
    changed = {k: statement.excluded[k] for k in values if k not in index_elements}
    return statement.on_conflict_do_update(index_elements=index_elements, set_=changed)
