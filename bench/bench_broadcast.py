"""A broadcast to 1,000 members through the delivery worker (`bot/delivery.py`).

Two parts, both on the in-process fake Bot API (`SandboxRequest`, every request checked against
the `BotApiSpec`), on the real clock, the outbox in a fresh SQLite file:

(a) pace: Telegram's flood limits on in the fake (30 a second overall, per chat, per group):
    the worker drains 1,000 queued rows; the achieved rate must be >= 95 % of 30 messages a
    second, with no 429 and every member getting exactly one message (about 34 s).
(b) overhead: the limits lifted (`FakeBotAPI(limits=None)`, `DeliveryLimits(per_second=1e9)`):
    messages a second of the worker (claim, send, record, from queued rows to all `sent`)
    against a bare python-telegram-bot loop, `await bot.send_message(...)` for each chat, one
    after another, with the same text and options, on the same fake, in the same run. The ratio
    worker / bare loop is checked (target >= 0.7). A bare loop with the worker's concurrency
    (8 at once, `asyncio.gather` under a semaphore) is printed too, not checked.

    .venv/bin/python bench/bench_broadcast.py
    .venv/bin/python bench/bench_broadcast.py --skip-pace --rounds 5      # (b) only

Exit status 1 when a target is missed (unless --no-check), 2 when a run is wrong (a member
without the message or with two, a row not sent, a request the spec refuses). `--profile`
profiles the worker's rounds of (b) (pyinstrument if importable, else cProfile). See
bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from profiling import Profiler  # bench/profiling.py: the script's own folder is on sys.path
from sqlmodel import select
from telegram import Bot, LinkPreviewOptions
from telegram.constants import ParseMode

from bot import migrations
from bot.app import SANDBOX_TOKEN
from bot.clock import SystemClock
from bot.config import Settings
from bot.context import AppContext
from bot.db import Database
from bot.delivery import DeliveryLimits, DeliveryWorker
from bot.models import Admission, OutboxMessage, OutboxState
from bot.sandbox.fake_api import BOT_ID, FakeBotAPI, SandboxRequest
from bot.sandbox.spec import BotApiSpec
from bot.services import members, outbox

FIRST_MEMBER_ID = 400_000_001
TEXT = (
    "<b>Meeting moved</b>: the plenary of the working group is on <i>Thursday</i> at 10:00 "
    "UTC, room 4. Agenda and papers: see /resources &amp; reply to the poll by Wednesday."
)
TELEGRAM_RATE = 30.0


class BenchFailure(Exception):
    """The run did not deliver what it should have: its figures would mean nothing."""


# -- setup -----------------------------------------------------------------------------------------


async def admit(db: Database, member_ids: list[int]) -> dict[int, int]:
    """Telegram id -> member id, for members admitted in one transaction."""
    async with db.session() as session:
        now = datetime.now(UTC)
        admitted = [
            await members.admit(
                session,
                members.Profile(uid, f"Member {uid}", f"member_{uid}"),
                via=Admission.MODERATOR,
                now=now,
                language="en",
            )
            for uid in member_ids
        ]
        return {m.telegram_id: m.id for m in admitted if m.id is not None}


async def queue(db: Database, recipients: dict[int, int], ref_id: int) -> None:
    async with db.session() as session:
        await outbox.enqueue(
            session,
            "bench",
            ref_id,
            [
                outbox.Outgoing(
                    dedup_key=f"bench:{ref_id}:{member_id}",
                    chat_id=chat,
                    recipient_id=member_id,
                    payload={"text": TEXT},
                )
                for chat, member_id in recipients.items()
            ],
            now=datetime.now(UTC),
        )


def make_api(spec: BotApiSpec, member_ids: list[int], *, limits: bool) -> FakeBotAPI:
    api = FakeBotAPI(spec) if limits else FakeBotAPI(spec, limits=None)
    for uid in member_ids:
        api.add_user(uid, f"Member {uid}", username=f"member_{uid}")
        api.started.add(uid)
    return api


async def make_bot(api: FakeBotAPI) -> Bot:
    request = SandboxRequest(api)
    bot = Bot(SANDBOX_TOKEN, request=request, get_updates_request=request)
    await bot.initialize()
    return bot


def check_delivery(api: FakeBotAPI, member_ids: list[int], before: Counter[int], who: str) -> None:
    """Exactly one new message per member since `before`, and nothing the spec refuses."""
    if api.violations:
        raise BenchFailure(f"{who}: requests Telegram would refuse: {api.violations[:3]}")
    now = Counter(chat for (chat, _), m in api.messages.items() if m.from_id == BOT_ID)
    new = now - before
    if sorted(new) != sorted(member_ids) or set(new.values()) != {1}:
        raise BenchFailure(
            f"{who}: not one message per member ({new.total()} messages, {len(new)} chats)"
        )


def delivered(api: FakeBotAPI) -> Counter[int]:
    return Counter(chat for (chat, _), m in api.messages.items() if m.from_id == BOT_ID)


async def check_rows(db: Database, ref_id: int, count: int, who: str) -> None:
    async with db.session() as session:
        rows = list(
            await session.exec(
                select(OutboxMessage).where(
                    OutboxMessage.kind == "bench", OutboxMessage.ref_id == ref_id
                )
            )
        )
    states = Counter(str(r.state) for r in rows)
    if states != {str(OutboxState.SENT): count} or not all(r.telegram_message_id for r in rows):
        raise BenchFailure(f"{who}: the rows did not all end sent: {dict(states)}")


# -- (a) pace ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pace:
    messages: int
    elapsed: float
    too_many_requests: int

    @property
    def rate(self) -> float:
        return self.messages / self.elapsed


async def pace(settings: Settings, spec: BotApiSpec, member_ids: list[int]) -> Pace:
    db = Database(settings.database_url)
    try:
        recipients = await admit(db, member_ids)
        api = make_api(spec, member_ids, limits=True)
        bot = await make_bot(api)
        worker = DeliveryWorker(
            AppContext(settings=settings, db=db, clock=SystemClock()),
            bot,
            limits=DeliveryLimits(
                per_second=settings.delivery_rate, concurrency=settings.delivery_concurrency
            ),
            name="bench-pace",
        )
        await queue(db, recipients, ref_id=0)
        before = delivered(api)
        started = time.perf_counter()
        await worker.drain()
        elapsed = time.perf_counter() - started
        check_delivery(api, member_ids, before, "pace")
        await check_rows(db, 0, len(member_ids), "pace")
        await bot.shutdown()
        return Pace(len(member_ids), elapsed, api.too_many_requests)
    finally:
        await db.dispose()


# -- (b) overhead --------------------------------------------------------------------------------


@dataclass
class Overhead:
    worker: list[float]
    bare: list[float]
    bare_concurrent: list[float]

    @property
    def ratio(self) -> float:
        return statistics.median(self.worker) / statistics.median(self.bare)


async def bare_loop(bot: Bot, chats: list[int]) -> None:
    for chat in chats:
        await bot.send_message(
            chat,
            TEXT,
            parse_mode=ParseMode.HTML,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
        )


async def bare_concurrent(bot: Bot, chats: list[int], concurrency: int) -> None:
    slots = asyncio.Semaphore(concurrency)

    async def one(chat: int) -> None:
        async with slots:
            await bot.send_message(
                chat,
                TEXT,
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )

    await asyncio.gather(*(one(chat) for chat in chats))


async def overhead(
    settings: Settings,
    spec: BotApiSpec,
    member_ids: list[int],
    rounds: int,
    profiler: Profiler | None,
) -> Overhead:
    db = Database(settings.database_url)
    try:
        recipients = await admit(db, member_ids)
        api = make_api(spec, member_ids, limits=False)
        bot = await make_bot(api)
        limits = DeliveryLimits(per_second=1e9, concurrency=settings.delivery_concurrency)
        worker = DeliveryWorker(
            AppContext(settings=settings, db=db, clock=SystemClock()),
            bot,
            limits=limits,
            name="bench-overhead",
        )
        result = Overhead([], [], [])
        count = len(member_ids)

        async def timed(who: str, work: Any, ref_id: int | None) -> float:
            before = delivered(api)
            gc.collect()
            started = time.perf_counter()
            if who == "worker" and profiler is not None:
                profiler.enable()
            await work
            if who == "worker" and profiler is not None:
                profiler.disable()
            rate = count / (time.perf_counter() - started)
            check_delivery(api, member_ids, before, who)
            if ref_id is not None:
                await check_rows(db, ref_id, count, who)
            return rate

        # Round 0 warms up both (statement caches, the fake's HTML cache, the connection pool).
        for number in range(rounds + 1):
            ref_id = 100 + number
            await queue(db, recipients, ref_id)  # not timed: what a handler would have done
            worker_rate = await timed("worker", worker.drain(), ref_id)
            bare_rate = await timed("bare", bare_loop(bot, member_ids), None)
            concurrent_rate = await timed(
                "bare_concurrent",
                bare_concurrent(bot, member_ids, limits.concurrency),
                None,
            )
            if number == 0:
                continue
            result.worker.append(worker_rate)
            result.bare.append(bare_rate)
            result.bare_concurrent.append(concurrent_rate)
            print(
                f"  round {number}: worker {worker_rate:.0f} msg/s, bare loop {bare_rate:.0f} "
                f"msg/s, bare x{limits.concurrency} {concurrent_rate:.0f} msg/s",
                file=sys.stderr,
            )
        await bot.shutdown()
        return result
    finally:
        await db.dispose()


# -- main ------------------------------------------------------------------------------------------


@dataclass
class Options:
    members: int
    rounds: int
    concurrency: int
    pace_target: float
    ratio_target: float
    check: bool
    profile: bool
    skip_pace: bool
    skip_overhead: bool


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--members", type=int, default=1000, help="recipients of the broadcast")
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds of (b)")
    parser.add_argument(
        "--pace-target", type=float, default=0.95, help="(a): minimum share of 30 msg/s"
    )
    parser.add_argument(
        "--target", type=float, default=0.7, help="(b): minimum worker / bare-loop ratio"
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=Settings.model_fields["delivery_concurrency"].default,
        help="DELIVERY_CONCURRENCY of the worker (and of the bare loop run as many at once)",
    )
    parser.add_argument("--no-check", action="store_true", help="print only, never fail")
    parser.add_argument("--profile", action="store_true", help="profile the worker in (b)")
    parser.add_argument("--skip-pace", action="store_true", help="run (b) only")
    parser.add_argument("--skip-overhead", action="store_true", help="run (a) only")
    args = parser.parse_args(argv)
    if args.members < 1 or args.rounds < 1:
        parser.error("--members and --rounds must be at least 1")
    return Options(
        args.members,
        args.rounds,
        args.concurrency,
        args.pace_target,
        args.target,
        not args.no_check,
        args.profile,
        args.skip_pace,
        args.skip_overhead,
    )


def settings_for(database_url: str, concurrency: int = 16) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        delivery_concurrency=concurrency,
        admin_ids=[],
        default_language="en",
    )


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    spec = BotApiSpec.load()
    member_ids = [FIRST_MEMBER_ID + i for i in range(options.members)]
    missed = False
    with tempfile.TemporaryDirectory(prefix="wgbot-bench-") as tmp:
        try:
            if not options.skip_pace:
                url = f"sqlite:///{Path(tmp) / 'pace.sqlite3'}"
                migrations.upgrade(url)  # synchronous: before the event loop starts
                result = asyncio.run(pace(settings_for(url, options.concurrency), spec, member_ids))
                share = result.rate / TELEGRAM_RATE
                print(
                    f"broadcast_{options.members}_pace: {result.rate:.2f} msg/s in "
                    f"{result.elapsed:.1f} s = {share:.1%} of {TELEGRAM_RATE:g} msg/s "
                    f"(target >= {options.pace_target:.0%}), 429s: {result.too_many_requests}, "
                    f"every member exactly once"
                )
                missed |= share < options.pace_target or result.too_many_requests > 0
            if not options.skip_overhead:
                url = f"sqlite:///{Path(tmp) / 'overhead.sqlite3'}"
                migrations.upgrade(url)
                profiler = Profiler() if options.profile else None
                figures = asyncio.run(
                    overhead(
                        settings_for(url, options.concurrency),
                        spec,
                        member_ids,
                        options.rounds,
                        profiler,
                    )
                )
                if profiler is not None:
                    print(profiler.report(), file=sys.stderr)
                worker = statistics.median(figures.worker)
                bare = statistics.median(figures.bare)
                concurrent = statistics.median(figures.bare_concurrent)
                print(
                    f"broadcast_{options.members}_overhead (concurrency {options.concurrency}): "
                    f"worker {worker:.0f} msg/s, bare "
                    f"send loop {bare:.0f} msg/s, ratio {figures.ratio:.2f} "
                    f"(target >= {options.ratio_target:.2f})"
                )
                print(
                    f"  (not checked) bare loop with {options.concurrency} at once "
                    f"{concurrent:.0f} msg/s: "
                    f"worker / that {worker / concurrent:.2f}"
                )
                missed |= figures.ratio < options.ratio_target
        except BenchFailure as exc:
            print(f"broadcast_{options.members}: FAILED: {exc}", file=sys.stderr)
            return 2
    return 1 if missed and options.check else 0


if __name__ == "__main__":
    sys.exit(main())
