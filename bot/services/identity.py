"""Who is this Telegram user? An in-process cache in front of the members table.

Every update starts by asking who sent it, and most updates (/help, a button on a list) need
nothing else from the database; a round trip to SQLite through aiosqlite costs about a millisecond,
many times the rest of the work. Entries are dropped whenever a Member row is flushed or committed
in this process (so on SQLite, one process, the cache is exact), and expire after `ttl` seconds,
which bounds how stale a role can be in *another* bot process sharing a PostgreSQL database.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from itertools import chain
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.models import Member, MemberStatus, Role
from bot.services import members

DEFAULT_TTL_SECONDS = 30.0
MAX_ENTRIES = 20_000


@dataclass(frozen=True, slots=True)
class Identity:
    """A snapshot of a member, enough to decide what they may do and how to talk to them."""

    member_id: int
    telegram_id: int
    role: Role
    status: MemberStatus
    language: str | None
    timezone: str | None
    full_name: str
    username: str | None

    @property
    def has_access(self) -> bool:
        return self.status != MemberStatus.REMOVED

    @classmethod
    def of(cls, member: Member) -> Identity:
        assert member.id is not None
        return cls(
            member_id=member.id,
            telegram_id=member.telegram_id,
            role=Role(member.role),
            status=MemberStatus(member.status),
            language=member.language,
            timezone=member.timezone,
            full_name=member.full_name,
            username=member.username,
        )

    def matches(self, profile: members.Profile) -> bool:
        """Whether Telegram's current name and username are the ones we keep."""
        return self.full_name == profile.full_name[: members.MAX_NAME] and self.username == (
            profile.username[:64] if profile.username else None
        )


_live_caches: weakref.WeakSet[IdentityCache] = weakref.WeakSet()


class IdentityCache:
    def __init__(
        self, ttl: float = DEFAULT_TTL_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self._clock = clock
        self._entries: dict[int, tuple[float, Identity | None]] = {}
        _live_caches.add(self)

    async def lookup(self, session: AsyncSession, telegram_id: int) -> Identity | None:
        """The member behind a Telegram id (None for a stranger), from memory when fresh."""
        now = self._clock()
        hit = self._entries.get(telegram_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        member = await members.by_telegram_id(session, telegram_id)
        identity = Identity.of(member) if member is not None else None
        if self.ttl > 0:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[telegram_id] = (now + self.ttl, identity)
        return identity

    def fresh(self, telegram_id: int) -> tuple[bool, Identity | None]:
        """(True, who) when memory knows (who None: a stranger), (False, None) when `lookup`
        must ask the database."""
        hit = self._entries.get(telegram_id)
        if hit is not None and hit[0] > self._clock():
            return True, hit[1]
        return False, None

    def peek(self, telegram_id: int) -> Identity | None:
        """What is remembered of someone, without asking the database (None if nothing)."""
        hit = self._entries.get(telegram_id)
        return hit[1] if hit is not None else None

    def forget(self, telegram_id: int) -> None:
        self._entries.pop(telegram_id, None)

    def clear(self) -> None:
        self._entries.clear()


def _forget_everywhere(telegram_ids: set[int]) -> None:
    for cache in list(_live_caches):
        for telegram_id in telegram_ids:
            cache.forget(telegram_id)


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: Any) -> None:
    changed = {
        obj.telegram_id
        for obj in chain(session.new, session.dirty, session.deleted)
        if isinstance(obj, Member)
    }
    if changed:
        _forget_everywhere(changed)
        # Again at commit: a concurrent reader may have cached the old row in between.
        session.info.setdefault("changed_members", set()).update(changed)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    changed = session.info.pop("changed_members", None)
    if changed:
        _forget_everywhere(changed)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    changed = session.info.pop("changed_members", None)
    if changed:
        _forget_everywhere(changed)
