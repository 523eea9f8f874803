"""Telegram adapters, one module per feature; `register` is the one place that lists them."""

from __future__ import annotations

from telegram.ext import Application

from bot.context import AppContext
from bot.scheduler import (
    Source,
    action_source,
    meeting_source,
    poll_source,
    review_source,
)
from handlers import (
    access,
    actions,
    announcements,
    audit,
    errors,
    glossary,
    group,
    help,
    invites,
    meetings,
    members,
    polls,
    privacy,
    resources,
    settings,
)

# One group for commands, buttons and dialogues: the first handler that matches takes the update,
# so the fallbacks (registered last) only see what no feature took.
MAIN = 0
# Membership changes are watched separately: they never answer anybody.
MEMBERSHIP = 1


def register(app: Application) -> None:  # type: ignore[type-arg]
    # Votes first: a ballot's button counts even in the middle of a dialogue, and the busiest
    # moment of the bot (everybody voting at once) checks no other handler.
    polls.register_votes(app, MAIN)
    access.register(app, MAIN)
    announcements.register(app, MAIN)
    # Dialogues before the commands that would take their /cancel.
    meetings.register(app, MAIN)
    polls.register(app, MAIN)
    actions.register(app, MAIN)
    glossary.register(app, MAIN)
    resources.register(app, MAIN)
    help.register(app, MAIN)
    settings.register(app, MAIN)
    privacy.register(app, MAIN)
    members.register(app, MAIN)
    invites.register(app, MAIN)
    audit.register(app, MAIN)
    help.register_fallbacks(app, MAIN)
    group.register(app, MEMBERSHIP)
    errors.register(app)


def scheduled_sources(app: AppContext) -> list[Source]:
    """The features whose rows fall due, each with the composer that words its reminders."""
    return [
        meeting_source(app, meetings.notice_composer(app)),
        action_source(app, actions.action_composer(app)),
        review_source(app, resources.review_composer(app)),
        poll_source(app, polls.notice_composer(app)),
    ]
