"""The announcements service without Telegram: audiences, limits, times, rows, acknowledgements,
reminders, cancel, recall and history."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.db import Database
from bot.models import (
    Admission,
    Announcement,
    AnnouncementStatus,
    Member,
    MemberStatus,
    OutboxAction,
    OutboxState,
    Role,
)
from bot.services import announcements, members, outbox
from bot.services.announcements import Audience, Draft, Recipient
from bot.services.errors import ServiceError

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
GROUP = -100123


async def _member(
    db: Database,
    telegram_id: int,
    role: Role = Role.MEMBER,
    country: str | None = None,
    language: str | None = None,
    status: MemberStatus = MemberStatus.ACTIVE,
) -> int:
    async with db.session() as session:
        member = await members.admit(
            session,
            members.Profile(telegram_id, f"Person {telegram_id}"),
            via=Admission.MODERATOR,
            now=NOW,
            language=language,
        )
        member.role, member.country, member.status = role, country, status
        session.add(member)
        await session.flush()
        assert member.id is not None
        return member.id


async def _people(db: Database) -> dict[str, int]:
    return {
        "mod": await _member(db, 1, Role.MODERATOR),
        "admin": await _member(db, 2, Role.ADMIN, country="KZ"),
        "fp_kz": await _member(db, 11, Role.FOCAL_POINT, "KZ"),
        "fp_kg": await _member(db, 12, Role.FOCAL_POINT, "KG", language="ru"),
        "kz": await _member(db, 21, Role.MEMBER, "KZ"),
        "uz": await _member(db, 22, Role.MEMBER, "UZ"),
        "none": await _member(db, 23, Role.MEMBER),
        "gone": await _member(db, 24, Role.FOCAL_POINT, "KZ", status=MemberStatus.INACTIVE),
        "removed": await _member(db, 25, Role.MEMBER, "KZ", status=MemberStatus.REMOVED),
    }


def _compose(announcement: Announcement, recipient: Recipient) -> dict[str, Any]:
    language, text = announcements.version(announcement, recipient.language)
    return {"text": f"[{language}] {text}"}


async def _publish(
    db: Database,
    audience: Audience,
    *,
    author: int,
    at: datetime = NOW,
    scheduled_at: datetime | None = None,
    ask_ack: bool = False,
    pin: bool = False,
    texts: dict[str, str] | None = None,
    group: int | None = GROUP,
) -> int:
    async with db.session() as session:
        writer = await session.get(Member, author)
        assert writer is not None
        announcement = await announcements.publish(
            session,
            writer,
            Draft(
                texts=texts or {"en": "Hello"},
                language="en",
                audience=audience,
                ask_ack=ask_ack,
                pin=pin,
                scheduled_at=scheduled_at,
            ),
            now=at,
            group_chat_id=group,
            compose=_compose,
        )
        assert announcement.id is not None
        return announcement.id


async def _deliver_all(db: Database, at: datetime = NOW) -> None:
    """What the worker would do: every due row is sent (message id = its row id)."""
    async with db.session() as session:
        rows = await outbox.claim(session, now=at, worker="test", limit=1000)
        for row in rows:
            assert row.id is not None
            await outbox.mark_sent(session, row.id, now=at, telegram_message_id=row.id + 1000)


async def _get(db: Database, announcement_id: int) -> Announcement:
    async with db.session() as session:
        return await announcements.get(session, announcement_id)


# -- audience ---------------------------------------------------------------------------------


def test_audience_buttons_toggle_and_all_and_focal_points_exclude_each_other() -> None:
    audience = Audience().toggled("all")
    assert audience.everyone and audience.has_members
    audience = audience.toggled("fp")
    assert audience.focal_points and not audience.everyone
    audience = audience.toggled("kz").toggled("KG").toggled("XX").toggled("<b>")
    assert audience.countries == {"KZ", "KG"}
    assert audience.toggled("KZ").countries == {"KG"}
    assert audience.toggled("group").group and not Audience().chosen
    assert Audience(group=True).chosen and not Audience(group=True).has_members
    assert Audience(countries=frozenset({"TM", "AF", "KZ", "DE"})).sorted_countries() == [
        "KZ",
        "TM",
        "AF",
        "DE",
    ]


@pytest.mark.parametrize(
    ("audience", "expected"),
    [
        (Audience(everyone=True), {"mod", "admin", "fp_kz", "fp_kg", "kz", "uz", "none"}),
        (Audience(focal_points=True), {"fp_kz", "fp_kg"}),
        (Audience(moderators=True), {"mod", "admin"}),
        (Audience(countries=frozenset({"KZ"})), {"admin", "fp_kz", "kz"}),
        (Audience(focal_points=True, countries=frozenset({"KZ"})), {"fp_kz"}),
        (
            Audience(everyone=True, countries=frozenset({"KZ", "UZ"})),
            {"admin", "fp_kz", "kz", "uz"},
        ),
        # Moderators are never narrowed by countries; the admin from KZ is counted once.
        (
            Audience(focal_points=True, moderators=True, countries=frozenset({"KG"})),
            {"mod", "admin", "fp_kg"},
        ),
        (Audience(countries=frozenset({"KZ"}), moderators=True), {"mod", "admin", "fp_kz", "kz"}),
    ],
)
async def test_recipients_are_active_members_each_once(
    db: Database, audience: Audience, expected: set[str]
) -> None:
    people = await _people(db)
    names = {member_id: name for name, member_id in people.items()}
    async with db.session() as session:
        found = await announcements.recipients(session, audience, group_chat_id=GROUP)
    assert [r for r in found if r.is_group] == []
    ids = [r.member_id for r in found]
    assert len(ids) == len(set(ids))
    assert {names[i] for i in ids if i is not None} == expected


async def test_the_group_chat_comes_last_and_only_when_configured(db: Database) -> None:
    await _people(db)
    audience = Audience(group=True, focal_points=True)
    async with db.session() as session:
        found = await announcements.recipients(session, audience, group_chat_id=GROUP)
        assert found[-1] == Recipient(GROUP) and found[-1].is_group
        assert sum(r.is_group for r in found) == 1
        unconfigured = await announcements.recipients(session, audience, group_chat_id=None)
        assert not any(r.is_group for r in unconfigured)


async def test_an_audience_must_reach_somebody(db: Database) -> None:
    await _people(db)
    async with db.session() as session:
        with pytest.raises(ServiceError) as nothing:
            await announcements.reach(session, Audience(), group_chat_id=GROUP)
        assert nothing.value.code == "announcement_no_audience"
        nobody = Audience(group=True, focal_points=True, countries=frozenset({"UZ"}))
        with pytest.raises(ServiceError) as empty:
            await announcements.reach(session, nobody, group_chat_id=GROUP)
        assert empty.value.code == "announcement_audience_empty"
        with pytest.raises(ServiceError):
            await announcements.reach(session, Audience(group=True), group_chat_id=None)
        assert await announcements.reach(session, Audience(group=True), group_chat_id=GROUP)
        assert await announcements.countries_with_members(session) == ["KZ", "KG", "UZ"]


# -- text and time ----------------------------------------------------------------------------


def test_text_limits_count_what_telegram_counts() -> None:
    assert announcements.check_text("<b>" + "x" * 4096 + "</b>", attachment=False) == 4096
    with pytest.raises(ServiceError) as long:
        announcements.check_text("x" * 4097, attachment=False)
    assert long.value.code == "announcement_too_long" and long.value.params["length"] == 4097
    # An emoji outside the BMP is two UTF-16 units, as Telegram counts it.
    with pytest.raises(ServiceError):
        announcements.check_text("😀" * 2049, attachment=False)
    assert announcements.check_text("&amp;" * 1024, attachment=True) == 1024
    with pytest.raises(ServiceError) as caption:
        announcements.check_text("x" * 1025, attachment=True)
    assert caption.value.code == "announcement_caption_too_long"
    with pytest.raises(ServiceError) as markup:
        announcements.check_text("<b>unclosed", attachment=False)
    assert markup.value.code == "announcement_bad_markup"
    with pytest.raises(ServiceError) as empty:
        announcements.check_not_empty(" \n\t ")
    assert empty.value.code == "announcement_text_empty"


@pytest.mark.parametrize(
    ("typed", "zone", "expected"),
    [
        ("2026-12-03 10:00", "Asia/Kabul", datetime(2026, 12, 3, 5, 30, tzinfo=UTC)),
        ("03.12.2026 10:00", "Asia/Tehran", datetime(2026, 12, 3, 6, 30, tzinfo=UTC)),
        ("2026-12-03T10:00", "Asia/Almaty", datetime(2026, 12, 3, 5, 0, tzinfo=UTC)),
        (" 2026-12-03   10:00 ", "UTC", datetime(2026, 12, 3, 10, 0, tzinfo=UTC)),
        # Daylight saving: Vienna is UTC+2 in summer.
        ("2027-07-01 10:00", "Europe/Vienna", datetime(2027, 7, 1, 8, 0, tzinfo=UTC)),
    ],
)
def test_times_are_read_in_the_moderators_zone_and_stored_as_utc(
    typed: str, zone: str, expected: datetime
) -> None:
    moment = announcements.parse_time(typed, ZoneInfo(zone), NOW)
    assert moment == expected and moment.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("tomorrow", "announcement_time_unparseable"),
        ("2026-02-30 10:00", "announcement_time_unparseable"),
        ("", "announcement_time_unparseable"),
        ("x" * 500, "announcement_time_unparseable"),
        ("2026-11-26 13:59", "announcement_time_past"),  # 08:59 UTC
        ("2026-11-26 14:00", "announcement_time_past"),  # exactly now
        ("2028-01-01 00:00", "announcement_time_too_far"),
    ],
)
def test_bad_times_are_refused(typed: str, code: str) -> None:
    with pytest.raises(ServiceError) as refused:
        announcements.parse_time(typed, ZoneInfo("Asia/Almaty"), NOW)
    assert refused.value.code == code
    assert len(str(refused.value.params.get("value", ""))) <= 40


def test_a_reader_gets_their_language_else_the_first_version() -> None:
    announcement = Announcement(language="ru", texts={"ru": "Привет", "en": "Hello"})
    assert announcements.version(announcement, "en") == ("en", "Hello")
    assert announcements.version(announcement, "ru") == ("ru", "Привет")
    assert announcements.version(announcement, None) == ("ru", "Привет")
    assert announcements.version(announcement, "de") == ("ru", "Привет")


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        ("403: Forbidden: bot was blocked by the user", "blocked"),
        ("403: Forbidden: bot can't initiate conversation with a user", "not_started"),
        ("403: Forbidden: user is deactivated", "deactivated"),
        ("400: Bad Request: chat not found", "chat_not_found"),
        ("403: Forbidden: bot is not a member of the supergroup chat", "not_in_chat"),
        ("403: Forbidden: bot was kicked from the supergroup chat", "not_in_chat"),
        ("gave up after 6 attempts: network: timed out", "unreachable"),
        ("400: Bad Request: wrong file identifier/HTTP URL specified", "bad_file"),
        ("400: Bad Request: message caption is too long", "refused"),
        ("something new", "other"),
        (None, "other"),
    ],
)
def test_failures_are_grouped_by_reason(error: str | None, reason: str) -> None:
    assert announcements.failure_reason(error) == reason


# -- publishing -------------------------------------------------------------------------------


async def test_publish_writes_one_row_per_recipient_in_their_language(db: Database) -> None:
    people = await _people(db)
    ident = await _publish(
        db,
        Audience(group=True, focal_points=True),
        author=people["mod"],
        texts={"en": "Hello", "ru": "Привет"},
        ask_ack=True,
        pin=True,
    )
    async with db.session() as session:
        rows = await outbox.rows_for(session, announcements.KIND, ident)
        announcement = await announcements.get(session, ident)
    by_key = {r.dedup_key: r for r in rows}
    assert set(by_key) == {
        f"announcement:{ident}:to:{people['fp_kz']}",
        f"announcement:{ident}:to:{people['fp_kg']}",
        f"announcement:{ident}:group",
    }
    assert by_key[f"announcement:{ident}:to:{people['fp_kg']}"].payload == {"text": "[ru] Привет"}
    assert by_key[f"announcement:{ident}:to:{people['fp_kz']}"].payload == {"text": "[en] Hello"}
    assert all(r.not_before == NOW and r.action == OutboxAction.SEND for r in rows)
    assert announcement.recipients == 3 and announcement.ask_ack and announcement.pin
    assert announcement.to_group and announcement.to_focal_points and not announcement.to_everyone


async def test_no_pin_without_the_group_and_no_acknowledgement_without_members(
    db: Database,
) -> None:
    people = await _people(db)
    only_members = await _publish(db, Audience(moderators=True), author=people["mod"], pin=True)
    only_group = await _publish(db, Audience(group=True), author=people["mod"], ask_ack=True)
    assert not (await _get(db, only_members)).pin
    assert not (await _get(db, only_group)).ask_ack
    with pytest.raises(ServiceError):
        await _publish(db, Audience(group=True), author=people["mod"], group=None)


async def test_a_scheduled_announcement_is_queued_for_its_time(db: Database) -> None:
    people = await _people(db)
    later = NOW + timedelta(days=1)
    ident = await _publish(db, Audience(moderators=True), author=people["mod"], scheduled_at=later)
    async with db.session() as session:
        rows = await outbox.rows_for(session, announcements.KIND, ident)
        assert {r.not_before for r in rows} == {later}
        assert [a.id for a in await announcements.scheduled(session, now=NOW)] == [ident]
        assert await announcements.recent(session, now=NOW) == []
        assert await outbox.claim(session, now=NOW, worker="t") == []
    with pytest.raises(ServiceError) as past:
        await _publish(db, Audience(moderators=True), author=people["mod"], scheduled_at=NOW)
    assert past.value.code == "announcement_time_past"


# -- acknowledgements -------------------------------------------------------------------------


async def test_acknowledged_once_by_members_it_reached(db: Database) -> None:
    people = await _people(db)
    ident = await _publish(db, Audience(focal_points=True), author=people["mod"], ask_ack=True)
    async with db.session() as session:
        fp_kz = await session.get(Member, people["fp_kz"])
        assert fp_kz is not None
        with pytest.raises(ServiceError):  # not delivered yet
            await announcements.acknowledge(session, ident, fp_kz, now=NOW)
    await _deliver_all(db)
    async with db.session() as session:
        fp_kz = await session.get(Member, people["fp_kz"])
        uz = await session.get(Member, people["uz"])
        assert fp_kz is not None and uz is not None
        assert await announcements.acknowledge(session, ident, fp_kz, now=NOW)
        assert not await announcements.acknowledge(session, ident, fp_kz, now=NOW)
        with pytest.raises(ServiceError):
            await announcements.acknowledge(session, ident, uz, now=NOW)
        with pytest.raises(ServiceError):
            await announcements.acknowledge(session, 999, fp_kz, now=NOW)
        announcement = await announcements.get(session, ident)
        progress = await announcements.progress(session, announcement)
        assert (progress.acknowledged, progress.reached, progress.sent) == (1, 2, 2)
        missing = await announcements.unacknowledged(session, announcement)
        assert [m.id for m in missing] == [people["fp_kg"]]


async def test_a_double_press_in_two_transactions_counts_once(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two transactions acknowledge at once (two processes): one writes, the other is told
    it was already done, and neither fails; each transaction stays one transaction."""
    monkeypatch.setattr("bot.db.SQLITE_BUSY_TIMEOUT_MS", 30_000)
    people = await _people(db)
    ident = await _publish(db, Audience(focal_points=True), author=people["mod"], ask_ack=True)
    await _deliver_all(db)
    both_checked = asyncio.Barrier(2)
    real_reached = announcements.reached

    async def reached_then_wait(*args: Any, **kwargs: Any) -> bool:
        found = await real_reached(*args, **kwargs)
        await both_checked.wait()  # both are past the checks before either writes
        return found

    monkeypatch.setattr(announcements, "reached", reached_then_wait)

    async def press() -> bool:
        async with db.session() as session:
            member = await session.get(Member, people["fp_kz"])
            assert member is not None
            return await announcements.acknowledge(session, ident, member, now=NOW)

    outcomes = await asyncio.gather(press(), press())
    assert sorted(outcomes) == [False, True]
    async with db.session() as session:
        announcement = await announcements.get(session, ident)
        assert (await announcements.progress(session, announcement)).acknowledged == 1


async def test_an_acknowledgement_rolls_back_with_its_transaction(db: Database) -> None:
    """The acknowledgement is part of the caller's transaction (on SQLite a SAVEPOINT as the
    first write would have committed it on its own)."""
    people = await _people(db)
    ident = await _publish(db, Audience(focal_points=True), author=people["mod"], ask_ack=True)
    await _deliver_all(db)
    async with db.session() as session:
        member = await session.get(Member, people["fp_kz"])
        assert member is not None
        assert await announcements.acknowledge(session, ident, member, now=NOW)
        await session.rollback()
    async with db.session() as session:
        announcement = await announcements.get(session, ident)
        assert (await announcements.progress(session, announcement)).acknowledged == 0


async def test_not_acknowledged_are_listed_by_country_and_reminded_once(db: Database) -> None:
    people = await _people(db)
    ident = await _publish(db, Audience(everyone=True), author=people["mod"], ask_ack=True)
    await _deliver_all(db)
    async with db.session() as session:
        announcement = await announcements.get(session, ident)
        missing = await announcements.unacknowledged(session, announcement)
        # The region's order (KZ, KG, ..., UZ), then no country.
        assert [m.country for m in missing] == ["KZ", "KZ", "KZ", "KG", "UZ", None, None]
        count = await announcements.remind(session, announcement, now=NOW, compose=_compose)
        assert count == 7 and announcement.reminded_at == NOW
        with pytest.raises(ServiceError) as again:
            await announcements.remind(session, announcement, now=NOW, compose=_compose)
        assert again.value.code == "announcement_already_reminded"
        reminders = await outbox.rows_for(session, announcements.REMINDER_KIND, ident)
        assert len(reminders) == 7
        assert (await announcements.progress(session, announcement)).total == 7


async def test_nobody_to_remind_and_no_reminder_without_acknowledgement(db: Database) -> None:
    people = await _people(db)
    plain = await _publish(db, Audience(focal_points=True), author=people["mod"])
    asked = await _publish(db, Audience(moderators=True), author=people["mod"], ask_ack=True)
    await _deliver_all(db)
    async with db.session() as session:
        with pytest.raises(ServiceError) as no_ack:
            await announcements.remind(
                session, await announcements.get(session, plain), now=NOW, compose=_compose
            )
        assert no_ack.value.code == "announcement_no_ack"
        for key in ("mod", "admin"):
            member = await session.get(Member, people[key])
            assert member is not None
            await announcements.acknowledge(session, asked, member, now=NOW)
        with pytest.raises(ServiceError) as everybody:
            await announcements.remind(
                session, await announcements.get(session, asked), now=NOW, compose=_compose
            )
        assert everybody.value.code == "announcement_all_acknowledged"


# -- cancel and recall ------------------------------------------------------------------------


async def test_cancel_before_the_time_and_not_after(db: Database) -> None:
    people = await _people(db)
    later = NOW + timedelta(hours=2)
    ident = await _publish(db, Audience(everyone=True), author=people["mod"], scheduled_at=later)
    async with db.session() as session:
        announcement = await announcements.get(session, ident)
        assert await announcements.cancel(session, announcement, now=NOW) == 7
        assert announcement.status == AnnouncementStatus.CANCELLED
        with pytest.raises(ServiceError):
            await announcements.cancel(session, announcement, now=NOW)
    async with db.session() as session:
        assert await outbox.claim(session, now=later + timedelta(days=1), worker="t") == []
    sent = await _publish(db, Audience(moderators=True), author=people["mod"])
    async with db.session() as session:
        with pytest.raises(ServiceError) as gone:
            await announcements.cancel(session, await announcements.get(session, sent), now=NOW)
        assert gone.value.code == "announcement_already_sent"


async def test_recall_deletes_what_went_out_within_48_hours(db: Database) -> None:
    people = await _people(db)
    ident = await _publish(db, Audience(group=True, moderators=True), author=people["mod"])
    await _deliver_all(db)
    async with db.session() as session:
        announcement = await announcements.get(session, ident)
        late = NOW + announcements.RECALL_WINDOW
        with pytest.raises(ServiceError) as old:
            await announcements.recall(session, announcement, now=late)
        assert old.value.code == "announcement_too_old_to_recall"
        assert await announcements.recall(session, announcement, now=NOW + timedelta(hours=47)) == 3
        deletions = await outbox.rows_for(session, announcements.KIND, ident, OutboxAction.DELETE)
        sends = await outbox.rows_for(session, announcements.KIND, ident, OutboxAction.SEND)
        assert sorted((d.chat_id, d.target_message_id) for d in deletions) == sorted(
            (s.chat_id, s.telegram_message_id) for s in sends
        )
        with pytest.raises(ServiceError) as twice:
            await announcements.recall(session, announcement, now=NOW)
        assert twice.value.code == "announcement_recalled"
        # Nothing more to delete: each message once.
        assert await announcements.delete_sent(session, announcement, now=NOW) == 0


async def test_recall_withdraws_what_has_not_gone_and_deletes_late_arrivals(db: Database) -> None:
    people = await _people(db)
    ident = await _publish(db, Audience(moderators=True), author=people["mod"])
    async with db.session() as session:
        # One row goes out and one is on its way when the moderator recalls.
        rows = await outbox.claim(session, now=NOW, worker="t", limit=2)
        assert rows[0].id is not None
        await outbox.mark_sent(session, rows[0].id, now=NOW, telegram_message_id=7)
    async with db.session() as session:
        announcement = await announcements.get(session, ident)
        assert await announcements.recall(session, announcement, now=NOW) == 1
    async with db.session() as session:
        assert rows[1].id is not None
        await outbox.mark_sent(session, rows[1].id, now=NOW, telegram_message_id=8)
        announcement = await announcements.get(session, ident)
        assert await announcements.delete_sent(session, announcement, now=NOW) == 1
        progress = await announcements.progress(session, announcement)
        assert progress.removing == 2 and progress.sent == 2


async def test_recall_refused_before_it_went_out(db: Database) -> None:
    people = await _people(db)
    ident = await _publish(
        db, Audience(moderators=True), author=people["mod"], scheduled_at=NOW + timedelta(hours=1)
    )
    async with db.session() as session:
        with pytest.raises(ServiceError) as early:
            await announcements.recall(session, await announcements.get(session, ident), now=NOW)
        assert early.value.code == "announcement_not_sent_yet"


# -- the report -------------------------------------------------------------------------------


async def test_report_edits_are_queued_only_when_the_view_changes(db: Database) -> None:
    people = await _people(db)
    ident = await _publish(db, Audience(moderators=True), author=people["mod"])
    async with db.session() as session:
        announcement = await announcements.get(session, ident)
        assert not await announcements.queue_report_edit(
            session, announcement, "a", {"text": "x"}, now=NOW
        )  # no report message yet
        await announcements.set_report(session, announcement, 1, 50, "a")
        assert not await announcements.queue_report_edit(
            session, announcement, "a", {"text": "x"}, now=NOW
        )
        assert await announcements.queue_report_edit(
            session, announcement, "b", {"text": "y"}, now=NOW
        )
        assert await announcements.queue_report_edit(
            session, announcement, "c", {"text": "z"}, now=NOW
        )
        edits = await outbox.rows_for(session, announcements.REPORT_KIND, ident)
        # Only the latest edit is still to go; the older one was withdrawn.
        assert [(e.state, e.payload["text"]) for e in edits] == [
            (OutboxState.CANCELLED, "y"),
            (OutboxState.PENDING, "z"),
        ]
        assert all(e.target_message_id == 50 and e.action == OutboxAction.EDIT for e in edits)
        assert (await announcements.progress(session, announcement)).total == 2


# -- history ----------------------------------------------------------------------------------


async def test_history_is_what_the_member_was_sent_or_what_was_said_to_all(db: Database) -> None:
    people = await _people(db)
    to_all = await _publish(db, Audience(everyone=True), author=people["mod"])
    to_group = await _publish(db, Audience(group=True), author=people["mod"], at=NOW)
    to_kg = await _publish(db, Audience(countries=frozenset({"KG"})), author=people["mod"])
    later = await _publish(
        db, Audience(everyone=True), author=people["mod"], scheduled_at=NOW + timedelta(hours=1)
    )
    await _deliver_all(db)
    async with db.session() as session:
        uz = await session.get(Member, people["uz"])
        fp_kg = await session.get(Member, people["fp_kg"])
        assert uz is not None and fp_kg is not None
        seen_by_uz = {a.id for a in await announcements.history(session, uz, now=NOW)}
        assert seen_by_uz == {to_all, to_group}
        seen_by_kg = {a.id for a in await announcements.history(session, fp_kg, now=NOW)}
        assert seen_by_kg == {to_all, to_group, to_kg}
        with pytest.raises(ServiceError):
            await announcements.readable(session, to_kg, uz, now=NOW)
        with pytest.raises(ServiceError):
            await announcements.readable(session, later, uz, now=NOW)
        assert (await announcements.readable(session, to_all, uz, now=NOW)).id == to_all
        later_seen = await announcements.history(session, uz, now=NOW + timedelta(hours=2))
        assert later in {a.id for a in later_seen}


async def test_ids_beyond_the_column_name_nothing(db: Database) -> None:
    people = await _people(db)
    async with db.session() as session:
        member = await session.get(Member, people["uz"])
        assert member is not None
        for forged in (0, -1, 2**31, 9_999_999_999):
            assert await announcements.find(session, forged) is None
            with pytest.raises(ServiceError):
                await announcements.acknowledge(session, forged, member, now=NOW)
            with pytest.raises(ServiceError):
                await announcements.readable(session, forged, member, now=NOW)
