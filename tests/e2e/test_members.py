"""Moderators manage people; every change lands in the audit log that admins read."""

from __future__ import annotations

from bot.models import AuditAction, Role
from bot.sandbox.driver import Sandbox, SandboxUser
from tests.conftest import audit_rows, make_member, member_row


async def test_members_list_groups_by_country_and_pages(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    countries = ["KZ", "KG", "TJ", "TM", "UZ", "AF", "IR", "PK"]
    for index in range(45):
        person = sandbox.user(1000 + index, f"Person{index:02d}")
        await make_member(
            sandbox, person, "focal_point" if index < 8 else "member", country=countries[index % 8]
        )
    first = await admin.send("/members")
    assert "46 people" in first.text  # 45 and the admin
    assert "Kazakhstan (KZ)" in first.text
    assert "Page 1 of 3" in first.text
    second = await admin.press(first.last, "▶")
    assert second == []  # the list is edited in place
    assert "Page 2 of 3" in (first.last.text or "")
    only_kz = await admin.send("/members KZ")
    assert "Kyrgyzstan" not in only_kz.text and "Person00" in only_kz.text
    focal = await admin.send("/members focal_point")
    assert "8 people" in focal.text
    bad = await admin.send("/members <b>XX</b>")
    assert "neither a country code nor a role" in bad.text


async def test_moderator_promotes_a_focal_point_with_country_and_agency(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    moderator = sandbox.user(200, "Marat", username="marat")
    await make_member(sandbox, moderator, "moderator")
    person = sandbox.user(201, "Aigerim", username="aigerim")
    await make_member(sandbox, person)
    missing = await moderator.send("/promote @aigerim focal_point")
    assert "needs a country" in missing.text
    done = await moderator.send("/promote @aigerim focal_point kz Financial <Monitoring> Agency")
    assert "focal point" in done.text and "Kazakhstan" in done.text
    row = await member_row(sandbox, person.id)
    assert row is not None
    assert (row.role, row.country, row.agency) == (
        "focal_point",
        "KZ",
        "Financial <Monitoring> Agency",
    )
    # The new focal point's menu is unchanged (members' menu); a moderator gets their own.
    entry = (await audit_rows(sandbox))[-1]
    assert entry.action == AuditAction.ROLE_CHANGED and "member -> focal_point" in entry.detail
    assert entry.actor_id is not None


async def test_only_admins_make_moderators(sandbox: Sandbox, admin: SandboxUser) -> None:
    await admin.send("/start")  # the bot learns the configured admin's name on first contact
    moderator = sandbox.user(200, "Marat", username="marat")
    await make_member(sandbox, moderator, "moderator")
    other = sandbox.user(202, "Other", username="other_mod")
    await make_member(sandbox, other, "moderator")
    person = sandbox.user(201, "Aigerim", username="aigerim")
    await make_member(sandbox, person)
    assert "Only an admin" in (await moderator.send("/promote @aigerim moderator")).text
    assert "Only an admin" in (await moderator.send("/demote @other_mod")).text
    assert "Only an admin" in (await moderator.send("/remove @other_mod")).text
    assert "own role" in (await moderator.send("/demote @marat")).text
    assert "configuration" in (await moderator.send("/remove @ayana_admin")).text
    row = await member_row(sandbox, person.id)
    assert row is not None and row.role == Role.MEMBER

    made = await admin.send("/promote @aigerim moderator")
    assert "moderator" in made.text
    # A new moderator gets the moderators' command menu in their private chat.
    scope = '{"chat_id": 201, "type": "chat"}'
    assert any(key[0] == scope for key in sandbox.api.commands)
    names = {c["command"] for c in sandbox.api.commands[(scope, "")]}
    assert "members" in names and "audit" not in names


async def test_demote_and_setcountry(sandbox: Sandbox, admin: SandboxUser) -> None:
    person = sandbox.user(201, "Aigerim", username="aigerim")
    member_id = await make_member(sandbox, person, "focal_point", country="KZ")
    assert "member" in (await admin.send(f"/demote #{member_id}")).text
    assert "is not a country code" in (await admin.send("/setcountry @aigerim ZZ")).text
    assert "Tajikistan" in (await admin.send("/setcountry @aigerim tj Drug Control Agency")).text
    row = await member_row(sandbox, person.id)
    assert row is not None and (row.role, row.country, row.agency) == (
        "member",
        "TJ",
        "Drug Control Agency",
    )
    assert "No member" in (await admin.send("/demote @nobody_here")).text
    assert "Usage" in (await admin.send("/demote")).text


async def test_audit_log_shows_changes_newest_first_to_admins_only(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    person = sandbox.user(201, "Aigerim", username="aigerim")
    await make_member(sandbox, person)
    await admin.send("/promote @aigerim focal_point UZ")
    await admin.send("/remove @aigerim moved to another post")
    log = await admin.send("/audit")
    text = log.text
    assert text.index("removed") < text.index("role changed") < text.index("admitted")
    assert "moved to another post" in text
    assert "Asia/Almaty" in text  # times in the reader's zone, named
    assert (
        "needs the role" in (await person.send("/audit")).text
        or "only for members" in (await person.send("/audit")).text
    )


async def test_a_demoted_moderator_loses_the_commands_at_once(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    moderator = sandbox.user(200, "Marat", username="marat")
    await make_member(sandbox, moderator, "moderator")
    assert "Members" in (await moderator.send("/members")).text
    await admin.send("/demote @marat")
    assert "needs the role" in (await moderator.send("/members")).text
    await admin.send("/remove @marat")
    help_text = (await moderator.send("/help")).text
    assert "ask the moderators for access" in help_text and "/members" not in help_text


async def test_pages_of_long_names_fit_one_message_and_turn(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    for index in range(45):
        person = sandbox.user(3000 + index, "Ж" * 64, last_name="Щ" * 64, username=f"p{index}")
        await make_member(sandbox, person, country="AF", agency="A" * 200)
        await person.send("/start")  # the bot learns the full 129-character name
        if index < 20:
            await admin.send(f"/remove @p{index} " + "reason " * 40)
    for command, pages in (("/members", 2), ("/audit", 7)):
        first = await admin.send(command)
        assert len(first) == 1, command  # one message, so the page buttons can turn it
        assert f"of {pages}" in first.text
        for _ in range(pages - 1):
            await admin.press(first.last, "▶")
        assert f"Page {pages} of {pages}" in (first.last.text or "")
