"""The role table: every command, for every role including a stranger, works or refuses politely."""

from __future__ import annotations

import pytest

from bot.sandbox.driver import Sandbox, SandboxUser
from tests.conftest import ADMIN_ID, make_member

# Who may use what: written out here as the specification, not derived from the code.
MINIMUM_ROLE = {
    "/start": "stranger",
    "/help": "stranger",
    "/privacy": "stranger",
    "/cancel": "stranger",
    "/forgetme": "stranger",
    "/language": "member",
    "/timezone": "member",
    "/announcements": "member",
    "/announce": "moderator",
    "/invite": "moderator",
    "/invites": "moderator",
    "/members": "moderator",
    "/promote @fp_kz member": "moderator",
    "/demote @fp_kz": "moderator",
    "/setcountry @plain_member KG": "moderator",
    "/remove @plain_member": "moderator",
    "/meetings": "member",
    "/meeting 1": "member",
    "/newmeeting 2027-01-12 10:00 | Plenary": "moderator",
    "/actions": "member",
    "/actions all": "moderator",
    "/minutes 1": "moderator",
    "/decision 1 Adopt the terms of reference": "moderator",
    "/action 1 @fp_kz 2027-01-10 Send the country report": "moderator",
    "/deadline KZ 2027-01-10 Country report on 2026 cases": "moderator",
    "/glossary trafficking": "member",
    "/history 1": "member",
    "/resources hawala": "member",
    "/resource 1": "member",
    "/editterm": "moderator",
    "/reviews": "moderator",
    "/polls": "member",
    "/poll Next meeting? | 3 Dec | 10 Dec": "moderator",
    "/audit": "admin",
    # Dialogues last: they take the messages that follow.
    "/suggest": "member",
    "/propose": "member",
    "/newterm": "moderator",
    "/addresource": "moderator",
}
RANK = {"stranger": 0, "member": 1, "focal_point": 2, "moderator": 3, "admin": 4}
ROLES = list(RANK)
NOT_ADMITTED = "only for members"
NOT_ALLOWED = "needs the role"


async def _people(sandbox: Sandbox) -> dict[str, SandboxUser]:
    people = {
        "stranger": sandbox.user(900, "Stranger", username="stranger"),
        "member": sandbox.user(901, "Plain", username="plain_member"),
        "focal_point": sandbox.user(902, "Aigerim", username="fp_kz"),
        "moderator": sandbox.user(903, "Marat", username="marat_mod"),
        "admin": sandbox.user(ADMIN_ID, "Ayana", username="ayana_admin"),
    }
    await make_member(sandbox, people["member"], "member")
    await make_member(
        sandbox,
        people["focal_point"],
        "focal_point",
        country="KZ",
        agency="Financial Monitoring Agency",
    )
    await make_member(sandbox, people["moderator"], "moderator")
    return people


@pytest.mark.parametrize("role", ROLES)
async def test_every_command_works_or_refuses_politely(sandbox: Sandbox, role: str) -> None:
    people = await _people(sandbox)
    user = people[role]
    for command, minimum in MINIMUM_ROLE.items():
        replies = await user.send(command)
        assert replies, f"{role} got no answer to {command}"
        text = replies.to(user.id).text
        if RANK[role] >= RANK[minimum]:
            assert NOT_ADMITTED not in text and NOT_ALLOWED not in text, (role, command, text)
        elif role == "stranger":
            assert NOT_ADMITTED in text, (command, text)
        else:
            assert NOT_ALLOWED in text, (role, command, text)
        if role == "stranger":
            # A stranger learns nothing about the group: no names, countries or agencies.
            for secret in ("Plain", "Aigerim", "Marat", "Ayana", "Kazakhstan", "Financial"):
                assert secret not in text, (command, text)
    assert not sandbox.api.violations


async def test_help_lists_only_what_the_role_may_use(sandbox: Sandbox) -> None:
    people = await _people(sandbox)
    for role, user in people.items():
        listed = {w.split()[0] for w in (await user.send("/help")).text.split("/")[1:]}
        # A command is listed for whoever may use it in some form ("/actions" but not
        # "/actions all", for a member).
        lowest: dict[str, int] = {}
        for command, minimum in MINIMUM_ROLE.items():
            name = command.split()[0].lstrip("/")
            lowest[name] = min(lowest.get(name, RANK[minimum]), RANK[minimum])
        for name, rank in lowest.items():
            assert (name in listed) == (RANK[role] >= rank), (role, name, listed)


async def test_group_chat_gets_help_and_a_pointer_to_private_chat(sandbox: Sandbox) -> None:
    from tests.conftest import GROUP_ID

    people = await _people(sandbox)
    replies = await people["member"].send("/help", chat_id=GROUP_ID)
    assert "/help" in replies.text and "/members" not in replies.text
    replies = await people["moderator"].send("/members", chat_id=GROUP_ID)
    assert "private chat" in replies.text
    assert "Aigerim" not in replies.text
