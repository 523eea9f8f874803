"""Secret-ballot votes end to end: 1,000 members press an option button, against the bare
python-telegram-bot echo bot on the same fake.

Both bots are real `telegram.ext.Application`s long-polling their own in-process fake Bot API
(bench_help's method). Before each wgbot round (not timed) a moderator opens a new secret ballot
for everybody through `polls.open_poll` and the delivery worker sends the 1,000 ballots; the
round enqueues one callback_query per member (the button of option i % options, from the
ballot message they got) and times until the fake has recorded 1,000 `editMessageText`s (each
vote ends with the message saying it was recorded). The echo round answers 1,000 text messages.
The ratio is wgbot votes/s / echo updates/s, medians of alternating rounds.

    .venv/bin/python bench/bench_ballot.py --rounds 5 --members 1000

Correctness, checked after every round: the ballot's counters equal the choices sent, exactly
1,000 voters are recorded, every vote was answered "recorded" and nothing the fake refused.
Exit status 1 under --target (0.3), 2 when a round fails.
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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench_help import (  # bench/ is on sys.path when the script runs
    ADMIN_ID,
    FIRST_MEMBER_ID,
    BenchFailure,
    Contender,
    ReplyCounter,
    _is_echo,
    add_users,
    admit_members,
    build_echo,
    build_wgbot,
    run_round,
)
from profiling import Profiler  # bench/profiling.py: the script's own folder is on sys.path
from sqlmodel import col, func, select

from bot import migrations
from bot.config import Settings
from bot.models import BallotVoter, OutboxMessage, OutboxState
from bot.sandbox.fake_api import FakeBotAPI
from bot.sandbox.spec import BotApiSpec
from bot.services import members, polls

OPTIONS = ["Option A", "Option B", "Option C", "Option D"]


@dataclass
class Edits:
    """Counts the fake's editMessageText calls (one per recorded vote) and answers."""

    api: FakeBotAPI
    expected: int = 0
    edits: int = 0
    recorded: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self._call = self.api.call
        self.api.call = self._counting  # type: ignore[method-assign]

    def arm(self, expected: int) -> None:
        self.expected, self.edits, self.recorded = expected, 0, 0
        self.done = asyncio.Event()

    async def _counting(self, method: str, params: dict[str, Any], files: Any = None) -> Any:
        result = await self._call(method, params, files)
        if method == "editMessageText":
            self.edits += 1
            if "has been recorded" in str(params.get("text", "")):
                self.recorded += 1
            if self.edits >= self.expected:
                self.done.set()
        return result


async def open_ballot(wgbot: Contender, member_ids: list[int], max_seconds: float) -> int:
    """A new ballot for everybody (untimed), its ballots delivered; returns its id."""
    from handlers import polls as feature

    app = wgbot.app.bot_data["app"]
    async with app.db.session() as session:
        author = await members.by_telegram_id(session, ADMIN_ID)
        assert author is not None
        poll = await polls.open_poll(
            session,
            author,
            polls.PollDraft(
                question="Bench ballot",
                options=list(OPTIONS),
                kind=polls.PollKind.SECRET,
                audience=polls.PollAudience(everyone=True),
            ),
            now=app.clock.now(),
            group_chat_id=None,
            compose=feature.notice_composer(app),
        )
        poll_id = poll.id
    assert poll_id is not None
    wgbot.app.bot_data["delivery"].wake()
    deadline = time.monotonic() + max_seconds
    while True:
        async with app.db.session() as session:
            pending = (
                await session.exec(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(
                        col(OutboxMessage.state).in_(
                            [OutboxState.PENDING.value, OutboxState.SENDING.value]
                        )
                    )
                )
            ).one()
        if not pending:
            return poll_id
        if time.monotonic() > deadline:
            raise BenchFailure(f"ballots not delivered after {max_seconds:.0f}s ({pending} left)")
        await asyncio.sleep(0.05)


def vote_updates(
    api: FakeBotAPI, poll_id: int, member_ids: list[int]
) -> tuple[list[Any], Counter[int]]:
    """One press per member on the ballot message they got: option i % len(OPTIONS)."""
    updates, chosen = [], Counter[int]()
    for index, uid in enumerate(member_ids):
        message = next(
            m
            for (chat, _), m in sorted(api.messages.items(), reverse=True)
            if chat == uid
            and m.buttons
            and m.buttons[0][0].get("callback_data", "").startswith(f"pl:b:{poll_id}:")
        )
        option = index % len(OPTIONS)
        chosen[option] += 1
        user = api.users[uid]
        updates.append(
            api.new_update(
                {
                    "callback_query": {
                        "id": api.new_callback_id(),
                        "from": {k: user[k] for k in ("id", "is_bot", "first_name", "username")},
                        "chat_instance": str(uid),
                        "message": api.message_json(message),
                        "data": f"pl:b:{poll_id}:{option}",
                    }
                }
            )
        )
    return updates, chosen


async def wgbot_round(
    wgbot: Contender,
    edits: Edits,
    member_ids: list[int],
    max_seconds: float,
    profiler: Profiler | None = None,
) -> tuple[int, float]:
    poll_id = await open_ballot(wgbot, member_ids, max_seconds)
    updates, chosen = vote_updates(wgbot.api, poll_id, member_ids)
    violations = len(wgbot.api.violations)
    edits.arm(len(updates))
    gc.collect()
    if profiler is not None:
        profiler.enable()
    started = time.perf_counter()
    for update in updates:
        await wgbot.api.enqueue(update)
    try:
        await asyncio.wait_for(edits.done.wait(), max_seconds)
    except TimeoutError:
        raise BenchFailure(
            f"wgbot: {edits.edits} of {len(updates)} votes after {max_seconds:.0f}s"
        ) from None
    elapsed = time.perf_counter() - started
    if profiler is not None:
        profiler.disable()
    if len(wgbot.api.violations) > violations:
        raise BenchFailure(f"wgbot: refused requests {wgbot.api.violations[violations:][:3]}")
    if edits.recorded != len(updates):
        raise BenchFailure(f"wgbot: {edits.recorded} of {len(updates)} votes said recorded")
    app = wgbot.app.bot_data["app"]
    async with app.db.session() as session:
        poll = await polls.get(session, poll_id)
        tally = await polls.tally(session, poll)
        voters = (
            await session.exec(
                select(func.count()).select_from(BallotVoter).where(BallotVoter.poll_id == poll_id)
            )
        ).one()
    expected = [chosen[i] for i in range(len(OPTIONS))]
    if tally.counts != expected or voters != len(member_ids):
        raise BenchFailure(f"wgbot: counts {tally.counts} != {expected} or voters {voters}")
    return poll_id, elapsed


async def bench(
    rounds: int,
    count: int,
    max_seconds: float,
    database_url: str,
    profiler: Profiler | None = None,
) -> tuple[float, float]:
    member_ids = [FIRST_MEMBER_ID + i for i in range(count)]
    await admit_members(database_url, member_ids)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        admin_ids=[ADMIN_ID],
        group_chat_id=None,
        default_timezone="Asia/Almaty",
        default_language="en",
        # The ballots go out before each round (not timed): as fast as paid broadcasts may.
        delivery_rate=1000,
        delivery_paid_broadcast=True,
    )
    spec = BotApiSpec.load()
    echo_api, wg_api = FakeBotAPI(spec, limits=None), FakeBotAPI(spec, limits=None)
    add_users(echo_api, member_ids)
    add_users(wg_api, member_ids)
    wg_api.started.update(member_ids)
    wg_api.started.add(ADMIN_ID)
    echo = Contender("echo", echo_api, build_echo(echo_api), ReplyCounter(echo_api), _is_echo)
    app = build_wgbot(wg_api, settings)
    wgbot = Contender(
        "wgbot", wg_api, app, ReplyCounter(wg_api), lambda _: True, runs_post_init=True
    )
    edits = Edits(wg_api)
    await echo.start()
    await wgbot.start()
    echo_rates: list[float] = []
    vote_rates: list[float] = []
    batches: list[tuple[int, int]] = []
    try:
        await run_round(echo, member_ids, max_seconds)  # warm-up
        await wgbot_round(wgbot, edits, member_ids, max_seconds)
        for number in range(1, rounds + 1):
            result = await run_round(echo, member_ids, max_seconds)
            echo_rates.append(result.rate)
            box = app.bot_data["ballot_box"]
            before = box.stats.transactions
            box.stats.largest = 0
            _, elapsed = await wgbot_round(wgbot, edits, member_ids, max_seconds, profiler)
            vote_rates.append(len(member_ids) / elapsed)
            batches.append((box.stats.transactions - before, box.stats.largest))
            print(
                f"  round {number}: wgbot {vote_rates[-1]:.0f} votes/s, "
                f"echo {echo_rates[-1]:.0f} upd/s; {batches[-1][0]} transactions, "
                f"largest {batches[-1][1]} votes",
                file=sys.stderr,
            )
    finally:
        await wgbot.stop()
        await echo.stop()
    return statistics.median(vote_rates), statistics.median(echo_rates)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="profile wgbot's measured rounds")
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--target", type=float, default=0.3)
    parser.add_argument("--no-check", action="store_true")
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="wgbot-bench-") as tmp:
        database_url = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        migrations.upgrade(database_url)
        try:
            profiler = Profiler() if args.profile else None
            votes, echo = asyncio.run(
                bench(args.rounds, args.members, args.timeout, database_url, profiler)
            )
            if profiler is not None:
                print(profiler.report(), file=sys.stderr)
        except BenchFailure as exc:
            print(f"ballot_{args.members}_members: FAILED: {exc}", file=sys.stderr)
            return 2
    ratio = votes / echo
    print(
        f"ballot_{args.members}_members: wgbot {votes:.0f} votes/s, bare echo {echo:.0f} upd/s, "
        f"ratio {ratio:.2f} (target >= {args.target:.2f}); counts exact, "
        f"{args.members} voters recorded each round"
    )
    return 1 if not args.no_check and ratio < args.target else 0


if __name__ == "__main__":
    _ = datetime.now(UTC)
    sys.exit(main())
