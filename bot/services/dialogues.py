"""Where the dialogues' state is kept between restarts (table `dialogue_states`): the drafts a
person's dialogues hold (python-telegram-bot's user_data, pickled) and each conversation's step.

Only what a dialogue needs while it lasts is here: a dialogue that ends removes its draft, a
person who asks to be forgotten loses theirs, and drafts untouched for `STALE_AFTER` are
dropped at start (nobody remembers where they were after a month)."""

from __future__ import annotations

import json
import logging
import pickle
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.models import DialogueState
from bot.services.sql import upsert

log = logging.getLogger(__name__)

USERS = "user"
STALE_AFTER = timedelta(days=30)


def conversation_scope(name: str) -> str:
    return f"conversation:{name}"


async def load_user_data(session: AsyncSession, *, now: datetime) -> dict[int, dict[Any, Any]]:
    """Every person's stored drafts; ones that cannot be read back (a dialogue whose code
    changed since) are dropped with a warning, as are stale ones."""
    await drop_stale(session, now=now)
    rows = await session.exec(select(DialogueState).where(DialogueState.scope == USERS))
    found: dict[int, dict[Any, Any]] = {}
    unreadable: list[str] = []
    for row in rows:
        try:
            data = pickle.loads(row.data)  # written by this bot, in its own database
        except Exception as exc:
            log.warning("dropping the dialogue drafts of a user: unreadable (%s)", exc)
            unreadable.append(row.key)
            continue
        if isinstance(data, dict) and data:
            found[int(row.key)] = data
    if unreadable:
        await session.exec(
            delete(DialogueState).where(  # type: ignore[call-overload]
                col(DialogueState.scope) == USERS, col(DialogueState.key).in_(unreadable)
            )
        )
    return found


async def save_user_data(
    session: AsyncSession, user_id: int, data: dict[Any, Any], *, now: datetime
) -> None:
    if not data:
        await drop_user_data(session, user_id)
        return
    await _write(session, USERS, str(user_id), pickle.dumps(data), now)


async def drop_user_data(session: AsyncSession, user_id: int) -> None:
    await session.exec(
        delete(DialogueState).where(  # type: ignore[call-overload]
            col(DialogueState.scope) == USERS, col(DialogueState.key) == str(user_id)
        )
    )


async def forget(session: AsyncSession, user_id: int) -> None:
    """/forgetme: the person's drafts and the steps of their dialogues go."""
    await drop_user_data(session, user_id)
    await session.exec(
        delete(DialogueState).where(  # type: ignore[call-overload]
            col(DialogueState.scope).startswith("conversation:"),
            col(DialogueState.key).endswith(f", {user_id}]"),
        )
    )


async def load_conversations(session: AsyncSession, name: str) -> dict[tuple[int, ...], Any]:
    rows = await session.exec(
        select(DialogueState).where(DialogueState.scope == conversation_scope(name))
    )
    return {tuple(json.loads(row.key)): json.loads(row.data) for row in rows}


async def save_conversation(
    session: AsyncSession, name: str, key: tuple[int, ...], state: Any, *, now: datetime
) -> None:
    """A conversation's step (None: it ended)."""
    scope, stored_key = conversation_scope(name), json.dumps(list(key))
    if state is None:
        await session.exec(
            delete(DialogueState).where(  # type: ignore[call-overload]
                col(DialogueState.scope) == scope, col(DialogueState.key) == stored_key
            )
        )
        return
    await _write(session, scope, stored_key, json.dumps(state).encode(), now)


async def _write(session: AsyncSession, scope: str, key: str, data: bytes, now: datetime) -> None:
    connection = await session.connection()
    await connection.execute(
        upsert(
            connection.dialect.name,
            DialogueState.__table__,  # type: ignore[attr-defined]
            ["scope", "key"],
            {"scope": scope, "key": key, "data": data, "updated_at": now},
        )
    )


async def drop_stale(session: AsyncSession, *, now: datetime) -> list[int]:
    """Drafts and steps untouched for STALE_AFTER go: a person who comes back after that starts
    again rather than find their next message taken as the answer to an old question. Returns
    the people whose drafts went (their copy in memory should go too)."""
    cutoff = now - STALE_AFTER
    users = await session.exec(
        select(DialogueState.key).where(
            DialogueState.scope == USERS, col(DialogueState.updated_at) < cutoff
        )
    )
    gone = [int(key) for key in users]
    await session.exec(
        delete(DialogueState).where(col(DialogueState.updated_at) < cutoff)  # type: ignore[call-overload]
    )
    return gone
