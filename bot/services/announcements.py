"""Announcements: who receives one, queueing it (one outbox row per recipient), its progress,
acknowledgements, one reminder, cancelling a scheduled one, recalling a sent one, and history.

Rows in the outbox, by kind (ref_id is always the announcement's id):
- "announcement": the message to each recipient (SEND), and on recall their deletion (DELETE);
- "announcement_report": edits of the moderator's report message;
- "announcement_reminder": the one reminder to those who have not acknowledged.
Keeping the report and reminders apart keeps `outbox.tally(KIND, id)` equal to the recipients.

Rendering is the caller's business: `publish` and `remind` take a `compose` function that turns a
recipient into the outbox payload (text in their language, buttons), so this module stays free
of Telegram and templates.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import exists, func, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.html_text import TelegramHtmlError, parse_html, utf16_len
from bot.models import (
    Announcement,
    AnnouncementAck,
    AnnouncementStatus,
    AttachmentKind,
    AuditAction,
    Member,
    MemberStatus,
    OutboxAction,
    OutboxMessage,
    OutboxState,
    Role,
)
from bot.services import audit, countries, outbox
from bot.services.errors import ServiceError
from bot.services.outbox import Recipient
from bot.services.sql import insert_ignoring_conflicts

KIND = "announcement"
REPORT_KIND = "announcement_report"
REMINDER_KIND = "announcement_reminder"

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
# Telegram lets a bot delete its messages for 48 hours. The deletions are queued, and a large
# audience takes a while at Telegram's pace: stop offering a recall a little before the limit.
RECALL_WINDOW = timedelta(hours=48)
RECALL_MARGIN = timedelta(minutes=15)
MAX_SCHEDULE_AHEAD = timedelta(days=366)
HISTORY_SIZE = 10
RECENT_SIZE = 10

_TIME_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%d.%m.%Y %H:%M", "%Y/%m/%d %H:%M")


# -- the audience -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Audience:
    """Who an announcement is for. Countries narrow "everybody" and "focal points" to members of
    those countries (alone, they mean everybody there); moderators are never narrowed."""

    group: bool = False
    everyone: bool = False
    focal_points: bool = False
    moderators: bool = False
    countries: frozenset[str] = frozenset()

    @property
    def chosen(self) -> bool:
        return self.group or self.has_members

    @property
    def has_members(self) -> bool:
        return self.everyone or self.focal_points or self.moderators or bool(self.countries)

    @classmethod
    def of(cls, announcement: Announcement) -> Audience:
        return cls(
            group=announcement.to_group,
            everyone=announcement.to_everyone,
            focal_points=announcement.to_focal_points,
            moderators=announcement.to_moderators,
            countries=frozenset(announcement.countries or ()),
        )

    def toggled(self, choice: str) -> Audience:
        """Press a button: group, all, fp, mod, or a country code. "All members" and "Focal
        points" exclude each other (one is a part of the other)."""
        if choice == "group":
            return _replace(self, group=not self.group)
        if choice == "all":
            return _replace(self, everyone=not self.everyone, focal_points=False)
        if choice == "fp":
            return _replace(self, focal_points=not self.focal_points, everyone=False)
        if choice == "mod":
            return _replace(self, moderators=not self.moderators)
        code = countries.normalize(choice)
        if code is None:
            return self
        return _replace(self, countries=self.countries ^ {code})

    def sorted_countries(self) -> list[str]:
        return sort_countries(self.countries)


def _replace(audience: Audience, **changes: Any) -> Audience:
    values = {
        "group": audience.group,
        "everyone": audience.everyone,
        "focal_points": audience.focal_points,
        "moderators": audience.moderators,
        "countries": audience.countries,
        **changes,
    }
    return Audience(**values)


def sort_countries(codes: Iterable[str]) -> list[str]:
    """The working group's countries first, in their usual order, then the rest by code."""
    order = {code: index for index, code in enumerate(countries.REGION)}
    return sorted(set(codes), key=lambda code: (order.get(code, len(order)), code))


async def recipients(
    session: AsyncSession, audience: Audience, *, group_chat_id: int | None
) -> list[Recipient]:
    """Everybody the audience reaches: active members only, each once; the group chat last."""
    found: list[Recipient] = []
    if audience.has_members:
        conditions = []
        narrowed = col(Member.country).in_(sorted(audience.countries))
        if audience.everyone or (audience.countries and not audience.focal_points):
            conditions.append(narrowed if audience.countries else col(Member.id).is_not(None))
        if audience.focal_points:
            focal = col(Member.role) == Role.FOCAL_POINT.value
            conditions.append(focal & narrowed if audience.countries else focal)
        if audience.moderators:
            conditions.append(col(Member.role).in_([Role.MODERATOR.value, Role.ADMIN.value]))
        rows = await session.exec(
            select(Member)
            .where(Member.status == MemberStatus.ACTIVE, or_(*conditions))
            .order_by(col(Member.id))
        )
        found = [
            Recipient(m.telegram_id, m.id, m.language, m.timezone) for m in rows if m.id is not None
        ]
    if audience.group and group_chat_id is not None:
        found.append(Recipient(group_chat_id))
    return found


async def reach(
    session: AsyncSession, audience: Audience, *, group_chat_id: int | None
) -> list[Recipient]:
    """The recipients of an audience that may be used: something chosen, and every part of it
    reaching somebody (focal points of a country that has none is a mistake, even with the
    group chat beside it)."""
    if not audience.chosen:
        raise ServiceError("announcement_no_audience")
    found = await recipients(session, audience, group_chat_id=group_chat_id)
    members_found = any(not r.is_group for r in found)
    if not found or (audience.has_members and not members_found):
        raise ServiceError("announcement_audience_empty")
    return found


async def countries_with_members(session: AsyncSession) -> list[str]:
    """Countries that have active members: the buttons a moderator can pick from."""
    rows = await session.exec(
        select(Member.country)
        .where(Member.status == MemberStatus.ACTIVE, col(Member.country).is_not(None))
        .distinct()
    )
    return sort_countries(code for code in rows if code)


# -- text and time ----------------------------------------------------------------------------


def check_text(html: str, *, attachment: bool) -> int:
    """The message as recipients will see it must fit Telegram: its visible length after
    parsing, at most 4096 (or 1024 as the caption of a photo or document). Returns the length."""
    try:
        plain, _ = parse_html(html)
    except TelegramHtmlError:
        raise ServiceError("announcement_bad_markup") from None
    length = utf16_len(plain)
    if attachment and length > CAPTION_LIMIT:
        raise ServiceError("announcement_caption_too_long", length=length, limit=CAPTION_LIMIT)
    if length > TEXT_LIMIT:
        raise ServiceError("announcement_too_long", length=length, limit=TEXT_LIMIT)
    return length


def check_not_empty(plain_text: str) -> None:
    if not plain_text.strip():
        raise ServiceError("announcement_text_empty")


def parse_time(text: str, zone: tzinfo, now: datetime) -> datetime:
    """A moment typed in the moderator's own zone ("2026-12-03 10:00"), as UTC; in the future."""
    value = " ".join(text.split())[:40]
    local: datetime | None = None
    for pattern in _TIME_FORMATS:
        try:
            local = datetime.strptime(value, pattern)
        except ValueError:
            continue
        break
    if local is None:
        raise ServiceError("announcement_time_unparseable", value=value)
    moment = local.replace(tzinfo=zone).astimezone(now.tzinfo)
    if moment <= now:
        raise ServiceError("announcement_time_past", value=value)
    if moment - now > MAX_SCHEDULE_AHEAD:
        raise ServiceError("announcement_time_too_far", value=value)
    return moment


def version(announcement: Announcement, language: str | None) -> tuple[str, str]:
    """(language, html) of the version for a reader: their language if there is one, else the
    first version."""
    texts = announcement.texts or {}
    if language and language in texts:
        return language, str(texts[language])
    return announcement.language, str(texts.get(announcement.language, ""))


# -- publishing -------------------------------------------------------------------------------


@dataclass
class Draft:
    """Everything the moderator chose, before it becomes rows."""

    texts: dict[str, str]
    language: str
    audience: Audience
    attachment_kind: AttachmentKind | None = None
    attachment_file_id: str | None = None
    pin: bool = False
    ask_ack: bool = False
    scheduled_at: datetime | None = None


Compose = Callable[[Announcement, Recipient], dict[str, Any]]


def dedup_key(announcement_id: int, recipient: Recipient) -> str:
    if recipient.member_id is None:
        return f"{KIND}:{announcement_id}:group"
    return f"{KIND}:{announcement_id}:to:{recipient.member_id}"


async def publish(
    session: AsyncSession,
    author: Member,
    draft: Draft,
    *,
    now: datetime,
    group_chat_id: int | None,
    compose: Compose,
    report_language: str | None = None,
) -> Announcement:
    """Write the announcement and one outbox row per recipient, in the caller's transaction."""
    if not draft.texts or draft.language not in draft.texts:
        raise ServiceError("announcement_text_empty")
    if draft.scheduled_at is not None and draft.scheduled_at <= now:
        raise ServiceError("announcement_time_past", value="")
    chats = await reach(session, draft.audience, group_chat_id=group_chat_id)
    audience = draft.audience
    announcement = Announcement(
        author_id=author.id,
        language=draft.language,
        texts=dict(draft.texts),
        attachment_kind=draft.attachment_kind,
        attachment_file_id=draft.attachment_file_id if draft.attachment_kind else None,
        to_group=audience.group and group_chat_id is not None,
        to_everyone=audience.everyone,
        to_focal_points=audience.focal_points,
        to_moderators=audience.moderators,
        countries=audience.sorted_countries(),
        pin=draft.pin and audience.group and group_chat_id is not None,
        ask_ack=draft.ask_ack and any(not r.is_group for r in chats),
        recipients=len(chats),
        created_at=now,
        scheduled_at=draft.scheduled_at or now,
        report_language=report_language,
    )
    session.add(announcement)
    await session.flush()
    assert announcement.id is not None
    await outbox.enqueue(
        session,
        KIND,
        announcement.id,
        [
            outbox.Outgoing(
                dedup_key=dedup_key(announcement.id, recipient),
                chat_id=recipient.chat_id,
                recipient_id=recipient.member_id,
                payload=compose(announcement, recipient),
            )
            for recipient in chats
        ],
        now=now,
        not_before=announcement.scheduled_at,
    )
    await audit.record(
        session,
        AuditAction.ANNOUNCED,
        at=now,
        actor=author,
        detail=f"announcement #{announcement.id} to {len(chats)} chat(s)"
        + (
            f", scheduled {announcement.scheduled_at:%Y-%m-%d %H:%M} UTC"
            if draft.scheduled_at
            else ""
        ),
    )
    return announcement


# Ids are 32-bit integers: a larger number (a forged button) names no announcement, and
# PostgreSQL would refuse to even compare it.
MAX_ID = 2**31 - 1


async def find(session: AsyncSession, announcement_id: int) -> Announcement | None:
    if not 0 < announcement_id <= MAX_ID:
        return None
    return await session.get(Announcement, announcement_id)


async def get(session: AsyncSession, announcement_id: int) -> Announcement:
    announcement = await find(session, announcement_id)
    if announcement is None:
        raise ServiceError("announcement_not_found")
    return announcement


async def author(session: AsyncSession, announcement: Announcement) -> Member | None:
    if announcement.author_id is None:
        return None
    return await session.get(Member, announcement.author_id)


def is_scheduled(announcement: Announcement, now: datetime) -> bool:
    return announcement.status == AnnouncementStatus.ACTIVE and announcement.scheduled_at > now


# -- progress and the report ------------------------------------------------------------------

# What a failed row's last error says, as a reason the report groups by.
_REASONS: tuple[tuple[str, str], ...] = (
    ("blocked", "blocked"),
    ("can't initiate", "not_started"),
    ("user is deactivated", "deactivated"),
    ("chat not found", "chat_not_found"),
    ("not a member", "not_in_chat"),
    ("kicked", "not_in_chat"),
    ("not enough rights", "no_rights"),
    ("gave up", "unreachable"),
    ("network", "unreachable"),
    ("file", "bad_file"),
    ("too long", "refused"),
    ("parse entities", "refused"),
)


def failure_reason(last_error: str | None) -> str:
    text = (last_error or "").lower()
    return next((reason for needle, reason in _REASONS if needle in text), "other")


@dataclass
class Progress:
    total: int = 0
    sent: int = 0
    pending: int = 0
    failed: int = 0
    cancelled: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    # Recall: deletions done and still queued.
    removed: int = 0
    removing: int = 0
    # Members it reached (who can acknowledge), and how many did.
    reached: int = 0
    acknowledged: int = 0

    @property
    def finished(self) -> bool:
        return self.pending == 0 and self.removing == 0

    def key(self, status: str) -> str:
        """Changes whenever the report would read differently."""
        return (
            f"{self.sent}-{self.failed}-{self.pending}-{self.cancelled}-{self.removed}-"
            f"{self.removing}-{self.acknowledged}-{status}"
        )


def _pending(counts: Counter[str]) -> int:
    return counts[OutboxState.PENDING] + counts[OutboxState.SENDING]


async def progress(session: AsyncSession, announcement: Announcement) -> Progress:
    assert announcement.id is not None
    counts = await outbox.tally(session, KIND, announcement.id)
    result = Progress(
        total=sum(counts.values()),
        sent=counts[OutboxState.SENT],
        pending=_pending(counts),
        failed=counts[OutboxState.FAILED],
        cancelled=counts[OutboxState.CANCELLED],
    )
    if result.failed:
        failed = await session.exec(
            select(OutboxMessage.last_error).where(
                OutboxMessage.kind == KIND,
                OutboxMessage.ref_id == announcement.id,
                OutboxMessage.action == OutboxAction.SEND,
                OutboxMessage.state == OutboxState.FAILED,
            )
        )
        result.reasons = Counter(failure_reason(error) for error in failed)
    if announcement.status == AnnouncementStatus.RECALLED:
        deletions = await outbox.tally(session, KIND, announcement.id, OutboxAction.DELETE)
        result.removed = deletions[OutboxState.SENT]
        result.removing = _pending(deletions)
    if announcement.ask_ack:
        result.acknowledged = await _ack_count(session, announcement.id)
        result.reached = int(
            (
                await session.exec(
                    select(func.count()).where(
                        OutboxMessage.kind == KIND,
                        OutboxMessage.ref_id == announcement.id,
                        OutboxMessage.action == OutboxAction.SEND,
                        OutboxMessage.state == OutboxState.SENT,
                        col(OutboxMessage.recipient_id).is_not(None),
                    )
                )
            ).one()
        )
    return result


async def _ack_count(session: AsyncSession, announcement_id: int) -> int:
    return int(
        (
            await session.exec(
                select(func.count()).where(AnnouncementAck.announcement_id == announcement_id)
            )
        ).one()
    )


async def set_report(
    session: AsyncSession, announcement: Announcement, chat_id: int, message_id: int, view: str
) -> None:
    """The report message the moderator got, and what it showed."""
    announcement.report_chat_id = chat_id
    announcement.report_message_id = message_id
    announcement.report_view = view
    session.add(announcement)
    await session.flush()


async def queue_report_edit(
    session: AsyncSession,
    announcement: Announcement,
    view: str,
    payload: dict[str, Any],
    *,
    now: datetime,
) -> bool:
    """Queue an edit of the report if it would show something new; older queued edits are
    withdrawn (only the latest matters). False when there is nothing to do."""
    if announcement.report_message_id is None or announcement.report_chat_id is None:
        return False
    if view == announcement.report_view:
        return False
    assert announcement.id is not None
    await outbox.cancel(session, REPORT_KIND, announcement.id)
    message = outbox.Outgoing(
        dedup_key=f"{KIND}:{announcement.id}:report:{view}",
        chat_id=announcement.report_chat_id,
        action=OutboxAction.EDIT,
        target_message_id=announcement.report_message_id,
        payload=payload,
    )
    try:
        # Two processes (the handler and the worker) may look at once: one of them wins.
        async with session.begin_nested():
            await outbox.enqueue(session, REPORT_KIND, announcement.id, [message], now=now)
    except IntegrityError:
        return False
    announcement.report_view = view
    session.add(announcement)
    await session.flush()
    return True


# -- acknowledgements and the reminder --------------------------------------------------------


def _reached(announcement_id: int, member_id: int) -> Any:
    """The member was sent this announcement (their row went out)."""
    return exists().where(
        col(OutboxMessage.kind) == KIND,
        col(OutboxMessage.ref_id) == announcement_id,
        col(OutboxMessage.action) == OutboxAction.SEND,
        col(OutboxMessage.recipient_id) == member_id,
        col(OutboxMessage.state) == OutboxState.SENT,
    )


async def reached(session: AsyncSession, announcement: Announcement, member_id: int) -> bool:
    assert announcement.id is not None
    return bool((await session.exec(select(_reached(announcement.id, member_id)))).one())


async def acknowledge(
    session: AsyncSession, announcement_id: int, member: Member, *, now: datetime
) -> bool:
    """Record that the member acknowledged; True the first time, False after that. Only a
    member the announcement reached, while it asks for acknowledgement and stands."""
    announcement = await get(session, announcement_id)
    assert member.id is not None
    if not announcement.ask_ack or announcement.status != AnnouncementStatus.ACTIVE:
        raise ServiceError("announcement_not_found")
    if not await reached(session, announcement, member.id):
        raise ServiceError("announcement_not_found")
    already = (
        await session.exec(
            select(AnnouncementAck.id).where(
                AnnouncementAck.announcement_id == announcement_id,
                AnnouncementAck.member_id == member.id,
            )
        )
    ).first()
    if already is not None:
        return False
    connection = await session.connection()
    written = await connection.execute(
        insert_ignoring_conflicts(
            connection.dialect.name, AnnouncementAck, ["announcement_id", "member_id"]
        ).values(announcement_id=announcement_id, member_id=member.id, acknowledged_at=now)
    )
    # Nothing written: a double press, handled by two processes at once.
    return bool(written.rowcount == 1)


async def unacknowledged(session: AsyncSession, announcement: Announcement) -> list[Member]:
    """Members it reached who have not acknowledged, by country (none last), then name."""
    assert announcement.id is not None
    acked = select(AnnouncementAck.member_id).where(
        AnnouncementAck.announcement_id == announcement.id
    )
    reached = select(OutboxMessage.recipient_id).where(
        OutboxMessage.kind == KIND,
        OutboxMessage.ref_id == announcement.id,
        OutboxMessage.action == OutboxAction.SEND,
        OutboxMessage.state == OutboxState.SENT,
        col(OutboxMessage.recipient_id).is_not(None),
    )
    rows = await session.exec(
        select(Member).where(
            col(Member.id).in_(reached),
            col(Member.id).not_in(acked),
            Member.status != MemberStatus.REMOVED,
        )
    )
    order = {code: index for index, code in enumerate(countries.REGION)}
    return sorted(
        rows,
        key=lambda m: (
            m.country is None,
            order.get(m.country or "", len(order)),
            m.country or "",
            m.full_name.lower(),
            m.id or 0,
        ),
    )


def _ensure_acknowledgeable(announcement: Announcement, now: datetime) -> None:
    if announcement.status == AnnouncementStatus.CANCELLED:
        raise ServiceError("announcement_cancelled")
    if announcement.status == AnnouncementStatus.RECALLED:
        raise ServiceError("announcement_recalled")
    if not announcement.ask_ack:
        raise ServiceError("announcement_no_ack")
    if announcement.scheduled_at > now:
        raise ServiceError("announcement_not_sent_yet")


async def remind(
    session: AsyncSession,
    announcement: Announcement,
    *,
    now: datetime,
    compose: Compose,
) -> int:
    """One reminder, once per announcement, to everybody it reached who has not acknowledged."""
    _ensure_acknowledgeable(announcement, now)
    if announcement.reminded_at is not None:
        raise ServiceError("announcement_already_reminded")
    people = [m for m in await unacknowledged(session, announcement) if m.status == "active"]
    if not people:
        raise ServiceError("announcement_all_acknowledged")
    assert announcement.id is not None
    announcement.reminded_at = now
    session.add(announcement)
    await outbox.enqueue(
        session,
        REMINDER_KIND,
        announcement.id,
        [
            outbox.Outgoing(
                dedup_key=f"{KIND}:{announcement.id}:remind:{member.id}",
                chat_id=member.telegram_id,
                recipient_id=member.id,
                payload=compose(
                    announcement,
                    Recipient(member.telegram_id, member.id, member.language, member.timezone),
                ),
            )
            for member in people
        ],
        now=now,
    )
    return len(people)


# -- cancel and recall ------------------------------------------------------------------------


async def cancel(
    session: AsyncSession, announcement: Announcement, *, now: datetime, actor: Member | None = None
) -> int:
    """A scheduled announcement is withdrawn before its time: nothing of it will go out."""
    if announcement.status == AnnouncementStatus.CANCELLED:
        raise ServiceError("announcement_cancelled")
    if announcement.status == AnnouncementStatus.RECALLED:
        raise ServiceError("announcement_recalled")
    if announcement.scheduled_at <= now:
        raise ServiceError("announcement_already_sent")
    assert announcement.id is not None
    withdrawn = await outbox.cancel(session, KIND, announcement.id)
    announcement.status = AnnouncementStatus.CANCELLED
    announcement.cancelled_at = now
    session.add(announcement)
    await session.flush()
    await audit.record(
        session,
        AuditAction.ANNOUNCEMENT_CANCELLED,
        at=now,
        actor=actor,
        detail=f"announcement #{announcement.id}",
    )
    return withdrawn


async def first_sent_at(session: AsyncSession, announcement: Announcement) -> datetime | None:
    return (
        await session.exec(
            select(func.min(OutboxMessage.done_at)).where(
                OutboxMessage.kind == KIND,
                OutboxMessage.ref_id == announcement.id,
                OutboxMessage.action == OutboxAction.SEND,
                OutboxMessage.state == OutboxState.SENT,
            )
        )
    ).first()


def recall_deadline(sent_at: datetime) -> datetime:
    return sent_at + RECALL_WINDOW - RECALL_MARGIN


async def check_recall(session: AsyncSession, announcement: Announcement, now: datetime) -> None:
    """May it still be recalled? Standing, gone out, and within Telegram's 48 hours."""
    if announcement.status == AnnouncementStatus.CANCELLED:
        raise ServiceError("announcement_cancelled")
    if announcement.status == AnnouncementStatus.RECALLED:
        raise ServiceError("announcement_recalled")
    if announcement.scheduled_at > now:
        raise ServiceError("announcement_not_sent_yet")
    sent_at = await first_sent_at(session, announcement)
    if now >= recall_deadline(sent_at or announcement.scheduled_at):
        raise ServiceError("announcement_too_old_to_recall")


async def recall(
    session: AsyncSession, announcement: Announcement, *, now: datetime, actor: Member | None = None
) -> int:
    """Delete it from every chat it reached (within Telegram's 48 hours); what has not gone
    yet never will. Returns how many deletions were queued."""
    await check_recall(session, announcement, now)
    assert announcement.id is not None
    await outbox.cancel(session, KIND, announcement.id)
    await outbox.cancel(session, REMINDER_KIND, announcement.id)
    announcement.status = AnnouncementStatus.RECALLED
    announcement.recalled_at = now
    session.add(announcement)
    await session.flush()
    await audit.record(
        session,
        AuditAction.ANNOUNCEMENT_RECALLED,
        at=now,
        actor=actor,
        detail=f"announcement #{announcement.id}",
    )
    return await delete_sent(session, announcement, now=now)


async def delete_sent(session: AsyncSession, announcement: Announcement, *, now: datetime) -> int:
    """Queue the deletion of every message of a recalled announcement that went out, including
    one that was in flight when it was recalled (each is deleted once: the key says so)."""
    if announcement.status != AnnouncementStatus.RECALLED:
        return 0
    assert announcement.id is not None
    sent = [
        row
        for kind in (KIND, REMINDER_KIND)
        for row in await outbox.rows_for(session, kind, announcement.id, OutboxAction.SEND)
        if row.state == OutboxState.SENT and row.telegram_message_id is not None
    ]
    queued = await outbox.enqueue(
        session,
        KIND,
        announcement.id,
        [
            outbox.Outgoing(
                dedup_key=f"{KIND}:{announcement.id}:delete:{row.id}",
                chat_id=row.chat_id,
                recipient_id=row.recipient_id,
                action=OutboxAction.DELETE,
                target_message_id=row.telegram_message_id,
                payload={},
            )
            for row in sent
        ],
        now=now,
    )
    return len(queued)


# -- lists ------------------------------------------------------------------------------------


async def scheduled(session: AsyncSession, *, now: datetime) -> list[Announcement]:
    rows = await session.exec(
        select(Announcement)
        .where(Announcement.status == AnnouncementStatus.ACTIVE, Announcement.scheduled_at > now)
        .order_by(col(Announcement.scheduled_at), col(Announcement.id))
    )
    return list(rows)


async def recent(
    session: AsyncSession, *, now: datetime, limit: int = RECENT_SIZE
) -> list[Announcement]:
    """The latest that went out (or were cancelled or recalled), newest first."""
    rows = await session.exec(
        select(Announcement)
        .where(
            or_(
                Announcement.status != AnnouncementStatus.ACTIVE,
                col(Announcement.scheduled_at) <= now,
            )
        )
        .order_by(col(Announcement.scheduled_at).desc(), col(Announcement.id).desc())
        .limit(limit)
    )
    return list(rows)


def _readable_by(member_id: int, now: datetime) -> Any:
    """Gone out, standing, and sent to the member or addressed to everybody."""
    sent_to_member = exists().where(
        col(OutboxMessage.kind) == KIND,
        col(OutboxMessage.ref_id) == Announcement.id,
        col(OutboxMessage.action) == OutboxAction.SEND,
        col(OutboxMessage.recipient_id) == member_id,
        col(OutboxMessage.state) != OutboxState.CANCELLED,
    )
    return (
        (col(Announcement.status) == AnnouncementStatus.ACTIVE)
        & (col(Announcement.scheduled_at) <= now)
        & or_(col(Announcement.to_everyone), col(Announcement.to_group), sent_to_member)
    )


async def history(
    session: AsyncSession, member: Member, *, now: datetime, limit: int = HISTORY_SIZE
) -> list[Announcement]:
    assert member.id is not None
    rows = await session.exec(
        select(Announcement)
        .where(_readable_by(member.id, now))
        .order_by(col(Announcement.scheduled_at).desc(), col(Announcement.id).desc())
        .limit(limit)
    )
    return list(rows)


async def readable(
    session: AsyncSession, announcement_id: int, member: Member, *, now: datetime
) -> Announcement:
    """One announcement the member may read again (moderators may read any that went out)."""
    assert member.id is not None
    if not 0 < announcement_id <= MAX_ID:
        raise ServiceError("announcement_not_found")
    if Role(member.role).at_least(Role.MODERATOR):
        announcement = await get(session, announcement_id)
        if announcement.status == AnnouncementStatus.ACTIVE:
            return announcement
        raise ServiceError("announcement_not_found")
    found = (
        await session.exec(
            select(Announcement).where(
                Announcement.id == announcement_id, _readable_by(member.id, now)
            )
        )
    ).first()
    if found is None:
        raise ServiceError("announcement_not_found")
    return found


async def acknowledged_by(session: AsyncSession, announcement_id: int, member_id: int) -> bool:
    return (
        await session.exec(
            select(AnnouncementAck.id).where(
                AnnouncementAck.announcement_id == announcement_id,
                AnnouncementAck.member_id == member_id,
            )
        )
    ).first() is not None
