"""Getting in: a request to the moderators, an invite link, or membership of the group chat."""

from __future__ import annotations

from datetime import timedelta

from bot.clock import FakeClock
from bot.models import AuditAction, MemberStatus
from bot.sandbox.driver import Sandbox, SandboxUser
from tests.conftest import GROUP_ID, audit_rows, make_member, member_row


async def test_stranger_requests_access_and_a_moderator_approves(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    moderator = sandbox.user(200, "Marat", username="marat_mod", language_code="ru")
    await make_member(sandbox, moderator, "moderator", language="ru")
    stranger = sandbox.user(300, "Nodir", last_name="<b>Karimov</b>", username="nodir")

    welcome = await stranger.send("/start")
    assert "closed working group" in welcome.text
    asked = await stranger.press(welcome.last, "Request access")
    assert "who you are" in asked.text

    sent = await stranger.send("FIU of Uzbekistan, analyst & <i>liaison</i>")
    assert "with the moderators" in sent.to(stranger.id).text
    # Every moderator and admin is asked, each in their own language, with the note escaped.
    to_moderator = sent.to(moderator.id).last
    assert "Запрос на доступ" in to_moderator.text
    assert "<b>Karimov</b>" in to_moderator.text
    assert "analyst & <i>liaison</i>" in to_moderator.text
    assert len(sent.to(admin.id)) == 1

    decided = await moderator.press(to_moderator, "Одобрить")
    assert "Welcome to the working group" in decided.to(stranger.id).text
    assert to_moderator.edited and to_moderator.buttons == []
    member = await member_row(sandbox, stranger.id)
    assert member is not None and member.status == MemberStatus.ACTIVE
    assert member.admitted_via == "request"
    # The other copy lost its buttons; a press arriving late (an old client) changes nothing.
    assert sent.to(admin.id).last.buttons == [] and "Approved by Marat" in sent.to(admin.id).text
    again = await admin.press_data(sent.to(admin.id).last, "access:deny:1")
    assert again == []
    assert "already been decided" in (sandbox.api.callback_answers[-1].text or "")
    actions = [e.action for e in await audit_rows(sandbox)]
    assert actions.count(AuditAction.ADMITTED) == 3  # the config admin, the moderator, Nodir


async def test_denied_request_is_told_and_stays_out(sandbox: Sandbox, admin: SandboxUser) -> None:
    stranger = sandbox.user(301, "Guest")
    welcome = await stranger.send("/start")
    await stranger.press(welcome.last, "Request access")
    sent = await stranger.send("Just curious")
    decided = await admin.press(sent.to(admin.id).last, "Deny")
    assert "did not approve" in decided.to(stranger.id).text
    assert await member_row(sandbox, stranger.id) is None
    refused = await stranger.send("/members")
    assert "only for members" in refused.text
    assert [e.action for e in await audit_rows(sandbox)][-1] == AuditAction.REFUSED


async def test_second_request_does_not_reach_moderators_again(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    stranger = sandbox.user(302, "Guest")
    welcome = await stranger.send("/start")
    await stranger.press(welcome.last, "Request access")
    await stranger.send("Me")
    again = await stranger.send("/start")
    assert "already with the moderators" in again.text
    assert again.to(admin.id) == []


async def test_request_dialogue_can_be_cancelled(sandbox: Sandbox, admin: SandboxUser) -> None:
    stranger = sandbox.user(303, "Guest")
    welcome = await stranger.send("/start")
    await stranger.press(welcome.last, "Request access")
    cancelled = await stranger.send("/cancel")
    assert "Cancelled" in cancelled.text
    after = await stranger.send("hello")
    assert after.to(admin.id) == []
    assert "only for members" in after.text


async def test_over_long_note_is_refused_and_can_be_retried(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    stranger = sandbox.user(304, "Guest")
    welcome = await stranger.send("/start")
    await stranger.press(welcome.last, "Request access")
    too_long = await stranger.send("x" * 4000)
    assert "too long" in too_long.text and too_long.to(admin.id) == []
    ok = await stranger.send("Ministry of Interior, TJ")
    assert len(ok.to(admin.id)) == 1


async def test_invite_link_admits_once_then_is_used_up(
    sandbox: Sandbox, admin: SandboxUser, clock: FakeClock
) -> None:
    created = await admin.send("/invite")
    link = next(w for w in created.text.split() if w.startswith("https://t.me/"))
    assert link.startswith(f"https://t.me/{sandbox.bot_username}?start=inv_")
    code = link.split("start=")[1]

    first = sandbox.user(400, "Aliya")
    joined = await first.send(f"/start {code}")
    assert "Welcome to the working group" in joined.text
    member = await member_row(sandbox, first.id)
    assert member is not None and member.admitted_via == "invite"

    second = sandbox.user(401, "Someone")
    refused = await second.send(f"/start {code}")
    assert "already been used" in refused.text
    assert await member_row(sandbox, second.id) is None


async def test_invite_expires_and_can_be_revoked(
    sandbox: Sandbox, admin: SandboxUser, clock: FakeClock
) -> None:
    created = await admin.send("/invite 5 2d")
    code = created.text.split("start=")[1].split()[0]
    clock.advance(timedelta(days=2, seconds=1))
    late = sandbox.user(402, "Late")
    assert "expired" in (await late.send(f"/start {code}")).text

    created = await admin.send("/invite 5")
    code = created.text.split("start=")[1].split()[0]
    listing = await admin.send("/invites")
    await admin.press(listing.last, "Revoke")
    refused = await late.send(f"/start {code}")
    assert "withdrawn" in refused.text
    assert await member_row(sandbox, late.id) is None


async def test_forged_invite_code_admits_nobody(sandbox: Sandbox) -> None:
    person = sandbox.user(403, "Forger")
    replies = await person.send("/start inv_<script>alert(1)</script>")
    assert "not valid" in replies.text or "closed working group" in replies.text
    assert await member_row(sandbox, person.id) is None


async def test_group_chat_member_is_admitted_on_first_contact_and_loses_access_on_leaving(
    sandbox: Sandbox,
) -> None:
    colleague = sandbox.user(500, "Bahrom", language_code="ru")
    sandbox.api.chats[GROUP_ID].members[colleague.id] = "member"
    replies = await colleague.send("/start")
    assert "участник" in replies.text  # admitted, and answered in Telegram's language
    member = await member_row(sandbox, colleague.id)
    assert member is not None and member.admitted_via == "group"

    await colleague.leave(GROUP_ID)
    assert await member_row(sandbox, colleague.id) is None
    after = await colleague.send("/timezone")
    assert "доступно только участникам" in after.text


async def test_invited_member_keeps_access_after_leaving_the_group(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    created = await admin.send("/invite")
    code = created.text.split("start=")[1].split()[0]
    person = sandbox.user(501, "Invited")
    await person.send(f"/start {code}")
    await person.join(GROUP_ID)
    await person.leave(GROUP_ID)
    assert (await member_row(sandbox, person.id)) is not None


async def test_removed_member_is_not_readmitted_from_the_group(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    person = sandbox.user(502, "Removed", username="removed_one")
    sandbox.api.chats[GROUP_ID].members[person.id] = "member"
    await person.send("/start")
    removed = await admin.send("/remove @removed_one left the agency")
    assert "no longer has access" in removed.text
    again = await person.send("/start")
    # Treated as a stranger again: they may ask the moderators, but are not let back in silently.
    assert "closed working group" in again.text and "Request access" in str(again.last.buttons)
    assert "only for members" in (await person.send("/timezone")).text
    member = await member_row(sandbox, person.id)
    assert member is not None and member.status == MemberStatus.REMOVED


async def test_member_who_blocks_the_bot_is_kept_as_inactive(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    person = sandbox.user(503, "Blocker")
    await make_member(sandbox, person)
    await person.send("/start")
    await person.block()
    member = await member_row(sandbox, person.id)
    assert member is not None and member.status == MemberStatus.INACTIVE
    await person.unblock()
    await person.send("/help")
    member = await member_row(sandbox, person.id)
    assert member is not None and member.status == MemberStatus.ACTIVE


async def test_a_moderator_who_blocked_the_bot_is_marked_inactive_not_lost(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    moderator = sandbox.user(200, "Marat", username="marat_mod")
    await make_member(sandbox, moderator, "moderator")
    sandbox.api.blocked.add(moderator.id)  # blocked without the bot noticing (no update)
    stranger = sandbox.user(305, "Guest")
    welcome = await stranger.send("/start")
    await stranger.press(welcome.last, "Request access")
    sent = await stranger.send("FIU analyst")
    assert len(sent.to(admin.id)) == 1 and sent.to(moderator.id) == []
    row = await member_row(sandbox, moderator.id)
    assert row is not None and row.status == MemberStatus.INACTIVE and row.role == "moderator"


async def test_a_strangers_group_membership_is_checked_once_a_minute_or_on_joining(
    sandbox: Sandbox, clock: FakeClock
) -> None:
    stranger = sandbox.user(600, "Newcomer")

    def checks() -> int:
        return sum(1 for method, _ in sandbox.api.requests if method == "getChatMember")

    for _ in range(5):
        await stranger.send("/timezone")
    assert checks() == 1
    clock.advance(timedelta(minutes=1, seconds=1))
    await stranger.send("/timezone")
    assert checks() == 2
    await stranger.join(GROUP_ID)  # seen joining: no need to wait for the minute
    replies = await stranger.send("/timezone")
    assert checks() == 3 and "Asia/Almaty" in replies.text
    member = await member_row(sandbox, stranger.id)
    assert member is not None and member.admitted_via == "group"


async def test_the_other_moderators_copies_show_the_decision(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    moderator = sandbox.user(200, "Marat", username="marat_mod", language_code="ru")
    await make_member(sandbox, moderator, "moderator", language="ru")
    stranger = sandbox.user(306, "Guest")
    welcome = await stranger.send("/start")
    await stranger.press(welcome.last, "Request access")
    sent = await stranger.send("FIU analyst")
    admin_copy, moderator_copy = sent.to(admin.id).last, sent.to(moderator.id).last
    await admin.press(admin_copy, "Approve")
    assert moderator_copy.edited and moderator_copy.buttons == []
    assert "Ayana" in (moderator_copy.text or "") and "Одобрено" in (moderator_copy.text or "")
