"""What the bot's dialogues (/announce, /newmeeting, /poll, /suggest, ...) have been told so far,
kept across restarts: python-telegram-bot's persistence, stored here (bot/persistence.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, LargeBinary, PrimaryKeyConstraint, String
from sqlmodel import Field, SQLModel

from bot.models.types import UTCDateTime


class DialogueState(SQLModel, table=True):
    """One person's dialogue drafts (scope "user", key their Telegram id, `data` the pickled
    user_data) or one conversation's step (scope "conversation:<name>", key the JSON of
    (chat id, user id), `data` the JSON of the step). Deleted when the dialogue ends."""

    __tablename__ = "dialogue_states"
    __table_args__ = (PrimaryKeyConstraint("scope", "key", name="pk_dialogue_states"),)

    scope: str = Field(sa_column=Column(String(80), nullable=False))
    key: str = Field(sa_column=Column(String(64), nullable=False))
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
