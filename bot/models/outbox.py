"""The outbox: one row per message the bot starts (or edits, pins, deletes) on its own initiative.

Rows are written in the same transaction as the change that caused them and sent by the delivery
worker (`bot/delivery.py`) at Telegram's pace; each ends sent, failed (with the reason) or
cancelled.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index, Integer, String
from sqlmodel import Field, SQLModel

from bot.models.types import UTCDateTime


class OutboxState(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


class OutboxAction(StrEnum):
    SEND = "send"
    EDIT = "edit"
    DELETE = "delete"
    PIN = "pin"
    # stopPoll on a quick poll's message (its deadline came).
    STOP_POLL = "stop"


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox"
    __table_args__ = (
        # The worker's query: due rows in order.
        Index("ix_outbox_state_not_before", "state", "not_before", "id"),
        Index("ix_outbox_kind_ref", "kind", "ref_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # What caused it ("announcement", "access_request", ...) and which row of that (its id).
    kind: str = Field(sa_column=Column(String(32), nullable=False))
    ref_id: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    # One row per recipient and purpose: a restart or a retry can never queue it twice.
    dedup_key: str = Field(sa_column=Column(String(200), unique=True, nullable=False))
    action: OutboxAction = Field(
        default=OutboxAction.SEND, sa_column=Column(String(8), nullable=False)
    )
    chat_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    recipient_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("members.id", ondelete="SET NULL"), nullable=True),
    )
    # For edit, pin and delete: the message they act on.
    target_message_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    # text (Telegram HTML), reply_markup (dict), photo / document (file id or URL),
    # disable_notification: everything needed to make the request.
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    state: OutboxState = Field(
        default=OutboxState.PENDING, sa_column=Column(String(10), nullable=False)
    )
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    last_error: str | None = Field(default=None, sa_column=Column(String(300), nullable=True))
    telegram_message_id: int | None = Field(
        default=None, sa_column=Column(BigInteger, nullable=True)
    )
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    # Not before this moment: a scheduled send, or a retry's backoff.
    not_before: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    claimed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    claimed_by: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    done_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
