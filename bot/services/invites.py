"""Invite deep links: single or limited use, expiring, revocable."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.models import Admission, AuditAction, Invite, Member, MemberStatus
from bot.services import audit, members
from bot.services.errors import ServiceError

MAX_USES = 500
MAX_DAYS = 90
DEFAULT_DAYS = 7
# Telegram allows 1-64 characters of A-Z, a-z, 0-9, _ and - in a start parameter.
CODE_PREFIX = "inv_"


class Redemption(StrEnum):
    ADMITTED = "admitted"
    ALREADY_MEMBER = "already_member"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    REVOKED = "revoked"
    USED_UP = "used_up"
    REMOVED = "removed"


def looks_like_code(text: str) -> bool:
    return text.startswith(CODE_PREFIX) and 8 < len(text) <= 64


async def create(
    session: AsyncSession,
    creator: Member,
    *,
    now: datetime,
    max_uses: int = 1,
    days: int = DEFAULT_DAYS,
) -> Invite:
    if not 1 <= max_uses <= MAX_USES:
        raise ServiceError("invite_uses_range", max=MAX_USES)
    if not 1 <= days <= MAX_DAYS:
        raise ServiceError("invite_days_range", max=MAX_DAYS)
    invite = Invite(
        code=CODE_PREFIX + secrets.token_urlsafe(12),
        created_by_id=creator.id,
        max_uses=max_uses,
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    session.add(invite)
    await session.flush()
    await audit.record(
        session,
        AuditAction.INVITE_CREATED,
        at=now,
        actor=creator,
        detail=f"invite #{invite.id}: {max_uses} use(s), {days} day(s)",
    )
    return invite


def state(invite: Invite, now: datetime) -> Redemption | None:
    """Why an invite can no longer be used, or None while it still can."""
    if invite.revoked_at is not None:
        return Redemption.REVOKED
    if invite.expires_at <= now:
        return Redemption.EXPIRED
    if invite.uses >= invite.max_uses:
        return Redemption.USED_UP
    return None


async def redeem(
    session: AsyncSession,
    code: str,
    profile: members.Profile,
    *,
    now: datetime,
    language: str | None = None,
) -> Redemption:
    existing = await members.by_telegram_id(session, profile.telegram_id)
    if existing is not None and existing.status != MemberStatus.REMOVED:
        return Redemption.ALREADY_MEMBER
    if existing is not None:
        # A removed person needs a moderator's decision, not a link that was passed around.
        return Redemption.REMOVED
    invite = (await session.exec(select(Invite).where(Invite.code == code))).first()
    if invite is None:
        return Redemption.UNKNOWN
    refusal = state(invite, now)
    if refusal is not None:
        return refusal
    # Count the use atomically, so two people racing for the last use cannot both get in.
    claimed = await session.exec(  # type: ignore[call-overload]
        update(Invite)
        .where(col(Invite.id) == invite.id, col(Invite.uses) < col(Invite.max_uses))
        .values(uses=Invite.uses + 1)
    )
    if claimed.rowcount != 1:
        return Redemption.USED_UP
    await members.admit(
        session,
        profile,
        via=Admission.INVITE,
        now=now,
        language=language,
        detail=f"invite #{invite.id}",
    )
    return Redemption.ADMITTED


async def active(session: AsyncSession, now: datetime) -> list[Invite]:
    rows = await session.exec(
        select(Invite)
        .where(
            col(Invite.revoked_at).is_(None),
            Invite.expires_at > now,
            col(Invite.uses) < col(Invite.max_uses),
        )
        .order_by(col(Invite.created_at).desc())
        .limit(50)
    )
    return list(rows)


async def revoke(session: AsyncSession, actor: Member, invite_id: int, *, now: datetime) -> Invite:
    invite = await session.get(Invite, invite_id)
    if invite is None:
        raise ServiceError("invite_not_found")
    if invite.revoked_at is None:
        invite.revoked_at = now
        session.add(invite)
        await session.flush()
        await audit.record(
            session, AuditAction.INVITE_REVOKED, at=now, actor=actor, detail=f"invite #{invite.id}"
        )
    return invite
