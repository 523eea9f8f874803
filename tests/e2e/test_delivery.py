"""The delivery worker against the fake Telegram with its flood limits on.

A fake clock: the worker's waits for its turn move the clock instead of sleeping, so a broadcast
of 300 (ten seconds at Telegram's pace) takes virtual time, and the fake checks every request
against the limits at that virtual time.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select
from telegram import Bot
from telegram.error import RetryAfter

from bot.app import SANDBOX_TOKEN
from bot.clock import FakeClock, SystemClock
from bot.config import Settings
from bot.context import AppContext
from bot.db import Database
from bot.delivery import DeliveryLimits, DeliveryWorker
from bot.models import MemberStatus, OutboxMessage, OutboxState
from bot.sandbox.driver import Sandbox
from bot.sandbox.fake_api import BOT_ID, ApiError, FakeBotAPI, Fault, SandboxRequest
from bot.sandbox.spec import BotApiSpec
from bot.services import outbox
from tests.conftest import GROUP_ID, make_member, member_row

FIRST_ID = 500_000_001
LIMITS = DeliveryLimits()
SPACING = LIMITS.margin / LIMITS.per_second  # the worker's overall pace: one every 34.3 ms
TOLERANCE = 2e-6


@dataclass
class Sent:
    at: float  # seconds since the recorder started, on the sandbox's clock
    method: str
    chat_id: Any
    status: int  # 200, Telegram's error code, or 0 for an injected timeout
    retry_after: int | None = None


@dataclass
class Recorder:
    """Wraps the fake's `call`: every request the worker makes, when, and how it was answered."""

    api: FakeBotAPI
    clock: Any
    start: datetime = field(init=False)
    calls: list[Sent] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.start = self.clock.now()
        self._call = self.api.call
        self.api.call = self._recording  # type: ignore[method-assign]

    async def _recording(self, method: str, params: dict[str, Any], files: Any = None) -> Any:
        entry = Sent((self.clock.now() - self.start).total_seconds(), method, None, 200)
        entry.chat_id = params.get("chat_id")
        self.calls.append(entry)
        try:
            return await self._call(method, params, files)
        except ApiError as exc:
            entry.status, entry.retry_after = exc.status, exc.retry_after
            raise
        except TimeoutError:
            entry.status = 0
            raise

    def sends(self) -> list[Sent]:
        return [c for c in self.calls if c.method == "sendMessage"]


def delivered(api: FakeBotAPI) -> Counter[int]:
    """Messages the bot has in each chat of the fake."""
    return Counter(chat for (chat, _), m in api.messages.items() if m.from_id == BOT_ID)


async def admit_members(sandbox: Sandbox, count: int) -> list[tuple[int, int]]:
    """(member id, Telegram id) of `count` admitted members who have started the bot."""
    people = []
    for index in range(count):
        user = sandbox.user(FIRST_ID + index, f"Member {index}")
        people.append((await make_member(sandbox, user), user.id))
    return people


async def queue(
    db: Database, now: datetime, targets: list[tuple[int, int | None]], kind: str = "broadcast"
) -> None:
    """One row per (chat id, member id), as a broadcast queues them."""
    async with db.session() as session:
        await outbox.enqueue(
            session,
            kind,
            1,
            [
                outbox.Outgoing(
                    dedup_key=f"{kind}:1:{chat}",
                    chat_id=chat,
                    recipient_id=recipient,
                    payload={"text": f"<b>News</b> for {chat} &amp; co"},
                )
                for chat, recipient in targets
            ],
            now=now,
        )


async def all_rows(db: Database) -> list[OutboxMessage]:
    async with db.session() as session:
        return list(await session.exec(select(OutboxMessage).order_by(OutboxMessage.id)))


async def deliver_all(sandbox: Sandbox, *, limit: int = 1000) -> None:
    """Deliver, then let virtual time run to the next retry or turn, until nothing is pending."""
    db = sandbox.app.bot_data["app"].db
    for _ in range(limit):
        await sandbox.deliver()
        async with db.session() as session:
            due = await outbox.next_due(session)
        if due is None:
            return
        assert isinstance(sandbox.clock, FakeClock)
        if due > sandbox.clock.now():
            sandbox.clock.set(due)
    raise AssertionError("the outbox never emptied")


def db_of(sandbox: Sandbox) -> Database:
    return sandbox.app.bot_data["app"].db


# -- a broadcast ------------------------------------------------------------------------------


async def test_a_broadcast_of_300_goes_out_once_each_at_30_a_second(sandbox: Sandbox) -> None:
    people = await admit_members(sandbox, 300)
    db = db_of(sandbox)
    await queue(db, sandbox.now(), [(chat, member) for member, chat in people])
    recorder = Recorder(sandbox.api, sandbox.clock)

    assert await sandbox.deliver() == 300

    elapsed = (sandbox.now() - recorder.start).total_seconds()
    assert 9.5 <= elapsed <= 11, elapsed  # 299 gaps of 1.03/30 s: 10.27 s
    assert sandbox.api.too_many_requests == 0
    per_chat = delivered(sandbox.api)
    assert sorted(per_chat) == sorted(chat for _, chat in people)
    assert set(per_chat.values()) == {1}
    times = [s.at for s in recorder.sends()]
    assert min(b - a for a, b in itertools.pairwise(times)) >= SPACING - TOLERANCE
    rows = await all_rows(db)
    assert {r.state for r in rows} == {OutboxState.SENT}
    in_fake = {chat: mid for chat, mid in sandbox.api.messages}
    assert all(r.telegram_message_id == in_fake[r.chat_id] for r in rows)
    assert all(r.attempts == 1 and r.done_at is not None for r in rows)
    async with db.session() as session:
        assert await outbox.tally(session, "broadcast", 1) == {"sent": 300}


async def test_faults_end_sent_or_failed_with_a_reason_and_nobody_gets_two(
    sandbox: Sandbox,
) -> None:
    api = sandbox.api
    people = await admit_members(sandbox, 300)
    chats = [chat for _, chat in people]
    blocked = chats[10:13]
    api.blocked.update(blocked)
    gone = chats[40]  # the account was deleted: Telegram no longer knows the chat
    del api.chats[gone]
    strangers = [999_000_001, 999_000_002]  # never talked to this bot's Telegram at all
    api.inject(Fault("sendMessage", 429, "Too Many Requests: retry after 3", 1, chats[50], 3))
    api.inject(Fault("sendMessage", 429, "Too Many Requests: retry after 8", 1, chats[150], 8))
    api.inject(Fault("sendMessage", 500, "Internal Server Error", 2, chats[60]))
    api.inject(Fault("sendMessage", 502, "Bad Gateway", 1, chats[61]))
    api.inject(Fault("sendMessage", 500, "Internal Server Error", 99, chats[70]))  # never works
    api.inject(Fault("sendMessage", 0, "", 1, chats[80], timeout=True))
    api.inject(Fault("sendMessage", 0, "", 3, chats[90], timeout=True))
    db = db_of(sandbox)
    await queue(
        db,
        sandbox.now(),
        [(chat, member) for member, chat in people] + [(s, None) for s in strangers],
    )
    recorder = Recorder(api, sandbox.clock)

    await deliver_all(sandbox)

    rows = {r.chat_id: r for r in await all_rows(db)}
    assert {r.state for r in rows.values()} <= {OutboxState.SENT, OutboxState.FAILED}
    failed = {chat: r.last_error for chat, r in rows.items() if r.state == OutboxState.FAILED}
    assert set(failed) == {*blocked, gone, *strangers, chats[70]}
    assert all(failed[c] == "403: Forbidden: bot was blocked by the user" for c in blocked)
    assert failed[gone] == failed[strangers[0]] == "400: Chat not found"
    assert failed[chats[70]] == (
        f"gave up after {outbox.MAX_ATTEMPTS} attempts: network: Internal Server Error"
    )
    # Retried until they went: the 429s without counting an attempt.
    assert rows[chats[50]].attempts == 1 and rows[chats[150]].attempts == 1
    assert rows[chats[60]].attempts == 3 and rows[chats[61]].attempts == 2
    assert rows[chats[80]].attempts == 2 and rows[chats[90]].attempts == 4
    assert all(r.telegram_message_id for r in rows.values() if r.state == OutboxState.SENT)
    # Who blocked the bot, or whose account is gone, is inactive; the others are not.
    for chat in chats:
        member = await member_row(sandbox, chat)
        assert member is not None
        expected = MemberStatus.INACTIVE if chat in (*blocked, gone) else MemberStatus.ACTIVE
        assert member.status == expected, chat
    # Nobody got a message twice; everyone who could be reached got one.
    per_chat = delivered(api)
    assert set(per_chat.values()) == {1}
    assert set(per_chat) == set(chats) - {*blocked, gone, chats[70]}
    # The fake's own limits were never crossed (the 429s above were injected).
    assert api.too_many_requests == 0
    sends = recorder.sends()
    assert min(b.at - a.at for a, b in itertools.pairwise(sends)) >= SPACING - TOLERANCE
    # A 429 pauses everything for retry_after: no request at all in between, no burst after.
    pauses = [(s.at, s.retry_after) for s in sends if s.status == 429]
    assert len(pauses) == 2
    for at, seconds in pauses:
        assert seconds is not None
        assert not [s for s in sends if at < s.at < at + seconds]
        after = [s.at for s in sends if s.at >= at + seconds][:31]
        assert after[-1] - after[0] >= 30 * SPACING - TOLERANCE


async def test_a_group_gets_20_a_minute_and_does_not_hold_up_private_chats(
    sandbox: Sandbox,
) -> None:
    people = await admit_members(sandbox, 60)
    db = db_of(sandbox)
    # Sixty posts to the group, each followed by a private message: group, private, group, ...
    async with db.session() as session:
        await outbox.enqueue(
            session,
            "mix",
            1,
            itertools.chain.from_iterable(
                (
                    outbox.Outgoing(f"mix:group:{i}", GROUP_ID, {"text": f"post {i}"}),
                    outbox.Outgoing(f"mix:private:{i}", chat, {"text": f"note {i}"}, member),
                )
                for i, (member, chat) in enumerate(people)
            ),
            now=sandbox.now(),
        )
    recorder = Recorder(sandbox.api, sandbox.clock)

    await deliver_all(sandbox)

    sends = [s for s in recorder.sends() if s.status == 200]
    to_group = [s.at for s in sends if s.chat_id == GROUP_ID]
    private = [s.at for s in sends if s.chat_id != GROUP_ID]
    assert len(to_group) == 60 and len(private) == 60
    assert max(sum(1 for t in to_group if s <= t < s + 60) for s in to_group) <= 20
    assert to_group[-1] >= 2 * 60 * LIMITS.margin  # three minutes' worth: 0, 61.8 s, 123.6 s
    # The group's turn a minute away put its rows back: the private messages did not wait.
    assert private[-1] < 5
    assert sandbox.api.too_many_requests == 0
    assert delivered(sandbox.api)[GROUP_ID] == 60
    assert {r.state for r in await all_rows(db)} == {OutboxState.SENT}
    # Put back was not an attempt.
    assert {r.attempts for r in await all_rows(db)} == {1}


async def test_stop_leaves_nothing_sending(sandbox: Sandbox) -> None:
    """Eight rows in flight (virtual time); stop: what went is recorded, the rest is pending."""
    people = await admit_members(sandbox, 100)
    db = db_of(sandbox)
    await queue(db, sandbox.now(), [(chat, member) for member, chat in people])
    app = sandbox.app.bot_data["app"]
    worker = DeliveryWorker(
        app,
        sandbox.app.bot,
        limits=DeliveryLimits(concurrency=8),
        sleep_until=sandbox._advance_to,
        name="stopping",
    )
    recorder = Recorder(sandbox.api, sandbox.clock)
    original = recorder._call

    async def stop_at_40(method: str, params: dict[str, Any], files: Any = None) -> Any:
        result = await original(method, params, files)
        if len(delivered(sandbox.api)) == 40:
            worker.stop()
        return result

    recorder._call = stop_at_40  # type: ignore[method-assign]
    claimed = await worker.drain()

    rows = await all_rows(db)
    states = Counter(r.state for r in rows)
    assert states[OutboxState.SENDING] == 0
    assert states[OutboxState.SENT] == len(delivered(sandbox.api)) == 40
    assert states[OutboxState.PENDING] == 60
    assert 40 < claimed <= 48  # the rows in flight at the stop were claimed, then put back
    assert all(r.attempts == 0 for r in rows if r.state == OutboxState.PENDING)
    assert sandbox.api.too_many_requests == 0
    # Another worker (the next start) sends exactly the rest.
    await sandbox.deliver()
    assert set(delivered(sandbox.api).values()) == {1}
    assert len(delivered(sandbox.api)) == 100


# -- several workers, one outbox ----------------------------------------------------------------


async def _sandbox_bot(api: FakeBotAPI) -> Bot:
    bot = Bot(SANDBOX_TOKEN, request=SandboxRequest(api), get_updates_request=SandboxRequest(api))
    await bot.initialize()
    return bot


async def test_two_workers_drain_one_outbox_and_send_each_row_once(
    db: Database, settings: Settings, spec: BotApiSpec
) -> None:
    """PostgreSQL: two workers (as two processes would) claim with SKIP LOCKED, concurrently.
    SQLite (one process): their claims are serialized by the write lock; still never a row
    twice."""
    api = FakeBotAPI(spec, limits=None)  # Telegram's pace is not what this is about
    chats = [FIRST_ID + i for i in range(300)]
    for chat in chats:
        api.add_user(chat, f"Reader {chat}")
        api.started.add(chat)
    app = AppContext(settings=settings, db=db, clock=SystemClock())
    await queue(db, app.clock.now(), [(chat, None) for chat in chats])
    bot = await _sandbox_bot(api)
    fast = DeliveryLimits(per_second=100_000, concurrency=8)
    one = DeliveryWorker(app, bot, limits=fast, name="worker-1")
    two = DeliveryWorker(app, bot, limits=fast, name="worker-2")

    handled = await asyncio.wait_for(asyncio.gather(one.drain(), two.drain()), 60)

    assert sum(handled) == 300
    sent = [p["chat_id"] for method, p in api.requests if method == "sendMessage"]
    assert len(sent) == 300 and sorted(sent) == chats
    rows = await all_rows(db)
    assert {r.state for r in rows} == {OutboxState.SENT}
    assert {r.attempts for r in rows} == {1}
    by_worker = Counter(r.claimed_by for r in rows)
    # Both took part: the claims really interleaved.
    assert by_worker["worker-1"] > 0 and by_worker["worker-2"] > 0, by_worker
    assert by_worker.total() == 300
    await bot.shutdown()


async def test_run_sends_what_is_queued_and_stops(
    db: Database, settings: Settings, spec: BotApiSpec
) -> None:
    """`run()` on the real clock: a wake-up sends at once, a retry comes back, stop() ends it."""
    api = FakeBotAPI(spec)
    chats = [FIRST_ID + i for i in range(10)]
    for chat in chats:
        api.add_user(chat, f"Reader {chat}")
        api.started.add(chat)
    api.inject(Fault("sendMessage", 500, "Internal Server Error", 1, chats[3]))
    app = AppContext(settings=settings, db=db, clock=SystemClock())
    bot = await _sandbox_bot(api)
    worker = DeliveryWorker(app, bot, name="runner")
    everyone = asyncio.Event()
    original = api.call

    async def watch(method: str, params: dict[str, Any], files: Any = None) -> Any:
        result = await original(method, params, files)
        if len(delivered(api)) == len(chats):
            everyone.set()
        return result

    api.call = watch  # type: ignore[method-assign]
    task = asyncio.create_task(worker.run(poll_interval=30))
    await asyncio.sleep(0)
    await queue(db, app.clock.now(), [(chat, None) for chat in chats])
    worker.wake()
    # The retry of chats[3] is due 2 s later: run() waits until then, not for its 30 s poll.
    await asyncio.wait_for(everyone.wait(), 15)
    worker.stop()
    await asyncio.wait_for(task, 10)
    assert set(delivered(api).values()) == {1} and len(delivered(api)) == 10
    rows = await all_rows(db)
    assert {r.state for r in rows} == {OutboxState.SENT}
    await bot.shutdown()


async def test_the_fake_allows_1000_a_second_with_paid_broadcast(spec: BotApiSpec) -> None:
    clock = FakeClock()
    api = FakeBotAPI(spec, clock=clock.now)
    for chat in range(1, 101):
        api.add_user(chat, "Reader")
        api.started.add(chat)
    bot = await _sandbox_bot(api)
    for chat in range(1, 101):
        await bot.send_message(chat, "paid", allow_paid_broadcast=True)
        clock.advance(timedelta(milliseconds=2))
    assert api.too_many_requests == 0
    with pytest.raises(RetryAfter):  # over 30 in the last second without paying: 429
        await bot.send_message(1, "free")
    assert api.too_many_requests == 1
    await bot.shutdown()


# -- edits, deletions, pins; claims another process abandoned --------------------------------------


async def test_edits_deletions_and_pins_end_as_wanted(sandbox: Sandbox) -> None:
    api = sandbox.api
    [(member, chat)] = await admit_members(sandbox, 1)
    db = db_of(sandbox)
    async with db.session() as session:
        await outbox.enqueue(
            session,
            "note",
            1,
            [
                outbox.Outgoing("note:1:send", chat, {"text": "<b>v1</b>", "pin": True}, member),
                outbox.Outgoing("note:1:group", GROUP_ID, {"text": "to the group"}),
            ],
            now=sandbox.now(),
        )
    await deliver_all(sandbox)
    sent = {r.dedup_key: r.telegram_message_id for r in await all_rows(db)}
    mine = api.messages[(chat, sent["note:1:send"])]
    assert mine.pinned and mine.html == "<b>v1</b>"

    def edit(key: str, text: str, message_id: int | None) -> outbox.Outgoing:
        return outbox.Outgoing(
            key, chat, {"text": text}, member, outbox.OutboxAction.EDIT, message_id
        )

    async with db.session() as session:
        await outbox.enqueue(
            session,
            "note",
            1,
            [
                edit("note:1:same", "<b>v1</b>", mine.message_id),  # "not modified": done
                edit("note:1:gone", "v2", 999),  # "message to edit not found": failed
                outbox.Outgoing(
                    "note:1:delete-twice",
                    GROUP_ID,
                    {},
                    action=outbox.OutboxAction.DELETE,
                    target_message_id=12345,  # already deleted: done
                ),
            ],
            now=sandbox.now(),
        )
    await deliver_all(sandbox)
    async with db.session() as session:
        await outbox.enqueue(
            session,
            "note",
            1,
            [edit("note:1:v2", "v2 &amp; more", mine.message_id)],
            now=sandbox.now(),
        )
    await deliver_all(sandbox)
    rows = {r.dedup_key: r for r in await all_rows(db)}
    assert rows["note:1:same"].state == OutboxState.SENT
    assert rows["note:1:gone"].state == OutboxState.FAILED
    assert rows["note:1:gone"].last_error == "400: Message to edit not found"
    assert rows["note:1:delete-twice"].state == OutboxState.SENT
    assert rows["note:1:v2"].state == OutboxState.SENT
    assert mine.edited and mine.text == "v2 & more"
    assert api.too_many_requests == 0


async def test_a_claim_abandoned_by_a_dead_process_is_sent_again(sandbox: Sandbox) -> None:
    people = await admit_members(sandbox, 3)
    db = db_of(sandbox)
    await queue(db, sandbox.now(), [(chat, member) for member, chat in people])
    async with db.session() as session:
        [abandoned] = await outbox.claim(session, now=sandbox.now(), worker="gone-host:1", limit=1)
    assert isinstance(sandbox.clock, FakeClock)
    sandbox.clock.advance(outbox.STALE_CLAIM + timedelta(seconds=1))
    async with db.session() as session:
        [busy] = await outbox.claim(
            session, now=sandbox.now(), worker="busy-host:2", limit=1, include_stale=False
        )

    await sandbox.deliver()

    rows = {r.id: r for r in await all_rows(db)}
    # The dead process's row went (a second attempt); the live one's is left to it.
    assert rows[abandoned.id].state == OutboxState.SENT and rows[abandoned.id].attempts == 2
    assert rows[busy.id].state == OutboxState.SENDING and rows[busy.id].claimed_by == "busy-host:2"
    assert sum(delivered(sandbox.api).values()) == 2
