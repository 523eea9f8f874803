"""Strangers asking to be let in, and the moderators' answer."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.models import (
    AccessRequest,
    AccessRequestStatus,
    Admission,
    AuditAction,
    Member,
    MemberStatus,
)
from bot.services import audit, dialogues, members
from bot.services.errors import ServiceError

MAX_NOTE = 500


async def pending_for(session: AsyncSession, telegram_id: int) -> AccessRequest | None:
    return (
        await session.exec(
            select(AccessRequest).where(
                AccessRequest.telegram_id == telegram_id,
                AccessRequest.status == AccessRequestStatus.PENDING,
            )
        )
    ).first()


async def create(
    session: AsyncSession,
    profile: members.Profile,
    note: str,
    *,
    now: datetime,
    language: str | None = None,
) -> AccessRequest:
    """One pending request per person: asking again does not notify moderators again."""
    note = note.strip()
    if not note:
        raise ServiceError("note_empty")
    if len(note) > MAX_NOTE:
        raise ServiceError("note_too_long", limit=MAX_NOTE)
    existing = await members.by_telegram_id(session, profile.telegram_id)
    if existing is not None and existing.status != MemberStatus.REMOVED:
        raise ServiceError("already_member")
    if await pending_for(session, profile.telegram_id) is not None:
        raise ServiceError("request_pending")
    request = AccessRequest(
        telegram_id=profile.telegram_id,
        full_name=profile.full_name[: members.MAX_NAME],
        username=profile.username,
        language=language,
        note=note,
        created_at=now,
    )
    session.add(request)
    await session.flush()
    return request


async def decide(
    session: AsyncSession, moderator: Member, request_id: int, approve: bool, *, now: datetime
) -> AccessRequest:
    request = await session.get(AccessRequest, request_id)
    if request is None:
        raise ServiceError("request_not_found")
    if request.status != AccessRequestStatus.PENDING:
        raise ServiceError("request_decided", status=request.status)
    request.status = AccessRequestStatus.APPROVED if approve else AccessRequestStatus.DENIED
    request.decided_at = now
    request.decided_by_id = moderator.id
    session.add(request)
    profile = members.Profile(request.telegram_id, request.full_name, request.username)
    if approve:
        await members.admit(
            session,
            profile,
            via=Admission.REQUEST,
            now=now,
            actor=moderator,
            language=request.language,
            detail=f"request #{request.id}",
        )
    else:
        await audit.record(
            session,
            AuditAction.REFUSED,
            at=now,
            actor=moderator,
            subject_label=f"{request.full_name} (request #{request.id})",
        )
    await session.flush()
    return request


async def forget(session: AsyncSession, telegram_id: int) -> None:
    """A stranger's /forgetme: their requests go, whatever their state."""
    rows = await session.exec(select(AccessRequest).where(AccessRequest.telegram_id == telegram_id))
    for request in rows:
        await session.delete(request)
    await dialogues.forget(session, telegram_id)
    await session.flush()
