"""The audit log: who changed whose role or access, and when. Admins read it with /audit."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, ForeignKey, Integer, String
from sqlmodel import Field, SQLModel

from bot.models.types import UTCDateTime


class AuditAction(StrEnum):
    ADMITTED = "admitted"
    REFUSED = "refused"
    REMOVED = "removed"
    LOST_ACCESS = "lost_access"
    ROLE_CHANGED = "role_changed"
    COUNTRY_CHANGED = "country_changed"
    INVITE_CREATED = "invite_created"
    INVITE_REVOKED = "invite_revoked"
    FORGOTTEN = "forgotten"
    ANNOUNCED = "announced"
    ANNOUNCEMENT_CANCELLED = "announcement_cancelled"
    ANNOUNCEMENT_RECALLED = "announcement_recalled"
    MEETING_CREATED = "meeting_created"
    MEETING_CHANGED = "meeting_changed"
    MEETING_CANCELLED = "meeting_cancelled"
    MINUTES_RECORDED = "minutes_recorded"
    GLOSSARY_CHANGED = "glossary_changed"
    RESOURCE_CHANGED = "resource_changed"
    POLL_OPENED = "poll_opened"
    POLL_CLOSED = "poll_closed"


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False, index=True))
    action: AuditAction = Field(sa_column=Column(String(32), nullable=False))
    actor_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("members.id", ondelete="SET NULL"), nullable=True),
    )
    # Labels keep the log readable after a member is removed; /forgetme blanks them.
    actor_label: str = Field(default="", sa_column=Column(String(300), nullable=False))
    subject_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("members.id", ondelete="SET NULL"), nullable=True),
    )
    subject_label: str = Field(default="", sa_column=Column(String(300), nullable=False))
    detail: str = Field(default="", sa_column=Column(String(500), nullable=False))
