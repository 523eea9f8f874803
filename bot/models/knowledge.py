"""The knowledge base: the glossary (one entry per concept, its terms in several languages),
its history and the changes members suggest; and the resource library.

Each row has a `revision` that goes up with every change: search indexes in every bot process
compare (count, sum of revisions) with what they hold and reload the rows that changed, so the
index stays in step with the database whichever process made the change.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, String, Text
from sqlmodel import Field, SQLModel

from bot.models.types import UTCDateTime


class EntryStatus(StrEnum):
    PUBLISHED = "published"
    # Withdrawn by a moderator: kept with its history, not found by search.
    ARCHIVED = "archived"


class GlossaryEntry(SQLModel, table=True):
    """One concept. `terms` maps a language code to its terms in that language, the preferred
    term first, then synonyms; `abbreviations` are language-neutral (THB, TIP, FIU, STR/SAR);
    `definitions` maps a language code to the definition in it."""

    __tablename__ = "glossary_entries"

    id: int | None = Field(default=None, primary_key=True)
    terms: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    abbreviations: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    definitions: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    # The instrument and article it comes from ("Trafficking in Persons Protocol, art. 3(a)").
    source: str = Field(default="", sa_column=Column(String(500), nullable=False))
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    related_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    status: EntryStatus = Field(
        default=EntryStatus.PUBLISHED, sa_column=Column(String(10), nullable=False)
    )
    revision: int = Field(default=1, sa_column=Column(Integer, nullable=False))
    created_by_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("members.id", ondelete="SET NULL"), nullable=True),
    )
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class ChangeAction(StrEnum):
    CREATED = "created"
    EDITED = "edited"
    ARCHIVED = "archived"
    RESTORED = "restored"


class GlossaryChange(SQLModel, table=True):
    """Every change to an entry: who, when, what it was and what it became (/history)."""

    __tablename__ = "glossary_changes"
    __table_args__ = (Index("ix_glossary_changes_entry_id_at", "entry_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    entry_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("glossary_entries.id", ondelete="CASCADE"), nullable=False
        )
    )
    revision: int = Field(sa_column=Column(Integer, nullable=False))
    action: ChangeAction = Field(sa_column=Column(String(10), nullable=False))
    actor_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("members.id", ondelete="SET NULL"), nullable=True),
    )
    # Kept when the actor's row is gone (/forgetme blanks it like the audit log's).
    actor_label: str = Field(default="", sa_column=Column(String(300), nullable=False))
    at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    # The entry's content before and after (None before its creation).
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    after: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # Approved from a member's suggestion.
    suggestion_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("glossary_suggestions.id", ondelete="SET NULL"), nullable=True
        ),
    )


class ReviewStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class GlossarySuggestion(SQLModel, table=True):
    """A member's proposed new entry (entry_id None) or edit, waiting for a moderator."""

    __tablename__ = "glossary_suggestions"
    __table_args__ = (Index("ix_glossary_suggestions_status_created_at", "status", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    entry_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("glossary_entries.id", ondelete="CASCADE"), nullable=True
        ),
    )
    # The entry as proposed: the same keys as GlossaryEntry's content (terms, abbreviations,
    # definitions, source, tags, related_ids).
    proposed: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    note: str = Field(default="", sa_column=Column(String(500), nullable=False))
    author_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("members.id", ondelete="SET NULL"), nullable=True),
    )
    status: ReviewStatus = Field(
        default=ReviewStatus.PENDING, sa_column=Column(String(10), nullable=False)
    )
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    reviewed_by_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("members.id", ondelete="SET NULL"), nullable=True),
    )
    reviewed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    reason: str = Field(default="", sa_column=Column(String(500), nullable=False))
    # Moderators were last reminded of it (it waited too long for a review).
    reminded_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))


class ResourceKind(StrEnum):
    REPORT = "report"
    GUIDELINE = "guideline"
    LEGISLATION = "legislation"
    CASE_LAW = "case_law"
    TRAINING = "training"
    TOOL = "tool"


class Visibility(StrEnum):
    MEMBERS = "members"
    MODERATORS = "moderators"


class ResourceStatus(StrEnum):
    # Proposed by a member, waiting for a moderator.
    PENDING = "pending"
    PUBLISHED = "published"
    REJECTED = "rejected"
    ARCHIVED = "archived"


class Resource(SQLModel, table=True):
    __tablename__ = "resources"
    __table_args__ = (Index("ix_resources_status_created_at", "status", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(sa_column=Column(String(300), nullable=False))
    url: str = Field(default="", sa_column=Column(String(1000), nullable=False))
    summary: str = Field(default="", sa_column=Column(Text, nullable=False))
    kind: ResourceKind = Field(sa_column=Column(String(16), nullable=False))
    issuer: str = Field(default="", sa_column=Column(String(200), nullable=False))
    year: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    # Language codes the document exists in; countries (ISO) it concerns; free tags.
    languages: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    countries: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    visibility: Visibility = Field(
        default=Visibility.MEMBERS, sa_column=Column(String(10), nullable=False)
    )
    superseded_by_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("resources.id", ondelete="SET NULL"), nullable=True),
    )
    status: ResourceStatus = Field(
        default=ResourceStatus.PUBLISHED, sa_column=Column(String(10), nullable=False)
    )
    revision: int = Field(default=1, sa_column=Column(Integer, nullable=False))
    proposed_by_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("members.id", ondelete="SET NULL"), nullable=True),
    )
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    reviewed_by_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("members.id", ondelete="SET NULL"), nullable=True),
    )
    reviewed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    review_note: str = Field(default="", sa_column=Column(String(500), nullable=False))
    reminded_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
