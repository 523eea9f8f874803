"""The audit log: written by the services that change access and roles, read by admins."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.models import AuditAction, AuditEntry, Member


def label(member: Member | None) -> str:
    if member is None:
        return ""
    handle = f" @{member.username}" if member.username else ""
    return f"{member.full_name}{handle} (#{member.id})"


async def record(
    session: AsyncSession,
    action: AuditAction,
    *,
    at: datetime,
    actor: Member | None = None,
    subject: Member | None = None,
    subject_label: str | None = None,
    detail: str = "",
) -> AuditEntry:
    entry = AuditEntry(
        at=at,
        action=action,
        actor_id=actor.id if actor else None,
        actor_label=label(actor),
        subject_id=subject.id if subject else None,
        subject_label=subject_label if subject_label is not None else label(subject),
        detail=detail[:500],
    )
    session.add(entry)
    await session.flush()
    return entry


async def page(
    session: AsyncSession, page_number: int, page_size: int = 10
) -> tuple[list[AuditEntry], int]:
    """Newest first; returns the entries of one page and the number of pages."""
    total = (await session.exec(select(func.count()).select_from(AuditEntry))).one()
    pages = max(1, -(-total // page_size))
    page_number = min(max(page_number, 0), pages - 1)
    rows = await session.exec(
        select(AuditEntry)
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())  # type: ignore[attr-defined]
        .offset(page_number * page_size)
        .limit(page_size)
    )
    return list(rows), pages


async def forget_labels(session: AsyncSession, member: Member, replacement: str) -> None:
    """Blank a forgotten member's name in the log; the entries stay, for accountability."""
    text = label(member)
    for column in ("actor", "subject"):
        id_col = getattr(AuditEntry, f"{column}_id")
        rows = await session.exec(select(AuditEntry).where(id_col == member.id))
        for entry in rows:
            setattr(entry, f"{column}_label", replacement)
    if text:
        rows = await session.exec(
            select(AuditEntry).where(
                (AuditEntry.subject_label == text) | (AuditEntry.actor_label == text)
            )
        )
        for entry in rows:
            if entry.subject_label == text:
                entry.subject_label = replacement
            if entry.actor_label == text:
                entry.actor_label = replacement
    await session.flush()
