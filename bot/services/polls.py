"""Polls: quick polls (Telegram's own anonymous polls) and secret ballots (buttons in private
chats): opening them, the messages they were sent as, Telegram's tallies, votes, reminders,
closing at the deadline (`process_due`, which the scheduler calls), results and CSV.

Rows in the outbox are all of kind "poll" with ref_id the poll's id; their dedup keys say what
they are: `poll:<id>:quick:<member id|group>` (a quick poll's message, sent with sendPoll),
`poll:<id>:ballot:<member id>` (a secret ballot's buttons: being sent one is what makes a member
eligible), `poll:<id>:reminder:<member id>`, `poll:<id>:results:<member id|group>`,
`poll:<id>:cancelled:<member id|group>` and `poll:<id>:stop:<poll message id>` (stopPoll).
Rendering is the caller's: functions that queue messages take `compose`, which turns a
`PollNotice` into an outbox payload (for "quick" notices it carries the "poll" key).

Quick polls. Telegram's polls are anonymous: the bot never learns who voted. The poll is sent
once per chat (the group chat and/or members' private chats), one `PollMessage` each; Telegram's
poll updates give each message's latest counts, which replace the stored ones; the poll's tally
is the sum over its messages (a person who got it in two chats may vote twice: the bot cannot
know). At close, the result is stored and every message is stopped (stopPoll); a message that
was on its way at close is stopped as soon as it is recorded as sent.

Secret ballots: what is guaranteed (README, "Secret ballots: threat model").
- Who has voted and what was chosen are stored apart and never joined: `ballot_voters` holds
  (poll, voter) only (a member id, or a country code for one-vote-per-country ballots), to
  refuse a second vote and to remind those who have not voted; `ballot_counts` holds a counter
  per option, without a voter. Neither has a timestamp or a surrogate id; `ballot_voters` is
  WITHOUT ROWID on SQLite (its order is the key's, not the order of voting).
- `cast` (and `vote`, one request) inserts the voters and adds to the counters in ONE
  transaction, the caller's: a crash never leaves a vote counted without its voter or the
  reverse. A second vote is refused by the primary key itself (INSERT ... ON CONFLICT DO NOTHING
  RETURNING says which rows were new; nothing else is written for the others), which also holds
  between processes and concurrent updates. (Not a SAVEPOINT: on SQLite, through Python's
  sqlite3, a savepoint that is a transaction's first write begins the transaction and its
  RELEASE commits it, so the counters would be written in a second transaction.)
- Every transaction rewrites EVERY counter row of each ballot it votes in, with one UPDATE ...
  CASE (+n for the chosen options, +0 for the others): on PostgreSQL every counter's system
  column xmin is the last transaction's, for all options alike, and says nothing about which
  option was chosen; the same statement serializes the votes of one ballot on its counter rows.
  The bot's ballot box (bot/services/ballot_box.py) casts the votes that arrive together in one
  transaction (a group commit), which then links a set of voters to a sum of choices. On SQLite
  `secure_delete` is on (bot/db.py): overwritten values do not linger in free pages.
- Nothing in `Poll` changes per vote (only the counters do), except when the last eligible voter
  votes and the ballot closes. Nothing is queued per vote. This module logs poll ids and totals
  only, never a voter or a choice of a secret ballot; audit entries name no option.
- Results stay hidden while a ballot is open: handlers show counts only through `results`,
  which refuses an open secret ballot (poll_results_hidden). `tally` itself reads the live
  counters and is for this module (and for what a closed ballot shows); handlers must not show
  its counts for an open ballot.
- At close the result (counts, voters, eligible, quorum met) is stored in `Poll.results`, and the
  ballot's voters and counters are deleted: afterwards the database holds only the aggregate.
  A cancelled ballot keeps nothing.
What is NOT guaranteed: someone who watches the live database (or the bot's memory) while people
vote sees a voter row and counter changes appear together; on PostgreSQL, dead row versions and
the WAL keep earlier counter values (until VACUUM and WAL recycling) with their transaction ids,
which match the voter rows' xmin; on SQLite the -wal file keeps page images until it is
overwritten. The operator of the database server can therefore link votes while the data is
fresh; the design protects against everybody who sees the bot's messages, its logs, the tables
at any later moment through SQL, or a dump of them.

Eligibility of a secret ballot is fixed when it opens: the members it was sent to (its "ballot"
rows), still active; for one-vote-per-country ballots the focal points of the countries that had
an active focal point (`Poll.countries` then lists them), the first to vote casting the
country's vote. `Poll.eligible` is how many voters (or countries) that was.

Reminders (secret ballots): one, a day before the deadline, to eligible members who have not
voted (per country: focal points of countries that have not), recorded in `reminded_at`. A ballot
opened with less than a day to go gets none (reminded_at is set at open). A deadline that passed
while the bot was down closes the poll at the next `process_due`, without a reminder.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import case, delete, func, insert, or_, true, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.html_text import utf16_len
from bot.models import (
    AuditAction,
    BallotCount,
    BallotScope,
    BallotVoter,
    Member,
    MemberStatus,
    OutboxAction,
    OutboxMessage,
    OutboxState,
    Poll,
    PollKind,
    PollMessage,
    PollStatus,
    Role,
)
from bot.services import audit, countries, outbox, timezones
from bot.services.errors import ServiceError
from bot.services.meeting_input import clean_text
from bot.services.outbox import Recipient
from bot.services.sql import insert_ignoring_conflicts, lock_rows

log = logging.getLogger(__name__)

KIND = "poll"  # outbox kind of poll messages, ballots, reminders, results

QUESTION_LIMIT = 300
OPTION_LIMIT = 100
MIN_OPTIONS = 2
MAX_OPTIONS = 12
MAX_OPEN = timedelta(days=30)
DEFAULT_OPEN = timedelta(days=3)
REMIND_BEFORE = timedelta(days=1)
# Ids are 32-bit integers: a larger number (a forged button) names no poll.
MAX_ID = 2**31 - 1
SHOWN_LIMIT = 60


# -- what a moderator chose -------------------------------------------------------------------


@dataclass(frozen=True)
class PollAudience:
    """The group chat (quick polls only), everybody, focal points; countries narrow everybody
    and focal points to those countries (alone, they mean everybody there)."""

    group: bool = False
    everyone: bool = False
    focal_points: bool = False
    countries: frozenset[str] = frozenset()

    @property
    def has_members(self) -> bool:
        return self.everyone or self.focal_points or bool(self.countries)

    @property
    def chosen(self) -> bool:
        return self.group or self.has_members

    @classmethod
    def of(cls, poll: Poll) -> PollAudience:
        return cls(
            group=poll.to_group,
            everyone=poll.to_everyone,
            focal_points=poll.to_focal_points,
            countries=frozenset(poll.countries or ()),
        )


@dataclass
class PollDraft:
    question: str
    options: list[str]
    kind: PollKind = PollKind.QUICK
    multiple: bool = False
    # None: the group chat when one is configured, else everybody (secret ballots: everybody).
    audience: PollAudience | None = None
    scope: BallotScope = BallotScope.MEMBERS
    closes_at: datetime | None = None  # None: in DEFAULT_OPEN (3 days)
    quorum: int | None = None


@dataclass(frozen=True)
class Tally:
    counts: list[int]
    voters: int
    eligible: int | None  # None for quick polls: who could vote is unknown
    quorum_met: bool | None  # None: no quorum

    def as_json(self) -> dict[str, Any]:
        return {
            "counts": list(self.counts),
            "voters": self.voters,
            "eligible": self.eligible,
            "quorum_met": self.quorum_met,
        }


@dataclass(frozen=True)
class PollNotice:
    """What to compose: "quick" (the poll itself: the payload carries the "poll" key), "ballot"
    (question and buttons), "reminder", "results" (with the tally) or "cancelled"."""

    kind: str
    poll: Poll
    recipient: Recipient
    tally: Tally | None = None


Compose = Callable[[PollNotice], dict[str, Any]]


# -- the one-line form --------------------------------------------------------------------------

_FLAG = re.compile(r"(?:(?<=\s)|^)(?:--|—|–)([A-Za-z][A-Za-z_-]*)")
_FLAG_NAMES = {
    "secret": "secret", "ballot": "secret",
    "multi": "multi", "multiple": "multi",
    "audience": "audience", "for": "audience", "to": "audience",
    "per-country": "per_country", "per_country": "per_country", "percountry": "per_country",
    "quorum": "quorum",
    "close": "close", "closes": "close", "until": "close", "deadline": "close",
}  # fmt: skip
_SWITCHES = frozenset({"secret", "multi", "per_country"})
_AUDIENCE_WORDS = {
    "group": "group", "chat": "group",
    "all": "all", "everyone": "all", "everybody": "all", "members": "all",
    "focal": "focal", "fp": "focal", "focal_points": "focal", "focal-points": "focal",
}  # fmt: skip
_LENGTH = re.compile(
    r"(?:(?P<w>\d{1,2})\s*(?:w|wk|weeks?|н|нед))?\s*"
    r"(?:(?P<d>\d{1,3})\s*(?:d|days?|д|дн|дня|дней|день))?\s*"
    r"(?:(?P<h>\d{1,4})\s*(?:h|hrs?|hours?|ч|час|часа|часов))?\s*"
    r"(?:(?P<m>\d{1,5})\s*(?:m|mins?|minutes?|м|мин))?",
    re.IGNORECASE,
)
_MOMENTS = ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%d.%m.%Y %H:%M", "%Y/%m/%d %H:%M")
_DAYS = ("%Y-%m-%d", "%d.%m.%Y", "%Y/%m/%d")


def _shown(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SHOWN_LIMIT else text[: SHOWN_LIMIT - 1] + "…"


def parse_close(text: str, *, now: datetime, zone_name: str) -> datetime:
    """A deadline: a length of time from now ("3d", "36h", "2d12h", "90m") or a moment in the
    zone `zone_name` ("2026-12-03 18:00"; a date alone means the end of that day)."""
    value = " ".join(text.split())
    match = _LENGTH.fullmatch(value)
    if value and match and any(match.group(unit) for unit in "wdhm"):
        amounts = {unit: int(match.group(unit) or 0) for unit in "wdhm"}
        length = timedelta(
            weeks=amounts["w"], days=amounts["d"], hours=amounts["h"], minutes=amounts["m"]
        )
        return now + length
    zone = timezones.zone(zone_name, "UTC")
    for patterns, whole_day in ((_MOMENTS, False), (_DAYS, True)):
        for pattern in patterns:
            try:
                wall = datetime.strptime(value, pattern)
            except ValueError:
                continue
            if whole_day:
                wall = datetime.combine(wall.date(), time(23, 59))
            try:
                return wall.replace(tzinfo=zone).astimezone(now.tzinfo)
            except OverflowError:
                raise ServiceError("poll_close_unparseable", value=_shown(value)) from None
    raise ServiceError("poll_close_unparseable", value=_shown(value))


def parse_audience(text: str) -> PollAudience:
    """ "group", "all", "focal", country codes, or several ("focal,KZ": focal points of KZ)."""
    group = everyone = focal = False
    codes: set[str] = set()
    tokens = [t for t in re.split(r"[,\s;]+", text.strip()) if t]
    if not tokens:
        raise ServiceError("poll_flag_needs_value", flag="--audience")
    for token in tokens:
        word = _AUDIENCE_WORDS.get(token.lower())
        if word == "group":
            group = True
        elif word == "all":
            everyone = True
        elif word == "focal":
            focal = True
        else:
            code = countries.normalize(token)
            if code is None:
                raise ServiceError("poll_audience_unknown", value=_shown(token))
            codes.add(code)
    return PollAudience(
        group=group, everyone=everyone and not focal, focal_points=focal, countries=frozenset(codes)
    )


def _split_flags(text: str) -> tuple[str, dict[str, str]]:
    found = list(_FLAG.finditer(text))
    head = text[: found[0].start()] if found else text
    flags: dict[str, str] = {}
    for index, match in enumerate(found):
        end = found[index + 1].start() if index + 1 < len(found) else len(text)
        typed = "--" + _shown(match.group(1))
        name = _FLAG_NAMES.get(match.group(1).lower())
        if name is None:
            raise ServiceError("poll_flag_unknown", flag=typed)
        if name in flags:
            raise ServiceError("poll_flag_repeated", flag=typed)
        value = text[match.end() : end].strip()
        if name in _SWITCHES and value:
            raise ServiceError("poll_flag_takes_no_value", flag=typed)
        if name not in _SWITCHES and not value:
            raise ServiceError("poll_flag_needs_value", flag=typed)
        flags[name] = value
    return head, flags


def parse_quorum(text: str) -> int:
    value = text.strip()
    if not re.fullmatch(r"\d{1,6}", value) or int(value) < 1:
        raise ServiceError("poll_quorum_invalid", value=_shown(value))
    return int(value)


def parse_line(text: str, *, now: datetime, zone_name: str) -> PollDraft:
    """The one-line /poll (the text after the command):
    `Next meeting? | 3 Dec | 10 Dec | 17 Dec --close 3d`, with --secret, --multi,
    --audience group|all|focal|KZ,AF, --per-country, --quorum N, --close 3d|36h|2026-12-03 18:00
    (in `zone_name`). The draft is validated (see `validate`), except what needs the database."""
    head, flags = _split_flags(text)
    parts = head.split("|")
    question = clean_text(parts[0])
    options = [clean_text(part) for part in parts[1:]]
    if len(parts) == 2 and not options[0]:
        options = []
    draft = PollDraft(
        question=question,
        options=options,
        kind=PollKind.SECRET if "secret" in flags else PollKind.QUICK,
        multiple="multi" in flags,
    )
    if "per_country" in flags:
        draft.scope = BallotScope.COUNTRIES
    if "audience" in flags:
        draft.audience = parse_audience(flags["audience"])
    if "quorum" in flags:
        draft.quorum = parse_quorum(flags["quorum"])
    if "close" in flags:
        draft.closes_at = parse_close(flags["close"], now=now, zone_name=zone_name)
    validate(draft, now)
    return draft


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


def validate(draft: PollDraft, now: datetime) -> None:
    """Everything that can be checked without the database; raises the first problem."""
    question = clean_text(draft.question)
    if not question:
        raise ServiceError("poll_question_empty")
    if utf16_len(question) > QUESTION_LIMIT:
        raise ServiceError(
            "poll_question_too_long", limit=QUESTION_LIMIT, length=utf16_len(question)
        )
    options = [clean_text(option) for option in draft.options]
    if len(options) < MIN_OPTIONS:
        raise ServiceError("poll_too_few_options", min=MIN_OPTIONS)
    if len(options) > MAX_OPTIONS:
        raise ServiceError("poll_too_many_options", max=MAX_OPTIONS)
    seen: set[str] = set()
    for number, option in enumerate(options, start=1):
        if not option:
            raise ServiceError("poll_option_empty", number=number)
        if utf16_len(option) > OPTION_LIMIT:
            raise ServiceError("poll_option_too_long", number=number, limit=OPTION_LIMIT)
        if _key(option) in seen:
            raise ServiceError("poll_option_duplicate", option=_shown(option))
        seen.add(_key(option))
    if draft.closes_at is not None:
        if draft.closes_at.tzinfo is None:
            raise ValueError("PollDraft.closes_at must be timezone-aware")
        if draft.closes_at <= now:
            raise ServiceError("poll_close_past")
        if draft.closes_at - now > MAX_OPEN:
            raise ServiceError("poll_close_too_far", days=MAX_OPEN.days)
    if draft.quorum is not None and draft.quorum < 1:
        raise ServiceError("poll_quorum_invalid", value=str(draft.quorum))
    if draft.kind == PollKind.QUICK and draft.scope != BallotScope.MEMBERS:
        raise ServiceError("poll_scope_needs_secret")
    audience = draft.audience
    if audience is not None:
        if not audience.chosen:
            raise ServiceError("poll_no_audience")
        if draft.kind == PollKind.SECRET and audience.group:
            raise ServiceError("poll_secret_to_group")
        for code in audience.countries:
            if countries.normalize(code) != code:
                raise ServiceError("poll_audience_unknown", value=_shown(code))


# -- who -----------------------------------------------------------------------------------------


async def audience_members(session: AsyncSession, audience: PollAudience) -> list[Member]:
    """Active members the audience reaches, each once, by id (the group chat aside)."""
    if not audience.has_members:
        return []
    conditions = []
    narrowed = col(Member.country).in_(sorted(audience.countries))
    if audience.everyone or (audience.countries and not audience.focal_points):
        conditions.append(narrowed if audience.countries else true())
    if audience.focal_points:
        focal = col(Member.role) == Role.FOCAL_POINT.value
        conditions.append(focal & narrowed if audience.countries else focal)
    rows = await session.exec(
        select(Member)
        .where(Member.status == MemberStatus.ACTIVE, or_(*conditions))
        .order_by(col(Member.id))
    )
    return [m for m in rows if m.id is not None]


def _dedup(poll_id: int, what: str, recipient: Recipient | int | None) -> str:
    if isinstance(recipient, Recipient):
        recipient = recipient.member_id
    return f"{KIND}:{poll_id}:{what}:{'group' if recipient is None else recipient}"


async def _recipient_ids(
    session: AsyncSession, poll_id: int, what: str, *, cancelled: bool = True
) -> list[int]:
    """Members sent a message of the poll, by purpose ("quick", "ballot")."""
    query = select(OutboxMessage.recipient_id).where(
        col(OutboxMessage.kind) == KIND,
        col(OutboxMessage.ref_id) == poll_id,
        col(OutboxMessage.dedup_key).startswith(f"{KIND}:{poll_id}:{what}:"),
        col(OutboxMessage.recipient_id).is_not(None),
    )
    if not cancelled:
        query = query.where(col(OutboxMessage.state) != OutboxState.CANCELLED.value)
    return sorted({int(i) for i in (await session.exec(query)).all() if i is not None})


async def _active(session: AsyncSession, ids: list[int]) -> list[Member]:
    if not ids:
        return []
    rows = await session.exec(
        select(Member)
        .where(col(Member.id).in_(ids), Member.status == MemberStatus.ACTIVE)
        .order_by(col(Member.id))
    )
    return list(rows)


# -- opening -------------------------------------------------------------------------------------


async def open_poll(
    session: AsyncSession,
    author: Member,
    draft: PollDraft,
    *,
    now: datetime,
    group_chat_id: int | None,
    compose: Compose,
) -> Poll:
    """Write the poll and queue its messages (quick) or ballots (secret), in the caller's
    transaction."""
    validate(draft, now)
    secret = draft.kind == PollKind.SECRET
    audience = draft.audience
    if audience is None:
        default_group = not secret and group_chat_id is not None
        audience = PollAudience(group=default_group, everyone=not default_group)
    if audience.group and group_chat_id is None:
        raise ServiceError("poll_no_group")
    members = await audience_members(session, audience)
    if audience.has_members and not members:
        raise ServiceError("poll_audience_empty")
    voters_countries: list[str] = []
    if secret:
        if draft.scope in (BallotScope.FOCAL_POINTS, BallotScope.COUNTRIES):
            members = [m for m in members if m.role == Role.FOCAL_POINT.value]
        if draft.scope == BallotScope.COUNTRIES:
            members = [m for m in members if m.country]
            voters_countries = sorted({m.country for m in members if m.country})
            eligible = len(voters_countries)
        else:
            eligible = len(members)
        if eligible == 0:
            raise ServiceError("poll_audience_empty")
    else:
        eligible = len(members)
    if draft.quorum is not None and (secret or not audience.group) and draft.quorum > eligible:
        raise ServiceError("poll_quorum_too_high", quorum=draft.quorum, eligible=eligible)
    closes_at = draft.closes_at or now + DEFAULT_OPEN
    by_country = secret and draft.scope == BallotScope.COUNTRIES
    poll = Poll(
        kind=draft.kind,
        question=clean_text(draft.question),
        options=[clean_text(option) for option in draft.options],
        multiple=draft.multiple,
        to_group=audience.group and not secret,
        to_everyone=audience.everyone and not by_country,
        to_focal_points=audience.focal_points or (secret and draft.scope != BallotScope.MEMBERS),
        countries=voters_countries if by_country else sorted(audience.countries),
        scope=draft.scope if secret else BallotScope.MEMBERS,
        eligible=eligible,
        quorum=draft.quorum,
        status=PollStatus.OPEN,
        created_by_id=author.id,
        created_at=now,
        closes_at=closes_at,
        # Less than a day to go: the ballot itself is the reminder.
        reminded_at=now if secret and closes_at - REMIND_BEFORE <= now else None,
    )
    session.add(poll)
    await session.flush()
    assert poll.id is not None
    chats = [Recipient.of(m) for m in members]
    if secret:
        await (await session.connection()).execute(
            insert(BallotCount),
            [{"poll_id": poll.id, "option": i, "count": 0} for i in range(len(poll.options))],
        )
        notice_kind = "ballot"
    else:
        if poll.to_group and group_chat_id is not None:
            chats.append(Recipient(group_chat_id))
        for chat in chats:
            session.add(PollMessage(poll_id=poll.id, chat_id=chat.chat_id, counts=[], voters=0))
        notice_kind = "quick"
    await outbox.enqueue(
        session,
        KIND,
        poll.id,
        [
            outbox.Outgoing(
                dedup_key=_dedup(poll.id, notice_kind, chat),
                chat_id=chat.chat_id,
                recipient_id=chat.member_id,
                payload=compose(PollNotice(notice_kind, poll, chat)),
            )
            for chat in chats
        ],
        now=now,
    )
    await audit.record(
        session,
        AuditAction.POLL_OPENED,
        at=now,
        actor=author,
        detail=f"poll #{poll.id}: {poll.kind}, {len(poll.options)} options, to {len(chats)} "
        f"chat(s), closes {closes_at:%Y-%m-%d %H:%M} UTC",
    )
    await session.flush()
    log.info("poll %s opened: %s, %s chat(s)", poll.id, poll.kind, len(chats))
    return poll


async def find(session: AsyncSession, poll_id: int) -> Poll | None:
    if not 0 < poll_id <= MAX_ID:
        return None
    return await session.get(Poll, poll_id)


async def get(session: AsyncSession, poll_id: int) -> Poll:
    poll = await find(session, poll_id)
    if poll is None:
        raise ServiceError("poll_not_found")
    return poll


# -- quick polls: Telegram's side ----------------------------------------------------------------


async def record_sent(
    session: AsyncSession, poll_id: int, chat_id: int, message_id: int, telegram_poll_id: str
) -> None:
    """A quick poll's message went out (the delivery worker's hook): remember its message and
    Telegram's poll id. One that went out after the poll closed is stopped at once."""
    poll = await find(session, poll_id)
    if poll is None or poll.kind != PollKind.QUICK:
        return
    message = (
        await session.exec(
            select(PollMessage).where(
                PollMessage.poll_id == poll_id, PollMessage.chat_id == chat_id
            )
        )
    ).first()
    if message is None:
        message = PollMessage(poll_id=poll_id, chat_id=chat_id, counts=[], voters=0)
    message.message_id = message_id
    message.telegram_poll_id = telegram_poll_id[:64]
    session.add(message)
    await session.flush()
    if poll.status != PollStatus.OPEN and not message.stopped:
        await _stop(session, poll, [message], now=poll.closed_at or poll.created_at)


def _counts(values: list[int], size: int) -> list[int]:
    counts = [max(0, int(v)) for v in values[:size]]
    return counts + [0] * (size - len(counts))


async def record_poll_update(
    session: AsyncSession, telegram_poll_id: str, counts: list[int], voters: int, closed: bool
) -> Poll | None:
    """Telegram's poll update for one message: its latest counts replace the stored ones.
    None when the poll id names none of ours."""
    message = (
        await session.exec(
            select(PollMessage).where(PollMessage.telegram_poll_id == telegram_poll_id[:64])
        )
    ).first()
    if message is None:
        return None
    poll = await session.get(Poll, message.poll_id)
    if poll is None:
        return None
    message.counts = _counts(counts, len(poll.options))
    message.voters = max(0, int(voters))
    if closed:
        message.stopped = True
    session.add(message)
    await session.flush()
    if poll.status == PollStatus.CLOSED and poll.kind == PollKind.QUICK:
        # Votes that came in between the close and the stop: the stored result follows.
        poll.results = (await _live_tally(session, poll)).as_json()
        session.add(poll)
        await session.flush()
    return poll


# -- secret ballots: votes -----------------------------------------------------------------------


def _check_choices(poll: Poll, choices: list[int]) -> list[int]:
    chosen = sorted(set(choices))
    if (
        not chosen
        or len(chosen) != len(choices)
        or any(not 0 <= c < len(poll.options) for c in chosen)
        or (not poll.multiple and len(chosen) > 1)
    ):
        raise ServiceError("poll_bad_choice")
    return chosen


def _insert_voter(dialect: str) -> Any:
    return insert_ignoring_conflicts(dialect, BallotVoter, ["poll_id", "voter"])


@dataclass(frozen=True, slots=True)
class VoteRequest:
    """One press of a ballot's button: who (their row, loaded in the casting session), which
    ballot, which options."""

    poll_id: int
    member: Member
    choices: tuple[int, ...]


@dataclass(slots=True)
class Cast:
    """What became of one `VoteRequest`: counted (`refused` None) or why not, and its ballot
    (None when no such poll)."""

    poll: Poll | None
    refused: ServiceError | None = None


def _already(poll: Poll) -> ServiceError:
    by_country = poll.scope == BallotScope.COUNTRIES
    return ServiceError("poll_country_voted" if by_country else "poll_already_voted")


async def _polls_by_id(session: AsyncSession, ids: set[int]) -> dict[int, Poll]:
    wanted = [i for i in ids if 0 < i <= MAX_ID]
    if not wanted:
        return {}
    # Locked, and read afresh: see `_lock`.
    await lock_rows(session, Poll.__table__, wanted)  # type: ignore[attr-defined]
    rows = await session.exec(
        select(Poll)
        .where(col(Poll.id).in_(sorted(wanted)))
        .execution_options(populate_existing=True)
    )
    return {p.id: p for p in rows if p.id is not None}


async def _sent_ballots(session: AsyncSession, keys: list[str]) -> set[str]:
    """Which of these "ballot" dedup keys exist: being sent a ballot is being eligible."""
    if not keys:
        return set()
    rows = await session.exec(
        select(OutboxMessage.dedup_key).where(col(OutboxMessage.dedup_key).in_(keys))
    )
    return {k for k in rows if k is not None}


def _voter_key(poll: Poll, member: Member) -> str | None:
    if member.id is None or member.status != MemberStatus.ACTIVE:
        return None
    if poll.scope == BallotScope.COUNTRIES:
        if not member.country or member.country not in (poll.countries or ()):
            return None
        return member.country
    return str(member.id)


async def cast(
    session: AsyncSession,
    requests: Sequence[VoteRequest],
    *,
    now: datetime,
    group_chat_id: int | None = None,
    compose: Compose | None = None,
) -> list[Cast]:
    """Cast several secret votes in the caller's ONE transaction (a group commit, see
    `bot/services/ballot_box.py`): for each request, in order, its ballot and None (counted) or
    why it was refused. A refused request writes nothing; the others are written together.

    What is written is what the module's docstring says, for the whole batch at once: one
    multi-row INSERT of voters (`ON CONFLICT DO NOTHING RETURNING` says which were new: a second
    vote, also one by the same person within the batch, is refused by the key), then per ballot
    ONE UPDATE of every counter with the batch's summed increments. The transaction therefore
    links a set of voters to a sum of choices, never one voter to one choice, even for someone
    reading PostgreSQL's xmin.

    When every eligible voter of a ballot has voted it closes: at once when `compose` is given
    (the results are queued), else its deadline becomes `now` and the next `process_due` closes
    it (the caller should wake the scheduler)."""
    ballots = await _polls_by_id(session, {r.poll_id for r in requests})
    results = [Cast(ballots.get(r.poll_id)) for r in requests]
    checked: list[tuple[int, Poll, list[int]]] = []
    for index, request in enumerate(requests):
        poll = ballots.get(request.poll_id)
        try:
            if poll is None:
                raise ServiceError("poll_not_found")
            if poll.kind != PollKind.SECRET:
                raise ServiceError("poll_not_secret")
            if poll.status != PollStatus.OPEN or now >= poll.closes_at:
                raise ServiceError("poll_closed")
            chosen = _check_choices(poll, list(request.choices))
        except ServiceError as error:
            results[index].refused = error
            continue
        checked.append((index, poll, chosen))
    sent = await _sent_ballots(
        session,
        [
            _dedup(poll.id, "ballot", requests[i].member.id)  # type: ignore[arg-type]
            for i, poll, _ in checked
            if requests[i].member.id is not None
        ],
    )
    rows: list[dict[str, Any]] = []
    wanted: dict[tuple[int, str], tuple[int, list[int]]] = {}
    for index, poll, chosen in checked:
        member = requests[index].member
        assert poll.id is not None
        voter = _voter_key(poll, member)
        if voter is None or _dedup(poll.id, "ballot", member.id) not in sent:
            results[index].refused = ServiceError("poll_not_eligible")
        elif (poll.id, voter) in wanted:
            # The same voter twice in one batch: the first press counts.
            results[index].refused = _already(poll)
        else:
            wanted[(poll.id, voter)] = (index, chosen)
            rows.append({"poll_id": poll.id, "voter": voter})
    if not rows:
        return results
    connection = await session.connection()
    table = BallotVoter.__table__  # type: ignore[attr-defined]
    inserted = await connection.execute(
        _insert_voter(connection.dialect.name)
        .values(rows)
        .returning(table.c.poll_id, table.c.voter)
    )
    new = {(int(poll_id), str(voter)) for poll_id, voter in inserted.all()}
    increments: dict[int, list[int]] = {}
    for key, (index, chosen) in wanted.items():
        poll = ballots[key[0]]
        if key not in new:
            # Nothing was written for it: the primary key refused a second vote.
            results[index].refused = _already(poll)
            continue
        added = increments.setdefault(key[0], [0] * len(poll.options))
        for option in chosen:
            added[option] += 1
    for poll_id in sorted(increments):
        await _add_to_counters(connection, poll_id, increments[poll_id])
    for poll_id in sorted(increments):
        poll = ballots[poll_id]
        # After the counters: on PostgreSQL that UPDATE waited for every earlier vote of this
        # ballot to commit, so the last voter sees them all.
        if await _voters(session, poll_id) >= poll.eligible:
            if compose is not None:
                await close(session, poll, now=now, actor=None, group_chat_id=group_chat_id,
                            compose=compose)  # fmt: skip
            else:
                poll.closes_at = now
                poll.reminded_at = poll.reminded_at or now
                session.add(poll)
                await session.flush()
    return results


async def _add_to_counters(connection: AsyncConnection, poll_id: int, added: list[int]) -> None:
    """Rewrite EVERY counter of the ballot, adding `added[option]` (zero for most)."""
    table = BallotCount.__table__  # type: ignore[attr-defined]
    if connection.dialect.name == "postgresql":
        # Lock the counters in one order for every batch: one UPDATE of several rows locks them
        # in whatever order it finds them, and two batches could wait for each other.
        await connection.execute(
            select(table.c.option)
            .where(table.c.poll_id == poll_id)
            .order_by(table.c.option)
            .with_for_update()
        )
    increment = case(
        {option: count for option, count in enumerate(added) if count},
        value=table.c.option,
        else_=0,
    )
    await connection.execute(
        update(table).where(table.c.poll_id == poll_id).values(count=table.c.count + increment)
    )


async def vote(
    session: AsyncSession,
    poll: Poll,
    member: Member,
    choices: list[int],
    *,
    now: datetime,
    group_chat_id: int | None = None,
    compose: Compose | None = None,
) -> None:
    """Cast one member's vote in a secret ballot (`cast` with one request): raises why it was
    refused."""
    assert poll.id is not None
    (result,) = await cast(
        session,
        [VoteRequest(poll.id, member, tuple(choices))],
        now=now,
        group_chat_id=group_chat_id,
        compose=compose,
    )
    if result.refused is not None:
        raise result.refused


async def _voters(session: AsyncSession, poll_id: int) -> int:
    return int(
        (
            await session.exec(
                select(func.count()).select_from(BallotVoter).where(BallotVoter.poll_id == poll_id)
            )
        ).one()
    )


async def has_voted(session: AsyncSession, poll: Poll, member: Member) -> bool:
    """Whether the member (for one vote per country: their country) has voted in an open
    secret ballot. Always False for quick polls, and once a ballot closed (voters are then
    forgotten)."""
    if poll.kind != PollKind.SECRET or poll.id is None or member.id is None:
        return False
    key = member.country if poll.scope == BallotScope.COUNTRIES else str(member.id)
    if not key:
        return False
    found = await session.exec(
        select(BallotVoter.voter).where(BallotVoter.poll_id == poll.id, BallotVoter.voter == key)
    )
    return found.first() is not None


# -- tallies -------------------------------------------------------------------------------------


def _quorum_met(poll: Poll, voters: int) -> bool | None:
    return None if poll.quorum is None else voters >= poll.quorum


async def _live_tally(session: AsyncSession, poll: Poll) -> Tally:
    assert poll.id is not None
    size = len(poll.options)
    if poll.kind == PollKind.QUICK:
        counts = [0] * size
        voters = 0
        for message in await session.exec(
            select(PollMessage).where(PollMessage.poll_id == poll.id)
        ):
            for i, n in enumerate(_counts(message.counts or [], size)):
                counts[i] += n
            voters += message.voters
        return Tally(counts, voters, None, _quorum_met(poll, voters))
    counts = [0] * size
    for option, count in await session.exec(
        select(BallotCount.option, BallotCount.count).where(BallotCount.poll_id == poll.id)
    ):
        if 0 <= option < size:
            counts[option] = count
    voters = await _voters(session, poll.id)
    return Tally(counts, voters, poll.eligible, _quorum_met(poll, voters))


def _stored_tally(poll: Poll) -> Tally:
    stored = poll.results or {}
    return Tally(
        counts=_counts(list(stored.get("counts") or []), len(poll.options)),
        voters=int(stored.get("voters") or 0),
        eligible=stored.get("eligible"),
        quorum_met=stored.get("quorum_met"),
    )


async def tally(session: AsyncSession, poll: Poll) -> Tally:
    """Quick polls: the sum over their messages; secret ballots: the counters (the stored
    result once closed). For an open secret ballot this is NOT for showing: use `results`."""
    if poll.results is not None:
        return _stored_tally(poll)
    return await _live_tally(session, poll)


async def results(session: AsyncSession, poll: Poll) -> Tally:
    """What may be shown: any quick poll's tally, a secret ballot's only once it closed."""
    if poll.kind == PollKind.SECRET and poll.status != PollStatus.CLOSED:
        raise ServiceError("poll_results_hidden")
    return await tally(session, poll)


# -- closing, cancelling -------------------------------------------------------------------------


async def _stop(
    session: AsyncSession, poll: Poll, messages: list[PollMessage], *, now: datetime
) -> None:
    assert poll.id is not None
    stops = []
    for message in messages:
        if message.stopped or message.message_id is None:
            continue
        message.stopped = True
        session.add(message)
        stops.append(
            outbox.Outgoing(
                dedup_key=f"{KIND}:{poll.id}:stop:{message.id}",
                chat_id=message.chat_id,
                action=OutboxAction.STOP_POLL,
                target_message_id=message.message_id,
                payload={},
            )
        )
    await outbox.enqueue(session, KIND, poll.id, stops, now=now)
    await session.flush()


async def _told(session: AsyncSession, poll: Poll, *, group_chat_id: int | None) -> list[Recipient]:
    """Who hears how it ended: the members it reached (or was on its way to), its author, and
    the group chat for a poll sent there."""
    assert poll.id is not None
    what = "ballot" if poll.kind == PollKind.SECRET else "quick"
    ids = await _recipient_ids(session, poll.id, what, cancelled=False)
    if poll.created_by_id is not None and poll.created_by_id not in ids:
        ids.append(poll.created_by_id)
    chats = [Recipient.of(m) for m in await _active(session, ids)]
    if poll.to_group and group_chat_id is not None:
        chats.append(Recipient(group_chat_id))
    return chats


async def _end(session: AsyncSession, poll: Poll, status: PollStatus, now: datetime) -> None:
    """Stop what has not gone out yet, stop the quick poll's messages, forget the voters."""
    assert poll.id is not None
    poll.status = status
    poll.closed_at = now
    session.add(poll)
    await session.flush()
    await outbox.cancel(session, KIND, poll.id)
    if poll.kind == PollKind.QUICK:
        messages = list(
            await session.exec(select(PollMessage).where(PollMessage.poll_id == poll.id))
        )
        await _stop(session, poll, messages, now=now)
    else:
        await session.exec(delete(BallotVoter).where(col(BallotVoter.poll_id) == poll.id))  # type: ignore[call-overload]
        await session.exec(delete(BallotCount).where(col(BallotCount.poll_id) == poll.id))  # type: ignore[call-overload]


async def _notify(
    session: AsyncSession,
    poll: Poll,
    what: str,
    chats: list[Recipient],
    *,
    now: datetime,
    compose: Compose,
    result: Tally | None = None,
) -> None:
    assert poll.id is not None
    await outbox.enqueue(
        session,
        KIND,
        poll.id,
        [
            outbox.Outgoing(
                dedup_key=_dedup(poll.id, what, chat),
                chat_id=chat.chat_id,
                recipient_id=chat.member_id,
                payload=compose(PollNotice(what, poll, chat, result)),
            )
            for chat in chats
        ],
        now=now,
    )


async def _lock(session: AsyncSession, poll: Poll) -> None:
    """Read the poll again, locked until the transaction ends: a close, a cancel and a batch of
    votes on the same poll take turns, and each sees what the one before it did (a vote is
    counted in the result, or refused as too late; never told "recorded" and then lost)."""
    assert poll.id is not None
    await session.flush()
    await lock_rows(session, Poll.__table__, [poll.id])  # type: ignore[attr-defined]
    await session.refresh(poll)


async def close(
    session: AsyncSession,
    poll: Poll,
    *,
    now: datetime,
    actor: Member | None,
    group_chat_id: int | None,
    compose: Compose,
) -> Poll:
    """Close an open poll (deadline, a moderator, or every voter voted): store the result,
    stop its messages, queue the results notice."""
    await _lock(session, poll)
    if poll.status != PollStatus.OPEN:
        raise ServiceError("poll_closed")
    result = await _live_tally(session, poll)
    chats = await _told(session, poll, group_chat_id=group_chat_id)
    poll.results = result.as_json()
    await _end(session, poll, PollStatus.CLOSED, now)
    await _notify(session, poll, "results", chats, now=now, compose=compose, result=result)
    await audit.record(
        session,
        AuditAction.POLL_CLOSED,
        at=now,
        actor=actor,
        detail=f"poll #{poll.id} closed: {result.voters} voted"
        + (f" of {result.eligible}" if result.eligible is not None else "")
        + ("" if actor is not None else " (deadline or all voted)"),
    )
    log.info("poll %s closed: %s voter(s), totals %s", poll.id, result.voters, result.counts)
    return poll


async def cancel(
    session: AsyncSession, poll: Poll, *, now: datetime, actor: Member | None, compose: Compose,
    group_chat_id: int | None = None,
) -> None:  # fmt: skip
    """Withdraw an open poll: no result is kept (a ballot's counters are deleted); those it
    reached are told; its quick-poll messages are stopped."""
    await _lock(session, poll)
    if poll.status != PollStatus.OPEN:
        raise ServiceError("poll_closed")
    chats = await _told(session, poll, group_chat_id=group_chat_id)
    poll.results = None
    await _end(session, poll, PollStatus.CANCELLED, now)
    await _notify(session, poll, "cancelled", chats, now=now, compose=compose)
    await audit.record(
        session, AuditAction.POLL_CLOSED, at=now, actor=actor, detail=f"poll #{poll.id} cancelled"
    )
    log.info("poll %s cancelled", poll.id)


# -- lists ---------------------------------------------------------------------------------------


async def open_for(
    session: AsyncSession, member: Member, *, now: datetime
) -> list[tuple[Poll, bool | None]]:
    """Open polls the member may see (sent to them or to the group chat; moderators see all),
    soonest deadline first, with whether they voted: None for quick polls (the bot cannot know)
    and for ballots they may not vote in."""
    assert member.id is not None
    polls = list(
        await session.exec(
            select(Poll)
            .where(Poll.status == PollStatus.OPEN)
            .order_by(col(Poll.closes_at), col(Poll.id))
        )
    )
    if not polls:
        return []
    ids = [p.id for p in polls]
    received = set(
        (
            await session.exec(
                select(OutboxMessage.dedup_key).where(
                    col(OutboxMessage.kind) == KIND,
                    col(OutboxMessage.ref_id).in_(ids),
                    col(OutboxMessage.recipient_id) == member.id,
                    col(OutboxMessage.action) == OutboxAction.SEND.value,
                )
            )
        ).all()
    )
    keys = [str(member.id)] + ([member.country] if member.country else [])
    voted = {
        (poll_id, voter)
        for poll_id, voter in await session.exec(
            select(BallotVoter.poll_id, BallotVoter.voter).where(
                col(BallotVoter.poll_id).in_(ids), col(BallotVoter.voter).in_(keys)
            )
        )
    }
    moderator = Role(member.role).at_least(Role.MODERATOR)
    found: list[tuple[Poll, bool | None]] = []
    for poll in polls:
        assert poll.id is not None
        if poll.kind == PollKind.QUICK:
            if moderator or poll.to_group or _dedup(poll.id, "quick", member.id) in received:
                found.append((poll, None))
            continue
        eligible = _dedup(poll.id, "ballot", member.id) in received and (
            poll.scope != BallotScope.COUNTRIES or member.country in (poll.countries or ())
        )
        if eligible:
            key = member.country if poll.scope == BallotScope.COUNTRIES else str(member.id)
            found.append((poll, (poll.id, key) in voted))
        elif moderator:
            found.append((poll, None))
    return found


# -- time ----------------------------------------------------------------------------------------


async def _remind(session: AsyncSession, poll: Poll, *, now: datetime, compose: Compose) -> int:
    assert poll.id is not None
    people = await _active(session, await _recipient_ids(session, poll.id, "ballot"))
    voted = set(
        (await session.exec(select(BallotVoter.voter).where(BallotVoter.poll_id == poll.id))).all()
    )
    by_country = poll.scope == BallotScope.COUNTRIES
    waiting = [
        m
        for m in people
        if (
            (m.country in (poll.countries or ()) and m.country not in voted)
            if by_country
            else str(m.id) not in voted
        )
    ]
    poll.reminded_at = now
    session.add(poll)
    await _notify(
        session, poll, "reminder", [Recipient.of(m) for m in waiting], now=now, compose=compose
    )
    await session.flush()
    log.info("poll %s: reminder to %s member(s)", poll.id, len(waiting))
    return len(waiting)


async def process_due(
    session: AsyncSession, *, now: datetime, group_chat_id: int | None, compose: Compose
) -> int:
    """Close the polls whose deadline has come; remind those who have not voted in a secret
    ballot a day before its deadline (once). Returns how many polls it handled."""
    handled = 0
    due = list(
        await session.exec(
            select(Poll)
            .where(Poll.status == PollStatus.OPEN, col(Poll.closes_at) <= now)
            .order_by(col(Poll.closes_at), col(Poll.id))
        )
    )
    for poll in due:
        try:
            await close(session, poll, now=now, actor=None, group_chat_id=group_chat_id,
                        compose=compose)  # fmt: skip
        except ServiceError:
            continue  # closed or cancelled meanwhile, by a moderator or another process
        handled += 1
    to_remind = list(
        await session.exec(
            select(Poll)
            .where(
                Poll.status == PollStatus.OPEN,
                Poll.kind == PollKind.SECRET.value,
                col(Poll.reminded_at).is_(None),
                col(Poll.closes_at) > now,
            )
            .order_by(col(Poll.id))
        )
    )
    for poll in to_remind:
        if poll.closes_at - REMIND_BEFORE <= now:
            await _remind(session, poll, now=now, compose=compose)
            handled += 1
    return handled


async def next_due(session: AsyncSession) -> datetime | None:
    """The next deadline or ballot reminder."""
    moments: list[datetime] = []
    rows = await session.exec(
        select(Poll.closes_at, Poll.kind, Poll.reminded_at).where(Poll.status == PollStatus.OPEN)
    )
    for closes_at, kind, reminded_at in rows:
        moments.append(closes_at)
        if kind == PollKind.SECRET and reminded_at is None:
            moments.append(closes_at - REMIND_BEFORE)
    return min(moments, default=None)


async def rebuild(session: AsyncSession, *, now: datetime) -> None:
    """Nothing is stored that would need recomputing: the deadlines are the rows."""
    return None


# -- export --------------------------------------------------------------------------------------


def _cell(text: str) -> str:
    """A spreadsheet must not take a cell for a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def results_csv(poll: Poll, tally: Tally) -> str:
    """option, votes, share (of voters, in percent); then voters, eligible and quorum.
    Totals only: nothing about who voted."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["option", "votes", "share"])
    counts = _counts(list(tally.counts), len(poll.options))
    for text, count in zip(poll.options, counts, strict=True):
        share = f"{100 * count / tally.voters:.1f}" if tally.voters else "0.0"
        writer.writerow([_cell(text), count, share])
    writer.writerow([])
    writer.writerow(["voters", tally.voters, ""])
    writer.writerow(["eligible", "" if tally.eligible is None else tally.eligible, ""])
    met = {True: "met", False: "not met", None: ""}[tally.quorum_met]
    writer.writerow(["quorum", "" if poll.quorum is None else poll.quorum, met])
    return out.getvalue()
