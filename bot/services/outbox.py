"""The outbox: queue what the bot starts, claim it for sending, record how each one ended.

Delivery guarantee (see README, "Delivery"): a row is claimed (state `sending`) and committed
before its request goes to Telegram, and marked `sent` in its own commit right after Telegram's
answer. A crash in between leaves it `sending`; it is sent again once its claim is stale, so a
crash repeats at most the rows that were in flight, and never skips one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.models import OutboxAction, OutboxMessage, OutboxState

# A request to Telegram never takes this long: a `sending` row older than this was abandoned by a
# process that died, and is sent again.
STALE_CLAIM = timedelta(seconds=60)
MAX_ATTEMPTS = 6


@dataclass(frozen=True)
class Outgoing:
    """One message to queue."""

    dedup_key: str
    chat_id: int
    payload: dict[str, Any]
    recipient_id: int | None = None
    action: OutboxAction = OutboxAction.SEND
    target_message_id: int | None = None


async def enqueue(
    session: AsyncSession,
    kind: str,
    ref_id: int | None,
    messages: Iterable[Outgoing],
    *,
    now: datetime,
    not_before: datetime | None = None,
) -> list[OutboxMessage]:
    """Queue messages in the caller's transaction; a dedup key already queued is skipped."""
    wanted = list(messages)
    if not wanted:
        return []
    keys = [m.dedup_key for m in wanted]
    existing = set(
        (
            await session.exec(
                select(OutboxMessage.dedup_key).where(col(OutboxMessage.dedup_key).in_(keys))
            )
        ).all()
    )
    rows = []
    for message in wanted:
        if message.dedup_key in existing:
            continue
        existing.add(message.dedup_key)
        rows.append(
            OutboxMessage(
                kind=kind,
                ref_id=ref_id,
                dedup_key=message.dedup_key,
                action=message.action,
                chat_id=message.chat_id,
                recipient_id=message.recipient_id,
                target_message_id=message.target_message_id,
                payload=message.payload,
                created_at=now,
                not_before=not_before or now,
            )
        )
    session.add_all(rows)
    await session.flush()
    return rows


async def claim(
    session: AsyncSession, *, now: datetime, worker: str, limit: int = 50
) -> list[OutboxMessage]:
    """Take due rows for sending: pending ones, and `sending` ones whose claim went stale.

    On PostgreSQL the rows are locked with SKIP LOCKED, so several workers never take the same
    row; SQLite has one process, and its write lock serializes claims.
    """
    due = (col(OutboxMessage.state) == OutboxState.PENDING) & (col(OutboxMessage.not_before) <= now)
    abandoned = (col(OutboxMessage.state) == OutboxState.SENDING) & (
        col(OutboxMessage.claimed_at) < now - STALE_CLAIM
    )
    query = (
        select(OutboxMessage).where(due | abandoned).order_by(col(OutboxMessage.id)).limit(limit)
    )
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = list(await session.exec(query))
    for row in rows:
        row.state = OutboxState.SENDING
        row.claimed_at = now
        row.claimed_by = worker
        row.attempts += 1
        session.add(row)
    await session.flush()
    return rows


async def release_claims(session: AsyncSession, worker_prefix: str | None = None) -> int:
    """At start, with one process (SQLite): whatever was in flight is pending again."""
    statement = (
        update(OutboxMessage)
        .where(col(OutboxMessage.state) == OutboxState.SENDING)
        .values(state=OutboxState.PENDING, claimed_at=None, claimed_by=None)
    )
    if worker_prefix is not None:
        statement = statement.where(col(OutboxMessage.claimed_by).startswith(worker_prefix))
    result = await session.exec(statement)  # type: ignore[call-overload]
    return int(result.rowcount or 0)


async def mark_sent(
    session: AsyncSession, row_id: int, *, now: datetime, telegram_message_id: int | None
) -> None:
    await session.exec(  # type: ignore[call-overload]
        update(OutboxMessage)
        .where(col(OutboxMessage.id) == row_id)
        .values(
            state=OutboxState.SENT,
            done_at=now,
            telegram_message_id=telegram_message_id,
            last_error=None,
        )
    )


async def mark_failed(session: AsyncSession, row_id: int, *, now: datetime, reason: str) -> None:
    await session.exec(  # type: ignore[call-overload]
        update(OutboxMessage)
        .where(col(OutboxMessage.id) == row_id)
        .values(state=OutboxState.FAILED, done_at=now, last_error=reason[:300])
    )


async def retry_later(
    session: AsyncSession, row_id: int, *, at: datetime, reason: str, count_attempt: bool = True
) -> None:
    values: dict[str, Any] = {
        "state": OutboxState.PENDING,
        "not_before": at,
        "claimed_at": None,
        "claimed_by": None,
        "last_error": reason[:300],
    }
    if not count_attempt:
        # Telegram asked us to slow down: not the message's fault.
        values["attempts"] = OutboxMessage.attempts - 1
    await session.exec(  # type: ignore[call-overload]
        update(OutboxMessage).where(col(OutboxMessage.id) == row_id).values(**values)
    )


async def cancel(session: AsyncSession, kind: str, ref_id: int) -> int:
    """Withdraw what has not gone yet (a cancelled scheduled announcement, say)."""
    result = await session.exec(  # type: ignore[call-overload]
        update(OutboxMessage)
        .where(
            col(OutboxMessage.kind) == kind,
            col(OutboxMessage.ref_id) == ref_id,
            col(OutboxMessage.state) == OutboxState.PENDING,
        )
        .values(state=OutboxState.CANCELLED)
    )
    return int(result.rowcount or 0)


async def rows_for(
    session: AsyncSession, kind: str, ref_id: int, action: OutboxAction | None = None
) -> list[OutboxMessage]:
    query = select(OutboxMessage).where(
        col(OutboxMessage.kind) == kind, col(OutboxMessage.ref_id) == ref_id
    )
    if action is not None:
        query = query.where(col(OutboxMessage.action) == action)
    return list(await session.exec(query.order_by(col(OutboxMessage.id))))


async def tally(
    session: AsyncSession, kind: str, ref_id: int, action: OutboxAction = OutboxAction.SEND
) -> Counter[str]:
    """How many rows of one cause are in each state."""
    rows = await session.exec(
        select(OutboxMessage.state, func.count())
        .where(
            col(OutboxMessage.kind) == kind,
            col(OutboxMessage.ref_id) == ref_id,
            col(OutboxMessage.action) == action,
        )
        .group_by(col(OutboxMessage.state))
    )
    return Counter({str(state): int(count) for state, count in rows})


async def next_due(session: AsyncSession) -> datetime | None:
    """When the earliest pending row falls due (the worker sleeps until then)."""
    return (
        await session.exec(
            select(func.min(OutboxMessage.not_before)).where(
                col(OutboxMessage.state) == OutboxState.PENDING
            )
        )
    ).first()
