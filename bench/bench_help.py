"""End-to-end /help throughput of wgbot against a bare python-telegram-bot echo bot.

Both bots are real `telegram.ext.Application`s polling the in-process fake Bot API
(`bot.sandbox.fake_api.FakeBotAPI`) through `SandboxRequest`; every request either bot makes is
checked against the same `BotApiSpec`. A round enqueues one `/help` from each of N distinct,
already admitted members and times until the fake has recorded N replies. The result is the ratio
of the medians: wgbot upd/s / echo upd/s.

    .venv/bin/python bench/bench_help.py --rounds 5 --members 200

Exit status 1 when the ratio is under --target (unless --no-check), 2 when a round fails
(missing or wrong replies, a request the spec refuses, a timeout). `--profile` profiles the
measured wgbot rounds (pyinstrument if importable, else cProfile). See bench/README.md.
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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from profiling import Profiler  # bench/profiling.py: the script's own folder is on sys.path
from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, MessageHandler, filters

from bot import migrations
from bot.app import SANDBOX_TOKEN, build_application
from bot.config import Settings
from bot.db import Database
from bot.models import Admission
from bot.sandbox.fake_api import FakeBotAPI, SandboxRequest
from bot.sandbox.spec import BotApiSpec
from bot.services import members

ADMIN_ID = 100_000_001
FIRST_MEMBER_ID = 300_000_001
# getUpdates long-poll timeout (seconds): an idle bot waits on the fake's asyncio.Condition.
POLL_TIMEOUT = 10

AnyApplication = Application  # type: ignore[type-arg]


class BenchFailure(Exception):
    """A round did not produce the replies it should have: the figures would mean nothing."""


# -- the two bots ----------------------------------------------------------------------------------


async def _echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    # Same as `lambda u, c: u.message.reply_text(u.message.text)`, typed.
    assert update.message is not None
    await update.message.reply_text(update.message.text or "")


def build_echo(api: FakeBotAPI) -> AnyApplication:
    request = SandboxRequest(api)
    app = (
        ApplicationBuilder()
        .token(SANDBOX_TOKEN)
        .request(request)
        .get_updates_request(request)
        .build()
    )
    app.add_handler(MessageHandler(filters.TEXT, _echo))
    return app


def build_wgbot(api: FakeBotAPI, settings: Settings) -> AnyApplication:
    # The real wiring (handlers, database, post_init), pointed at the fake instead of Telegram.
    return build_application(settings, request=SandboxRequest(api))


@dataclass
class ReplyCounter:
    """Wraps `api.call`: records every sendMessage the fake accepted, sets `done` at `expected`.

    It also adds up the time spent inside the fake for every request but getUpdates (whose long
    poll is idle waiting): that is Telegram's share in production, reported separately.
    """

    api: FakeBotAPI
    expected: int = 0
    replies: list[tuple[int, str]] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    fake_seconds: float = 0.0

    def __post_init__(self) -> None:
        self._call: Callable[..., Awaitable[Any]] = self.api.call
        self.api.call = self._counting_call  # type: ignore[method-assign]

    def arm(self, expected: int) -> None:
        self.expected = expected
        self.replies = []
        self.done = asyncio.Event()
        self.fake_seconds = 0.0

    async def _counting_call(
        self, method: str, params: dict[str, Any], files: dict[str, Any] | None = None
    ) -> Any:
        if method == "getUpdates":
            return await self._call(method, params, files)
        started = time.perf_counter()
        try:
            result = await self._call(method, params, files)
        finally:
            self.fake_seconds += time.perf_counter() - started
        if method == "sendMessage":
            self.replies.append((int(params["chat_id"]), str(result.get("text", ""))))
            if len(self.replies) >= self.expected:
                self.done.set()
        return result


@dataclass(frozen=True)
class RoundResult:
    updates: int
    elapsed: float
    # Seconds of `elapsed` spent inside the fake Bot API (not getUpdates).
    fake_seconds: float

    @property
    def rate(self) -> float:
        return self.updates / self.elapsed

    @property
    def bot_rate(self) -> float:
        """Updates per second with the fake's own request handling taken out."""
        return self.updates / (self.elapsed - self.fake_seconds)


@dataclass
class Contender:
    name: str
    api: FakeBotAPI
    app: AnyApplication
    counter: ReplyCounter
    # Does one reply text answer `/help` correctly?
    accepts: Callable[[str], bool]
    runs_post_init: bool = False
    results: list[RoundResult] = field(default_factory=list)

    def median(self, attribute: str) -> float:
        return statistics.median(getattr(r, attribute) for r in self.results)

    async def start(self) -> None:
        # What Application.run_polling does, minus the signal handling and the blocking loop.
        await self.app.initialize()
        if self.runs_post_init and self.app.post_init is not None:
            await self.app.post_init(self.app)
        assert self.app.updater is not None
        await self.app.updater.start_polling(poll_interval=0, timeout=POLL_TIMEOUT)
        await self.app.start()

    async def stop(self) -> None:
        assert self.app.updater is not None
        await self.app.updater.stop()
        await self.app.stop()
        await self.app.shutdown()
        if self.runs_post_init and self.app.post_shutdown is not None:
            await self.app.post_shutdown(self.app)


# -- a round ---------------------------------------------------------------------------------------


def help_update(api: FakeBotAPI, user_id: int) -> dict[str, Any]:
    """A `/help` in the member's private chat, as Telegram sends it (with its bot_command)."""
    stored = api.store_user_message(user_id, user_id, "/help")
    message = api.message_json(stored)
    message["entities"] = [{"type": "bot_command", "offset": 0, "length": len("/help")}]
    return api.new_update({"message": message})


async def run_round(
    bot: Contender, member_ids: list[int], max_seconds: float, profiler: Profiler | None = None
) -> RoundResult:
    """Enqueue one /help per member and time until the fake has recorded every reply."""
    updates = [help_update(bot.api, uid) for uid in member_ids]
    violations_before = len(bot.api.violations)
    bot.counter.arm(len(updates))
    gc.collect()
    if profiler is not None:
        profiler.enable()
    started = time.perf_counter()
    for update in updates:
        await bot.api.enqueue(update)
    try:
        await asyncio.wait_for(bot.counter.done.wait(), max_seconds)
    except TimeoutError:
        raise BenchFailure(
            f"{bot.name}: only {len(bot.counter.replies)} of {len(updates)} replies "
            f"after {max_seconds:.0f}s"
        ) from None
    finally:
        if profiler is not None:
            profiler.disable()
    elapsed = time.perf_counter() - started
    _check_replies(bot, member_ids, violations_before)
    return RoundResult(len(updates), elapsed, bot.counter.fake_seconds)


def _check_replies(bot: Contender, member_ids: list[int], violations_before: int) -> None:
    if len(bot.api.violations) > violations_before:
        raise BenchFailure(
            f"{bot.name}: requests Telegram would refuse: "
            f"{bot.api.violations[violations_before:][:3]}"
        )
    replies = bot.counter.replies
    chats = sorted(chat for chat, _ in replies)
    if chats != sorted(member_ids):
        raise BenchFailure(
            f"{bot.name}: replies did not go one to each member "
            f"({len(replies)} replies, {len(set(chats))} distinct chats)"
        )
    wrong = [text for _, text in replies if not bot.accepts(text)]
    if wrong:
        raise BenchFailure(
            f"{bot.name}: {len(wrong)} replies are not the expected answer, e.g. {wrong[0][:200]!r}"
        )


# -- setup -----------------------------------------------------------------------------------------


async def admit_members(database_url: str, member_ids: list[int]) -> None:
    db = Database(database_url)
    try:
        async with db.session() as session:
            now = datetime.now(UTC)
            for uid in member_ids:
                await members.admit(
                    session, _profile(uid), via=Admission.MODERATOR, now=now, language="en"
                )
    finally:
        await db.dispose()


def _profile(user_id: int) -> members.Profile:
    # Same name and username as the fake's user, so /help never has a profile change to write.
    return members.Profile(user_id, f"Member {user_id}", f"member_{user_id}")


def add_users(api: FakeBotAPI, member_ids: list[int]) -> None:
    api.add_user(ADMIN_ID, "Admin", username="bench_admin")
    for uid in member_ids:
        profile = _profile(uid)
        api.add_user(uid, profile.full_name, username=profile.username, language_code="en")


def _is_help(text: str) -> bool:
    return "/timezone" in text and "/help" in text


def _is_echo(text: str) -> bool:
    return text == "/help"


# -- main ------------------------------------------------------------------------------------------


@dataclass
class Options:
    rounds: int
    members: int
    target: float
    check: bool
    timeout: float
    profile: bool
    cold: bool = False


@dataclass(frozen=True)
class Figures:
    wgbot: float
    echo: float
    wgbot_bot_only: float
    echo_bot_only: float
    wgbot_fake_share: float
    echo_fake_share: float


async def bench(options: Options, database_url: str) -> Figures:
    member_ids = [FIRST_MEMBER_ID + i for i in range(options.members)]
    await admit_members(database_url, member_ids)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        admin_ids=[ADMIN_ID],
        group_chat_id=None,  # no group: resolving a caller never calls getChatMember
        default_timezone="Asia/Almaty",
        default_language="en",
    )
    spec = BotApiSpec.load()
    # One fake per bot (each has its own update queue), both checking against the same spec.
    # Flood limits lifted: this measures the bot's own cost per update, not Telegram's pace.
    echo_api, wg_api = FakeBotAPI(spec, limits=None), FakeBotAPI(spec, limits=None)
    add_users(echo_api, member_ids)
    add_users(wg_api, member_ids)
    echo = Contender("echo", echo_api, build_echo(echo_api), ReplyCounter(echo_api), _is_echo)
    wgbot = Contender(
        "wgbot",
        wg_api,
        build_wgbot(wg_api, settings),
        ReplyCounter(wg_api),
        _is_help,
        runs_post_init=True,
    )
    profiler = Profiler() if options.profile else None
    await echo.start()
    await wgbot.start()
    try:
        # Warm-up: template compilation, SQLAlchemy statement caches, the connection pool.
        await run_round(echo, member_ids, options.timeout)
        await run_round(wgbot, member_ids, options.timeout)
        for number in range(1, options.rounds + 1):
            echo.results.append(await run_round(echo, member_ids, options.timeout))
            if options.cold:
                # Every member unknown to the process, as on the first message after a start.
                wgbot.app.bot_data["app"].identities.clear()
            wgbot.results.append(await run_round(wgbot, member_ids, options.timeout, profiler))
            print(
                f"  round {number}: wgbot {wgbot.results[-1].rate:.0f} upd/s, "
                f"echo {echo.results[-1].rate:.0f} upd/s",
                file=sys.stderr,
            )
    finally:
        await wgbot.stop()
        await echo.stop()
    if profiler is not None:
        print(profiler.report(), file=sys.stderr)
    return Figures(
        wgbot=wgbot.median("rate"),
        echo=echo.median("rate"),
        wgbot_bot_only=wgbot.median("bot_rate"),
        echo_bot_only=echo.median("bot_rate"),
        wgbot_fake_share=statistics.median(r.fake_seconds / r.elapsed for r in wgbot.results),
        echo_fake_share=statistics.median(r.fake_seconds / r.elapsed for r in echo.results),
    )


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds per bot")
    parser.add_argument("--members", type=int, default=200, help="distinct members, one /help each")
    parser.add_argument("--target", type=float, default=0.5, help="minimum wgbot/echo ratio")
    parser.add_argument("--no-check", action="store_true", help="print only, never fail on ratio")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds allowed per round")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="profile the measured wgbot rounds (pyinstrument if importable, "
        "else cProfile) and print the report to stderr",
    )
    parser.add_argument(
        "--cold",
        action="store_true",
        help="empty wgbot's who-is-who cache before each round (first contact after a start)",
    )
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.members < 1:
        parser.error("--rounds and --members must be at least 1")
    return Options(
        args.rounds,
        args.members,
        args.target,
        not args.no_check,
        args.timeout,
        args.profile,
        args.cold,
    )


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="wgbot-bench-") as tmp:
        database_url = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        migrations.upgrade(database_url)  # synchronous: before the event loop starts
        try:
            figures = asyncio.run(bench(options, database_url))
        except BenchFailure as exc:
            print(f"help_{options.members}_members: FAILED: {exc}", file=sys.stderr)
            return 2
    ratio = figures.wgbot / figures.echo
    name = f"help_{options.members}_members" + ("_cold" if options.cold else "")
    print(
        f"{name}: wgbot {figures.wgbot:.0f} upd/s, bare echo {figures.echo:.0f} upd/s, "
        f"ratio {ratio:.2f} (target >= {options.target:.2f})"
    )
    print(
        f"  (not checked) without the fake's own request handling "
        f"({figures.wgbot_fake_share:.0%} of wgbot's time, {figures.echo_fake_share:.0%} of "
        f"echo's): wgbot {figures.wgbot_bot_only:.0f} upd/s, echo "
        f"{figures.echo_bot_only:.0f} upd/s, ratio "
        f"{figures.wgbot_bot_only / figures.echo_bot_only:.2f}"
    )
    if options.check and ratio < options.target:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
