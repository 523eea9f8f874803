"""The polls service without Telegram: the one-line form and every bad input, opening quick polls
and secret ballots, Telegram's tallies, votes, deadlines (also after a restart), reminders,
quorum, cancel, CSV, and 200 concurrent votes (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from bot.db import Database
from bot.models import (
    Admission,
    BallotCount,
    BallotScope,
    BallotVoter,
    Member,
    MemberStatus,
    OutboxAction,
    OutboxMessage,
    Poll,
    PollKind,
    PollMessage,
    PollStatus,
    Role,
)
from bot.services import members, polls
from bot.services.errors import ServiceError
from bot.services.polls import PollAudience, PollDraft, PollNotice

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
GROUP = -100123
ZONE = "Asia/Almaty"  # UTC+5


def compose(notice: PollNotice) -> dict[str, Any]:
    poll = notice.poll
    if notice.kind == "quick":
        return {"poll": {"question": poll.question, "options": poll.options,
                         "multiple": poll.multiple}}  # fmt: skip
    if notice.kind == "ballot":
        return {"text": poll.question, "buttons": [f"vote:{poll.id}:{i}" for i in range(3)]}
    if notice.kind == "results":
        assert notice.tally is not None
        return {"text": f"results {notice.tally.counts} {notice.tally.voters}"}
    return {"text": notice.kind}


async def _member(
    db: Database,
    telegram_id: int,
    role: Role = Role.MEMBER,
    country: str | None = None,
    status: MemberStatus = MemberStatus.ACTIVE,
) -> int:
    async with db.session() as session:
        member = await members.admit(
            session,
            members.Profile(telegram_id, f"Person {telegram_id}"),
            via=Admission.MODERATOR,
            now=NOW,
        )
        member.role, member.country, member.status = role, country, status
        session.add(member)
        await session.flush()
        assert member.id is not None
        return member.id


async def _people(db: Database) -> dict[str, int]:
    return {
        "mod": await _member(db, 1, Role.MODERATOR),
        "fp_kz": await _member(db, 11, Role.FOCAL_POINT, "KZ"),
        "fp_kz2": await _member(db, 12, Role.FOCAL_POINT, "KZ"),
        "fp_kg": await _member(db, 13, Role.FOCAL_POINT, "KG"),
        "kz": await _member(db, 21, Role.MEMBER, "KZ"),
        "uz": await _member(db, 22, Role.MEMBER, "UZ"),
        "gone": await _member(db, 24, Role.FOCAL_POINT, "TJ", status=MemberStatus.INACTIVE),
    }


async def _open(
    db: Database,
    author: int,
    draft: PollDraft,
    *,
    at: datetime = NOW,
    group: int | None = GROUP,
) -> int:
    async with db.session() as session:
        writer = await session.get(Member, author)
        assert writer is not None
        poll = await polls.open_poll(
            session, writer, draft, now=at, group_chat_id=group, compose=compose
        )
        assert poll.id is not None
        return poll.id


async def _poll(db: Database, poll_id: int) -> Poll:
    async with db.session() as session:
        return await polls.get(session, poll_id)


async def _vote(
    db: Database, poll_id: int, member_id: int, choices: list[int], *, at: datetime = NOW,
    with_compose: bool = True,
) -> None:  # fmt: skip
    async with db.session() as session:
        poll = await polls.get(session, poll_id)
        member = await session.get(Member, member_id)
        assert member is not None
        await polls.vote(
            session, poll, member, choices, now=at, group_chat_id=GROUP,
            compose=compose if with_compose else None,
        )  # fmt: skip


async def _rows(db: Database, poll_id: int) -> list[OutboxMessage]:
    async with db.session() as session:
        rows = await session.exec(
            select(OutboxMessage)
            .where(OutboxMessage.kind == polls.KIND, OutboxMessage.ref_id == poll_id)
            .order_by(col(OutboxMessage.id))
        )
        return list(rows)


def _of(rows: list[OutboxMessage], what: str) -> list[OutboxMessage]:
    return [r for r in rows if r.dedup_key.split(":")[2] == what]


def _secret(*options: str, **kwargs: Any) -> PollDraft:
    return PollDraft("Which?", list(options or ("A", "B", "C")), kind=PollKind.SECRET, **kwargs)


# -- the one-line form ----------------------------------------------------------------------------


def test_parse_line_forms() -> None:
    draft = polls.parse_line("Next meeting? | 3 Dec | 10 Dec | 17 Dec --close 3d",
                             now=NOW, zone_name=ZONE)  # fmt: skip
    assert draft.question == "Next meeting?"
    assert draft.options == ["3 Dec", "10 Dec", "17 Dec"]
    assert draft.kind == PollKind.QUICK and not draft.multiple
    assert draft.closes_at == NOW + timedelta(days=3)
    assert draft.audience is None and draft.quorum is None

    draft = polls.parse_line(
        "Adopt the statement? | Yes | No | Abstain --secret --per-country --quorum 3 "
        "--close 36h --audience KZ,af",
        now=NOW,
        zone_name=ZONE,
    )
    assert draft.kind == PollKind.SECRET and draft.scope == BallotScope.COUNTRIES
    assert draft.quorum == 3 and draft.closes_at == NOW + timedelta(hours=36)
    assert draft.audience == PollAudience(countries=frozenset({"KZ", "AF"}))

    draft = polls.parse_line("Topics? | a | b --multi --audience focal,KZ --close 2026-12-03 18:00",
                             now=NOW, zone_name=ZONE)  # fmt: skip
    assert draft.multiple
    assert draft.audience == PollAudience(focal_points=True, countries=frozenset({"KZ"}))
    assert draft.closes_at == datetime(2026, 12, 3, 13, 0, tzinfo=UTC)  # 18:00 at UTC+5

    draft = polls.parse_line("Q | a | b --audience group --close 2d12h", now=NOW, zone_name=ZONE)
    assert draft.audience == PollAudience(group=True)
    assert draft.closes_at == NOW + timedelta(days=2, hours=12)
    draft = polls.parse_line(
        "Q | a | b --audience all --close 01.12.2026", now=NOW, zone_name="UTC"
    )
    assert draft.audience == PollAudience(everyone=True)
    assert draft.closes_at == datetime(2026, 12, 1, 23, 59, tzinfo=UTC)
    # Spaces and control characters are tidied; a dash inside an option is not a flag.
    draft = polls.parse_line("  Q\t?  |  3--5 Dec |\x07 b ", now=NOW, zone_name=ZONE)
    assert draft.question == "Q ?" and draft.options == ["3--5 Dec", "b"]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "poll_question_empty"),
        (" | a | b", "poll_question_empty"),
        ("Q", "poll_too_few_options"),
        ("Q |", "poll_too_few_options"),
        ("Q | a", "poll_too_few_options"),
        ("Q | " + " | ".join(str(i) for i in range(13)), "poll_too_many_options"),
        ("Q | a | A ", "poll_option_duplicate"),
        ("Q | Same  thing | same thing", "poll_option_duplicate"),
        ("Q | a | | b", "poll_option_empty"),
        ("Q" * 301 + " | a | b", "poll_question_too_long"),
        ("Q | " + "x" * 101 + " | b", "poll_option_too_long"),
        ("Q | 😀" * 1 + "x" * 99 + " | b", "poll_option_too_long"),  # UTF-16: 101 units
        ("Q | a | b --close", "poll_flag_needs_value"),
        ("Q | a | b --close soon", "poll_close_unparseable"),
        ("Q | a | b --close 2026-11-25 10:00", "poll_close_past"),
        ("Q | a | b --close 31d", "poll_close_too_far"),
        ("Q | a | b --close 2027-03-01", "poll_close_too_far"),
        ("Q | a | b --close 2026-02-30 10:00", "poll_close_unparseable"),
        ("Q | a | b --close 9999999999d", "poll_close_unparseable"),
        ("Q | a | b --secret yes", "poll_flag_takes_no_value"),
        ("Q | a | b --colour red", "poll_flag_unknown"),
        ("Q | a | b --secret --secret", "poll_flag_repeated"),
        ("Q | a | b --quorum", "poll_flag_needs_value"),
        ("Q | a | b --quorum many", "poll_quorum_invalid"),
        ("Q | a | b --quorum 0", "poll_quorum_invalid"),
        ("Q | a | b --quorum -2", "poll_quorum_invalid"),
        ("Q | a | b --audience mars", "poll_audience_unknown"),
        ("Q | a | b --audience XX", "poll_audience_unknown"),
        ("Q | a | b --per-country", "poll_scope_needs_secret"),
        ("Q | a | b --secret --audience group", "poll_secret_to_group"),
    ],
)
def test_parse_line_refuses(text: str, code: str) -> None:
    with pytest.raises(ServiceError) as caught:
        polls.parse_line(text, now=NOW, zone_name=ZONE)
    assert caught.value.code == code
    assert "language" not in caught.value.params and "message" not in caught.value.params


def test_validate_direct() -> None:
    good = PollDraft("Q", ["a", "b"])
    polls.validate(good, NOW)
    for draft, code in [
        (PollDraft("Q", ["a", "b"], closes_at=NOW), "poll_close_past"),
        (PollDraft("Q", ["a", "b"], closes_at=NOW + timedelta(days=30, seconds=1)),
         "poll_close_too_far"),
        (PollDraft("Q", ["a", "b"], quorum=0), "poll_quorum_invalid"),
        (PollDraft("Q", ["a", "b"], scope=BallotScope.COUNTRIES), "poll_scope_needs_secret"),
        (PollDraft("Q", ["a", "b"], scope=BallotScope.FOCAL_POINTS), "poll_scope_needs_secret"),
        (_secret(audience=PollAudience(group=True)), "poll_secret_to_group"),
        (PollDraft("Q", ["a", "b"], audience=PollAudience()), "poll_no_audience"),
        (PollDraft("Q", ["a", "b"], audience=PollAudience(countries=frozenset({"kz"}))),
         "poll_audience_unknown"),
    ]:  # fmt: skip
        with pytest.raises(ServiceError) as caught:
            polls.validate(draft, NOW)
        assert caught.value.code == code
    polls.validate(PollDraft("Q", ["a", "b"], closes_at=NOW + timedelta(days=30)), NOW)


# -- opening -------------------------------------------------------------------------------------


async def test_quick_poll_to_the_group_by_default(db: Database) -> None:
    people = await _people(db)
    poll_id = await _open(db, people["mod"], PollDraft("Q", ["a", "b"]))
    poll = await _poll(db, poll_id)
    assert poll.kind == PollKind.QUICK and poll.to_group and not poll.to_everyone
    assert poll.closes_at == NOW + timedelta(days=3) and poll.status == PollStatus.OPEN
    rows = await _rows(db, poll_id)
    assert [(r.chat_id, r.recipient_id) for r in rows] == [(GROUP, None)]
    assert rows[0].payload["poll"] == {"question": "Q", "options": ["a", "b"], "multiple": False}
    async with db.session() as session:
        messages = list(await session.exec(select(PollMessage)))
    assert [(m.poll_id, m.chat_id, m.message_id) for m in messages] == [(poll_id, GROUP, None)]


async def test_quick_poll_to_members(db: Database) -> None:
    people = await _people(db)
    # Without a group chat: everybody active, in private.
    poll_id = await _open(db, people["mod"], PollDraft("Q", ["a", "b"]), group=None)
    rows = await _rows(db, poll_id)
    active = sorted(v for k, v in people.items() if k != "gone")
    assert sorted(r.recipient_id for r in rows) == active  # type: ignore[type-var]
    assert all("poll" in r.payload for r in rows)
    poll = await _poll(db, poll_id)
    assert poll.to_everyone and not poll.to_group and poll.eligible == len(active)
    # Focal points of KZ, and the group chat besides.
    audience = PollAudience(group=True, focal_points=True, countries=frozenset({"KZ"}))
    poll_id = await _open(db, people["mod"], PollDraft("Q", ["a", "b"], audience=audience))
    rows = await _rows(db, poll_id)
    assert [r.recipient_id for r in rows] == [people["fp_kz"], people["fp_kz2"], None]
    async with db.session() as session:
        chats = (await session.exec(
            select(PollMessage.chat_id).where(PollMessage.poll_id == poll_id)
        )).all()  # fmt: skip
    assert sorted(chats) == sorted([11, 12, GROUP])


async def test_open_refusals(db: Database) -> None:
    people = await _people(db)
    for draft, group, code in [
        (PollDraft("Q", ["a", "b"], audience=PollAudience(group=True)), None, "poll_no_group"),
        (PollDraft("Q", ["a", "b"], audience=PollAudience(countries=frozenset({"PK"}))), GROUP,
         "poll_audience_empty"),
        (_secret(scope=BallotScope.COUNTRIES, audience=PollAudience(countries=frozenset({"UZ"}))),
         GROUP, "poll_audience_empty"),
        (_secret(quorum=7), GROUP, "poll_quorum_too_high"),
        (_secret(scope=BallotScope.COUNTRIES, quorum=3), GROUP, "poll_quorum_too_high"),
        (PollDraft("", ["a", "b"]), GROUP, "poll_question_empty"),
    ]:  # fmt: skip
        with pytest.raises(ServiceError) as caught:
            await _open(db, people["mod"], draft, group=group)
        assert caught.value.code == code
    async with db.session() as session:
        assert (await session.exec(select(Poll))).first() is None


async def test_secret_ballot_rows(db: Database) -> None:
    people = await _people(db)
    poll_id = await _open(db, people["mod"], _secret("A", "B", "C", "D", quorum=6))
    poll = await _poll(db, poll_id)
    assert poll.eligible == 6 and not poll.to_group and poll.to_everyone  # the 6 active
    assert poll.reminded_at is None
    rows = await _rows(db, poll_id)
    assert len(_of(rows, "ballot")) == 6 and all(r.recipient_id for r in rows)
    async with db.session() as session:
        counts = list(await session.exec(
            select(BallotCount.option, BallotCount.count).where(BallotCount.poll_id == poll_id)
        ))  # fmt: skip
        assert sorted(counts) == [(0, 0), (1, 0), (2, 0), (3, 0)]
        assert (await session.exec(select(BallotVoter))).first() is None
        assert (await session.exec(select(PollMessage))).first() is None
    # Focal points only.
    focal = await _open(db, people["mod"], _secret(audience=PollAudience(focal_points=True)))
    assert (await _poll(db, focal)).eligible == 3
    # One vote per country: KZ and KG have active focal points (TJ's is inactive).
    per_country = await _open(db, people["mod"], _secret(scope=BallotScope.COUNTRIES))
    poll = await _poll(db, per_country)
    assert poll.eligible == 2 and poll.countries == ["KG", "KZ"] and poll.to_focal_points
    assert sorted(r.recipient_id for r in _of(await _rows(db, per_country), "ballot")) == sorted(  # type: ignore[type-var]
        [people["fp_kz"], people["fp_kz2"], people["fp_kg"]]
    )
    # Less than a day to go: no reminder will be due.
    short = await _open(db, people["mod"], _secret(closes_at=NOW + timedelta(hours=20)))
    assert (await _poll(db, short)).reminded_at == NOW


async def test_find_and_get(db: Database) -> None:
    async with db.session() as session:
        assert await polls.find(session, 2**31) is None
        assert await polls.find(session, 0) is None
        assert await polls.find(session, 5) is None
        with pytest.raises(ServiceError) as caught:
            await polls.get(session, 2**63)
        assert caught.value.code == "poll_not_found"


# -- quick polls: Telegram's tallies ---------------------------------------------------------------


async def test_tallies_sum_over_messages(db: Database) -> None:
    people = await _people(db)
    audience = PollAudience(focal_points=True)
    poll_id = await _open(db, people["mod"], PollDraft("Q", ["a", "b"], audience=audience))
    chats = [11, 12, 13]
    async with db.session() as session:
        for n, chat in enumerate(chats):
            await polls.record_sent(session, poll_id, chat, 500 + n, f"tg-{n}")
        # Recorded twice (a retried hook): still one message per chat.
        await polls.record_sent(session, poll_id, 11, 500, "tg-0")
        assert await polls.record_poll_update(session, "nobody", [1, 1], 2, False) is None
        await polls.record_poll_update(session, "tg-0", [1, 0], 1, False)
        await polls.record_poll_update(session, "tg-0", [2, 1], 3, False)  # replaces
        await polls.record_poll_update(session, "tg-1", [0, 1], 1, False)
        updated = await polls.record_poll_update(session, "tg-2", [1, 1, 9], 2, False)
        assert updated is not None and updated.id == poll_id
        poll = await polls.get(session, poll_id)
        result = await polls.tally(session, poll)
        assert result == polls.Tally([3, 3], 6, None, None)
        assert await polls.results(session, poll) == result  # quick polls are never hidden
        messages = list(await session.exec(select(PollMessage).order_by(PollMessage.chat_id)))
        assert [(m.chat_id, m.message_id, m.counts) for m in messages] == [
            (11, 500, [2, 1]), (12, 501, [0, 1]), (13, 502, [1, 1])
        ]  # fmt: skip


async def test_deadline_stops_after_a_restart(db: Database, database_url: str) -> None:
    people = await _people(db)
    closes = NOW + timedelta(hours=5)
    audience = PollAudience(group=True, focal_points=True, countries=frozenset({"KG"}))
    draft = PollDraft("Q", ["a", "b"], audience=audience, closes_at=closes, quorum=2)
    poll_id = await _open(db, people["mod"], draft)
    async with db.session() as session:
        await polls.record_sent(session, poll_id, GROUP, 900, "tg-group")
        await polls.record_sent(session, poll_id, 13, 901, "tg-kg")
        await polls.record_poll_update(session, "tg-group", [2, 1], 3, False)
    await db.dispose()

    restarted = Database(database_url)
    try:
        async with restarted.session() as session:
            await polls.rebuild(session, now=closes)
            assert await polls.next_due(session) == closes
            assert await polls.process_due(
                session, now=closes - timedelta(minutes=1), group_chat_id=GROUP, compose=compose
            ) == 0  # fmt: skip
            handled = await polls.process_due(
                session, now=closes + timedelta(minutes=3), group_chat_id=GROUP, compose=compose
            )
            assert handled == 1
            assert await polls.next_due(session) is None
            assert await polls.process_due(
                session, now=closes + timedelta(hours=1), group_chat_id=GROUP, compose=compose
            ) == 0  # fmt: skip
        poll = await _poll(restarted, poll_id)
        assert poll.status == PollStatus.CLOSED and poll.closed_at == closes + timedelta(minutes=3)
        assert poll.results == {"counts": [2, 1], "voters": 3, "eligible": None,
                                "quorum_met": True}  # fmt: skip
        rows = await _rows(restarted, poll_id)
        stops = [r for r in rows if r.action == OutboxAction.STOP_POLL]
        assert sorted((r.chat_id, r.target_message_id) for r in stops) == [(GROUP, 900), (13, 901)]
        results = _of(rows, "results")
        assert sorted(r.chat_id for r in results) == sorted([13, 1, GROUP])  # author too
        assert results[0].payload == {"text": "results [2, 1] 3"}
        # A late update after the close: the stored result follows; the stop is not repeated.
        async with restarted.session() as session:
            poll = await polls.record_poll_update(session, "tg-kg", [0, 1], 1, True)
            assert poll is not None and poll.results is not None
            assert poll.results["counts"] == [2, 2] and poll.results["voters"] == 4
            with pytest.raises(ServiceError) as caught:
                await polls.close(session, poll, now=NOW, actor=None, group_chat_id=GROUP,
                                  compose=compose)  # fmt: skip
            assert caught.value.code == "poll_closed"
        assert len(await _rows(restarted, poll_id)) == len(rows)
    finally:
        await restarted.dispose()


async def test_message_sent_after_the_close_is_stopped(db: Database) -> None:
    people = await _people(db)
    poll_id = await _open(db, people["mod"], PollDraft("Q", ["a", "b"]))
    async with db.session() as session:
        poll = await polls.get(session, poll_id)
        await polls.close(session, poll, now=NOW, actor=None, group_chat_id=GROUP, compose=compose)
    async with db.session() as session:
        await polls.record_sent(session, poll_id, GROUP, 77, "tg-late")
    stops = [r for r in await _rows(db, poll_id) if r.action == OutboxAction.STOP_POLL]
    assert [(r.chat_id, r.target_message_id) for r in stops] == [(GROUP, 77)]


# -- secret ballots: votes -----------------------------------------------------------------------


async def test_votes(db: Database) -> None:
    people = await _people(db)
    poll_id = await _open(db, people["mod"], _secret(quorum=2))
    await _vote(db, poll_id, people["kz"], [1])
    with pytest.raises(ServiceError) as caught:
        await _vote(db, poll_id, people["kz"], [2])
    assert caught.value.code == "poll_already_voted"
    late = await _member(db, 99)  # admitted after the ballot opened: not sent it
    for who, code in [(late, "poll_not_eligible"), (people["gone"], "poll_not_eligible")]:
        with pytest.raises(ServiceError) as caught:
            await _vote(db, poll_id, who, [0])
        assert caught.value.code == code
    for choices in ([], [3], [-1], [0, 1], [0, 0]):
        with pytest.raises(ServiceError) as caught:
            await _vote(db, poll_id, people["uz"], choices)
        assert caught.value.code == "poll_bad_choice"
    async with db.session() as session:
        poll = await polls.get(session, poll_id)
        kz = await session.get(Member, people["kz"])
        uz = await session.get(Member, people["uz"])
        assert kz is not None and uz is not None
        assert await polls.has_voted(session, poll, kz)
        assert not await polls.has_voted(session, poll, uz)
        assert await polls.tally(session, poll) == polls.Tally([0, 1, 0], 1, 6, False)
        with pytest.raises(ServiceError) as caught:
            await polls.results(session, poll)
        assert caught.value.code == "poll_results_hidden"
        listed = await polls.open_for(session, kz, now=NOW)
        assert [(p.id, voted) for p, voted in listed] == [(poll_id, True)]
        assert [(p.id, v) for p, v in await polls.open_for(session, uz, now=NOW)] == [
            (poll_id, False)
        ]
    # Votes after the deadline are refused even before the scheduler closed it.
    with pytest.raises(ServiceError) as caught:
        await _vote(db, poll_id, people["uz"], [0], at=NOW + timedelta(days=3))
    assert caught.value.code == "poll_closed"
    # A quick poll has no votes here.
    quick = await _open(db, people["mod"], PollDraft("Q", ["a", "b"]))
    with pytest.raises(ServiceError) as caught:
        await _vote(db, quick, people["uz"], [0])
    assert caught.value.code == "poll_not_secret"
    async with db.session() as session:
        uz = await session.get(Member, people["uz"])
        assert uz is not None
        assert [(p.id, v) for p, v in await polls.open_for(session, uz, now=NOW)] == [
            (poll_id, False), (quick, None)
        ]  # fmt: skip


async def test_multiple_choice_and_quorum(db: Database) -> None:
    people = await _people(db)
    poll_id = await _open(db, people["mod"], _secret(multiple=True, quorum=2))
    await _vote(db, poll_id, people["kz"], [0, 2])
    await _vote(db, poll_id, people["uz"], [2])
    async with db.session() as session:
        poll = await polls.get(session, poll_id)
        mod = await session.get(Member, people["mod"])
        await polls.close(session, poll, now=NOW, actor=mod, group_chat_id=GROUP, compose=compose)
    poll = await _poll(db, poll_id)
    assert poll.results == {"counts": [1, 0, 2], "voters": 2, "eligible": 6, "quorum_met": True}
    async with db.session() as session:
        assert await polls.results(session, poll) == polls.Tally([1, 0, 2], 2, 6, True)
        # The voters and counters are gone; only the aggregate stays.
        assert (await session.exec(select(BallotVoter))).first() is None
        assert (await session.exec(select(BallotCount))).first() is None
    with pytest.raises(ServiceError) as caught:
        await _vote(db, poll_id, people["fp_kg"], [1])
    assert caught.value.code == "poll_closed"
    # Quorum not met.
    other = await _open(db, people["mod"], _secret(quorum=3))
    await _vote(db, other, people["kz"], [0])
    async with db.session() as session:
        poll = await polls.get(session, other)
        await polls.close(session, poll, now=NOW, actor=None, group_chat_id=GROUP, compose=compose)
    assert (await _poll(db, other)).results == {
        "counts": [1, 0, 0], "voters": 1, "eligible": 6, "quorum_met": False
    }  # fmt: skip


async def test_one_vote_per_country(db: Database) -> None:
    people = await _people(db)
    poll_id = await _open(db, people["mod"], _secret(scope=BallotScope.COUNTRIES))
    await _vote(db, poll_id, people["fp_kz2"], [1])  # the first of KZ casts KZ's vote
    with pytest.raises(ServiceError) as caught:
        await _vote(db, poll_id, people["fp_kz"], [0])
    assert caught.value.code == "poll_country_voted"
    with pytest.raises(ServiceError) as caught:
        await _vote(db, poll_id, people["kz"], [0])  # a member, not a focal point
    assert caught.value.code == "poll_not_eligible"
    async with db.session() as session:
        assert list(await session.exec(select(BallotVoter.voter))) == ["KZ"]
        fp_kz = await session.get(Member, people["fp_kz"])
        assert fp_kz is not None
        assert await polls.has_voted(session, await polls.get(session, poll_id), fp_kz)
    # KG votes: every country has voted, the ballot closes at once.
    await _vote(db, poll_id, people["fp_kg"], [2])
    poll = await _poll(db, poll_id)
    assert poll.status == PollStatus.CLOSED and poll.closed_at == NOW
    assert poll.results == {"counts": [0, 1, 1], "voters": 2, "eligible": 2, "quorum_met": None}
    results = _of(await _rows(db, poll_id), "results")
    assert sorted(r.recipient_id for r in results) == sorted(  # type: ignore[type-var]
        [people["fp_kz"], people["fp_kz2"], people["fp_kg"], people["mod"]]
    )


async def test_all_voted_without_compose_closes_at_next_tick(db: Database) -> None:
    people = await _people(db)
    poll_id = await _open(
        db, people["mod"], _secret(audience=PollAudience(countries=frozenset({"UZ"})))
    )
    assert (await _poll(db, poll_id)).eligible == 1
    await _vote(db, poll_id, people["uz"], [0], with_compose=False)
    poll = await _poll(db, poll_id)
    assert poll.status == PollStatus.OPEN and poll.closes_at == NOW
    async with db.session() as session:
        assert await polls.next_due(session) == NOW
        assert await polls.process_due(session, now=NOW, group_chat_id=GROUP, compose=compose) == 1
    assert (await _poll(db, poll_id)).results == {
        "counts": [1, 0, 0], "voters": 1, "eligible": 1, "quorum_met": None
    }  # fmt: skip


async def test_reminder_a_day_before_once(db: Database) -> None:
    people = await _people(db)
    closes = NOW + timedelta(days=3)
    poll_id = await _open(db, people["mod"], _secret(audience=PollAudience(focal_points=True),
                                                    closes_at=closes))  # fmt: skip
    await _vote(db, poll_id, people["fp_kz"], [0])
    async with db.session() as session:
        assert await polls.next_due(session) == closes - timedelta(days=1)
        early = closes - timedelta(days=1, minutes=1)
        assert await polls.process_due(session, now=early, group_chat_id=GROUP,
                                       compose=compose) == 0  # fmt: skip
        at = closes - timedelta(hours=23)
        assert await polls.process_due(session, now=at, group_chat_id=GROUP, compose=compose) == 1
        assert await polls.process_due(session, now=at, group_chat_id=GROUP, compose=compose) == 0
        assert await polls.next_due(session) == closes
    reminders = _of(await _rows(db, poll_id), "reminder")
    assert sorted(r.recipient_id for r in reminders) == [people["fp_kz2"], people["fp_kg"]]  # type: ignore[type-var]
    assert (await _poll(db, poll_id)).reminded_at == closes - timedelta(hours=23)


async def test_per_country_reminder_skips_countries_that_voted(db: Database) -> None:
    people = await _people(db)
    poll_id = await _open(db, people["mod"], _secret(scope=BallotScope.COUNTRIES))
    await _vote(db, poll_id, people["fp_kz"], [0])
    async with db.session() as session:
        await polls.process_due(
            session, now=NOW + timedelta(days=2), group_chat_id=GROUP, compose=compose
        )
    reminders = _of(await _rows(db, poll_id), "reminder")
    assert [r.recipient_id for r in reminders] == [people["fp_kg"]]


async def test_cancel(db: Database) -> None:
    people = await _people(db)
    ballot = await _open(db, people["mod"], _secret())
    await _vote(db, ballot, people["kz"], [0])
    quick = await _open(db, people["mod"], PollDraft("Q", ["a", "b"]))
    async with db.session() as session:
        await polls.record_sent(session, quick, GROUP, 41, "tg-q")
    async with db.session() as session:
        mod = await session.get(Member, people["mod"])
        for poll_id in (ballot, quick):
            poll = await polls.get(session, poll_id)
            await polls.cancel(session, poll, now=NOW, actor=mod, compose=compose,
                               group_chat_id=GROUP)  # fmt: skip
        with pytest.raises(ServiceError) as caught:
            await polls.cancel(session, poll, now=NOW, actor=mod, compose=compose)
        assert caught.value.code == "poll_closed"
        assert (await session.exec(select(BallotCount))).first() is None
        assert (await session.exec(select(BallotVoter))).first() is None
        assert await polls.open_for(session, mod, now=NOW) == []  # type: ignore[arg-type]
    for poll_id in (ballot, quick):
        poll = await _poll(db, poll_id)
        assert poll.status == PollStatus.CANCELLED and poll.results is None
    rows = await _rows(db, quick)
    assert [(r.chat_id, r.target_message_id) for r in rows if r.action == "stop"] == [(GROUP, 41)]
    assert sorted(r.chat_id for r in _of(rows, "cancelled")) == sorted([GROUP, 1])
    assert len(_of(await _rows(db, ballot), "cancelled")) == 6
    async with db.session() as session:
        with pytest.raises(ServiceError) as caught:
            await _vote(db, ballot, people["uz"], [0])
        assert caught.value.code == "poll_closed"


def test_results_csv() -> None:
    poll = Poll(kind=PollKind.SECRET, question="Q", options=["Yes", "=SUM(A1)", 'Say "no"'],
                quorum=3, created_at=NOW, closes_at=NOW)  # fmt: skip
    text = polls.results_csv(poll, polls.Tally([2, 0, 1], 3, 5, True))
    assert text.splitlines() == [
        "option,votes,share",
        "Yes,2,66.7",
        "'=SUM(A1),0,0.0",
        '"Say ""no""",1,33.3',
        "",
        "voters,3,",
        "eligible,5,",
        "quorum,3,met",
    ]
    empty = polls.results_csv(poll, polls.Tally([0, 0, 0], 0, None, None))
    assert "Yes,0,0.0" in empty and "eligible,," in empty


# -- 200 concurrent votes ------------------------------------------------------------------------


async def test_200_concurrent_votes(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.db.SQLITE_BUSY_TIMEOUT_MS", 120_000)
    mod = await _member(db, 1, Role.MODERATOR)
    async with db.session() as session:
        voters = [
            Member(
                telegram_id=10_000 + i,
                full_name=f"Voter {i}",
                admitted_via=Admission.MODERATOR,
                admitted_at=NOW,
            )
            for i in range(200)
        ]
        session.add_all(voters)
        await session.flush()
        ids = [v.id for v in voters]
    poll_id = await _open(db, mod, _secret())
    assert (await _poll(db, poll_id)).eligible == 201  # the moderator does not vote here

    async def one(member_id: int, choice: int) -> str:
        try:
            await _vote(db, poll_id, member_id, [choice])
        except ServiceError as error:
            return error.code
        return "ok"

    outcomes = await asyncio.gather(*(one(m, i % 3) for i, m in enumerate(ids)))  # type: ignore[arg-type]
    assert outcomes == ["ok"] * 200
    async with db.session() as session:
        poll = await polls.get(session, poll_id)
        assert await polls.tally(session, poll) == polls.Tally([67, 67, 66], 200, 201, None)
    again = await asyncio.gather(*(one(m, (i + 1) % 3) for i, m in enumerate(ids)))  # type: ignore[arg-type]
    assert again == ["poll_already_voted"] * 200
    async with db.session() as session:
        poll = await polls.get(session, poll_id)
        assert poll.status == PollStatus.OPEN
        assert await polls.tally(session, poll) == polls.Tally([67, 67, 66], 200, 201, None)
