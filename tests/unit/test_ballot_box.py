"""The ballot box (group commit of secret votes) without Telegram: presses that arrive together
are written in one transaction with exact counts, each press gets its own answer (counted,
refused and why, or "unknown" for people who are not active members), a batch that fails is
tried again and then one by one, and the last eligible voter closes the ballot. SQLite and
PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlmodel import col, func, select

from bot.clock import FakeClock
from bot.db import Database
from bot.models import (
    Admission,
    BallotVoter,
    Member,
    MemberStatus,
    OutboxMessage,
    PollStatus,
    Role,
)
from bot.services import polls
from bot.services.ballot_box import BallotBox, Press
from bot.services.polls import PollAudience
from tests.unit.test_polls_service import GROUP, NOW, _member, _open, _poll, _secret, compose

FIRST = 10_000


async def _voters(db: Database, count: int) -> list[int]:
    """`count` active members (Telegram ids FIRST, FIRST+1, ...)."""
    async with db.session() as session:
        people = [
            Member(
                telegram_id=FIRST + i,
                full_name=f"Voter {i}",
                admitted_via=Admission.MODERATOR,
                admitted_at=NOW,
            )
            for i in range(count)
        ]
        session.add_all(people)
    return [FIRST + i for i in range(count)]


def _box(db: Database, **kwargs: Any) -> BallotBox:
    return BallotBox(db, FakeClock(NOW), compose, group_chat_id=GROUP, **kwargs)


async def _tally(db: Database, poll_id: int) -> polls.Tally:
    async with db.session() as session:
        poll = await polls.get(session, poll_id)
        return await polls.tally(session, poll)


async def _recorded_voters(db: Database, poll_id: int) -> int:
    async with db.session() as session:
        return int(
            (
                await session.exec(
                    select(func.count())
                    .select_from(BallotVoter)
                    .where(col(BallotVoter.poll_id) == poll_id)
                )
            ).one()
        )


async def test_presses_that_arrive_together_share_one_transaction(db: Database) -> None:
    mod = await _member(db, 1, Role.MODERATOR)
    voters = await _voters(db, 200)
    poll_id = await _open(db, mod, _secret())
    box = _box(db)
    outcomes = await asyncio.gather(
        *(box.cast(Press(t, poll_id, (i % 3,))) for i, t in enumerate(voters))
    )
    assert [o.refused for o in outcomes] == [None] * 200
    assert all(not o.unknown and not o.closed for o in outcomes)
    assert {o.member.telegram_id for o in outcomes if o.member} == set(voters)
    assert box.stats.transactions == 1 and box.stats.largest == 200
    assert await _tally(db, poll_id) == polls.Tally([67, 67, 66], 200, 201, None)

    # A second press by each of them: refused by the key, nothing counted.
    again = await asyncio.gather(
        *(box.cast(Press(t, poll_id, ((i + 1) % 3,))) for i, t in enumerate(voters))
    )
    assert {o.refused.code for o in again if o.refused} == {"poll_already_voted"}
    assert all(o.refused for o in again)
    assert await _tally(db, poll_id) == polls.Tally([67, 67, 66], 200, 201, None)
    assert await _recorded_voters(db, poll_id) == 200


async def test_each_press_gets_its_own_answer(db: Database) -> None:
    mod = await _member(db, 1, Role.MODERATOR)
    first, second, late = await _voters(db, 3)
    poll_id = await _open(db, mod, _secret())
    removed = await _member(db, 50, status=MemberStatus.REMOVED)
    inactive = await _member(db, 51, status=MemberStatus.INACTIVE)
    assert removed and inactive
    await _member(db, 60, Role.FOCAL_POINT, "KZ")
    other_id = await _open(db, mod, _secret(audience=PollAudience(focal_points=True)))
    box = _box(db)
    presses = [
        Press(first, poll_id, (0,)),
        Press(first, poll_id, (1,)),  # the same person again in the same batch
        Press(second, poll_id, (7,)),  # no such option
        Press(second, poll_id, (0, 1)),  # two options in a single-choice ballot
        Press(999, poll_id, (0,)),  # a stranger
        Press(50, poll_id, (0,)),  # removed
        Press(51, poll_id, (0,)),  # inactive: the ordinary path wakes them up
        Press(second, other_id, (0,)),  # not in that ballot's audience
        Press(second, 2**40, (0,)),  # forged id
        Press(late, poll_id, (2,)),
    ]
    outcomes = await asyncio.gather(*(box.cast(p) for p in presses))
    assert box.stats.transactions == 1
    refused = [o.refused.code if o.refused else None for o in outcomes]
    assert refused == [
        None,
        "poll_already_voted",
        "poll_bad_choice",
        "poll_bad_choice",
        None,
        None,
        None,
        "poll_not_eligible",
        "poll_not_found",
        None,
    ]
    assert [o.unknown for o in outcomes] == [False] * 4 + [True] * 3 + [False] * 3
    assert outcomes[0].poll is not None and outcomes[0].poll.question == "Which?"
    assert await _tally(db, poll_id) == polls.Tally([1, 0, 1], 2, 4, None)


async def test_a_failed_batch_is_tried_again_then_one_by_one(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    mod = await _member(db, 1, Role.MODERATOR)
    voters = await _voters(db, 5)
    poll_id = await _open(db, mod, _secret())
    real_cast = polls.cast
    failures = {"left": 2}

    async def flaky(session: Any, requests: Any, **kwargs: Any) -> Any:
        if len(requests) > 1 and failures["left"]:
            failures["left"] -= 1
            await real_cast(session, requests, **kwargs)  # written, then lost with the rollback
            raise RuntimeError("the connection dropped")
        return await real_cast(session, requests, **kwargs)

    monkeypatch.setattr(polls, "cast", flaky)
    box = _box(db)
    outcomes = await asyncio.gather(*(box.cast(Press(t, poll_id, (0,))) for t in voters))
    assert [o.refused for o in outcomes] == [None] * 5
    assert box.stats.transactions == 2 + 5  # the batch twice, then each alone
    assert await _tally(db, poll_id) == polls.Tally([5, 0, 0], 5, 6, None)


async def test_a_press_that_keeps_failing_fails_alone(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    mod = await _member(db, 1, Role.MODERATOR)
    good, bad = await _voters(db, 2)
    poll_id = await _open(db, mod, _secret())
    real_cast = polls.cast

    async def poisoned(session: Any, requests: Any, **kwargs: Any) -> Any:
        if any(r.member.telegram_id == bad for r in requests):
            raise RuntimeError("poisoned")
        return await real_cast(session, requests, **kwargs)

    monkeypatch.setattr(polls, "cast", poisoned)
    box = _box(db)
    outcomes = await asyncio.gather(
        box.cast(Press(good, poll_id, (1,))),
        box.cast(Press(bad, poll_id, (1,))),
        return_exceptions=True,
    )
    assert not isinstance(outcomes[0], BaseException) and outcomes[0].refused is None
    assert isinstance(outcomes[1], RuntimeError)
    assert await _tally(db, poll_id) == polls.Tally([0, 1, 0], 1, 3, None)


async def test_the_last_eligible_voter_closes_the_ballot(db: Database) -> None:
    mod = await _member(db, 1, Role.MODERATOR)
    voters = await _voters(db, 3)
    poll_id = await _open(db, mod, _secret())
    woken: list[str] = []
    box = _box(db, on_closed=lambda: woken.append("closed"))
    first = await box.cast(Press(voters[0], poll_id, (0,)))
    assert first.refused is None and not first.closed and not woken
    rest = await asyncio.gather(
        box.cast(Press(1, poll_id, (1,))),
        *(box.cast(Press(t, poll_id, (1,))) for t in voters[1:]),
    )
    assert all(o.refused is None and o.closed for o in rest)
    assert woken == ["closed"]
    poll = await _poll(db, poll_id)
    assert poll.status == PollStatus.CLOSED and poll.results is not None
    assert poll.results["counts"] == [1, 3, 0]
    assert await _recorded_voters(db, poll_id) == 0  # forgotten at close
    async with db.session() as session:
        results = await session.exec(
            select(OutboxMessage.dedup_key).where(
                col(OutboxMessage.dedup_key).startswith(f"poll:{poll_id}:results:")
            )
        )
        assert len(list(results)) == 4  # everyone it was sent to: the moderator, three voters
    late = await box.cast(Press(voters[0], poll_id, (2,)))
    assert late.refused is not None and late.refused.code == "poll_closed"


async def test_votes_in_two_ballots_in_one_batch(db: Database) -> None:
    mod = await _member(db, 1, Role.MODERATOR)
    voters = await _voters(db, 4)
    first = await _open(db, mod, _secret())
    second = await _open(db, mod, _secret("Yes", "No", multiple=True))
    box = _box(db)
    presses = [Press(t, first, (i % 2,)) for i, t in enumerate(voters)] + [
        Press(t, second, (0, 1)) for t in voters[:3]
    ]
    outcomes = await asyncio.gather(*(box.cast(p) for p in presses))
    assert [o.refused for o in outcomes] == [None] * 7
    assert box.stats.transactions == 1
    assert await _tally(db, first) == polls.Tally([2, 2, 0], 4, 5, None)
    assert await _tally(db, second) == polls.Tally([3, 3], 3, 5, None)


async def _probe_write(db: Database, poll_id: int) -> str:
    """From another connection, without waiting: could a vote or a close of this ballot be
    written now? "locked" while a transaction holds it."""
    if db.dialect == "sqlite":
        import sqlite3

        other = db.sqlite_driver_connection()
        assert other is not None
        try:
            other.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            assert "locked" in str(error)
            return "locked"
        other.execute("ROLLBACK")
        return "free"
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    async with db.engine.connect() as other:
        try:
            await other.execute(
                text("SELECT id FROM polls WHERE id = :id FOR UPDATE NOWAIT"), {"id": poll_id}
            )
        except DBAPIError:
            return "locked"
        finally:
            await other.rollback()
    return "free"


async def test_a_close_and_a_batch_of_votes_take_turns(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a ballot is closing (its result read, not yet stored) no vote can be written, and
    while a batch of votes is being written the ballot cannot be closed: a vote is counted in
    the result or refused as too late, never told "recorded" and then lost."""
    mod = await _member(db, 1, Role.MODERATOR)
    voters = await _voters(db, 3)
    poll_id = await _open(db, mod, _secret())
    assert await _probe_write(db, poll_id) == "free"  # the probe can tell both apart
    seen: list[str] = []
    real_sent, real_tally = polls._sent_ballots, polls._live_tally

    async def sent_then_probe(session: Any, keys: list[str]) -> set[str]:
        seen.append("voting: " + await _probe_write(db, poll_id))
        return await real_sent(session, keys)

    async def tally_then_probe(session: Any, poll: Any) -> polls.Tally:
        result = await real_tally(session, poll)
        seen.append("closing: " + await _probe_write(db, poll_id))
        return result

    monkeypatch.setattr(polls, "_sent_ballots", sent_then_probe)
    monkeypatch.setattr(polls, "_live_tally", tally_then_probe)
    box = _box(db)
    assert (await box.cast(Press(voters[0], poll_id, (1,)))).refused is None
    async with db.session() as session:
        poll = await polls.get(session, poll_id)
        await polls.close(session, poll, now=NOW, actor=None, group_chat_id=GROUP, compose=compose)
    assert seen == ["voting: locked", "closing: locked"]
    late = await box.cast(Press(voters[1], poll_id, (0,)))
    assert late.refused is not None and late.refused.code == "poll_closed"
    assert (await _poll(db, poll_id)).results["counts"] == [0, 1, 0]  # type: ignore[index]
