"""Time passing: meeting reminders and action-item reminders, derived from database rows.

The rows are the truth. Each source (meetings, action items) keeps, on each of its rows, when
its next reminder falls due (`next_reminder_at`, indexed); the scheduler arms one job of
python-telegram-bot's JobQueue (APScheduler) for the earliest of them, and when it fires, asks
every source to handle whatever is due by now, which writes outbox rows and moves the rows'
watermarks on, in one transaction. A lost job costs nothing: the next one (or the periodic
check, or the next start) finds the same rows due. One job instead of one per reminder keeps a
start with 10,000 meetings cheap and leaves nothing in memory to go stale after an edit.

At start, `start()` recomputes every row's next reminder (the rules or the zone database may
have changed) and handles what fell due while the bot was down (the late policy is each
source's: see bot/services/meetings.py and the README).

With several bot processes on PostgreSQL, only the one holding a session-level advisory lock
runs the scheduler; the others try to take it over every `LEADER_RETRY`. The outbox's unique
dedup keys make even two schedulers harmless, and the lock makes it rare.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.context import AppContext

log = logging.getLogger(__name__)

# Any number, the same in every process of one deployment: "wgbot" in ASCII.
ADVISORY_LOCK_KEY = 0x7767626F74
# The leader looks at the database this often even without a wake (a change made in another
# process, a clock that jumped); followers try to become leader as often.
CHECK_EVERY = timedelta(seconds=60)
LEADER_RETRY = timedelta(seconds=30)
# Safety net: a pass never loops forever on rows that stay due.
MAX_ROUNDS = 100


@dataclass(frozen=True)
class Source:
    """One kind of row that falls due. `process` handles what is due at `now` and returns how
    many rows it handled (0 when nothing was due)."""

    name: str
    process: Callable[[AsyncSession, datetime], Awaitable[int]]
    next_due: Callable[[AsyncSession], Awaitable[datetime | None]]
    rebuild: Callable[[AsyncSession, datetime], Awaitable[Any]]


class Scheduler:
    def __init__(
        self,
        app: AppContext,
        sources: list[Source],
        *,
        job_queue: Any | None = None,
        on_queued: Callable[[], None] | None = None,
    ) -> None:
        self.app = app
        self.sources = sources
        self.job_queue = job_queue
        # Wakes the delivery worker once a pass has queued messages.
        self.on_queued = on_queued
        self._pass = asyncio.Lock()
        self._job: Any = None
        self._check_job: Any = None
        self._leader_connection: AsyncConnection | None = None
        self.leader = False
        self.armed_for: datetime | None = None

    # -- running ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Become leader if we can, rebuild the schedule from the rows, handle what fell due
        while the bot was down, and arm the timer."""
        if not await self._take_lead():
            log.info("another process runs the scheduler; checking again every %s", LEADER_RETRY)
            if self.job_queue is not None:
                self._check_job = self.job_queue.run_repeating(
                    self._retry_lead, interval=LEADER_RETRY, name="scheduler leader"
                )
            return
        await self.rebuild()
        await self.tick()
        if self.job_queue is not None:
            self._check_job = self.job_queue.run_repeating(
                self._periodic, interval=CHECK_EVERY, first=CHECK_EVERY, name="scheduler check"
            )

    async def stop(self) -> None:
        for job in (self._job, self._check_job):
            if job is not None:
                with contextlib.suppress(Exception):
                    job.schedule_removal()
        self._job = self._check_job = None
        if self._leader_connection is not None:
            with contextlib.suppress(Exception):
                # Closing only returns the connection to the pool, lock and all: let go of it.
                await self._leader_connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY}
                )
                await self._leader_connection.commit()
            with contextlib.suppress(Exception):
                await self._leader_connection.close()
            self._leader_connection = None
        self.leader = False

    async def rebuild(self) -> None:
        now = self.app.clock.now()
        async with self.app.db.session() as session:
            for source in self.sources:
                await source.rebuild(session, now)

    async def tick(self) -> int:
        """Handle everything due now; then arm the timer for what comes next. Returns how many
        rows were handled."""
        if not self.leader:
            return 0
        handled = 0
        async with self._pass:
            for _ in range(MAX_ROUNDS):
                now = self.app.clock.now()
                round_handled = 0
                async with self.app.db.session() as session:
                    for source in self.sources:
                        round_handled += await source.process(session, now)
                handled += round_handled
                if round_handled == 0 or not await self._due_now(now):
                    break
            if handled and self.on_queued is not None:
                self.on_queued()
            await self._arm()
        return handled

    def wake(self) -> None:
        """Rows changed (a meeting was created, moved or cancelled): re-arm for the earliest."""
        if not self.leader:
            return
        with contextlib.suppress(RuntimeError):
            asyncio.get_running_loop().create_task(self._arm(), name="scheduler wake")

    async def next_due(self) -> datetime | None:
        async with self.app.db.session() as session:
            found = [await source.next_due(session) for source in self.sources]
        moments = [moment for moment in found if moment is not None]
        return min(moments) if moments else None

    # -- inside -------------------------------------------------------------------------------

    async def _due_now(self, now: datetime) -> bool:
        moment = await self.next_due()
        return moment is not None and moment <= now

    async def _arm(self) -> None:
        moment = await self.next_due()
        self.armed_for = moment
        if self.job_queue is None:
            return
        if self._job is not None:
            with contextlib.suppress(Exception):
                self._job.schedule_removal()
            self._job = None
        if moment is None:
            return
        delay = max(0.0, (moment - self.app.clock.now()).total_seconds())
        self._job = self.job_queue.run_once(self._fire, when=delay, name="scheduler")

    async def _fire(self, _context: Any) -> None:
        self._job = None
        try:
            await self.tick()
        except Exception:
            log.exception("scheduler pass failed; the rows stay due and are tried again")
            await asyncio.sleep(0)

    async def _periodic(self, _context: Any) -> None:
        try:
            if await self._due_now(self.app.clock.now()):
                await self.tick()
            else:
                await self._arm()
        except Exception:
            log.exception("scheduler check failed")

    async def _retry_lead(self, _context: Any) -> None:
        if await self._take_lead():
            log.info("this process now runs the scheduler")
            if self._check_job is not None:
                self._check_job.schedule_removal()
                self._check_job = None
            await self.start()

    async def _take_lead(self) -> bool:
        """SQLite: one process, always the leader. PostgreSQL: the advisory lock, held by a
        connection of its own for as long as the process lives."""
        if self.leader:
            return True
        if self.app.db.dialect != "postgresql":
            self.leader = True
            return True
        connection = await self.app.db.engine.connect()
        try:
            got = (
                await connection.execute(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
                )
            ).scalar()
            # Leave no transaction open on the connection that holds the lock.
            await connection.commit()
        except Exception:
            await connection.close()
            raise
        if not got:
            await connection.close()
            return False
        self._leader_connection = connection
        self.leader = True
        return True


def meeting_source(app: AppContext, compose: Any) -> Source:
    """Meeting reminders (bot/services/meetings.py), composed by the meetings handler module."""
    from bot.services import meetings

    async def process(session: AsyncSession, now: datetime) -> int:
        handled = await meetings.process_due(
            session, now=now, group_chat_id=app.settings.group_chat_id, compose=compose
        )
        return handled.meetings

    async def rebuild(session: AsyncSession, now: datetime) -> int:
        return await meetings.rebuild(session, now=now)

    return Source("meetings", process, meetings.next_due, rebuild)


def action_source(app: AppContext, compose: Any) -> Source:
    """Action-item and deadline reminders (bot/services/actions.py)."""
    from bot.services import actions

    async def process(session: AsyncSession, now: datetime) -> int:
        return await actions.process_due(session, now=now, compose=compose)

    async def rebuild(session: AsyncSession, now: datetime) -> Any:
        return await actions.rebuild(session, now=now)

    return Source("actions", process, actions.next_due, rebuild)


def review_source(app: AppContext, compose: Any) -> Source:
    """Reminders to moderators of glossary suggestions and proposed resources that wait for a
    review longer than REVIEW_REMINDER_DAYS (bot/services/reviews.py)."""
    from bot.services import reviews

    days = app.settings.review_reminder_days

    async def process(session: AsyncSession, now: datetime) -> int:
        return await reviews.process_due(session, now=now, days=days, compose=compose)

    async def next_due(session: AsyncSession) -> datetime | None:
        return await reviews.next_due(session, days=days)

    async def rebuild(session: AsyncSession, now: datetime) -> Any:
        return await reviews.rebuild(session, now=now)

    return Source("reviews", process, next_due, rebuild)


def poll_source(app: AppContext, compose: Any) -> Source:
    """Polls and ballots that close at their deadline, and ballots' reminders a day before
    (bot/services/polls.py)."""
    from bot.services import polls

    async def process(session: AsyncSession, now: datetime) -> int:
        return await polls.process_due(
            session, now=now, group_chat_id=app.settings.group_chat_id, compose=compose
        )

    async def rebuild(session: AsyncSession, now: datetime) -> Any:
        return await polls.rebuild(session, now=now)

    return Source("polls", process, polls.next_due, rebuild)
