"""The ballot box: a group commit for secret-ballot votes.

A vote is a small transaction (the voter row, the counters), and what it costs is the round
trips to the database, not the work: through aiosqlite each statement is a hop to its thread and
back. When many members vote at once (a ballot just went out to everybody), the presses that
arrive while one transaction is being written wait for the next one, and that one casts them all
(`polls.cast`): one lookup of the voters' rows, one of the ballots, one of eligibility, one
multi-row INSERT, one UPDATE of the counters per ballot, one COMMIT. Nobody waits for a timer:
a vote alone is written at once; under load the batches grow by themselves.

Each press gets its own outcome: counted, refused (why), or `unknown` when the presser is not an
active member (a stranger, someone removed, an inactive member who should be woken up): the
handler then takes the ordinary path, which admits, refuses or wakes them as for any update.

Privacy: a batch's transaction links a set of voters to the sum of their choices, never one
voter to one choice (see `bot/services/polls.py`). Nothing here logs a voter or a choice; the
requests live in memory only until their transaction ends, as a single vote's would.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlmodel import col, select

from bot.clock import Clock
from bot.db import Database
from bot.models import Member, MemberStatus, Poll, PollStatus
from bot.services import polls
from bot.services.errors import ServiceError

log = logging.getLogger(__name__)

# Bound on one transaction: SQLite allows 32,766 parameters per statement, the INSERT takes two
# per vote; a batch this size is written in a few milliseconds.
MAX_BATCH = 1000


@dataclass(frozen=True, slots=True)
class Press:
    """A ballot button pressed by a Telegram user."""

    telegram_id: int
    poll_id: int
    choices: tuple[int, ...]


@dataclass(slots=True)
class Outcome:
    """What became of one press. `member` and `poll` (detached rows) are for the answer."""

    unknown: bool = False
    refused: ServiceError | None = None
    member: Member | None = None
    poll: Poll | None = None
    closed: bool = False


@dataclass
class BallotBoxStats:
    """Counts since start, for tests and benchmarks (no voter, no choice)."""

    presses: int = 0
    transactions: int = 0
    largest: int = 0


@dataclass
class BallotBox:
    db: Database
    clock: Clock
    compose: polls.Compose
    group_chat_id: int | None = None
    # Called after a transaction that closed a ballot (its results were queued).
    on_closed: Callable[[], None] | None = None
    max_batch: int = MAX_BATCH
    stats: BallotBoxStats = field(default_factory=BallotBoxStats)
    _waiting: list[tuple[Press, asyncio.Future[Outcome]]] = field(
        default_factory=list, init=False, repr=False
    )
    _writer: asyncio.Task[None] | None = field(default=None, init=False, repr=False)

    async def cast(self, press: Press) -> Outcome:
        """Cast one press with whatever else is waiting; returns once it is committed."""
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._waiting.append((press, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name="ballot box")
        return await future

    async def _write(self) -> None:
        while self._waiting:
            batch = self._waiting[: self.max_batch]
            del self._waiting[: self.max_batch]
            await self._write_batch(batch)

    async def _write_batch(self, batch: list[tuple[Press, asyncio.Future[Outcome]]]) -> None:
        presses = [press for press, _ in batch]
        failure: Exception | None = None
        # A transaction can fail for a reason that passes (on SQLite, another connection wrote
        # between this one's first read and its first write): it is tried twice.
        for _attempt in range(2):
            try:
                outcomes = await self._commit(presses)
            except Exception as exc:
                log.warning("a batch of %s vote(s) failed: %s", len(batch), type(exc).__name__)
                failure = exc
                continue
            _settle(batch, outcomes)
            return
        if len(batch) > 1:
            # Whatever fails the batch must not fail every voter in it: one by one.
            for one in batch:
                await self._write_batch([one])
            return
        assert failure is not None
        _settle(batch, exception=failure)

    async def _commit(self, presses: Sequence[Press]) -> list[Outcome]:
        self.stats.transactions += 1
        self.stats.presses += len(presses)
        self.stats.largest = max(self.stats.largest, len(presses))
        outcomes = [Outcome() for _ in presses]
        async with self.db.session() as session:
            rows = await session.exec(
                select(Member).where(
                    col(Member.telegram_id).in_(sorted({p.telegram_id for p in presses}))
                )
            )
            by_telegram_id = {m.telegram_id: m for m in rows}
            requests: list[polls.VoteRequest] = []
            asked: list[int] = []
            for index, press in enumerate(presses):
                member = by_telegram_id.get(press.telegram_id)
                if member is None or member.status != MemberStatus.ACTIVE:
                    outcomes[index].unknown = True
                    continue
                outcomes[index].member = member
                requests.append(polls.VoteRequest(press.poll_id, member, press.choices))
                asked.append(index)
            if not requests:
                return outcomes
            results = await polls.cast(
                session,
                requests,
                now=self.clock.now(),
                group_chat_id=self.group_chat_id,
                compose=self.compose,
            )
            closed = False
            for index, result in zip(asked, results, strict=True):
                outcome = outcomes[index]
                outcome.refused, outcome.poll = result.refused, result.poll
                if result.refused is None and outcome.poll is not None:
                    outcome.closed = outcome.poll.status != PollStatus.OPEN
                    closed = closed or outcome.closed
        # Committed (the session block ended without an error).
        if closed and self.on_closed is not None:
            self.on_closed()
        return outcomes


def _settle(
    batch: Sequence[tuple[Press, asyncio.Future[Outcome]]],
    outcomes: Sequence[Outcome] = (),
    *,
    exception: BaseException | None = None,
) -> None:
    for index, (_, future) in enumerate(batch):
        if future.done():  # the voter's handler was cancelled meanwhile
            continue
        if exception is not None:
            future.set_exception(exception)
        else:
            future.set_result(outcomes[index])
