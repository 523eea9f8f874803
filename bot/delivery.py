"""The delivery worker: every message the bot starts goes out here, at Telegram's pace.

It claims due outbox rows, waits for its turn under Telegram's three limits (overall, per private
chat, per group), makes the request, and records the outcome: sent (with the message id), retried
later (429 honoured by pausing everything; timeouts and 5xx with backoff), or failed with the
reason (403 blocked or kicked, 400 chat not found, ...), marking the member inactive where that is
the cause.

The guarantee (see `bot/services/outbox.py`): a row's claim is committed before its request, its
outcome right after the answer (batched with the others that finished meanwhile), and a worker
has at most `concurrency` rows `sending`; a crash sends again at most those, never skips one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import socket
import sqlite3
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, TypeVar

from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import Bot, InlineKeyboardMarkup, LinkPreviewOptions, Message
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
)

from bot.context import AppContext
from bot.models import Member, OutboxAction
from bot.services import members, outbox
from bot.services.outbox import Claimed

log = logging.getLogger(__name__)
T = TypeVar("T")

SleepUntil = Callable[[datetime], Awaitable[None]]
ProgressListener = Callable[[str, int], Awaitable[None]]
# Told of each message sent for rows of a kind (a quick poll's Telegram poll id, say).
SentHook = Callable[[Claimed, Message], Awaitable[None]]


@dataclass(frozen=True)
class DeliveryLimits:
    """Telegram's limits, and a safety margin: windows a little longer than Telegram's own."""

    # Messages a second, overall, from this process (DELIVERY_RATE): spaced evenly, no bursts.
    per_second: float = 30.0
    per_chat_interval: float = 1.0
    group_per_minute: int = 20
    # Windows are stretched by this factor, so clock jitter never crosses Telegram's line.
    margin: float = 1.03
    # Paid broadcast (allow_paid_broadcast on every message; Telegram then allows up to 1000 a
    # second, for a fee in Stars): the rate is still `per_second`, so raise it with this.
    paid_broadcast: bool = False
    # Requests on their way to Telegram at once; also the most rows one worker has `sending`.
    concurrency: int = 16
    # A claimed row waits at most this long (seconds) for its turn; a later turn (a group past
    # its 20 a minute, a long 429 pause) puts it back, pending until then, and frees its slot.
    max_wait: float = 5.0


# Shared: python-telegram-bot's objects are immutable once made.
_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
# Turns within a microsecond of now are now: datetimes have microseconds, timestamps are floats.
_EPSILON = 1e-6


class SlidingWindow:
    """At most `limit` events in any `window` seconds, and at least `spacing` seconds apart."""

    def __init__(self, limit: int, window: float, spacing: float = 0.0) -> None:
        self.limit = limit
        self.window = window
        self.spacing = spacing
        self.events: deque[float] = deque()

    def free_at(self, now: float) -> float:
        return max(now, self.earliest(now))

    def earliest(self, now: float) -> float:
        """When the next event may be: `now` if nothing holds it, else the moment the limit
        frees it, which may lie in the past (the last wait ended a little late)."""
        while self.events and self.events[0] <= now - self.window:
            self.events.popleft()
        if not self.events:
            return now
        turn = self.events[-1] + self.spacing if self.spacing else now
        if len(self.events) >= self.limit:
            turn = max(turn, self.events[-self.limit] + self.window)
        return turn

    def record(self, now: float) -> None:
        self.events.append(now)

    def idle(self, now: float) -> bool:
        return not self.events or self.events[-1] <= now - self.window


class RateLimiter:
    """Waits for a turn to send to a chat under all three limits; pauses on 429.

    The overall limit is a steady pace (one message every 1/rate seconds, stretched by the
    margin), not bursts of `rate` at the top of each second: Telegram counts over a sliding
    second, and a burst right after a pause is what earns the next 429. Per private chat: one a
    second. Per group (negative chat ids): 20 in any minute, bursts allowed.
    """

    MAX_CHATS = 50_000

    def __init__(
        self,
        limits: DeliveryLimits,
        clock: Callable[[], datetime],
        sleep_until: SleepUntil,
    ) -> None:
        self.limits = limits
        self.clock = clock
        self.sleep_until = sleep_until
        rate = limits.per_second
        if limits.paid_broadcast and rate <= 30:
            log.warning(
                "paid broadcast at %g messages a second: Telegram's free limit; raise "
                "DELIVERY_RATE (up to 1000) to make use of it",
                rate,
            )
        window = 1.0 * limits.margin
        self._global = SlidingWindow(max(1, int(rate)), window, spacing=window / rate)
        self._catch_up = window / rate / 2
        self._chats: dict[int, SlidingWindow] = {}
        self._paused_until = 0.0

    def _chat(self, chat_id: int) -> SlidingWindow:
        window = self._chats.get(chat_id)
        if window is None:
            if len(self._chats) >= self.MAX_CHATS:
                # Forget chats whose window has passed: they may have their next message now.
                now = self.clock().timestamp()
                self._chats = {c: w for c, w in self._chats.items() if not w.idle(now)}
            if chat_id < 0:  # groups and channels
                window = SlidingWindow(self.limits.group_per_minute, 60.0 * self.limits.margin)
            else:
                window = SlidingWindow(1, self.limits.per_chat_interval * self.limits.margin)
            self._chats[chat_id] = window
        return window

    def pause(self, seconds: float) -> None:
        """Telegram said RetryAfter: nothing goes out for that long."""
        self._paused_until = max(self._paused_until, self.clock().timestamp() + seconds)

    @property
    def paused_until(self) -> datetime | None:
        if self._paused_until <= self.clock().timestamp():
            return None
        return _moment(self._paused_until, self.clock().tzinfo)

    def turn(self, chat_id: int) -> datetime:
        """When a message to this chat could go (now, if it could go now); takes no turn."""
        now = self.clock().timestamp()
        chat = self._chat(chat_id)
        at = max(self._paused_until, self._global.free_at(now), chat.free_at(now))
        return _moment(max(now, at), self.clock().tzinfo)

    async def acquire(self, chat_id: int, *, max_wait: float | None = None) -> datetime | None:
        """Wait for this chat's turn and take it (returns None).

        With `max_wait`, a turn further away than that is not waited for: nothing is taken and
        the moment of the turn is returned, for the caller to come back then.
        """
        chat = self._chat(chat_id)
        deadline: float | None = None
        while True:
            now = self.clock().timestamp()
            pace = max(self._paused_until, self._global.earliest(now))
            turn = max(pace, chat.free_at(now))
            if turn <= now + _EPSILON:
                # The pace keeps to its schedule: a wake-up a little late (the event loop is
                # never exact) is not carried over to every later message. At most half a
                # gap, which the margin covers, so Telegram never sees more than its limit.
                self._global.record(min(now, max(pace, now - self._catch_up)))
                chat.record(now)
                return None
            if max_wait is not None:
                if deadline is None:
                    deadline = now + max_wait
                if turn > deadline:
                    return _moment(turn, self.clock().tzinfo)
            await self.sleep_until(_moment(turn, self.clock().tzinfo))


def _moment(timestamp: float, tz: tzinfo | None) -> datetime:
    """The datetime of a timestamp, rounded up to the microsecond (never before it)."""
    return datetime.fromtimestamp(math.ceil(timestamp * 1_000_000) / 1_000_000, tz=tz or UTC)


class _Immediate:
    """A synchronous connection behind the `execute` coroutine the outbox service awaits."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.dialect = connection.dialect

    async def execute(self, statement: Any, parameters: Any = None) -> Any:
        return self.connection.execute(statement, parameters)


def _run_now(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends (it only awaits _Immediate), here and now."""
    try:
        coroutine.send(None)
    except StopIteration as finished:
        return finished.value  # type: ignore[no-any-return]
    coroutine.close()
    raise RuntimeError("the coroutine suspended: it is not immediate")


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class _Done:
    """A row whose request is over: its outcome, and whether its recipient left us."""

    row: Claimed
    outcome: outbox.Outcome
    recipient_gone: bool = False


class DeliveryWorker:
    """Drains the outbox. `run()` forever in production; `drain()` until idle in tests.

    A pipeline: up to `limits.concurrency` rows are in flight, each waiting for its turn under
    the limits and then making its request. Whenever one finishes, one transaction records the
    outcomes of all that finished since the last one and claims as many new rows as there are
    free slots. So a worker never has more than `concurrency` rows `sending`, every answer is
    committed right after it arrives (a crash repeats at most the rows in flight), and a
    broadcast costs one commit per finished batch, not one per message.
    """

    def __init__(
        self,
        app: AppContext,
        bot: Bot,
        *,
        limits: DeliveryLimits | None = None,
        sleep_until: SleepUntil | None = None,
        name: str | None = None,
        progress_interval: float = 1.0,
    ) -> None:
        self.app = app
        self.bot = bot
        self.limits = limits or DeliveryLimits()
        self.name = name or worker_name()
        self._sleep_until = sleep_until or self._real_sleep_until
        self.limiter = RateLimiter(self.limits, app.clock.now, self._sleep_until)
        self._wake = asyncio.Event()
        self._stopping = False
        self._listeners: dict[str, list[ProgressListener]] = {}
        self._sent_hooks: dict[str, list[SentHook]] = {}
        # Listeners hear of a cause at most this often (seconds), and once more at the end.
        self.progress_interval = progress_interval
        self._changed: set[tuple[str, int]] = set()
        self._notified_at: datetime | None = None
        # Outcomes whose commit failed (the database went away): written by the next one.
        self._unrecorded: list[_Done] = []
        self._stale_checked_at: datetime | None = None

    def use_virtual_time(self, sleep_until: SleepUntil) -> None:
        """Tests and the sandbox: waits move a fake clock, one request at a time keeps order."""
        self.limiter.sleep_until = sleep_until
        self.limits = replace(self.limits, concurrency=1)

    async def _real_sleep_until(self, moment: datetime) -> None:
        await asyncio.sleep(max(0.0, (moment - self.app.clock.now()).total_seconds()))

    # -- wiring -------------------------------------------------------------------------------

    def wake(self) -> None:
        """Something was queued: look now rather than at the next poll."""
        self._wake.set()

    def on_progress(self, kind: str, listener: ProgressListener) -> None:
        """Called with (kind, ref_id) after rows of that kind changed: at most once a
        `progress_interval` while a broadcast goes on, and once when the worker is idle again."""
        self._listeners.setdefault(kind, []).append(listener)

    def on_sent(self, kind: str, hook: SentHook) -> None:
        """Called with the row and Telegram's answer right after a message of that kind went
        out (before its outcome is recorded): for what the answer carries besides the message
        id, like a poll's id. A hook that fails is logged; the row still counts as sent."""
        self._sent_hooks.setdefault(kind, []).append(hook)

    def stop(self) -> None:
        """Stop between two sends: requests on their way finish and are recorded; rows still
        waiting for their turn go back to pending, so nothing is left `sending`."""
        self._stopping = True
        self._wake.set()

    # -- the loop -----------------------------------------------------------------------------

    async def run(self, poll_interval: float = 1.0) -> None:
        """Until stop(): drain, then wait for a wake-up, the next due row, or the poll."""
        while not self._stopping:
            # Cleared before draining: a wake-up during the drain is not lost.
            self._wake.clear()
            try:
                await self.drain()
            except Exception:  # the worker must outlive any one failure (the DB restarting...)
                log.exception("delivery worker: a round failed; trying again shortly")
            if self._stopping:
                break
            timeout = poll_interval
            try:
                async with self.app.db.session() as session:
                    due = await outbox.next_due(session)
            except Exception:
                log.debug("delivery worker: could not read the next due row", exc_info=True)
            else:
                if due is not None:
                    timeout = min(
                        poll_interval, max(0.0, (due - self.app.clock.now()).total_seconds())
                    )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def drain(self, *, max_rounds: int | None = None) -> int:
        """Send everything due now; returns how many rows were claimed.

        Rows put off to later (a retry's backoff, a 429 pause, a group's turn more than
        `limits.max_wait` away) stay pending with their time: `run()` comes back for them.
        `max_rounds` bounds the number of claims.
        """
        claimed = 0
        rounds = 0
        flying: dict[asyncio.Task[_Done], Claimed] = {}
        # Finished requests arrive here (cheaper than asyncio.wait over all in flight each time).
        finished: asyncio.Queue[asyncio.Task[_Done]] = asyncio.Queue()
        # One connection for the whole drain: a broadcast commits once per batch on it.
        async with self.app.db.engine.connect() as connection:
            try:
                while True:
                    claiming = not self._stopping and (max_rounds is None or rounds < max_rounds)
                    room = max(0, self.limits.concurrency - len(flying)) if claiming else 0
                    rows: list[Claimed] = []
                    if room or self._unrecorded:
                        rows = await self._commit(connection, room)
                        if room:
                            rounds += 1
                        claimed += len(rows)
                        for row in rows:
                            # At most `concurrency` in flight: claims only fill free slots.
                            task = asyncio.ensure_future(self._deliver(row))
                            task.add_done_callback(finished.put_nowait)
                            flying[task] = row
                        await self._notify()
                    if not flying:
                        if rows:
                            continue
                        # Idle: tell the listeners, who may queue more (a progress edit, say).
                        if not await self._notify(final=True) or not claiming:
                            break
                        continue
                    done = [await finished.get()]
                    while not finished.empty():
                        done.append(finished.get_nowait())
                    for task in done:
                        if flying.pop(task, None) is not None:
                            self._unrecorded.append(task.result())
            except Exception:
                # Let the requests on their way finish: their outcomes are written next time.
                if flying:
                    results = await asyncio.gather(*flying, return_exceptions=True)
                    self._unrecorded.extend(r for r in results if isinstance(r, _Done))
                raise
            except BaseException:
                # Cancelled: the rows in flight stay `sending` and are sent again (at most those).
                for task in flying:
                    task.cancel()
                raise
        return claimed

    async def _commit(self, connection: AsyncConnection, room: int) -> list[Claimed]:
        """One transaction: the outcomes so far (and members who left), then new claims.

        Core statements on a plain connection, not an ORM session: this runs once per batch
        of a broadcast. A member who blocked the bot is marked inactive through the ORM, in the
        same transaction, which keeps the who-is-who cache right.
        """
        done, self._unrecorded = self._unrecorded, []
        now = self.app.clock.now()
        include_stale = self._stale_check_due(now)
        rows = self._commit_sqlite_now(done, room, now, include_stale)
        if rows is not None:
            return self._committed(done, rows, now, include_stale, room)
        try:
            async with connection.begin():
                # Writes first: on SQLite a transaction that read first may not write later.
                await outbox.record(
                    connection, [d.outcome for d in done], now=now, worker=self.name
                )
                gone = [d.row.recipient_id for d in done if d.recipient_gone and d.row.recipient_id]
                if gone:
                    await self._mark_inactive(connection, gone)
                rows = await outbox.claim_batch(
                    connection, now=now, worker=self.name, limit=room, include_stale=include_stale
                )
        except BaseException:
            self._unrecorded[:0] = done
            raise
        return self._committed(done, rows, now, include_stale, room)

    def _committed(
        self, done: list[_Done], rows: list[Claimed], now: datetime, include_stale: bool, room: int
    ) -> list[Claimed]:
        if include_stale and room:
            self._stale_checked_at = now
        for item in done:
            if item.row.ref_id is not None:
                self._changed.add((item.row.kind, item.row.ref_id))
        return rows

    def _commit_sqlite_now(
        self, done: list[_Done], room: int, now: datetime, include_stale: bool
    ) -> list[Claimed] | None:
        """The same transaction on SQLite, run in this thread without waiting for any lock.

        A commit through aiosqlite costs a dozen hops to its thread and back (~2 ms), which
        bounded a broadcast to about 8 messages per 2 ms. Here it is ~0.2 ms. None when it
        cannot be done this way (PostgreSQL, a member to mark inactive, the file is locked):
        the caller takes the async path.
        """
        engine = self.app.db.sqlite_sync_engine()
        if engine is None or any(d.recipient_gone and d.row.recipient_id for d in done):
            return None
        driver = self.app.db.sqlite_driver_connection()
        if driver is not None and not include_stale:
            try:
                rows = outbox.sqlite_commit_sent_and_claim(
                    driver, [d.outcome for d in done], now=now, worker=self.name, limit=room
                )
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc).lower() or "busy" in str(exc).lower():
                    return None
                self._unrecorded[:0] = done
                raise
            if rows is not None:
                return rows
        try:
            with engine.begin() as sync_connection:
                immediate = _Immediate(sync_connection)
                _run_now(
                    outbox.record(immediate, [d.outcome for d in done], now=now, worker=self.name)
                )
                return _run_now(
                    outbox.claim_batch(
                        immediate,
                        now=now,
                        worker=self.name,
                        limit=room,
                        include_stale=include_stale,
                    )
                )
        except OperationalError as exc:
            if "locked" in str(exc).lower() or "busy" in str(exc).lower():
                return None
            self._unrecorded[:0] = done
            raise
        except BaseException:
            self._unrecorded[:0] = done
            raise

    @staticmethod
    async def _mark_inactive(connection: AsyncConnection, member_ids: list[int]) -> None:
        session = AsyncSession(bind=connection, expire_on_commit=False)
        try:
            for member_id in member_ids:
                member = await session.get(Member, member_id)
                if member is not None:
                    await members.mark_inactive(session, member.telegram_id)
            await session.flush()
        finally:
            await session.close()

    def _stale_check_due(self, now: datetime) -> bool:
        """Abandoned claims are rare (a process died): look for them now and then, not per batch."""
        return (
            self._stale_checked_at is None or now - self._stale_checked_at >= outbox.STALE_CLAIM / 4
        )

    async def _notify(self, *, final: bool = False) -> bool:
        """Tell the listeners which causes changed; returns whether any was called."""
        if not self._changed:
            return False
        now = self.app.clock.now()
        if (
            not final
            and self._notified_at is not None
            and (now - self._notified_at).total_seconds() < self.progress_interval
        ):
            return False
        self._notified_at = now
        causes, self._changed = self._changed, set()
        called = False
        for kind, ref_id in sorted(causes, key=str):
            for listener in self._listeners.get(kind, []):
                called = True
                try:
                    await listener(kind, ref_id)
                except Exception:
                    log.exception("delivery progress listener for %s #%s failed", kind, ref_id)
        return called

    # -- one row ------------------------------------------------------------------------------

    async def _deliver(self, row: Claimed) -> _Done:
        """Wait for the row's turn, make its request, and say how it ended (never raises)."""
        assert row.id is not None
        if not self._stopping:
            later = await self.limiter.acquire(row.chat_id, max_wait=self.limits.max_wait)
        else:
            later = None
        if self._stopping:
            # Not sent: pending again, as if it had never been claimed.
            return self._retry(row, self.app.clock.now(), None, count=False)
        if later is not None:
            return self._retry(row, later, None, count=False)
        try:
            message_id = await self._request(row)
        except RetryAfter as exc:
            seconds = _seconds(exc.retry_after)
            self.limiter.pause(seconds)
            log.warning("Telegram asked to wait %ss (row %s)", seconds, row.id)
            return self._retry(
                row,
                self.app.clock.now() + timedelta(seconds=seconds),
                f"429: retry after {seconds:g}s",
                count=False,
            )
        except ChatMigrated as exc:
            return self._fail(row, f"400: the group is now the supergroup {exc.new_chat_id}")
        except Forbidden as exc:
            return self._fail(row, f"403: {exc.message}", gone=row.action == OutboxAction.SEND)
        except BadRequest as exc:  # before NetworkError, of which it is a subclass
            text = exc.message.lower()
            if (row.action == OutboxAction.EDIT and "not modified" in text) or (
                row.action == OutboxAction.DELETE and "not found" in text
            ):
                return _Done(row, outbox.Outcome.sent(row.id, row.target_message_id))
            gone = "chat not found" in text or "user is deactivated" in text
            return self._fail(row, f"400: {exc.message}", gone=gone)
        except NetworkError as exc:  # TimedOut included; 5xx answers
            return self._transient(row, f"network: {exc.message}")
        except TelegramError as exc:
            return self._transient(row, f"telegram: {exc.message}")
        except Exception as exc:
            log.exception("delivery of outbox row %s failed unexpectedly", row.id)
            return self._fail(row, f"error: {type(exc).__name__}")
        return _Done(row, outbox.Outcome.sent(row.id, message_id))

    def _fail(self, row: Claimed, reason: str, *, gone: bool = False) -> _Done:
        log.info("outbox row %s (%s #%s) failed: %s", row.id, row.kind, row.ref_id, reason)
        return _Done(row, outbox.Outcome.failed(row.id or 0, reason), recipient_gone=gone)

    def _transient(self, row: Claimed, reason: str) -> _Done:
        if row.attempts >= outbox.MAX_ATTEMPTS:
            return self._fail(row, f"gave up after {row.attempts} attempts: {reason}")
        # 2, 4, 8, ... seconds, at most five minutes.
        backoff = timedelta(seconds=min(2**row.attempts, 300))
        return self._retry(row, self.app.clock.now() + backoff, reason, count=True)

    def _retry(self, row: Claimed, at: datetime, reason: str | None, *, count: bool) -> _Done:
        return _Done(row, outbox.Outcome.retry(row.id or 0, at, reason, count_attempt=count))

    async def _request(self, row: Claimed) -> int | None:
        payload: dict[str, Any] = row.payload or {}
        markup = (
            InlineKeyboardMarkup.de_json(payload["reply_markup"], self.bot)
            if payload.get("reply_markup")
            else None
        )
        extra: dict[str, Any] = {}
        if self.limits.paid_broadcast:
            extra["allow_paid_broadcast"] = True
        if payload.get("silent"):
            extra["disable_notification"] = True
        if row.action == OutboxAction.DELETE:
            await self.bot.delete_message(row.chat_id, row.target_message_id or 0)
            return row.target_message_id
        if row.action == OutboxAction.STOP_POLL:
            try:
                await self.bot.stop_poll(row.chat_id, row.target_message_id or 0)
            except BadRequest as exc:
                # Stopped already (by hand, or an earlier try whose answer was lost).
                if "already closed" not in exc.message.lower():
                    raise
            return row.target_message_id
        if row.action == OutboxAction.PIN:
            await self.bot.pin_chat_message(
                row.chat_id, row.target_message_id or 0, disable_notification=True
            )
            return row.target_message_id
        if row.action == OutboxAction.EDIT:
            await self.bot.edit_message_text(
                payload["text"],
                chat_id=row.chat_id,
                message_id=row.target_message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
                link_preview_options=_NO_PREVIEW,
            )
            return row.target_message_id
        sent: Message
        if payload.get("photo"):
            sent = await self.bot.send_photo(
                row.chat_id,
                payload["photo"],
                caption=payload.get("text") or None,
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
                **extra,
            )
        elif payload.get("poll"):
            poll = payload["poll"]
            sent = await self.bot.send_poll(
                row.chat_id,
                poll["question"],
                poll["options"],
                is_anonymous=True,
                allows_multiple_answers=bool(poll.get("multiple")),
                reply_markup=markup,
                **extra,
            )
        elif payload.get("document"):
            sent = await self.bot.send_document(
                row.chat_id,
                payload["document"],
                caption=payload.get("text") or None,
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
                **extra,
            )
        else:
            sent = await self.bot.send_message(
                row.chat_id,
                payload["text"],
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
                link_preview_options=_NO_PREVIEW,
                **extra,
            )
        for hook in self._sent_hooks.get(row.kind, ()):
            try:
                await hook(row, sent)
            except Exception:
                log.exception("after sending outbox row %s: a %s hook failed", row.id, row.kind)
        if payload.get("pin"):
            try:
                await self.limiter.acquire(row.chat_id)
                await self.bot.pin_chat_message(
                    row.chat_id, sent.message_id, disable_notification=True
                )
            except TelegramError as exc:
                # The message went out; a pin the bot may not make is not worth a resend.
                log.warning("could not pin outbox row %s: %s", row.id, exc)
        return sent.message_id


def _seconds(value: int | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
