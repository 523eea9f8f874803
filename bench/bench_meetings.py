"""Meeting reminders at scale: the schedule rebuilt at start, and a minute with 1,000 reminders.

Setup (in a child process, so that its memory does not count): a fresh SQLite file with 1,000
members and 10,000 future meetings, each with two reminders (24 hours and 1 hour before). 1,000
of them start at T0 + 1 hour, so their 1-hour reminders all fall due at T0, in the same minute;
the other 9,000 are spread over the following 60 days, about a third of them weekly series.
Each meeting is for one named member, so each reminder is one outbox row.

Then, in this process, the real bot on the fake Bot API (`Sandbox`, fake clock at T0 - 10 min):
(a) start: `post_init` rebuilds the schedule from the rows (every meeting's next reminder
    recomputed) and handles what is due (nothing yet). Targets: the rebuild within 2 s, and the
    process's peak memory (ru_maxrss, everything the bot imported included) under 150 MB.
    Baseline in the same run: reading the same 10,000 rows with a plain SELECT; the ratio
    rebuild / plain read is printed.
(b) the clock moves to T0 and the scheduler runs (what the JobQueue timer does at T0): all
    1,000 reminders composed and in the outbox, committed. Target: within 1 s of T0. Baseline in
    the same run: one `outbox.enqueue` of 1,000 ready-made rows in one transaction; the ratio
    baseline / scheduler is printed.

    .venv/bin/python bench/bench_meetings.py
    .venv/bin/python bench/bench_meetings.py --meetings 10000 --due 1000 --no-check

Exit status 1 when a target is missed (unless --no-check), 2 when the run is wrong (a
reminder missing or doubled). See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from profiling import Profiler  # bench/profiling.py: the script's own folder is on sys.path
from sqlalchemy import insert, text

from bot import migrations
from bot.clock import FakeClock
from bot.config import Settings
from bot.db import Database
from bot.models import Admission, Meeting, Member, OutboxMessage, Role
from bot.sandbox.driver import Sandbox
from bot.sandbox.spec import BotApiSpec
from bot.services import outbox

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
FIRST_TELEGRAM_ID = 500_000_001
REBUILD_TARGET_S = 2.0
MEMORY_TARGET_MB = 150.0
DUE_TARGET_S = 1.0
ZONES = ("Asia/Almaty", "Asia/Kabul", "Asia/Tehran", "Europe/London")
ZONES = ("Asia/Almaty", "Asia/Kabul", "Asia/Tehran", "Europe/London")


# -- setup (child process) ------------------------------------------------------------------------


def setup(path: Path, n_meetings: int, n_due: int, n_members: int) -> None:
    url = f"sqlite+aiosqlite:///{path}"
    migrations.upgrade(url)
    asyncio.run(_fill(url, n_meetings, n_due, n_members))


async def _fill(url: str, n_meetings: int, n_due: int, n_members: int) -> None:
    db = Database(url)
    created = T0 - timedelta(days=7)
    async with db.engine.begin() as connection:
        await connection.execute(
            insert(Member),
            [
                {
                    "telegram_id": FIRST_TELEGRAM_ID + i,
                    "full_name": f"Member {i}",
                    "role": Role.FOCAL_POINT.value if i % 10 == 0 else Role.MEMBER.value,
                    "country": ("KZ", "KG", "TJ", "TM", "UZ", "AF", "IR", "PK")[i % 8],
                    "language": "ru" if i % 3 == 0 else "en",
                    "timezone": ZONES[i % 4],
                    "status": "active",
                    "admitted_via": Admission.MODERATOR.value,
                    "admitted_at": created,
                }
                for i in range(n_members)
            ],
        )
        member_ids = [row[0] for row in await connection.execute(text("SELECT id FROM members"))]
        rows = []
        for i in range(n_meetings):
            if i < n_due:
                start = T0 + timedelta(hours=1)
                rule = None
            else:
                start = T0 + timedelta(days=2) + timedelta(minutes=37 * i % (58 * 24 * 60))
                rule = "FREQ=WEEKLY" if i % 3 == 0 else None
            rows.append(
                {
                    "title": f"Meeting {i}: <b>coordination</b> & follow-up",
                    "location": "https://meet.example.org/wg",
                    "agenda": "",
                    "starts_at": start,
                    "timezone": ("Asia/Almaty", "Europe/London", "Asia/Kabul")[i % 3],
                    "duration_minutes": 60,
                    "rrule": rule,
                    "reminder_offsets": [24 * 60, 60],
                    "to_everyone": False,
                    "to_focal_points": False,
                    "countries": [],
                    "member_ids": [member_ids[i % len(member_ids)]],
                    "status": "scheduled",
                    "created_at": created,
                    "updated_at": created,
                    "sequence": 0,
                    # The bot ran until the minute before this start: nothing is overdue.
                    "reminded_through": T0 - timedelta(minutes=11),
                    # Deliberately stale: the start must recompute it.
                    "next_reminder_at": None,
                }
            )
        await connection.execute(insert(Meeting), rows)
    await db.dispose()


# -- measuring ------------------------------------------------------------------------------------


def peak_mb() -> float:
    # ru_maxrss is in kilobytes on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def measure(
    path: Path, n_meetings: int, n_due: int, profiler: Profiler | None = None
) -> dict[str, float]:
    url = f"sqlite+aiosqlite:///{path}"
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=url,
        admin_ids=[],
        group_chat_id=None,
        log_level="WARNING",
    )
    clock = FakeClock(T0 - timedelta(minutes=10))
    sandbox = Sandbox(settings, clock=clock, spec=BotApiSpec.load())
    db: Database = sandbox.app.bot_data["app"].db

    started = time.perf_counter()
    await sandbox.scheduler.start()
    rebuild = time.perf_counter() - started
    memory = peak_mb()
    # Baseline (a), after the peak was read: the same rows, read plainly.
    started = time.perf_counter()
    async with db.session() as session:
        from sqlmodel import select

        read = list(await session.exec(select(Meeting)))
    plain_read = time.perf_counter() - started
    assert len(read) == n_meetings
    del read

    async with db.session() as session:
        pending = (await session.exec(select(OutboxMessage))).all()  # type: ignore[arg-type]
        unset = (
            await session.exec(
                select(Meeting).where(Meeting.next_reminder_at == None)  # noqa: E711
            )
        ).all()
    if pending or unset:
        raise SystemExit(f"wrong: {len(pending)} rows queued early, {len(unset)} not scheduled")

    # (b): T0 comes; the timer fires.
    clock.set(T0)
    if profiler is not None:
        profiler.enable()
    started = time.perf_counter()
    handled = await sandbox.scheduler.tick()
    due_latency = time.perf_counter() - started
    if profiler is not None:
        profiler.disable()
    async with db.session() as session:
        queued = list(await session.exec(select(OutboxMessage)))
    keys = {row.dedup_key for row in queued}
    if len(queued) != n_due or len(keys) != n_due:
        print(f"wrong: {len(queued)} reminders queued ({len(keys)} distinct) for {n_due} due")
        raise SystemExit(2)

    # Baseline (b): the same number of ready-made rows, queued in one transaction.
    payloads = [row.payload for row in queued]
    started = time.perf_counter()
    async with db.session() as session:
        await outbox.enqueue(
            session,
            "bench",
            None,
            [
                outbox.Outgoing(dedup_key=f"bench:{i}", chat_id=FIRST_TELEGRAM_ID + i, payload=p)
                for i, p in enumerate(payloads)
            ],
            now=T0,
        )
    plain_enqueue = time.perf_counter() - started
    await sandbox.stop()
    await sandbox.app.shutdown()
    return {
        "meetings": n_meetings,
        "handled": handled,
        "rebuild_s": rebuild,
        "plain_read_s": plain_read,
        "peak_mb": memory,
        "due_s": due_latency,
        "plain_enqueue_s": plain_enqueue,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--meetings", type=int, default=10_000)
    parser.add_argument("--due", type=int, default=1_000)
    parser.add_argument("--members", type=int, default=1_000)
    parser.add_argument("--no-check", action="store_true")
    parser.add_argument("--profile", action="store_true", help="profile part (b)")
    parser.add_argument("--setup", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.setup:
        setup(args.setup, args.meetings, args.due, args.members)
        return 0
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.sqlite3"
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--setup",
                str(path),
                "--meetings",
                str(args.meetings),
                "--due",
                str(args.due),
                "--members",
                str(args.members),
            ],
            check=True,
        )
        profiler = Profiler() if args.profile else None
        figures = asyncio.run(measure(path, args.meetings, args.due, profiler))
        if profiler is not None:
            print(profiler.report())
    print(
        f"(a) start with {args.meetings:,} meetings: schedule rebuilt in "
        f"{figures['rebuild_s']:.2f} s (target {REBUILD_TARGET_S} s); plain read of the rows "
        f"{figures['plain_read_s']:.2f} s, ratio rebuild/read "
        f"{figures['rebuild_s'] / figures['plain_read_s']:.1f}; peak memory "
        f"{figures['peak_mb']:.0f} MB (target {MEMORY_TARGET_MB:.0f} MB)"
    )
    print(
        f"(b) {args.due:,} reminders due at once: all in the outbox {figures['due_s']:.2f} s after "
        f"their time (target {DUE_TARGET_S} s); plain enqueue of as many rows "
        f"{figures['plain_enqueue_s']:.2f} s, ratio plain/scheduler "
        f"{figures['plain_enqueue_s'] / figures['due_s']:.2f}"
    )
    missed = [
        name
        for name, ok in (
            ("rebuild", figures["rebuild_s"] <= REBUILD_TARGET_S),
            ("memory", figures["peak_mb"] <= MEMORY_TARGET_MB),
            ("due", figures["due_s"] <= DUE_TARGET_S),
        )
        if not ok
    ]
    if missed and not args.no_check:
        print("missed:", ", ".join(missed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
