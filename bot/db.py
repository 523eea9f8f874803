"""Async engine and sessions: SQLite by default, PostgreSQL in production, same code."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

SQLITE_BUSY_TIMEOUT_MS = 5000


def async_url(url: str) -> str:
    """Accept the plain URLs people write and pick the async driver for them."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif backend in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


def sync_url(url: str) -> str:
    """The same database through a synchronous driver name Alembic's offline mode can print."""
    parsed = make_url(async_url(url))
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, busy_timeout_ms: int = -1) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers go on while the bot writes; busy_timeout waits instead of failing at once.
    cursor.execute("PRAGMA journal_mode=WAL")
    timeout = SQLITE_BUSY_TIMEOUT_MS if busy_timeout_ms < 0 else busy_timeout_ms
    cursor.execute(f"PRAGMA busy_timeout={timeout}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # What is deleted or overwritten is zeroed on disk, not left in free pages (a secret
    # ballot's counters are rewritten at every vote: their old values must not linger).
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    # An error names the statement but not its values: a failed vote's traceback must not show
    # a voter or a choice, nor any other member's data, in the log.
    kwargs.setdefault("hide_parameters", True)
    engine = create_async_engine(async_url(url), **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


class Database:
    """The engine and a session factory; one per application."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self._sync_engine: Engine | None = None
        self._driver_connection: sqlite3.Connection | None = None
        self._sessions = async_sessionmaker(
            self.engine, class_=AsyncSession, expire_on_commit=False
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def sqlite_sync_engine(self) -> Engine | None:
        """A synchronous engine on the same SQLite file, that never waits for a lock.

        For short writes from the event loop's own thread (the delivery worker's commits): no
        hop to aiosqlite's thread and back for every statement. It fails at once with "database
        is locked" instead of waiting, so it can never hold the event loop up; the caller then
        takes the async path, which waits.
        """
        if self.dialect != "sqlite" or self.engine.url.database in (None, "", ":memory:"):
            return None
        if self._sync_engine is None:
            url = self.engine.url.set(drivername="sqlite+pysqlite")
            engine = create_engine(url, connect_args={"timeout": 0}, hide_parameters=True)
            event.listen(engine, "connect", lambda c, r: _sqlite_pragmas(c, r, busy_timeout_ms=0))
            self._sync_engine = engine
        return self._sync_engine

    def sqlite_driver_connection(self) -> sqlite3.Connection | None:
        """The same file through the sqlite3 module itself, in autocommit mode, never waiting
        for a lock: for the delivery worker's most frequent commit (see outbox service)."""
        engine = self.sqlite_sync_engine()
        if engine is None:
            return None
        if self._driver_connection is None:
            connection = sqlite3.connect(engine.url.database or "", timeout=0, isolation_level=None)
            _sqlite_pragmas(connection, None, busy_timeout_ms=0)
            self._driver_connection = connection
        return self._driver_connection

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: commits when the block ends, rolls back on an exception."""
        async with self._sessions() as session:
            try:
                yield session
                # A session that never touched the database has nothing to commit.
                if session.in_transaction():
                    await session.commit()
            except BaseException:
                await session.rollback()
                raise

    def unit_of_work(self) -> UnitOfWork:
        """`session()` made on first use: see UnitOfWork."""
        return UnitOfWork(self)

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._sync_engine is not None:
            self._sync_engine.dispose()
        if self._driver_connection is not None:
            self._driver_connection.close()
            self._driver_connection = None


class UnitOfWork:
    """An update's unit of work, like `Database.session()`, but the session is made only when
    something asks for it: most updates (a /help, a page of a list) are answered from memory and
    need no session at all, and making and closing one costs more than the rest of their work.

    Used as `async with db.unit_of_work() as work:`; `work.session` makes the session; at the end
    of the block it commits (when a transaction is open) or rolls back (on an exception)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._session: AsyncSession | None = None

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            self._session = self._db._sessions()
        return self._session

    async def commit(self) -> None:
        """Make what was written so far durable now (nothing to do if nothing was)."""
        if self._session is not None:
            await self._session.commit()

    async def rollback(self) -> None:
        """Drop what was written and not committed."""
        if self._session is not None:
            await self._session.rollback()

    async def __aenter__(self) -> UnitOfWork:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, *_: object) -> None:
        session = self._session
        if session is None:
            return
        try:
            if kind is not None:
                await session.rollback()
            elif session.in_transaction():
                await session.commit()
        except BaseException:
            await session.rollback()
            raise
        finally:
            await session.close()
