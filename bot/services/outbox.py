"""The outbox: queue what the bot starts, claim it for sending, record how each one ended.

Delivery guarantee (see README, "Delivery"): a row is claimed (state `sending`) and the claim
committed before its request goes to Telegram; its outcome (sent with the message id, failed
with the reason, or pending again for a retry) is committed by the worker's next transaction
after Telegram's answer, which it makes as soon as any request finishes, batched with the
outcomes of the others that finished meanwhile and with the next claim. A worker never has more
than its concurrency in rows `sending`. A crash leaves those rows `sending`; they are sent again
(at the next start with SQLite, one process; once the claim is stale, STALE_CLAIM, with
PostgreSQL), so a crash repeats at most the rows that were in flight, and never skips one.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import BigInteger, Integer, String, Table, bindparam, func, insert, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.models import Member, OutboxAction, OutboxMessage, OutboxState
from bot.models.types import UTCDateTime

# A request to Telegram never takes this long: a `sending` row older than this was abandoned by a
# process that died, and is sent again.
STALE_CLAIM = timedelta(seconds=60)
MAX_ATTEMPTS = 6


@dataclass(frozen=True)
class Recipient:
    """A chat the bot writes to on its own: a member's private chat (with their language and
    zone), or the group chat (member_id None)."""

    chat_id: int
    member_id: int | None = None
    language: str | None = None
    timezone: str | None = None

    @property
    def is_group(self) -> bool:
        return self.member_id is None

    @classmethod
    def of(cls, member: Member) -> Recipient:
        return cls(member.telegram_id, member.id, member.language, member.timezone)


@dataclass(frozen=True)
class Outgoing:
    """One message to queue."""

    dedup_key: str
    chat_id: int
    payload: dict[str, Any]
    recipient_id: int | None = None
    action: OutboxAction = OutboxAction.SEND
    target_message_id: int | None = None
    # The row it is about, when one call queues messages about several (reminders of many
    # meetings at once); else enqueue's ref_id.
    ref_id: int | None = None


# Dedup keys looked up per query: well under every database's limit on bound parameters.
_KEYS_PER_QUERY = 500


async def _already_queued(session: AsyncSession, keys: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(keys), _KEYS_PER_QUERY):
        chunk = keys[start : start + _KEYS_PER_QUERY]
        found.update(
            (
                await session.exec(
                    select(OutboxMessage.dedup_key).where(col(OutboxMessage.dedup_key).in_(chunk))
                )
            ).all()
        )
    return found


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
    existing = await _already_queued(session, [m.dedup_key for m in wanted])
    rows = []
    for message in wanted:
        if message.dedup_key in existing:
            continue
        existing.add(message.dedup_key)
        rows.append(
            OutboxMessage(
                kind=kind,
                ref_id=message.ref_id if message.ref_id is not None else ref_id,
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


async def enqueue_many(
    session: AsyncSession,
    kind: str,
    messages: Iterable[Outgoing],
    *,
    now: datetime,
    not_before: datetime | None = None,
) -> int:
    """`enqueue` for large batches (a thousand reminders due in the same minute): the same
    rows and the same dedup, written with one multi-row INSERT instead of ORM objects; returns
    how many were queued. Each message's ref_id names its row."""
    wanted = list(messages)
    if not wanted:
        return 0
    existing = await _already_queued(session, [m.dedup_key for m in wanted])
    values = []
    for message in wanted:
        if message.dedup_key in existing:
            continue
        existing.add(message.dedup_key)
        values.append(
            {
                "kind": kind,
                "ref_id": message.ref_id,
                "dedup_key": message.dedup_key,
                "action": message.action.value,
                "chat_id": message.chat_id,
                "recipient_id": message.recipient_id,
                "target_message_id": message.target_message_id,
                "payload": message.payload,
                "state": OutboxState.PENDING.value,
                "attempts": 0,
                "created_at": now,
                "not_before": not_before or now,
            }
        )
    if values:
        await session.flush()
        await (await session.connection()).execute(insert(_table()), values)
    return len(values)


@dataclass(frozen=True, slots=True)
class Claimed:
    """A claimed row, as the worker needs it to make the request: lighter than the ORM row."""

    id: int
    kind: str
    ref_id: int | None
    action: str
    chat_id: int
    recipient_id: int | None
    target_message_id: int | None
    payload: dict[str, Any]
    attempts: int


Target = AsyncSession | AsyncConnection
_CLAIMED_COLUMNS = tuple(f.name for f in fields(Claimed))


async def claim(
    session: Target,
    *,
    now: datetime,
    worker: str,
    limit: int = 50,
    include_stale: bool = True,
) -> list[OutboxMessage]:
    """Take due rows for sending: `sending` ones whose claim went stale (a process died with
    them in flight), then pending ones in the order they fell due (`not_before`, then id).

    Each is one statement, `UPDATE ... WHERE id IN (rows) RETURNING ...`, that walks the index
    on (state, not_before, id) and stops after `limit` rows. On PostgreSQL the rows are picked
    with `FOR UPDATE SKIP LOCKED`, so several workers never take the same row. On SQLite the
    statement takes the write lock before it reads, so two claims in one process (or a claim
    racing a handler's write) are serialized by it and busy_timeout instead of both reading the
    same rows. Call it first in its transaction or after a write: on SQLite a transaction that
    read before it writes can fail when another connection committed in between.
    """
    rows = await _claim(session, now, worker, limit, include_stale, full=True)
    return [OutboxMessage(**row) for row in rows]


async def claim_batch(
    target: Target,
    *,
    now: datetime,
    worker: str,
    limit: int,
    include_stale: bool = True,
) -> list[Claimed]:
    """`claim`, for the worker: the few columns a request needs, not ORM rows."""
    rows = await _claim(target, now, worker, limit, include_stale, full=False)
    return [Claimed(**{name: row[name] for name in _CLAIMED_COLUMNS}) for row in rows]


async def _claim(
    target: Target, now: datetime, worker: str, limit: int, include_stale: bool, *, full: bool
) -> list[Any]:
    if limit <= 0:
        return []
    connection = await _connection(target)
    dialect = connection.dialect.name
    params = {"now": now, "worker": worker, "limit": limit, "stale_before": now - STALE_CLAIM}
    rows: list[Any] = []
    if include_stale:
        result = await connection.execute(_claim_statement(dialect, stale=True, full=full), params)
        rows = sorted(result.mappings(), key=lambda row: row["id"])
    if len(rows) < limit:
        params["limit"] = limit - len(rows)
        result = await connection.execute(_claim_statement(dialect, stale=False, full=full), params)
        rows.extend(sorted(result.mappings(), key=lambda row: (row["not_before"], row["id"])))
    return rows


@cache
def _claim_statement(dialect: str, *, stale: bool, full: bool) -> Any:
    """Built once per kind: SQLAlchemy then finds it in its compiled cache at once."""
    table = _table()
    if stale:
        picked = (
            select(table.c.id)
            .where(
                (table.c.state == OutboxState.SENDING)
                & (table.c.claimed_at < bindparam("stale_before", type_=UTCDateTime()))
            )
            .order_by(table.c.id)
        )
    else:
        picked = (
            select(table.c.id)
            .where(
                (table.c.state == OutboxState.PENDING)
                & (table.c.not_before <= bindparam("now", type_=UTCDateTime()))
            )
            .order_by(table.c.not_before, table.c.id)
        )
    picked = picked.limit(bindparam("limit", type_=Integer()))
    if dialect == "postgresql":
        # A CTE is evaluated once, and one with FOR UPDATE is never inlined: exactly `limit`
        # rows, locked, skipping those other workers have locked.
        chosen = picked.with_for_update(skip_locked=True).cte("picked")
        picked = select(chosen.c.id)
    # (Not a CTE on SQLite: Python's sqlite3 opens the transaction only before a statement that
    # starts with UPDATE, and the claim belongs to the caller's transaction.)
    columns = (
        list(table.c) if full else [table.c[name] for name in (*_CLAIMED_COLUMNS, "not_before")]
    )
    return (
        update(table)
        .where(table.c.id.in_(picked))
        .values(
            state=OutboxState.SENDING,
            claimed_at=bindparam("now", type_=UTCDateTime()),
            claimed_by=bindparam("worker", type_=String()),
            attempts=table.c.attempts + 1,
        )
        .returning(*columns)
    )


def _table() -> Table:
    return OutboxMessage.__table__  # type: ignore[attr-defined,no-any-return]


async def _connection(target: Target) -> AsyncConnection:
    if isinstance(target, AsyncSession):
        return await target.connection()
    # An AsyncConnection, or anything with its `execute` (the worker's SQLite fast path).
    return target


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


@dataclass(frozen=True)
class Outcome:
    """How one claimed row ended this time: what `record` writes.

    `state` SENT (with the message id), FAILED (with the reason) or PENDING (again, not before
    `not_before`: a retry; `count_attempt=False` when it was not the message's fault, a 429 or a
    turn further away than the worker holds a claim).
    """

    row_id: int
    state: OutboxState
    telegram_message_id: int | None = None
    reason: str | None = None
    not_before: datetime | None = None
    count_attempt: bool = True

    @classmethod
    def sent(cls, row_id: int, telegram_message_id: int | None) -> Outcome:
        return cls(row_id, OutboxState.SENT, telegram_message_id=telegram_message_id)

    @classmethod
    def failed(cls, row_id: int, reason: str) -> Outcome:
        return cls(row_id, OutboxState.FAILED, reason=reason)

    @classmethod
    def retry(
        cls, row_id: int, at: datetime, reason: str | None, *, count_attempt: bool = True
    ) -> Outcome:
        return cls(
            row_id, OutboxState.PENDING, reason=reason, not_before=at, count_attempt=count_attempt
        )


async def record(
    target: Target,
    outcomes: Iterable[Outcome],
    *,
    now: datetime,
    worker: str | None = None,
) -> None:
    """Write many outcomes in the caller's transaction: one statement for all the sent rows.

    Only rows still `sending` (and, given `worker`, still claimed by it) change: an outcome
    never overwrites a row that another worker took over after the claim went stale.
    """
    outcomes = list(outcomes)
    if not outcomes:
        return
    connection = await _connection(target)
    sent = [o for o in outcomes if o.state == OutboxState.SENT]
    if sent:
        await connection.execute(
            _sent_statement(by_worker=worker is not None),
            [
                {
                    "row_id": o.row_id,
                    "message_id": o.telegram_message_id,
                    "now": now,
                    "worker": worker,
                }
                for o in sent
            ],
        )
    table = _table()
    for outcome in outcomes:  # rare: failures and retries
        if outcome.state == OutboxState.SENT:
            continue
        values: dict[str, Any]
        if outcome.state == OutboxState.FAILED:
            values = {
                "state": OutboxState.FAILED,
                "done_at": now,
                "last_error": (outcome.reason or "failed")[:300],
            }
        else:
            values = {
                "state": OutboxState.PENDING,
                "not_before": outcome.not_before or now,
                "claimed_at": None,
                "claimed_by": None,
            }
            if outcome.reason is not None:
                values["last_error"] = outcome.reason[:300]
            if not outcome.count_attempt:
                values["attempts"] = table.c.attempts - 1
        await connection.execute(
            update(table).where(_still_claimed(table, worker is not None)).values(**values),
            {"row_id": outcome.row_id, "worker": worker},
        )


def _still_claimed(table: Table, by_worker: bool) -> Any:
    condition = (table.c.id == bindparam("row_id", type_=Integer())) & (
        table.c.state == OutboxState.SENDING
    )
    if by_worker:
        condition = condition & (table.c.claimed_by == bindparam("worker", type_=String()))
    return condition


@cache
def _sent_statement(*, by_worker: bool) -> Any:
    table = _table()
    return (
        update(table)
        .where(_still_claimed(table, by_worker))
        .values(
            state=OutboxState.SENT,
            done_at=bindparam("now", type_=UTCDateTime()),
            telegram_message_id=bindparam("message_id", type_=BigInteger()),
            last_error=None,
        )
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


async def cancel_for_person(session: AsyncSession, member_id: int | None, chat_id: int) -> int:
    """Someone lost access or asked to be forgotten: what has not gone to them never will."""
    to_them = col(OutboxMessage.chat_id) == chat_id
    if member_id is not None:
        to_them = to_them | (col(OutboxMessage.recipient_id) == member_id)
    result = await session.exec(  # type: ignore[call-overload]
        update(OutboxMessage)
        .where(to_them, col(OutboxMessage.state) == OutboxState.PENDING)
        .values(state=OutboxState.CANCELLED, last_error="recipient no longer a member")
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


# -- SQLite, the common case of a broadcast, on the driver itself ---------------------------------
#
# The worker's commit in its simplest and most frequent form (every outcome `sent`, pending rows
# to claim, no abandoned claims to look for) as plain SQL on a sqlite3 connection. The same
# statements as `record` and `claim_batch` build, without SQLAlchemy's layers: a fifth of the
# cost, which is most of what a broadcast spends besides its requests. Anything else (failures,
# retries, stale claims) goes the general way.

_SQLITE_SENT = (
    "UPDATE outbox SET state = 'sent', done_at = ?, telegram_message_id = ?, last_error = NULL "
    "WHERE id = ? AND state = 'sending' AND claimed_by = ?"
)
_SQLITE_CLAIM = (
    "UPDATE outbox SET state = 'sending', claimed_at = ?, claimed_by = ?, attempts = attempts + 1 "
    "WHERE id IN (SELECT id FROM outbox WHERE state = 'pending' AND not_before <= ? "
    "ORDER BY not_before, id LIMIT ?) "
    "RETURNING id, kind, ref_id, action, chat_id, recipient_id, target_message_id, payload, "
    "attempts, not_before"
)


def _sqlite_time(moment: datetime) -> str:
    """How SQLAlchemy stores a UTCDateTime on SQLite (naive UTC, microseconds always)."""
    return f"{moment.astimezone(UTC).replace(tzinfo=None):%Y-%m-%d %H:%M:%S.%f}"


def sqlite_commit_sent_and_claim(
    connection: Any, outcomes: list[Outcome], *, now: datetime, worker: str, limit: int
) -> list[Claimed] | None:
    """On a sqlite3 connection in autocommit mode: one transaction recording `sent` outcomes
    and claiming up to `limit` due rows. None (nothing done) when the batch needs the general
    path. Raises sqlite3.OperationalError when the file is locked (nothing done either)."""
    if any(o.state != OutboxState.SENT for o in outcomes):
        return None
    stamp = _sqlite_time(now)
    connection.execute("BEGIN IMMEDIATE")
    try:
        if outcomes:
            connection.executemany(
                _SQLITE_SENT,
                [(stamp, o.telegram_message_id, o.row_id, worker) for o in outcomes],
            )
        rows = (
            connection.execute(_SQLITE_CLAIM, (stamp, worker, stamp, limit)).fetchall()
            if limit > 0
            else []
        )
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    rows.sort(key=lambda row: (row[9], row[0]))
    return [
        Claimed(
            id=row[0],
            kind=row[1],
            ref_id=row[2],
            action=row[3],
            chat_id=row[4],
            recipient_id=row[5],
            target_message_id=row[6],
            payload=json.loads(row[7]) if isinstance(row[7], str) else (row[7] or {}),
            attempts=row[8],
        )
        for row in rows
    ]
