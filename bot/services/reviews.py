"""Reminding moderators of what waits for their review: glossary suggestions and proposed
resources still pending REVIEW_REMINDER_DAYS after they came in.

Policy. An item falls due `days` after it came in, and again `days` after each reminder
(`reminded_at`). When anything falls due, every moderator gets one digest (through the outbox)
that counts the items due, and those that would fall due later the same (UTC) day ("3 glossary
suggestions and 2 proposed resources wait for a review, the oldest since ..."), and each item
counted is marked reminded: so an item is in at most one digest per period, and items that
fall due on the same day share one. A moderator gets at most one digest a day (the outbox
dedup key is per moderator and UTC day, which also keeps a restart or a second scheduler from
sending it twice): should the day's digest have gone already, what fell due since waits for
the next day's. Approved or rejected items remind nobody. Nothing is lost while the bot is
down: due items are found by their times at the next pass, and one digest covers them all.

The scheduler (bot/scheduler.py, `review_source`) calls `process_due`, `next_due` and
`rebuild`; wording the digest is the handler module's `compose` callback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, type_coerce
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.models import Role
from bot.models.knowledge import GlossarySuggestion, Resource, ResourceStatus, ReviewStatus
from bot.models.types import UTCDateTime
from bot.services import members, outbox
from bot.services.outbox import Recipient

log = logging.getLogger(__name__)

KIND = "review_reminder"
# Items marked in one pass at most (a backlog is reminded in a few passes, each its own digest
# count; the scheduler runs passes until nothing is due).
BATCH = 1000


@dataclass(frozen=True)
class Digest:
    """What one moderator is told: how many of each wait for a review (not reminded of within
    the period), since when the oldest of them waits, and how many wait in all."""

    recipient: Recipient
    suggestions: int
    resources: int
    oldest: datetime
    days: int
    total: int = 0


Compose = Callable[[Digest], dict[str, Any]]

Waiting = GlossarySuggestion | Resource


def _since(model: type[Waiting]) -> Any:
    """When an item last started its wait: its last reminder, else when it came in."""
    return type_coerce(func.coalesce(col(model.reminded_at), col(model.created_at)), UTCDateTime())


def _pending(model: type[Waiting]) -> Any:
    if model is Resource:
        return col(Resource.status) == ResourceStatus.PENDING.value
    return col(GlossarySuggestion.status) == ReviewStatus.PENDING.value


async def _rows(session: AsyncSession, model: type[Waiting], *condition: Any) -> list[Any]:
    rows = await session.exec(
        select(model)
        .where(_pending(model), *condition)
        .order_by(col(model.created_at), col(model.id))
        .limit(BATCH)
    )
    return list(rows)


def _day_key(now: datetime, member_id: int | None) -> str:
    return f"{KIND}:{now.astimezone(UTC):%Y%m%d}:{member_id}"


async def process_due(session: AsyncSession, *, now: datetime, days: int, compose: Compose) -> int:
    """Queue the digests that are due (see the module's policy); returns how many items were
    handled (0: nothing was due)."""
    period = timedelta(days=days)
    due: list[Waiting] = [
        *await _rows(session, GlossarySuggestion, _since(GlossarySuggestion) <= now - period),
        *await _rows(session, Resource, _since(Resource) <= now - period),
    ]
    if not due:
        return 0
    # The digest also takes what would fall due later today: one message instead of two.
    midnight = datetime.combine(now.astimezone(UTC).date() + timedelta(days=1), time(), UTC)
    suggestions = await _rows(
        session, GlossarySuggestion, _since(GlossarySuggestion) < midnight - period
    )
    resources = await _rows(session, Resource, _since(Resource) < midnight - period)
    batch: Sequence[Waiting] = [*suggestions, *resources]
    total_suggestions, total_resources = await counts(session)
    moderators = await members.with_role_at_least(session, Role.MODERATOR)
    messages = [
        outbox.Outgoing(
            dedup_key=_day_key(now, moderator.id),
            chat_id=moderator.telegram_id,
            recipient_id=moderator.id,
            payload=compose(
                Digest(
                    recipient=Recipient.of(moderator),
                    suggestions=len(suggestions),
                    resources=len(resources),
                    oldest=min(item.created_at for item in batch),
                    days=days,
                    total=total_suggestions + total_resources,
                )
            ),
        )
        for moderator in moderators
    ]
    queued = await outbox.enqueue(session, KIND, None, messages, now=now)
    if queued or not moderators:
        if not moderators:
            log.warning("%s item(s) wait for a review, and there is no moderator", len(batch))
        handled = batch
        for item in batch:
            item.reminded_at = now
    else:
        # Today's digest has already gone to every moderator (another pass, another process):
        # what fell due since goes into tomorrow's.
        handled = due
        for item in due:
            item.reminded_at = midnight - period
    session.add_all(handled)
    await session.flush()
    return len(handled)


async def next_due(session: AsyncSession, *, days: int) -> datetime | None:
    """When the next item falls due: the earliest (reminded_at, else created_at) + days among
    pending glossary suggestions and proposed resources."""
    moments = []
    for model in (GlossarySuggestion, Resource):
        found = (await session.exec(select(func.min(_since(model))).where(_pending(model)))).first()
        if found is not None:
            moments.append(found)
    if not moments:
        return None
    return min(moments) + timedelta(days=days)


async def rebuild(session: AsyncSession, *, now: datetime) -> None:
    """Nothing to rebuild: the items' own times are the schedule."""
    return None


@dataclass(frozen=True)
class Backlog:
    """What waits for a review now (for /reviews), oldest first."""

    suggestions: list[GlossarySuggestion]
    resources: list[Resource]

    @property
    def empty(self) -> bool:
        return not self.suggestions and not self.resources


async def backlog(session: AsyncSession, *, limit: int = 50) -> Backlog:
    suggestions = list(
        await session.exec(
            select(GlossarySuggestion)
            .where(_pending(GlossarySuggestion))
            .order_by(col(GlossarySuggestion.created_at), col(GlossarySuggestion.id))
            .limit(limit)
        )
    )
    resources = list(
        await session.exec(
            select(Resource)
            .where(_pending(Resource))
            .order_by(col(Resource.created_at), col(Resource.id))
            .limit(limit)
        )
    )
    return Backlog(suggestions, resources)


async def counts(session: AsyncSession) -> tuple[int, int]:
    """How many glossary suggestions and resources wait for a review (all of them)."""
    found = []
    for model in (GlossarySuggestion, Resource):
        found.append(
            int(
                (
                    await session.exec(
                        select(func.count()).select_from(model).where(_pending(model))
                    )
                ).one()
            )
        )
    return found[0], found[1]
