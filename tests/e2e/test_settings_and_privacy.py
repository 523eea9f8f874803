"""A member's language and time zone; /privacy and /forgetme."""

from __future__ import annotations

from bot.models import AuditAction
from bot.sandbox.driver import Sandbox, SandboxUser
from tests.conftest import audit_rows, make_member, member_row


async def test_language_buttons_switch_every_later_message(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    person = sandbox.user(201, "Aigerim", language_code="en")
    await make_member(sandbox, person)
    menu = await person.send("/language")
    await person.press(menu.last, "Русский")
    row = await member_row(sandbox, person.id)
    assert row is not None and row.language == "ru"
    assert "/timezone" in (await person.send("/help")).text
    assert "Что я могу" in (await person.send("/help")).text


async def test_telegram_language_is_used_until_the_member_chooses(sandbox: Sandbox) -> None:
    person = sandbox.user(202, "Bahrom", language_code="ru-RU")
    await make_member(sandbox, person)
    assert "Что я могу" in (await person.send("/help")).text
    unknown = sandbox.user(203, "Farid", language_code="fa")
    await make_member(sandbox, unknown)
    assert "What I can do" in (await unknown.send("/help")).text


async def test_timezone_accepts_cities_names_and_offsets(sandbox: Sandbox) -> None:
    person = sandbox.user(201, "Aigerim")
    await make_member(sandbox, person)
    shown = await person.send("/timezone")
    assert "Asia/Almaty" in shown.text  # the default, named
    # Clock: 2026-11-26 09:00 UTC.
    assert "13:30" in (await person.send("/timezone Kabul")).text
    assert "12:30" in (await person.send("/timezone Tehran")).text
    assert "UTC+04:30" in (await person.send("/timezone +4:30")).text
    assert "09:00" in (await person.send("/timezone Europe/London")).text
    row = await member_row(sandbox, person.id)
    assert row is not None and row.timezone == "Europe/London"
    await person.press(shown.last, "Bishkek")
    row = await member_row(sandbox, person.id)
    assert row is not None and row.timezone == "Asia/Bishkek"


async def test_bad_timezone_is_explained_and_changes_nothing(sandbox: Sandbox) -> None:
    person = sandbox.user(201, "Aigerim")
    await make_member(sandbox, person)
    await person.send("/timezone Kabul")
    for bad in ("Mars/Olympus", "+4:20", "+15", "<b>Almaty</b>", "x" * 4000):
        replies = await person.send(f"/timezone {bad}")
        assert "time zone" in replies.text or "offset" in replies.text, bad
    row = await member_row(sandbox, person.id)
    assert row is not None and row.timezone == "Asia/Kabul"


async def test_forged_timezone_button_changes_nothing(sandbox: Sandbox) -> None:
    person = sandbox.user(201, "Aigerim")
    await make_member(sandbox, person)
    shown = await person.send("/timezone")
    await person.press_data(shown.last, "tz:Etc/GMT+12")
    assert "no longer valid" in (sandbox.api.callback_answers[-1].text or "")
    row = await member_row(sandbox, person.id)
    assert row is not None and row.timezone is None


async def test_privacy_tells_what_is_kept(sandbox: Sandbox) -> None:
    stranger = sandbox.user(300, "Stranger")
    assert "nothing, unless they ask for access" in (await stranger.send("/privacy")).text
    person = sandbox.user(201, "Aigerim")
    await make_member(sandbox, person)
    assert "your Telegram id" in (await person.send("/privacy")).text


async def test_forgetme_deletes_after_confirmation_and_anonymizes_the_log(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    person = sandbox.user(201, "Aigerim", username="aigerim")
    await make_member(sandbox, person, "focal_point", country="KZ", agency="FIU")
    asked = await person.send("/forgetme")
    await person.press(asked.last, "No, keep it")
    assert await member_row(sandbox, person.id) is not None

    asked = await person.send("/forgetme")
    await person.press(asked.last, "Yes, delete my data")
    assert await member_row(sandbox, person.id) is None
    entries = await audit_rows(sandbox)
    assert entries[-1].action == AuditAction.FORGOTTEN
    for entry in entries:
        assert "Aigerim" not in entry.subject_label + entry.actor_label + entry.detail
    assert "only for members" in (await person.send("/timezone")).text


async def test_stranger_forgetme_withdraws_a_pending_request(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    stranger = sandbox.user(300, "Stranger")
    welcome = await stranger.send("/start")
    await stranger.press(welcome.last, "Request access")
    sent = await stranger.send("Analyst, FIU")
    asked = await stranger.send("/forgetme")
    await stranger.press(asked.last, "Yes")
    late = await admin.press(sent.to(admin.id).last, "Approve")
    assert late == []
    assert "does not exist" in (sandbox.api.callback_answers[-1].text or "")
    assert "I keep nothing" in (await stranger.send("/forgetme")).text


async def test_forgetme_takes_the_name_out_of_the_glossary_history(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    from sqlmodel import select

    from bot.models import GlossaryChange
    from bot.services import glossary, members

    moderator = sandbox.user(202, "Marat", username="marat")
    await make_member(sandbox, moderator, "moderator")
    app = sandbox.app.bot_data["app"]
    async with app.db.session() as session:
        actor = await members.by_telegram_id(session, moderator.id)
        await glossary.create(
            session,
            actor,
            glossary.Content(
                terms={"en": ["hawala"], "ru": ["хавала"]},
                definitions={
                    "en": "An informal value transfer system.",
                    "ru": "Неформальная система.",
                },
            ),
            now=sandbox.now(),
        )
    asked = await moderator.send("/forgetme")
    await moderator.press(asked.last, "Yes, delete my data")
    async with app.db.session() as session:
        [change] = (await session.exec(select(GlossaryChange))).all()
    assert "Marat" not in change.actor_label and change.actor_label.startswith("forgotten member")
    history = await admin.send("/history 1")
    assert "Marat" not in history.text and "forgotten member" in history.text
