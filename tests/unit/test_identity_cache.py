"""The who-is-who cache: exact within a process, bounded staleness across processes."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.db import Database
from bot.models import Admission, Role
from bot.services import members
from bot.services.identity import IdentityCache

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


class Ticker:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_changes_in_this_process_are_seen_at_once(db: Database) -> None:
    cache = IdentityCache(ttl=3600)
    async with db.session() as session:
        assert await cache.lookup(session, 42) is None  # a stranger, remembered as such
        await members.admit(session, members.Profile(42, "A"), via=Admission.INVITE, now=NOW)
    async with db.session() as session:
        identity = await cache.lookup(session, 42)
        assert identity is not None and identity.role is Role.MEMBER
        member = await members.by_telegram_id(session, 42)
        assert member is not None
        member.role = Role.MODERATOR
    async with db.session() as session:
        identity = await cache.lookup(session, 42)
        assert identity is not None and identity.role is Role.MODERATOR


async def test_changes_made_elsewhere_are_seen_after_the_ttl(db: Database) -> None:
    ticker = Ticker()
    cache = IdentityCache(ttl=30, clock=ticker)
    async with db.session() as session:
        await members.admit(session, members.Profile(43, "B"), via=Admission.INVITE, now=NOW)
    async with db.session() as session:
        assert (await cache.lookup(session, 43)) is not None
    # Another bot process removes the row: plain SQL, no ORM event reaches this process.
    async with db.engine.begin() as connection:
        from sqlalchemy import text

        await connection.execute(text("DELETE FROM members WHERE telegram_id = 43"))
    async with db.session() as session:
        assert (await cache.lookup(session, 43)) is not None  # still cached
        ticker.now = 31
        assert (await cache.lookup(session, 43)) is None


async def test_ttl_zero_turns_the_cache_off(db: Database) -> None:
    cache = IdentityCache(ttl=0)
    async with db.session() as session:
        assert await cache.lookup(session, 44) is None
    async with db.engine.begin() as connection:
        from sqlalchemy import text

        await connection.execute(
            text(
                "INSERT INTO members (telegram_id, full_name, role, status, admitted_via, "
                "admitted_at) VALUES (44, 'C', 'member', 'active', 'invite', '2026-11-26 09:00:00')"
            )
        )
    async with db.session() as session:
        assert await cache.lookup(session, 44) is not None
