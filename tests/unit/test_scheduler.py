"""The scheduler: one timer armed for the earliest due row, re-armed after each pass, and one
leader among several processes on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.clock import FakeClock
from bot.config import Settings
from bot.context import AppContext
from bot.db import Database
from bot.scheduler import Scheduler, Source
from tests.conftest import BACKEND

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class RecordingJobQueue:
    """The two JobQueue calls the scheduler makes, recorded instead of run."""

    def __init__(self) -> None:
        self.once: list[float] = []
        self.repeating: list[str] = []

    def run_once(self, callback: Any, when: float, name: str) -> Any:
        self.once.append(when)
        return _Job()

    def run_repeating(self, callback: Any, interval: Any, first: Any = None, name: str = "") -> Any:
        self.repeating.append(name)
        return _Job()


class _Job:
    def schedule_removal(self) -> None:
        pass


class Rows:
    """A source whose rows fall due at given moments; handling one removes it."""

    def __init__(self, *due: datetime) -> None:
        self.due = sorted(due)
        self.handled: list[datetime] = []
        self.rebuilt = 0

    def source(self) -> Source:
        async def process(session: Any, now: datetime) -> int:
            done = [moment for moment in self.due if moment <= now]
            self.due = [moment for moment in self.due if moment > now]
            self.handled.extend(done)
            return len(done)

        async def next_due(session: Any) -> datetime | None:
            return self.due[0] if self.due else None

        async def rebuild(session: Any, now: datetime) -> None:
            self.rebuilt += 1

        return Source("rows", process, next_due, rebuild)


def _app(db: Database, settings: Settings, clock: FakeClock) -> AppContext:
    return AppContext(settings=settings, db=db, clock=clock)


async def test_start_rebuilds_handles_what_is_overdue_and_arms_for_the_next(
    db: Database, settings: Settings
) -> None:
    clock = FakeClock(NOW)
    rows = Rows(NOW - timedelta(hours=1), NOW + timedelta(minutes=30), NOW + timedelta(days=1))
    queue = RecordingJobQueue()
    woken: list[bool] = []
    scheduler = Scheduler(
        _app(db, settings, clock),
        [rows.source()],
        job_queue=queue,
        on_queued=lambda: woken.append(True),
    )
    await scheduler.start()
    assert rows.rebuilt == 1
    assert rows.handled == [NOW - timedelta(hours=1)]
    assert woken == [True]
    assert queue.once == [30 * 60]
    assert scheduler.armed_for == NOW + timedelta(minutes=30)
    assert "scheduler check" in queue.repeating
    # The timer fires at its time: the row is handled and the next one armed.
    clock.set(NOW + timedelta(minutes=30))
    assert await scheduler.tick() == 1
    assert queue.once[-1] == pytest.approx(timedelta(days=1, minutes=-30).total_seconds())
    await scheduler.stop()


async def test_earliest_of_several_sources(db: Database, settings: Settings) -> None:
    clock = FakeClock(NOW)
    later, sooner = Rows(NOW + timedelta(hours=5)), Rows(NOW + timedelta(hours=2))
    scheduler = Scheduler(_app(db, settings, clock), [later.source(), sooner.source()])
    await scheduler.start()
    assert await scheduler.next_due() == NOW + timedelta(hours=2)
    await scheduler.stop()


async def test_one_leader_on_postgresql_and_every_process_leads_on_sqlite(
    db: Database, settings: Settings
) -> None:
    """PostgreSQL: several bot processes, one scheduler (the advisory lock). SQLite is one
    process by design: its scheduler always runs."""
    clock = FakeClock(NOW)
    rows = Rows(NOW - timedelta(minutes=1))
    other_db = Database(settings.database_url)
    first = Scheduler(_app(db, settings, clock), [rows.source()])
    second = Scheduler(_app(other_db, settings, clock), [rows.source()])
    try:
        await first.start()
        await second.start()
        if BACKEND == "postgresql":
            assert first.leader and not second.leader
            assert await second.tick() == 0
            # The leader stops: the other takes over at its next try.
            await first.stop()
            await second._retry_lead(None)
            assert second.leader
        else:
            assert first.leader and second.leader
        assert rows.handled == [NOW - timedelta(minutes=1)]
    finally:
        await first.stop()
        await second.stop()
        await other_db.dispose()
