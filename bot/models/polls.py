"""Polls: quick polls (Telegram's own anonymous polls) and secret ballots (buttons in private
chats).

A secret ballot keeps two things that are never joined: who has voted (`ballot_voters`: the
poll and a voter, to refuse a second vote and remind those who have not) and how many chose each
option (`ballot_counts`: a counter per option, incremented in place). No row holds a voter and a
choice together, neither table has a timestamp or a surrogate key, and the voters table is kept
WITHOUT ROWID on SQLite so that its physical order is the key's order, not the order of voting.
See README, "Secret ballots: threat model".
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
    PrimaryKeyConstraint,
    String,
)
from sqlmodel import Field, SQLModel

from bot.models.types import UTCDateTime


class PollKind(StrEnum):
    QUICK = "quick"  # Telegram's anonymous poll: the bot never learns who voted
    SECRET = "secret"  # a secret ballot with buttons: one vote per eligible voter


class PollStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class BallotScope(StrEnum):
    """Who may vote in a secret ballot."""

    MEMBERS = "members"  # every member of the audience
    FOCAL_POINTS = "focal_points"
    # One vote per country: the first focal point of a country to vote casts its vote.
    COUNTRIES = "countries"


class Poll(SQLModel, table=True):
    __tablename__ = "polls"
    __table_args__ = (Index("ix_polls_status_closes_at", "status", "closes_at"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: PollKind = Field(sa_column=Column(String(8), nullable=False))
    question: str = Field(sa_column=Column(String(300), nullable=False))
    # The options' texts, in order (2 to 12).
    options: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    multiple: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    # The audience: the group chat (quick polls only), everybody, focal points, countries.
    to_group: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    to_everyone: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    to_focal_points: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    countries: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    scope: BallotScope = Field(
        default=BallotScope.MEMBERS, sa_column=Column(String(16), nullable=False)
    )
    # How many eligible voters (or countries) a secret ballot had when it opened.
    eligible: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    # Results are valid only if at least this many voted (None: no quorum).
    quorum: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    status: PollStatus = Field(
        default=PollStatus.OPEN, sa_column=Column(String(10), nullable=False)
    )
    created_by_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("members.id", ondelete="SET NULL"), nullable=True),
    )
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    closes_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    closed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    # The final result, stored at close: counts per option, voters, whether the quorum was met.
    results: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # The reminder a day before the deadline (secret ballots) went out.
    reminded_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))


class PollMessage(SQLModel, table=True):
    """One message a quick poll was sent as (one per chat), with Telegram's latest counts for
    it: the poll's tallies are the sum over its messages."""

    __tablename__ = "poll_messages"

    id: int | None = Field(default=None, primary_key=True)
    poll_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("polls.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    chat_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    message_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    # Telegram's poll id (from sendPoll's answer): poll updates name it.
    telegram_poll_id: str | None = Field(
        default=None, sa_column=Column(String(64), unique=True, nullable=True)
    )
    counts: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    voters: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    stopped: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))


class BallotVoter(SQLModel, table=True):
    """Who has voted in a secret ballot: a member id, or for one-vote-per-country ballots the
    country code. Nothing else: no choice, no time, no surrogate id."""

    __tablename__ = "ballot_voters"
    __table_args__ = (
        PrimaryKeyConstraint("poll_id", "voter", name="pk_ballot_voters"),
        {"sqlite_with_rowid": False},
    )

    poll_id: int = Field(
        sa_column=Column(Integer, ForeignKey("polls.id", ondelete="CASCADE"), nullable=False)
    )
    voter: str = Field(sa_column=Column(String(32), nullable=False))


class BallotCount(SQLModel, table=True):
    """How many chose an option of a secret ballot: a counter, incremented in place."""

    __tablename__ = "ballot_counts"
    __table_args__ = (PrimaryKeyConstraint("poll_id", "option", name="pk_ballot_counts"),)

    poll_id: int = Field(
        sa_column=Column(Integer, ForeignKey("polls.id", ondelete="CASCADE"), nullable=False)
    )
    option: int = Field(sa_column=Column(Integer, nullable=False))
    count: int = Field(default=0, sa_column=Column(Integer, nullable=False))
