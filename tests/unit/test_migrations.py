"""Alembic is the only path to the schema: the models and the migrations must agree."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection, make_url
from sqlmodel import SQLModel

import bot.models  # noqa: F401
from bot import migrations
from bot.db import Database
from tests.conftest import BACKEND, POSTGRES_SERVER, _pg_admin


@pytest.fixture
async def empty_database_url(tmp_path: Path) -> AsyncIterator[str]:
    if BACKEND == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    name = f"wgbot_mig_{uuid.uuid4().hex[:10]}"
    await _pg_admin(f'CREATE DATABASE "{name}"')
    yield make_url(POSTGRES_SERVER).set(database=name).render_as_string(hide_password=False)
    await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, SQLModel.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


async def test_models_and_migrations_agree(db: Database) -> None:
    async with db.engine.connect() as connection:
        diff = await connection.run_sync(_diff)
    assert diff == [], f"models and migrations disagree; write a migration: {diff}"


async def test_upgrade_downgrade_upgrade(empty_database_url: str) -> None:
    db = Database(empty_database_url)
    try:
        await asyncio.to_thread(migrations.upgrade, empty_database_url)
        async with db.engine.connect() as connection:
            assert await connection.run_sync(_tables) == set(SQLModel.metadata.tables)
        assert await migrations.schema_is_current(db)

        await asyncio.to_thread(migrations.downgrade, empty_database_url, "base")
        async with db.engine.connect() as connection:
            assert await connection.run_sync(_tables) == set()
        assert not await migrations.schema_is_current(db)

        await asyncio.to_thread(migrations.upgrade, empty_database_url)
        async with db.engine.connect() as connection:
            assert await connection.run_sync(_diff) == []
    finally:
        await db.dispose()


async def test_sqlite_runs_with_wal_busy_timeout_and_foreign_keys(db: Database) -> None:
    if db.dialect != "sqlite":
        assert db.dialect == "postgresql"
        return
    from sqlalchemy import text

    async with db.engine.connect() as connection:
        pragmas = {
            name: (await connection.execute(text(f"PRAGMA {name}"))).scalar()
            for name in ("journal_mode", "busy_timeout", "foreign_keys")
        }
    assert pragmas == {"journal_mode": "wal", "busy_timeout": 5000, "foreign_keys": 1}
