"""The outbox service and the rate limiter, without Telegram: a database and a fake clock."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from bot.clock import FakeClock
from bot.db import Database
from bot.delivery import DeliveryLimits, RateLimiter, SlidingWindow, _seconds
from bot.models import OutboxMessage, OutboxState
from bot.sandbox.driver import Sandbox
from bot.services import outbox
from bot.services.outbox import Outcome, Outgoing

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
GROUP = -1_001_234_567_890
LIMITS = DeliveryLimits()
# One message every 1.03/30 s overall; 1.03 s per private chat; 20 per 61.8 s per group.
SPACING = LIMITS.margin / LIMITS.per_second
PRIVATE = LIMITS.per_chat_interval * LIMITS.margin
GROUP_WINDOW = 60 * LIMITS.margin
TOLERANCE = 2e-6


def _message(key: str, chat_id: int = 1) -> Outgoing:
    return Outgoing(dedup_key=key, chat_id=chat_id, payload={"text": f"hello {key}"})


async def _queue(db: Database, keys: list[str], *, not_before: datetime | None = None) -> list[int]:
    async with db.session() as session:
        rows = await outbox.enqueue(
            session,
            "test",
            1,
            [_message(k, chat_id=i + 1) for i, k in enumerate(keys)],
            now=NOW,
            not_before=not_before,
        )
        return [r.id for r in rows if r.id is not None]


async def _rows(db: Database) -> dict[int, OutboxMessage]:
    async with db.session() as session:
        return {r.id: r for r in await session.exec(select(OutboxMessage)) if r.id is not None}


async def _claim(db: Database, *, now: datetime = NOW, worker: str = "w", limit: int = 50) -> list:
    async with db.session() as session:
        return await outbox.claim(session, now=now, worker=worker, limit=limit)


# -- the outbox ---------------------------------------------------------------------------------


async def test_enqueue_is_idempotent_per_dedup_key(db: Database) -> None:
    first = await _queue(db, ["a", "b"])
    async with db.session() as session:
        again = await outbox.enqueue(
            session, "test", 1, [_message("a"), _message("c"), _message("c")], now=NOW
        )
        assert [r.dedup_key for r in again] == ["c"]  # "a" was queued, the second "c" too
        assert await outbox.enqueue(session, "test", 1, [], now=NOW) == []
    rows = await _rows(db)
    assert sorted(r.dedup_key for r in rows.values()) == ["a", "b", "c"]
    assert all(r.state == OutboxState.PENDING and r.attempts == 0 for r in rows.values())
    assert set(first) <= set(rows)


async def test_claim_takes_due_rows_in_order_and_leaves_future_ones(db: Database) -> None:
    due = await _queue(db, ["a", "b", "c"])
    later = await _queue(db, ["later"], not_before=NOW + timedelta(seconds=30))
    claimed = await _claim(db, limit=2)
    assert [r.id for r in claimed] == due[:2]
    assert all(r.state == OutboxState.SENDING and r.attempts == 1 for r in claimed)
    assert all(r.claimed_by == "w" and r.claimed_at == NOW for r in claimed)
    assert [r.id for r in await _claim(db)] == due[2:]  # not the claimed ones, not the future one
    assert await _claim(db) == []
    # Due now; the claims of a moment ago are not stale.
    assert [r.id for r in await _claim(db, now=NOW + timedelta(seconds=30))] == later
    assert await _claim(db, limit=0) == []


async def test_claim_takes_rows_in_the_order_they_fell_due_stale_claims_first(
    db: Database,
) -> None:
    [scheduled] = await _queue(db, ["scheduled"], not_before=NOW + timedelta(seconds=5))
    [retry] = await _queue(db, ["retry"], not_before=NOW + timedelta(seconds=2))
    [queued] = await _queue(db, ["queued"], not_before=NOW)
    later = NOW + timedelta(seconds=10)
    claimed = await _claim(db, now=later, limit=3)
    assert [r.id for r in claimed] == [queued, retry, scheduled]
    # Abandoned long ago: taken before anything pending, whatever its id.
    async with db.session() as session:
        await outbox.retry_later(session, queued, at=later, reason="x")
        await outbox.retry_later(session, retry, at=later, reason="x")
    much_later = later + outbox.STALE_CLAIM + timedelta(seconds=1)
    claimed = await _claim(db, now=much_later, limit=2)
    assert [r.id for r in claimed] == [scheduled, retry]
    async with db.session() as session:
        batch = await outbox.claim_batch(session, now=much_later, worker="w", limit=5)
    assert [(c.id, c.chat_id, c.payload["text"]) for c in batch] == [(queued, 1, "hello queued")]


async def test_a_stale_claim_is_taken_again_a_fresh_one_is_not(db: Database) -> None:
    [row_id] = await _queue(db, ["a"])
    await _claim(db, worker="dead")
    fresh = NOW + outbox.STALE_CLAIM - timedelta(seconds=1)
    assert await _claim(db, now=fresh, worker="other") == []
    stale = NOW + outbox.STALE_CLAIM + timedelta(seconds=1)
    [again] = await _claim(db, now=stale, worker="other")
    assert again.id == row_id and again.claimed_by == "other" and again.attempts == 2


async def test_mark_sent_failed_and_retry_later(db: Database) -> None:
    a, b, c, d = await _queue(db, ["a", "b", "c", "d"])
    await _claim(db)
    async with db.session() as session:
        await outbox.mark_sent(session, a, now=NOW, telegram_message_id=42)
        await outbox.mark_failed(session, b, now=NOW, reason="403: blocked" + "x" * 400)
        await outbox.retry_later(session, c, at=NOW + timedelta(seconds=4), reason="network")
        await outbox.retry_later(
            session, d, at=NOW + timedelta(seconds=3), reason="429", count_attempt=False
        )
    rows = await _rows(db)
    assert rows[a].state == OutboxState.SENT and rows[a].telegram_message_id == 42
    assert rows[a].done_at == NOW
    assert rows[b].state == OutboxState.FAILED and rows[b].last_error.startswith("403: blocked")
    assert len(rows[b].last_error) == 300
    assert rows[c].state == OutboxState.PENDING and rows[c].attempts == 1
    assert rows[c].not_before == NOW + timedelta(seconds=4) and rows[c].claimed_by is None
    # A 429 is not the message's fault: the attempt the claim counted is given back.
    assert rows[d].state == OutboxState.PENDING and rows[d].attempts == 0
    assert rows[d].last_error == "429"
    async with db.session() as session:
        due = await outbox.next_due(session)
        assert due == NOW + timedelta(seconds=3)
        assert due.tzinfo is not None  # aware on SQLite too: the worker subtracts it from now
        assert (await outbox.tally(session, "test", 1)) == {"sent": 1, "failed": 1, "pending": 2}


async def test_record_writes_a_batch_of_outcomes_and_only_on_its_own_claims(db: Database) -> None:
    a, b, c, d, e = await _queue(db, ["a", "b", "c", "d", "e"])
    await _claim(db, worker="me")
    async with db.session() as session:
        await outbox.record(
            session,
            [
                Outcome.sent(a, 11),
                Outcome.sent(b, 12),
                Outcome.failed(c, "400: chat not found"),
                Outcome.retry(d, NOW + timedelta(seconds=2), "network: 500", count_attempt=True),
                Outcome.retry(e, NOW + timedelta(seconds=9), None, count_attempt=False),
            ],
            now=NOW + timedelta(seconds=1),
            worker="me",
        )
    rows = await _rows(db)
    assert [(rows[i].state, rows[i].telegram_message_id) for i in (a, b)] == [
        (OutboxState.SENT, 11),
        (OutboxState.SENT, 12),
    ]
    assert rows[c].state == OutboxState.FAILED and rows[c].last_error == "400: chat not found"
    assert (rows[d].state, rows[d].attempts, rows[d].last_error) == (
        OutboxState.PENDING,
        1,
        "network: 500",
    )
    assert (rows[e].state, rows[e].attempts, rows[e].last_error) == (OutboxState.PENDING, 0, None)
    assert rows[e].not_before == NOW + timedelta(seconds=9)
    # Another worker's outcome for a row it no longer holds changes nothing.
    async with db.session() as session:
        await outbox.record(session, [Outcome.failed(a, "late")], now=NOW, worker="me")
        await outbox.record(session, [], now=NOW)
    assert (await _rows(db))[a].state == OutboxState.SENT


async def test_release_claims_and_next_due(db: Database) -> None:
    async with db.session() as session:
        assert await outbox.next_due(session) is None
    await _queue(db, ["a", "b"])
    await _claim(db, worker="host:1")
    async with db.session() as session:
        assert await outbox.next_due(session) is None  # nothing pending
        assert await outbox.release_claims(session, "host:2") == 0
        assert await outbox.release_claims(session, "host:1") == 2
    rows = await _rows(db)
    assert all(r.state == OutboxState.PENDING and r.claimed_by is None for r in rows.values())


async def test_two_claims_at_once_never_take_the_same_row(db: Database) -> None:
    """PostgreSQL: the second claim skips the rows the first one locked, without waiting.
    SQLite: the second claim waits for the first one's write lock, then takes the next rows."""
    ids = await _queue(db, [f"k{i}" for i in range(10)])
    first_done = asyncio.Event()
    async with db.session() as first:
        mine = await outbox.claim(first, now=NOW, worker="one", limit=4)

        async def second_claim() -> tuple[list[OutboxMessage], bool]:
            async with db.session() as second:
                rows = await outbox.claim(second, now=NOW, worker="two", limit=4)
                return rows, first_done.is_set()

        other = asyncio.create_task(second_claim())
        await asyncio.sleep(0.2)  # give the second claim every chance to take the same rows
        if db.dialect == "postgresql":
            assert other.done(), "SKIP LOCKED: the second claim does not wait for the first"
        first_done.set()
    theirs, waited = await asyncio.wait_for(other, 10)
    assert [r.id for r in mine] == ids[:4]
    assert [r.id for r in theirs] == ids[4:8]
    assert waited == (db.dialect == "sqlite")
    rows = await _rows(db)
    assert {rows[i].claimed_by for i in ids[:4]} == {"one"}
    assert {rows[i].claimed_by for i in ids[4:8]} == {"two"}


# -- the limiter ------------------------------------------------------------------------------


def _limiter(clock: FakeClock, limits: DeliveryLimits = LIMITS) -> RateLimiter:
    async def sleep_until(moment: datetime) -> None:
        assert moment > clock.now(), "the limiter only sleeps until a later moment"
        clock.set(moment)

    return RateLimiter(limits, clock.now, sleep_until)


async def _times(limiter: RateLimiter, clock: FakeClock, chats: list[int]) -> list[float]:
    start = NOW.timestamp()
    times = []
    for chat in chats:
        await limiter.acquire(chat)
        times.append(clock.now().timestamp() - start)
    return times


def _most_in(times: list[float], window: float) -> int:
    return max(sum(1 for t in times if s <= t < s + window) for s in times)


def test_sliding_window() -> None:
    window = SlidingWindow(2, 10.0)
    assert window.free_at(0.0) == 0.0
    window.record(0.0)
    window.record(1.0)
    assert window.free_at(2.0) == 10.0  # the third waits for the first to leave the window
    assert window.free_at(10.0) == 10.0
    spaced = SlidingWindow(100, 1.0, spacing=0.25)
    spaced.record(5.0)
    assert spaced.free_at(5.1) == 5.25
    assert spaced.free_at(7.0) == 7.0


async def test_overall_limit_is_an_even_pace_of_30_a_second() -> None:
    clock = FakeClock(NOW)
    limiter = _limiter(clock)
    times = await _times(limiter, clock, list(range(1, 91)))  # 90 private chats, one each
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= SPACING - TOLERANCE
    assert _most_in(times, 1.0) <= 30  # Telegram's count over any second
    assert times[-1] == pytest.approx(89 * SPACING, abs=1e-3)  # not bursts of 30 a second


async def test_one_message_a_second_per_private_chat() -> None:
    clock = FakeClock(NOW)
    times = await _times(_limiter(clock), clock, [7, 7, 8, 7])
    assert times[0] == 0 and times[1] == pytest.approx(PRIVATE, abs=1e-5)
    assert times[2] == pytest.approx(PRIVATE + SPACING, abs=1e-5)  # another chat: no wait
    assert times[3] - times[1] >= PRIVATE - TOLERANCE


async def test_twenty_a_minute_per_group() -> None:
    clock = FakeClock(NOW)
    times = await _times(_limiter(clock), clock, [GROUP] * 45)
    # A burst of 20 (at the overall pace), then each waits for one to leave the minute.
    assert times[19] == pytest.approx(19 * SPACING, abs=1e-5)
    assert times[20] == pytest.approx(GROUP_WINDOW, abs=1e-5)
    assert times[40] == pytest.approx(2 * GROUP_WINDOW, abs=1e-5)
    assert _most_in(times, 60.0) <= 20


async def test_pause_after_a_429_then_the_same_pace_without_a_burst() -> None:
    clock = FakeClock(NOW)
    limiter = _limiter(clock)
    await limiter.acquire(1)
    limiter.pause(_seconds(timedelta(seconds=3)))  # PTB_TIMEDELTA: retry_after is a timedelta
    assert limiter.paused_until == NOW + timedelta(seconds=3)
    times = await _times(limiter, clock, list(range(2, 12)))
    assert times[0] == pytest.approx(3.0, abs=1e-5)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= SPACING - TOLERANCE
    assert limiter.paused_until is None
    assert _seconds(5) == 5.0


async def test_a_turn_too_far_away_is_not_waited_for_nor_taken() -> None:
    clock = FakeClock(NOW)
    limiter = _limiter(clock)
    for _ in range(20):
        await limiter.acquire(GROUP)
    before = clock.now()
    later = await limiter.acquire(GROUP, max_wait=5.0)
    assert later is not None and later == limiter.turn(GROUP)
    assert (later - NOW).total_seconds() == pytest.approx(GROUP_WINDOW, abs=1e-5)
    assert clock.now() == before  # nothing slept, nothing taken: a private chat goes now
    assert await limiter.acquire(1, max_wait=5.0) is None
    first = clock.now()
    # 1.03 s away: within max_wait, so waited for and taken.
    assert await limiter.acquire(1, max_wait=5.0) is None
    assert (clock.now() - first).total_seconds() == pytest.approx(PRIVATE, abs=1e-5)


async def test_paid_broadcast_keeps_the_configured_rate() -> None:
    clock = FakeClock(NOW)
    limits = DeliveryLimits(per_second=1000, paid_broadcast=True)
    times = await _times(_limiter(clock, limits), clock, list(range(1, 1001)))
    assert _most_in(times, 1.0) <= 1000
    assert times[-1] == pytest.approx(999 * limits.margin / 1000, abs=1e-3)


async def test_a_late_wake_up_is_not_carried_over_to_the_pace() -> None:
    """The event loop wakes a little late: the pace stays 30 a second, never over Telegram's."""
    clock = FakeClock(NOW)

    async def late_sleep_until(moment: datetime) -> None:
        clock.set(moment + timedelta(milliseconds=3))

    limiter = RateLimiter(LIMITS, clock.now, late_sleep_until)
    times = await _times(limiter, clock, list(range(1, 301)))
    # Without catching up: 299 gaps of 34.3 + 3 ms, 11.2 s. With it: the schedule, 10.27 s.
    assert times[-1] == pytest.approx(299 * SPACING + 0.003, abs=1e-3)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= SPACING / 2 - TOLERANCE
    assert _most_in(times, 1.0) <= 30


async def test_the_sqlite_fast_commit_never_waits_for_a_lock(sandbox: Sandbox) -> None:
    """The worker's in-thread commit on SQLite gives way at once when another connection
    holds the write lock (the async path, which waits, takes over): the event loop never
    blocks on it."""
    from sqlalchemy import text as sql_text

    db = sandbox.app.bot_data["app"].db
    worker = sandbox.worker
    if db.dialect != "sqlite":
        assert db.sqlite_sync_engine() is None  # PostgreSQL: always the async path
        return
    async with db.engine.connect() as holder:
        transaction = await holder.begin()
        await holder.execute(sql_text("UPDATE members SET username = username"))
        started = sandbox.now()
        assert worker._commit_sqlite_now([], 5, started, False) is None
        await transaction.rollback()
    assert worker._commit_sqlite_now([], 5, sandbox.now(), False) == []
