"""People: members with their roles, invite links, and access requests from strangers."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Column, ForeignKey, Integer, String
from sqlmodel import Field, SQLModel

from bot.models.types import UTCDateTime


class Role(StrEnum):
    MEMBER = "member"
    FOCAL_POINT = "focal_point"
    MODERATOR = "moderator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


_RANKS = {Role.MEMBER: 1, Role.FOCAL_POINT: 2, Role.MODERATOR: 3, Role.ADMIN: 4}


class MemberStatus(StrEnum):
    ACTIVE = "active"
    # Blocked the bot or deactivated their account: kept, but nothing is sent to them.
    INACTIVE = "inactive"
    # Removed by a moderator: no access, and not readmitted automatically from the group chat.
    # Only the name and Telegram id are kept, to recognise the person.
    REMOVED = "removed"


class Admission(StrEnum):
    CONFIG = "config"
    INVITE = "invite"
    GROUP = "group"
    REQUEST = "request"
    MODERATOR = "moderator"


class Member(SQLModel, table=True):
    __tablename__ = "members"

    id: int | None = Field(default=None, primary_key=True)
    telegram_id: int = Field(sa_column=Column(BigInteger, unique=True, nullable=False))
    username: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    full_name: str = Field(sa_column=Column(String(256), nullable=False))
    role: Role = Field(default=Role.MEMBER, sa_column=Column(String(16), nullable=False))
    country: str | None = Field(default=None, sa_column=Column(String(2), nullable=True))
    agency: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    language: str | None = Field(default=None, sa_column=Column(String(8), nullable=True))
    timezone: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    status: MemberStatus = Field(
        default=MemberStatus.ACTIVE, sa_column=Column(String(16), nullable=False)
    )
    admitted_via: Admission = Field(sa_column=Column(String(16), nullable=False))
    admitted_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))

    @property
    def role_enum(self) -> Role:
        return Role(self.role)


class Invite(SQLModel, table=True):
    __tablename__ = "invites"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(sa_column=Column(String(32), unique=True, nullable=False))
    created_by_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("members.id", ondelete="SET NULL"), nullable=True),
    )
    max_uses: int = Field(default=1, sa_column=Column(Integer, nullable=False))
    uses: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))


class AccessRequestStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"


class AccessRequest(SQLModel, table=True):
    __tablename__ = "access_requests"

    id: int | None = Field(default=None, primary_key=True)
    telegram_id: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    full_name: str = Field(sa_column=Column(String(256), nullable=False))
    username: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    language: str | None = Field(default=None, sa_column=Column(String(8), nullable=True))
    note: str = Field(default="", sa_column=Column(String(500), nullable=False))
    status: AccessRequestStatus = Field(
        default=AccessRequestStatus.PENDING, sa_column=Column(String(16), nullable=False)
    )
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    decided_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    decided_by_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("members.id", ondelete="SET NULL"), nullable=True),
    )
