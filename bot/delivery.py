"""The delivery worker: every message the bot starts goes out here, at Telegram's pace.

It claims due outbox rows, waits for its turn under Telegram's three limits (overall, per private
chat, per group), makes the request, and records the outcome: sent (with the message id), retried
later (429 honoured by pausing everything; timeouts and 5xx with backoff), or failed with the
reason (403 blocked or kicked, 400 chat not found, ...), marking the member inactive where that is
the cause.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from telegram import Bot, InlineKeyboardMarkup, LinkPreviewOptions, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut

from bot.context import AppContext
from bot.models import Member, OutboxAction, OutboxMessage
from bot.services import members, outbox

log = logging.getLogger(__name__)

SleepUntil = Callable[[datetime], Awaitable[None]]
ProgressListener = Callable[[str, int], Awaitable[None]]


@dataclass(frozen=True)
class DeliveryLimits:
    """Telegram's limits, and a safety margin: windows a little longer than Telegram's own."""

    per_second: float = 30.0
    per_chat_interval: float = 1.0
    group_per_minute: int = 20
    # Windows are stretched by this factor, so clock jitter never crosses Telegram's line.
    margin: float = 1.03
    # Paid broadcast (allow_paid_broadcast): up to 1000 a second, for bots that have Stars.
    paid_broadcast: bool = False
    concurrency: int = 8


class SlidingWindow:
    """At most `limit` events in any `window` seconds."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self.events: deque[float] = deque()

    def free_at(self, now: float) -> float:
        while self.events and self.events[0] <= now - self.window:
            self.events.popleft()
        if len(self.events) < self.limit:
            return now
        return self.events[0] + self.window

    def record(self, now: float) -> None:
        self.events.append(now)


class RateLimiter:
    """Waits for a turn to send to a chat under all three limits; pauses on 429."""

    def __init__(
        self,
        limits: DeliveryLimits,
        clock: Callable[[], datetime],
        sleep_until: SleepUntil,
    ) -> None:
        self.limits = limits
        self.clock = clock
        self.sleep_until = sleep_until
        rate = 1000 if limits.paid_broadcast else limits.per_second
        self._global = SlidingWindow(max(1, int(rate)), 1.0 * limits.margin)
        self._chats: dict[int, SlidingWindow] = {}
        self._paused_until = 0.0

    def _chat(self, chat_id: int) -> SlidingWindow:
        window = self._chats.get(chat_id)
        if window is None:
            if len(self._chats) > 50_000:
                self._chats.clear()
            if chat_id < 0:  # groups and channels
                window = SlidingWindow(self.limits.group_per_minute, 60.0 * self.limits.margin)
            else:
                window = SlidingWindow(1, self.limits.per_chat_interval * self.limits.margin)
            self._chats[chat_id] = window
        return window

    def pause(self, seconds: float) -> None:
        """Telegram said RetryAfter: nothing goes out for that long."""
        self._paused_until = max(self._paused_until, self.clock().timestamp() + seconds)

    async def acquire(self, chat_id: int) -> None:
        chat = self._chat(chat_id)
        while True:
            now = self.clock().timestamp()
            turn = max(self._paused_until, self._global.free_at(now), chat.free_at(now))
            if turn <= now:
                self._global.record(now)
                chat.record(now)
                return
            await self.sleep_until(datetime.fromtimestamp(turn, tz=self.clock().tzinfo))


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class DeliveryWorker:
    """Drains the outbox. `run()` forever in production; `drain()` until idle in tests."""

    def __init__(
        self,
        app: AppContext,
        bot: Bot,
        *,
        limits: DeliveryLimits | None = None,
        sleep_until: SleepUntil | None = None,
        name: str | None = None,
    ) -> None:
        self.app = app
        self.bot = bot
        self.limits = limits or DeliveryLimits()
        self.name = name or worker_name()
        self._sleep_until = sleep_until or self._real_sleep_until
        self.limiter = RateLimiter(self.limits, app.clock.now, self._sleep_until)
        self._wake = asyncio.Event()
        # How many requests may be on their way to Telegram at once.
        self._in_flight = asyncio.Semaphore(max(1, self.limits.concurrency))
        self._stopping = False
        self._listeners: dict[str, list[ProgressListener]] = {}

    async def _real_sleep_until(self, moment: datetime) -> None:
        await asyncio.sleep(max(0.0, (moment - self.app.clock.now()).total_seconds()))

    # -- wiring -------------------------------------------------------------------------------

    def wake(self) -> None:
        """Something was queued: look now rather than at the next poll."""
        self._wake.set()

    def on_progress(self, kind: str, listener: ProgressListener) -> None:
        """Called with (kind, ref_id) after a batch changed rows of that kind."""
        self._listeners.setdefault(kind, []).append(listener)

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    # -- the loop -----------------------------------------------------------------------------

    async def run(self, poll_interval: float = 1.0) -> None:
        """Until stop(): drain, then wait for a wake-up, the next due row, or the poll."""
        while not self._stopping:
            try:
                await self.drain()
            except Exception:  # the worker must outlive any one failure (the DB restarting...)
                log.exception("delivery worker: a round failed; trying again shortly")
            timeout = poll_interval
            with contextlib.suppress(Exception):
                async with self.app.db.session() as session:
                    due = await outbox.next_due(session)
                if due is not None:
                    timeout = min(
                        poll_interval, max(0.0, (due - self.app.clock.now()).total_seconds())
                    )
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def drain(self, *, max_rounds: int | None = None) -> int:
        """Send everything due now; returns how many rows were handled."""
        handled = 0
        rounds = 0
        while not self._stopping and (max_rounds is None or rounds < max_rounds):
            rounds += 1
            async with self.app.db.session() as session:
                rows = await outbox.claim(
                    session, now=self.app.clock.now(), worker=self.name, limit=50
                )
            if not rows:
                break
            await asyncio.gather(*(self._deliver_bounded(row) for row in rows))
            handled += len(rows)
            await self._notify({(row.kind, row.ref_id) for row in rows if row.ref_id is not None})
        return handled

    async def _deliver_bounded(self, row: OutboxMessage) -> None:
        async with self._in_flight:
            await self._deliver(row)

    async def _notify(self, causes: set[tuple[str, int | None]]) -> None:
        for kind, ref_id in sorted(causes, key=str):
            for listener in self._listeners.get(kind, []):
                try:
                    await listener(kind, ref_id or 0)
                except Exception:
                    log.exception("delivery progress listener for %s #%s failed", kind, ref_id)

    # -- one row ------------------------------------------------------------------------------

    async def _deliver(self, row: OutboxMessage) -> None:
        assert row.id is not None
        await self.limiter.acquire(row.chat_id)
        try:
            message_id = await self._request(row)
        except RetryAfter as exc:
            seconds = _seconds(exc.retry_after)
            self.limiter.pause(seconds)
            log.warning("Telegram asked to wait %ss (row %s)", seconds, row.id)
            await self._record_retry(row, seconds, f"429: retry after {seconds:g}s", count=False)
        except Forbidden as exc:
            await self._fail(row, f"403: {exc.message}", inactive=row.action == OutboxAction.SEND)
        except BadRequest as exc:
            text = exc.message.lower()
            if row.action == OutboxAction.EDIT and "not modified" in text:
                await self._sent(row, row.target_message_id)  # already as wanted
                return
            inactive = "chat not found" in text or "user is deactivated" in text
            await self._fail(row, f"400: {exc.message}", inactive=inactive)
        except (TimedOut, NetworkError) as exc:  # after BadRequest: it is a NetworkError too
            await self._transient(row, f"network: {exc.message}")
        except TelegramError as exc:
            await self._transient(row, f"telegram: {exc.message}")
        except Exception as exc:
            log.exception("delivery of outbox row %s failed unexpectedly", row.id)
            await self._fail(row, f"error: {type(exc).__name__}", inactive=False)
        else:
            await self._sent(row, message_id)

    async def _sent(self, row: OutboxMessage, message_id: int | None) -> None:
        async with self.app.db.session() as session:
            await outbox.mark_sent(
                session, row.id or 0, now=self.app.clock.now(), telegram_message_id=message_id
            )

    async def _fail(self, row: OutboxMessage, reason: str, *, inactive: bool) -> None:
        log.info("outbox row %s (%s #%s) failed: %s", row.id, row.kind, row.ref_id, reason)
        async with self.app.db.session() as session:
            await outbox.mark_failed(session, row.id or 0, now=self.app.clock.now(), reason=reason)
            if inactive and row.recipient_id is not None:
                member = await session.get(Member, row.recipient_id)
                if member is not None:
                    await members.mark_inactive(session, member.telegram_id)

    async def _transient(self, row: OutboxMessage, reason: str) -> None:
        if row.attempts >= outbox.MAX_ATTEMPTS:
            await self._fail(
                row, f"gave up after {row.attempts} attempts: {reason}", inactive=False
            )
            return
        # 2, 4, 8, ... seconds, at most five minutes.
        await self._record_retry(row, min(2**row.attempts, 300), reason, count=True)

    async def _record_retry(
        self, row: OutboxMessage, seconds: float, reason: str, *, count: bool
    ) -> None:
        async with self.app.db.session() as session:
            await outbox.retry_later(
                session,
                row.id or 0,
                at=self.app.clock.now() + timedelta(seconds=seconds),
                reason=reason,
                count_attempt=count,
            )

    async def _request(self, row: OutboxMessage) -> int | None:
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
                link_preview_options=LinkPreviewOptions(is_disabled=True),
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
                link_preview_options=LinkPreviewOptions(is_disabled=True),
                **extra,
            )
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
