"""Announcements: what a moderator sent to whom (one outbox row per recipient), and who
acknowledged it.

The text of each language version is stored as the Telegram HTML the moderator's formatting
became; the attachment is Telegram's file id. Delivery itself lives in the outbox (kind
"announcement", ref_id = the announcement's id).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from bot.models.types import UTCDateTime


class AnnouncementStatus(StrEnum):
    # Confirmed: queued, going out, or gone out.
    ACTIVE = "active"
    # Withdrawn before its time (a scheduled one).
    CANCELLED = "cancelled"
    # Deleted from the chats it reached.
    RECALLED = "recalled"


class AttachmentKind(StrEnum):
    PHOTO = "photo"
    DOCUMENT = "document"


class Announcement(SQLModel, table=True):
    __tablename__ = "announcements"
    __table_args__ = (Index("ix_announcements_status_scheduled_at", "status", "scheduled_at"),)

    id: int | None = Field(default=None, primary_key=True)
    author_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("members.id", ondelete="SET NULL"), nullable=True),
    )
    # The first version's language; recipients without a version of their own get that one.
    language: str = Field(sa_column=Column(String(8), nullable=False))
    # language -> Telegram HTML (the moderator's own formatting, everything else escaped).
    texts: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    attachment_kind: AttachmentKind | None = Field(
        default=None, sa_column=Column(String(8), nullable=True)
    )
    attachment_file_id: str | None = Field(
        default=None, sa_column=Column(String(256), nullable=True)
    )
    # The audience as chosen: the group chat, everybody, focal points, moderators, countries
    # (ISO codes; they narrow "everybody" / "focal points" to those countries).
    to_group: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    to_everyone: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    to_focal_points: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    to_moderators: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    countries: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    pin: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    ask_ack: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    status: AnnouncementStatus = Field(
        default=AnnouncementStatus.ACTIVE, sa_column=Column(String(10), nullable=False)
    )
    # How many outbox rows it was queued as (members, and the group chat).
    recipients: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    # When it goes out (the moment of confirmation when sent at once).
    scheduled_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    cancelled_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime, nullable=True)
    )
    recalled_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    reminded_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    # The moderator's report message, which follows the delivery; and what it shows now.
    report_chat_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    report_message_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    report_language: str | None = Field(default=None, sa_column=Column(String(8), nullable=True))
    report_view: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))


class AnnouncementAck(SQLModel, table=True):
    """A member acknowledged an announcement (once)."""

    __tablename__ = "announcement_acks"
    __table_args__ = (
        UniqueConstraint("announcement_id", "member_id", name="uq_announcement_acks_member"),
    )

    id: int | None = Field(default=None, primary_key=True)
    announcement_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("announcements.id", ondelete="CASCADE"), nullable=False
        )
    )
    member_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("members.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    acknowledged_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
