"""Services without Telegram: plain async functions over a session."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.db import Database
from bot.models import Admission, AuditAction, MemberStatus, Role
from bot.services import access_requests, audit, invites, members, timezones
from bot.services.errors import ServiceError

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
ADMINS = frozenset({1})


async def _admit(
    db: Database, telegram_id: int, role: Role = Role.MEMBER, username: str | None = None
) -> int:
    async with db.session() as session:
        member = await members.admit(
            session,
            members.Profile(telegram_id, f"Person {telegram_id}", username),
            via=Admission.MODERATOR,
            now=NOW,
        )
        member.role = role
        assert member.id is not None
        return member.id


async def test_bootstrap_admins_is_idempotent_and_restores_the_role(db: Database) -> None:
    async with db.session() as session:
        await members.bootstrap_admins(session, [1], NOW)
        await members.bootstrap_admins(session, [1], NOW)
        admin = await members.by_telegram_id(session, 1)
        assert admin is not None and admin.role == Role.ADMIN
        admin.role = Role.MEMBER
    async with db.session() as session:
        await members.bootstrap_admins(session, [1], NOW)
        admin = await members.by_telegram_id(session, 1)
        assert admin is not None and admin.role == Role.ADMIN
        entries, _ = await audit.page(session, 0)
        assert [e.action for e in entries].count(AuditAction.ADMITTED) == 1


async def test_telegram_ids_are_64_bit(db: Database) -> None:
    big = 9_007_199_254_740_993  # beyond 2**53 and 2**32
    await _admit(db, big)
    async with db.session() as session:
        member = await members.by_telegram_id(session, big)
        assert member is not None and member.telegram_id == big
        assert member.admitted_at == NOW and member.admitted_at.tzinfo is not None


@pytest.mark.parametrize(
    ("actor_role", "target_role", "new_role", "error"),
    [
        (Role.MODERATOR, Role.MEMBER, Role.MODERATOR, "only_admin_manages_moderators"),
        (Role.MODERATOR, Role.MODERATOR, Role.MEMBER, "only_admin_manages_moderators"),
        (Role.MODERATOR, Role.ADMIN, Role.MEMBER, "only_admin_manages_moderators"),
        (Role.FOCAL_POINT, Role.MEMBER, Role.FOCAL_POINT, "forbidden"),
        (Role.MODERATOR, Role.MEMBER, Role.FOCAL_POINT, "focal_point_needs_country"),
        (Role.MODERATOR, Role.MEMBER, Role.MEMBER, "role_unchanged"),
        (Role.ADMIN, Role.MODERATOR, Role.MODERATOR, "role_unchanged"),
    ],
)
async def test_role_rules(
    db: Database, actor_role: Role, target_role: Role, new_role: Role, error: str
) -> None:
    await _admit(db, 10, actor_role)
    await _admit(db, 11, target_role)
    async with db.session() as session:
        actor = await members.by_telegram_id(session, 10)
        target = await members.by_telegram_id(session, 11)
        assert actor and target
        with pytest.raises(ServiceError) as raised:
            await members.set_role(session, actor, target, new_role, now=NOW, admin_ids=ADMINS)
        assert raised.value.code == error


async def test_find_by_username_and_number(db: Database) -> None:
    member_id = await _admit(db, 12, username="Aigerim_N")
    async with db.session() as session:
        assert (await members.find(session, "@aigerim_n")).id == member_id
        assert (await members.find(session, f"#{member_id}")).id == member_id
        for bad in ("@", "#999", "12345678901234", "' OR 1=1 --"):
            with pytest.raises(ServiceError):
                await members.find(session, bad)


async def test_invite_last_use_cannot_be_taken_twice(db: Database) -> None:
    creator_id = await _admit(db, 20, Role.MODERATOR)
    async with db.session() as session:
        creator = await session.get(members.Member, creator_id)
        assert creator is not None
        invite = await invites.create(session, creator, now=NOW, max_uses=1)
        code = invite.code

    async def redeem(telegram_id: int) -> invites.Redemption:
        async with db.session() as session:
            return await invites.redeem(session, code, members.Profile(telegram_id, "X"), now=NOW)

    # Six people race for one use, each in their own transaction.
    outcomes = await asyncio.gather(*(redeem(t) for t in range(30, 36)), return_exceptions=True)
    assert outcomes.count(invites.Redemption.ADMITTED) == 1
    async with db.session() as session:
        invite = await invites.active(session, NOW - timedelta(days=1))
        assert invite == []


async def test_invite_limits(db: Database) -> None:
    creator_id = await _admit(db, 20, Role.MODERATOR)
    async with db.session() as session:
        creator = await session.get(members.Member, creator_id)
        assert creator is not None
        for uses, days in ((0, 7), (501, 7), (1, 0), (1, 91)):
            with pytest.raises(ServiceError):
                await invites.create(session, creator, now=NOW, max_uses=uses, days=days)


async def test_access_request_lifecycle(db: Database) -> None:
    moderator_id = await _admit(db, 40, Role.MODERATOR)
    async with db.session() as session:
        with pytest.raises(ServiceError, match="note_empty"):
            await access_requests.create(session, members.Profile(41, "A"), "   ", now=NOW)
        request = await access_requests.create(session, members.Profile(41, "A"), "FIU", now=NOW)
        with pytest.raises(ServiceError, match="request_pending"):
            await access_requests.create(session, members.Profile(41, "A"), "again", now=NOW)
        moderator = await session.get(members.Member, moderator_id)
        assert moderator is not None and request.id is not None
        await access_requests.decide(session, moderator, request.id, True, now=NOW)
        with pytest.raises(ServiceError, match="request_decided"):
            await access_requests.decide(session, moderator, request.id, False, now=NOW)
        member = await members.by_telegram_id(session, 41)
        assert member is not None and member.status == MemberStatus.ACTIVE


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("Kabul", "Asia/Kabul"),
        ("тегеран", "Asia/Tehran"),
        ("asia/bishkek", "Asia/Bishkek"),
        ("+4:30", "UTC+04:30"),
        ("UTC-3", "UTC-03:00"),
        ("+05:45", "UTC+05:45"),
        ("+0", "UTC"),
        ("Islamabad", "Asia/Karachi"),
        ("  London ", "Europe/London"),
    ],
)
def test_timezone_parsing(typed: str, stored: str) -> None:
    assert timezones.parse(typed) == stored


@pytest.mark.parametrize("typed", ["", "Mars", "+4:20", "+15", "-13:30", "UTC+", "x" * 65])
def test_timezone_refusals(typed: str) -> None:
    with pytest.raises(ServiceError):
        timezones.parse(typed)


def test_offset_zone_keeps_its_minutes() -> None:
    zone = timezones.zone("UTC+04:30", "Asia/Almaty")
    assert NOW.astimezone(zone).strftime("%H:%M") == "13:30"
    assert timezones.zone("Nowhere/City", "Asia/Almaty").key == "Asia/Almaty"  # type: ignore[attr-defined]


async def test_a_unit_of_work_commits_at_the_end_and_rolls_back_on_an_error(db: Database) -> None:
    """What every handler runs in: a member admitted in it is there afterwards; one admitted
    before an error is not; a committed part stays when a later part is discarded."""
    now = datetime(2026, 11, 26, tzinfo=UTC)

    async def admitted(telegram_id: int) -> bool:
        async with db.session() as session:
            return await members.by_telegram_id(session, telegram_id) is not None

    async with db.unit_of_work() as work:
        await work.commit()  # nothing written yet: nothing to do
        await members.admit(work.session, members.Profile(501, "Kept"), via=Admission.MODERATOR,
                            now=now)  # fmt: skip
    assert await admitted(501)
    with pytest.raises(RuntimeError):
        async with db.unit_of_work() as work:
            await members.admit(work.session, members.Profile(502, "Lost"),
                                via=Admission.MODERATOR, now=now)  # fmt: skip
            raise RuntimeError("the handler failed")
    assert not await admitted(502)
    async with db.unit_of_work() as work:
        await members.admit(work.session, members.Profile(503, "Committed"),
                            via=Admission.MODERATOR, now=now)  # fmt: skip
        await work.commit()
        await members.admit(work.session, members.Profile(504, "Discarded"),
                            via=Admission.MODERATOR, now=now)  # fmt: skip
        await work.rollback()
    assert await admitted(503) and not await admitted(504)
