"""The commands, who may use them, and the menus Telegram shows (per language and scope)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from telegram import (
    Bot,
    BotCommand,
    BotCommandScope,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    BotCommandScopeDefault,
)
from telegram.error import TelegramError

from bot.config import SUPPORTED_LANGUAGES
from bot.context import AppContext
from bot.i18n import _, gettext
from bot.models import Member, Role

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CommandInfo:
    name: str
    role: Role | None
    description: str
    in_group: bool = False


COMMANDS: tuple[CommandInfo, ...] = (
    CommandInfo("start", None, _("Start, or ask to join the working group")),
    CommandInfo("help", None, _("What I can do for you"), in_group=True),
    CommandInfo("meetings", Role.MEMBER, _("Coming meetings")),
    CommandInfo("meeting", Role.MEMBER, _("One meeting: details, your answer, calendar file")),
    CommandInfo("actions", Role.MEMBER, _("Your open action items and deadlines")),
    CommandInfo("polls", Role.MEMBER, _("Open polls and ballots")),
    CommandInfo("glossary", Role.MEMBER, _("Look a term up in the glossary"), in_group=True),
    CommandInfo("resources", Role.MEMBER, _("Search the resource library"), in_group=True),
    CommandInfo("resource", Role.MEMBER, _("One resource in full"), in_group=True),
    CommandInfo("suggest", Role.MEMBER, _("Suggest a glossary entry or a change to one")),
    CommandInfo("history", Role.MEMBER, _("What changed in a glossary entry")),
    CommandInfo("propose", Role.MEMBER, _("Propose a resource for the library")),
    CommandInfo("announcements", Role.MEMBER, _("Read recent announcements")),
    CommandInfo("language", Role.MEMBER, _("Choose your language")),
    CommandInfo("timezone", Role.MEMBER, _("Set your time zone")),
    CommandInfo("privacy", None, _("What the bot keeps about you")),
    CommandInfo("forgetme", None, _("Delete your personal data")),
    CommandInfo("cancel", None, _("Leave the current dialogue")),
    CommandInfo("announce", Role.MODERATOR, _("Send an announcement")),
    CommandInfo("newmeeting", Role.MODERATOR, _("Schedule a meeting")),
    CommandInfo("poll", Role.MODERATOR, _("New poll or secret ballot")),
    CommandInfo("minutes", Role.MODERATOR, _("Record a meeting's minutes and action items")),
    CommandInfo("decision", Role.MODERATOR, _("Record a decision in a meeting's minutes")),
    CommandInfo("action", Role.MODERATOR, _("Assign an action item from a meeting")),
    CommandInfo("deadline", Role.MODERATOR, _("Set a deadline for a country's focal points")),
    CommandInfo("newterm", Role.MODERATOR, _("Add a glossary entry")),
    CommandInfo("editterm", Role.MODERATOR, _("Change or archive a glossary entry")),
    CommandInfo("addresource", Role.MODERATOR, _("Add a resource to the library")),
    CommandInfo("reviews", Role.MODERATOR, _("What waits for a review")),
    CommandInfo("invite", Role.MODERATOR, _("Create an invite link")),
    CommandInfo("invites", Role.MODERATOR, _("List and revoke invite links")),
    CommandInfo("members", Role.MODERATOR, _("List members by country and role")),
    CommandInfo("promote", Role.MODERATOR, _("Give a member a role")),
    CommandInfo("demote", Role.MODERATOR, _("Take a role back")),
    CommandInfo("setcountry", Role.MODERATOR, _("Set a member's country and agency")),
    CommandInfo("remove", Role.MODERATOR, _("Withdraw a member's access")),
    CommandInfo("audit", Role.ADMIN, _("Read the audit log")),
)


def available(role: Role | None, *, in_group: bool = False) -> list[CommandInfo]:
    """The commands someone with this role (None: a stranger) may use, in menu order."""
    return [
        c
        for c in COMMANDS
        if (c.role is None or (role is not None and role.at_least(c.role)))
        and (c.in_group or not in_group)
    ]


def bot_commands(role: Role | None, language: str, *, in_group: bool = False) -> list[BotCommand]:
    return [
        BotCommand(c.name, gettext(language, c.description))
        for c in available(role, in_group=in_group)
    ]


async def _set(
    bot: Bot, role: Role | None, scope: BotCommandScope, *, in_group: bool = False
) -> None:
    for language in SUPPORTED_LANGUAGES:
        # English is also the menu for every language we do not translate.
        await bot.set_my_commands(
            commands=bot_commands(role, language, in_group=in_group),
            scope=scope,
            language_code=None if language == "en" else language,
        )


async def publish(bot: Bot, app: AppContext, staff: list[Member]) -> None:
    """Menus for everybody in private chats, the group chat, and each moderator and admin."""
    try:
        await _set(bot, Role.MEMBER, BotCommandScopeDefault())
        await _set(bot, Role.MEMBER, BotCommandScopeAllPrivateChats())
        if app.settings.group_chat_id is not None:
            group = BotCommandScopeChat(app.settings.group_chat_id)
            await _set(bot, Role.MEMBER, group, in_group=True)
        for member in staff:
            await publish_for(bot, member)
    except TelegramError as exc:
        # A menu is a convenience: the bot works without one.
        log.warning("could not publish the command menus: %s", exc)


async def publish_for(bot: Bot, member: Member) -> None:
    """The private-chat menu of one person, after their role changed."""
    scope = BotCommandScopeChat(member.telegram_id)
    try:
        if Role(member.role).at_least(Role.MODERATOR):
            await _set(bot, Role(member.role), scope)
        else:
            for language in SUPPORTED_LANGUAGES:
                await bot.delete_my_commands(
                    scope=scope, language_code=None if language == "en" else language
                )
    except TelegramError as exc:
        log.warning("could not publish a member's command menu: %s", exc)
