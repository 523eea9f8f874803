"""The glossary on Telegram: lookups in private chat and in the group, in the reader's language,
through typos and transliteration; nothing found; inline mode; suggestions from members and the
moderators' review (approve, edit, reject); moderators' direct edits; /history; and everything
a person may get wrong or forge on the way."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from sqlmodel import col, select

from bot.i18n import gettext
from bot.models import (
    EntryStatus,
    GlossaryChange,
    GlossaryEntry,
    GlossarySuggestion,
    ReviewStatus,
)
from bot.sandbox.driver import Replies, Sandbox, SandboxUser
from bot.sandbox.fake_api import StoredMessage
from bot.services import glossary, members
from bot.services.glossary import Content
from tests.conftest import ADMIN_ID, GROUP_ID, make_member


@pytest.fixture(autouse=True, scope="module")
def _collect_garbage() -> Iterator[None]:
    yield
    gc.collect()


@pytest.fixture(autouse=True)
def _registered(sandbox: Sandbox) -> None:
    """Until handlers/__init__.py lists the feature: register it first in line."""
    from telegram.ext import CommandHandler

    handlers = sandbox.app.handlers[0]
    for handler in handlers:
        if isinstance(handler, CommandHandler) and "glossary" in handler.commands:
            return
    from handlers import glossary as feature

    before = list(handlers)
    feature.register(sandbox.app, 0)
    added = [h for h in sandbox.app.handlers[0] if h not in before]
    sandbox.app.handlers[0][:] = added + before


# -- the content and the people -----------------------------------------------------------------

TIP = Content(
    terms={
        "en": ["trafficking in persons", "human trafficking"],
        "ru": ["торговля людьми"],
        "fa": ["قاچاق انسان"],
    },
    abbreviations=["THB", "TIP"],
    definitions={
        "en": "The recruitment, transportation, transfer, harbouring or receipt of persons by "
        "improper means for the purpose of exploitation.",
        "ru": "Вербовка, перевозка, передача, укрывательство или получение людей "
        "недозволенными средствами в целях эксплуатации.",
    },
    source="Trafficking in Persons Protocol, art. 3(a)",
    tags=["tip", "core"],
)
SOM = Content(
    terms={"en": ["smuggling of migrants"], "ru": ["незаконный ввоз мигрантов"]},
    abbreviations=["SOM"],
    definitions={"en": "Procuring the illegal entry of a person for a financial benefit."},
    source="Smuggling of Migrants Protocol, art. 3(a)",
    tags=["som", "core"],
)
FIU = Content(
    terms={"en": ["financial intelligence unit"], "ru": ["подразделение финансовой разведки"]},
    abbreviations=["FIU"],
    source="FATF Recommendations, R. 29",
)


@dataclass
class Group:
    admin: SandboxUser
    people: dict[str, SandboxUser] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)
    entries: dict[str, int] = field(default_factory=dict)

    def __getitem__(self, name: str) -> SandboxUser:
        return self.people[name]


async def add_entry(sandbox: Sandbox, content: Content, *, related: list[int] = ()) -> int:  # type: ignore[assignment]
    app = sandbox.app.bot_data["app"]
    async with app.db.session() as session:
        actor = await members.by_telegram_id(session, ADMIN_ID)
        data = content.copy()
        data.related_ids = list(related)
        entry = await glossary.create(session, actor, data, now=sandbox.now())
        assert entry.id is not None
        return entry.id


async def working_group(sandbox: Sandbox, admin: SandboxUser) -> Group:
    """Two moderators, an English and a Russian reader, a stranger; three entries."""
    await admin.send("/start")  # the admin's row, from ADMIN_IDS
    group = Group(admin)
    for name, user_id, role, language in (
        ("mod1", 201, "moderator", None),
        ("mod2", 202, "moderator", "ru"),
        ("anna", 301, "member", None),
        ("ivan", 302, "member", "ru"),
    ):
        user = sandbox.user(user_id, name.capitalize(), username=f"user_{name}")
        group.ids[name] = await make_member(sandbox, user, role, language=language)
        group.people[name] = user
    group.people["stranger"] = sandbox.user(900, "Stranger", username="stranger")
    som = await add_entry(sandbox, SOM)
    group.entries["tip"] = await add_entry(sandbox, TIP, related=[som])
    group.entries["som"] = som
    group.entries["fiu"] = await add_entry(sandbox, FIU)
    return group


# -- reading what happened ----------------------------------------------------------------------


async def entry_row(sandbox: Sandbox, entry_id: int) -> GlossaryEntry:
    app = sandbox.app.bot_data["app"]
    async with app.db.session() as session:
        entry = await session.get(GlossaryEntry, entry_id)
        assert entry is not None
        return entry


async def entries(sandbox: Sandbox) -> list[GlossaryEntry]:
    app = sandbox.app.bot_data["app"]
    async with app.db.session() as session:
        return list(await session.exec(select(GlossaryEntry).order_by(col(GlossaryEntry.id))))


async def suggestions(sandbox: Sandbox) -> list[GlossarySuggestion]:
    app = sandbox.app.bot_data["app"]
    async with app.db.session() as session:
        rows = await session.exec(select(GlossarySuggestion).order_by(col(GlossarySuggestion.id)))
        return list(rows)


async def changes(sandbox: Sandbox) -> list[GlossaryChange]:
    app = sandbox.app.bot_data["app"]
    async with app.db.session() as session:
        return list(await session.exec(select(GlossaryChange).order_by(col(GlossaryChange.id))))


def labels(message: StoredMessage) -> list[str]:
    return [b["text"] for row in message.buttons for b in row]


def alert(sandbox: Sandbox) -> str:
    return sandbox.api.callback_answers[-1].text or ""


async def press(user: SandboxUser, replies: Replies, label: str) -> Replies:
    """Press a button on the latest of these replies that has one with that label."""
    for message in reversed(replies):
        if any(label.lower() in text.lower() for text in labels(message)):
            return await user.press(message, label)
    raise AssertionError(f"no button {label!r} in {[labels(m) for m in replies]}")


def copies(sandbox: Sandbox, chat_id: int, start: str = "📝") -> list[StoredMessage]:
    return [
        m
        for (chat, _), m in sorted(sandbox.api.messages.items())
        if chat == chat_id and m.from_id == sandbox.bot_id and (m.text or "").startswith(start)
    ]


# -- lookup -------------------------------------------------------------------------------------


async def test_lookup_in_private_chat_shows_the_whole_entry(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    group = await working_group(sandbox, admin)
    replies = await group["anna"].send("/glossary trafficking in persons")
    text = replies.text
    assert text.startswith("📖 trafficking in persons")
    assert "also: human trafficking" in text
    assert "for the purpose of exploitation" in text
    assert "Вербовка" not in text  # only the reader's definition
    assert "Russian: торговля людьми" in text
    assert "Persian: قاچاق انسان" in text
    assert "Abbreviations: THB, TIP" in text
    assert "Source: Trafficking in Persons Protocol, art. 3(a)" in text
    assert f"Related: smuggling of migrants /g_{group.entries['som']}" in text
    assert "#tip #core" in text
    assert "found as" not in text
    assert labels(replies.last) == ["✏️ Suggest an edit", "🕘 History"]
    # An abbreviation, /g, and a tap on a related entry.
    replies = await group["anna"].send("/g THB")
    assert replies.text.startswith("📖 trafficking in persons")
    assert "found as: THB" in replies.text
    replies = await group["anna"].send(f"/g_{group.entries['som']}")
    assert replies.text.startswith("📖 smuggling of migrants")
    replies = await group["anna"].send(f"/g #{group.entries['fiu']}")
    assert replies.text.startswith("📖 financial intelligence unit")


async def test_a_russian_reader_sees_russian_first(sandbox: Sandbox, admin: SandboxUser) -> None:
    group = await working_group(sandbox, admin)
    replies = await group["ivan"].send("/g trafficking in persons")
    text = replies.text
    assert text.startswith("📖 торговля людьми")
    assert "found as: trafficking in persons" in text or "trafficking in persons" in text
    assert "Вербовка, перевозка" in text
    assert "for the purpose of exploitation" not in text
    assert text.index("торговля людьми") < text.index("trafficking in persons")
    # Without a Russian definition, the English one, named.
    replies = await group["ivan"].send("/g FIU")
    assert replies.text.startswith("📖 подразделение финансовой разведки")


@pytest.mark.parametrize(
    ("query", "found_as"),
    [
        ("traficking in persns", None),
        ("persons trafficking", None),
        ("torgovlya lyudmi", "торговля людьми"),
        ("торговля людьми", "торговля людьми"),
        ("human trafficking", "human trafficking"),
        ("smugling", None),
    ],
)
async def test_typos_word_order_and_transliteration(
    sandbox: Sandbox, admin: SandboxUser, query: str, found_as: str | None
) -> None:
    group = await working_group(sandbox, admin)
    replies = await group["anna"].send(f"/g {query}")
    expected = "smuggling of migrants" if "smug" in query else "trafficking in persons"
    assert replies.text.startswith(f"📖 {expected}"), replies.text
    if found_as:
        assert f"found as: {found_as}" in replies.text


async def test_nothing_found_offers_the_closest_and_a_suggestion(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    group = await working_group(sandbox, admin)
    replies = await group["anna"].send("/g hawala")
    assert "Nothing found for «hawala»." in replies.text
    assert "Closest entries:" in replies.text
    assert labels(replies.last) == ["➕ Suggest this term"]
    started = await group["anna"].press(replies.last, "Suggest this term")
    # The missed words are its English term: the dialogue asks for the Russian one.
    assert "Its term in Russian" in started.text
    replies = await group["anna"].send("хавала")
    assert "other languages" in replies.text
    for _ in range(6):
        replies = await press(group["anna"], replies, "Skip")
    assert "Your suggestion, as the moderators will see it" in replies.text
    assert "hawala" in replies.text and "Russian: хавала" in replies.text


async def test_lookup_in_the_group_is_compact(sandbox: Sandbox, admin: SandboxUser) -> None:
    group = await working_group(sandbox, admin)
    sandbox.api.chats[GROUP_ID].members[group["anna"].id] = "member"
    replies = await group["anna"].send("/g core", chat_id=GROUP_ID)
    message = replies.to(GROUP_ID).last
    assert message.text and message.text.startswith("📖 ")
    assert "Also found:" in message.text
    assert message.buttons == []  # nothing that leads to names or history
    replies = await group["anna"].send("/g trafficking in persons", chat_id=GROUP_ID)
    text = replies.to(GROUP_ID).text
    assert text.startswith("📖 trafficking in persons")
    assert "Russian: торговля людьми" in text and "Abbreviations: THB, TIP" in text
    assert "Related:" not in text and "#tip" not in text
    assert replies.to(GROUP_ID).last.buttons == []
    replies = await group["anna"].send("/g qwxzvy", chat_id=GROUP_ID)
    assert "Nothing found" in replies.text and "private chat" in replies.text
    assert replies.last.buttons == []
    # History names members: not in the group.
    replies = await group["anna"].send(f"/history {group.entries['tip']}", chat_id=GROUP_ID)
    assert "private chat" in replies.text


async def test_a_stranger_learns_nothing(sandbox: Sandbox, admin: SandboxUser) -> None:
    group = await working_group(sandbox, admin)
    stranger = group["stranger"]
    for command in (
        "/g trafficking",
        "/glossary THB",
        f"/g_{group.entries['tip']}",
        f"/history {group.entries['tip']}",
        "/suggest a | б",
        "/newterm a | б",
        f"/editterm {group.entries['tip']} abbr X",
    ):
        replies = await stranger.send(command)
        assert "only for members" in replies.text, command
        assert "trafficking" not in replies.text.replace(command, "")
    await stranger.press_data(replies.last, f"gl:v:{group.entries['tip']}")
    assert "only for members" in alert(sandbox)


# -- inline mode --------------------------------------------------------------------------------


async def test_inline_mode_for_a_member(sandbox: Sandbox, admin: SandboxUser) -> None:
    group = await working_group(sandbox, admin)
    await group["anna"].inline("trafficking")
    answer = sandbox.api.inline_answers[-1]
    assert answer["is_personal"] is True and answer["cache_time"] <= 60
    results = answer["results"]
    assert results[0]["type"] == "article"
    assert results[0]["id"] == str(group.entries["tip"])
    assert results[0]["title"] == "trafficking in persons"
    assert "recruitment" in results[0]["description"]
    content = results[0]["input_message_content"]
    assert content["parse_mode"] == "HTML"
    assert "<b>trafficking in persons</b>" in content["message_text"]
    assert "/g_" not in content["message_text"]
    # A Russian reader gets Russian titles; transliteration works here too.
    await group["ivan"].inline("torgovlya lyudmi")
    results = sandbox.api.inline_answers[-1]["results"]
    assert results[0]["title"] == "торговля людьми"
    await group["anna"].inline("")
    assert sandbox.api.inline_answers[-1]["results"] == []


async def test_inline_mode_for_a_stranger(sandbox: Sandbox, admin: SandboxUser) -> None:
    group = await working_group(sandbox, admin)
    await group["stranger"].inline("trafficking")
    answer = sandbox.api.inline_answers[-1]
    assert answer["results"] == []
    assert answer["button"]["text"] == "Only for members of the working group"
    assert answer["button"]["start_parameter"] == "join"
    assert "trafficking" not in str(answer)


# -- suggestions and their review ---------------------------------------------------------------


ONE_LINE = (
    "/suggest hawala; informal value transfer | хавала | IVTS | An informal value transfer "
    "system | Неформальная система перевода ценностей | FATF report 2013 | finance"
)


async def test_suggest_approve_publishes_and_tells_everybody(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    group = await working_group(sandbox, admin)
    replies = await group["anna"].send(ONE_LINE)
    assert "Your suggestion, as the moderators will see it" in replies.text
    assert "Russian: хавала" in replies.text and "IVTS" in replies.text
    sent = await press(group["anna"], replies, "Send to the moderators")
    assert "is with the moderators" in sent.to(group["anna"].id).text
    assert labels(sent.to(group["anna"].id).last) == ["↩️ Withdraw"]
    # Every moderator and admin gets it, in their language, with the buttons.
    mod1, mod2 = copies(sandbox, group["mod1"].id), copies(sandbox, group["mod2"].id)
    admins = copies(sandbox, ADMIN_ID)
    assert len(mod1) == len(mod2) == len(admins) == 1
    assert "Suggested new entry" in (mod1[0].text or "")
    assert "From Anna" in (mod1[0].text or "")
    assert "An informal value transfer system" in (mod1[0].text or "")
    assert labels(mod1[0]) == ["✅ Approve", "✏️ Edit", "❌ Reject"]
    # Nothing is published yet.
    assert "Nothing found" in (await group["anna"].send("/g hawala")).text
    approved = await group["mod1"].press(mod1[0], "Approve")
    assert "Approved by Mod1" in (mod1[0].text or "") and mod1[0].buttons == []
    # The other copies say who decided, and lose their buttons.
    assert mod2[0].edited and mod2[0].buttons == []
    assert admins[0].edited and "Approved by Mod1" in (admins[0].text or "")
    # The author is told.
    told = approved.to(group["anna"].id)
    assert "is now in the glossary" in told.text
    # Published, searchable at once, and in the history with the suggestion.
    rows = await entries(sandbox)
    hawala = rows[-1]
    assert hawala.terms["en"] == ["hawala", "informal value transfer"]
    assert hawala.created_by_id == group.ids["anna"]
    replies = await group["ivan"].send("/g havala")
    assert replies.text.startswith("📖 хавала")
    [suggestion] = await suggestions(sandbox)
    assert suggestion.status == ReviewStatus.APPROVED
    assert (await changes(sandbox))[-1].suggestion_id == suggestion.id
    # A second decision: "already decided by".
    await group["mod2"].press_data(mod2[0], f"gl:ok:{suggestion.id}")
    # mod2 reads Russian.
    assert alert(sandbox) == gettext(
        "ru", "This suggestion was already approved by %(name)s.", name="Mod1"
    )
    await admin.press_data(admins[0], f"gl:rj:{suggestion.id}")
    assert alert(sandbox) == "This suggestion was already approved by Mod1."
    assert len(await entries(sandbox)) == 4


async def test_the_suggest_dialogue_step_by_step(sandbox: Sandbox, admin: SandboxUser) -> None:
    group = await working_group(sandbox, admin)
    anna = group["anna"]
    replies = await anna.send("/suggest")
    assert "A new glossary entry" in replies.text
    assert "Its term in English" in replies.text
    # Bad answers: explained, and asked again.
    replies = await anna.send(" ;  ; ")
    assert "cannot be empty" in replies.text and "Its term in English" in replies.text
    replies = await anna.send("x" * 301)
    assert "too long: 301 characters" in replies.text
    replies = await anna.send("Smuggling  of MIGRANTS")
    assert f"/g_{group.entries['som']}" in replies.text  # a pointer to the existing entry
    replies = await anna.send("beneficial owner; ultimate beneficial owner")
    assert "Its term in Russian" in replies.text
    replies = await anna.send("бенефициарный владелец")
    assert "other languages" in replies.text
    replies = await anna.send("xx: something")
    assert "xx is not one of the glossary's languages" in replies.text
    replies = await anna.send("uz: benefitsiar mulkdor\nkk: бенефициарлық меншік иесі")
    assert "abbreviations" in replies.text.lower()
    replies = await anna.send("UBO")
    assert "definition in English" in replies.text
    replies = await anna.send("d" * 2001)
    assert "definition is too long" in replies.text
    replies = await anna.send("The natural person who ultimately owns or controls a customer.")
    assert "definition in Russian" in replies.text
    replies = await press(anna, replies, "Skip")
    assert "source" in replies.text.lower()
    replies = await anna.send("FATF Glossary")
    replies = await anna.send("#finance #AML")
    assert "Your suggestion, as the moderators will see it" in replies.text
    assert "Uzbek: benefitsiar mulkdor" in replies.text
    assert "#finance #aml" in replies.text
    # Change a field from the preview, then send.
    replies = await press(anna, replies, "Change a field")
    replies = await press(anna, replies, "Abbreviations")
    assert "Now: UBO" in replies.text
    replies = await anna.send("UBO, BO")
    assert "UBO, BO" in replies.text
    replies = await press(anna, replies, "Send to the moderators")
    assert "is with the moderators" in replies.text
    [suggestion] = await suggestions(sandbox)
    assert suggestion.proposed["abbreviations"] == ["UBO", "BO"]
    assert suggestion.proposed["terms"]["kk"] == ["бенефициарлық меншік иесі"]
    assert suggestion.proposed["definitions"] == {
        "en": "The natural person who ultimately owns or controls a customer."
    }


async def test_one_line_mistakes_are_explained(sandbox: Sandbox, admin: SandboxUser) -> None:
    group = await working_group(sandbox, admin)
    anna = group["anna"]
    for line, expected in (
        ("/suggest hawala |", "needs its term in English and in Russian (missing: ru)"),
        ("/suggest | хавала", "(missing: en)"),
        ("/suggest a | б | c | d | e | f | g | h", "at most seven parts"),
        ("/suggest hawala | хавала | " + "X" * 301, "too long: 301 characters"),
        ("/suggest hawala | хавала | | " + "d" * 2001, "definition is too long"),
        ("/suggest hawala | хавала | xx: term", "xx is not one of the glossary's languages"),
        ("/suggest Trafficking in Persons | другое", f"/g_{group.entries['tip']}"),
        ("/suggest other | Торговля  людьми", f"/suggest {group.entries['tip']}"),
        ("/suggest hawala | хавала | | | | | #" + "t" * 51, "A tag can have at most 50"),
    ):
        replies = await anna.send(line)
        assert expected in replies.text, (line, replies.text)
        assert not any(labels(m) for m in replies), line
    assert await suggestions(sandbox) == []
    # The preview is still a dialogue: pressing its stale buttons later does nothing.
    assert "Nothing found" in (await anna.send("/g hawala")).text


async def test_suggest_an_edit_and_a_moderator_revises_it(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    group = await working_group(sandbox, admin)
    anna, mod1 = group["anna"], group["mod1"]
    view = await anna.send("/g smuggling of migrants")
    replies = await press(anna, view, "Suggest an edit")
    assert "Choose a field" in replies.text
    replies = await press(anna, replies, "Abbreviations")
    assert "Now: SOM" in replies.text
    replies = await anna.send("SOM, MS")
    assert "abbreviations: SOM → SOM, MS" in replies.text
    replies = await press(anna, replies, "Send to the moderators")
    copy = copies(sandbox, mod1.id)[-1]
    assert "Suggested edit" in (copy.text or "") and "SOM → SOM, MS" in (copy.text or "")
    # The moderator changes it before approving.
    replies = await mod1.press(copy, "Edit")
    replies = await press(mod1, replies, "Tags")
    replies = await mod1.send("som core migration")
    assert "tags: som, core → som, core, migration" in replies.text
    replies = await press(mod1, replies, "Save")
    assert "The suggestion now reads" in replies.text
    assert "SOM → SOM, MS" in replies.text and "migration" in replies.text
    await press(mod1, replies, "Approve")
    entry = await entry_row(sandbox, group.entries["som"])
    assert entry.abbreviations == ["SOM", "MS"]
    assert entry.tags == ["som", "core", "migration"]
    assert entry.revision == 2
    # /suggest <id> starts the same edit.
    replies = await anna.send(f"/suggest {group.entries['fiu']}")
    assert "Choose a field" in replies.text


async def test_reject_with_a_reason(sandbox: Sandbox, admin: SandboxUser) -> None:
    group = await working_group(sandbox, admin)
    replies = await group["ivan"].send("/suggest hawala | хавала")
    # Ivan reads Russian.
    await press(group["ivan"], replies, gettext("ru", "Send to the moderators"))
    copy = copies(sandbox, group["mod1"].id)[-1]
    asked = await group["mod1"].press(copy, "Reject")
    assert "Why is suggestion" in asked.text
    replies = await group["mod1"].send("Please add a source and a definition.")
    assert "rejected; its author is told" in replies.text
    # The Russian author is told in Russian (or at least told, with the reason).
    told = replies.to(group["ivan"].id)
    assert "Please add a source and a definition." in told.text
    # Every copy, the rejecting moderator's too, says so.
    for chat in (group["mod1"].id, group["mod2"].id, ADMIN_ID):
        [message] = copies(sandbox, chat)
        assert message.buttons == [] and "Please add a source" in (message.text or "")
    [suggestion] = await suggestions(sandbox)
    assert suggestion.status == ReviewStatus.REJECTED
    assert suggestion.reason == "Please add a source and a definition."
    assert len(await entries(sandbox)) == 3
    # Reject without a reason.
    replies = await group["anna"].send("/suggest chain | цепочка")
    await press(group["anna"], replies, "Send")
    copy = copies(sandbox, group["mod1"].id)[-1]
    asked = await group["mod1"].press(copy, "Reject")
    replies = await press(group["mod1"], asked, "Reject without a reason")
    assert "did not accept" in replies.to(group["anna"].id).text


async def test_withdraw_and_forged_suggestion_buttons(sandbox: Sandbox, admin: SandboxUser) -> None:
    group = await working_group(sandbox, admin)
    replies = await group["anna"].send("/suggest hawala | хавала")
    sent = await press(group["anna"], replies, "Send")
    [suggestion] = await suggestions(sandbox)
    # Somebody else's suggestion.
    await group["ivan"].press_data(sent.last, f"gl:wd:{suggestion.id}")
    assert alert(sandbox) == gettext("ru", "That is not your suggestion.")
    # A member cannot decide.
    await group["anna"].press_data(sent.last, f"gl:ok:{suggestion.id}")
    assert "needs the role" in alert(sandbox)
    await group["anna"].press(sent.to(group["anna"].id).last, "Withdraw")
    assert "withdrawn" in (sent.to(group["anna"].id).last.text or "")
    assert await suggestions(sandbox) == []
    [copy] = copies(sandbox, group["mod1"].id)
    assert "Withdrawn by its author" in (copy.text or "") and copy.buttons == []
    for data in (
        f"gl:ok:{suggestion.id}",
        f"gl:ok:{2**31}",
        "gl:ok:9999999999",
        f"gl:rj:{suggestion.id}",
        f"gl:rv:{2**31 - 1}",
    ):
        await group["mod1"].press_data(copy, data)
        assert alert(sandbox) == "That suggestion does not exist any more.", data
    for data in (f"gl:v:{2**31}", "gl:v:0"):
        await group["anna"].press_data(copy, data)
        assert alert(sandbox) == "That entry does not exist."
    for data in ("gl:zz", "gl:h:1", "gl:ok:-1", "gl:ok:99999999999", "gl:d:send"):
        await group["anna"].press_data(copy, data)
        assert alert(sandbox) == "This button is no longer valid.", data


# -- moderators edit directly -------------------------------------------------------------------


async def test_moderators_edit_archive_and_restore(sandbox: Sandbox, admin: SandboxUser) -> None:
    group = await working_group(sandbox, admin)
    mod1 = group["mod1"]
    tip = group.entries["tip"]
    replies = await mod1.send(f"/editterm {tip} abbr THB, TIP, HT")
    assert "Saved: entry" in replies.text and "THB, TIP → THB, TIP, HT" in replies.text
    assert (await entry_row(sandbox, tip)).abbreviations == ["THB", "TIP", "HT"]
    assert "📖 trafficking in persons" in (await group["anna"].send("/g HT")).text
    replies = await mod1.send(f"/editterm {tip} def:ru -")
    assert (await entry_row(sandbox, tip)).definitions.keys() == {"en"}
    replies = await mod1.send(f"/editterm {tip} ru -")
    assert "needs its term in English and in Russian" in replies.text
    replies = await mod1.send(f"/editterm {tip} colour red")
    assert "is not a field" in replies.text
    replies = await mod1.send(f"/editterm {tip} related 99")
    assert "no glossary entry #99" in replies.text
    replies = await mod1.send("/editterm 99999999999 abbr X")
    assert "no glossary entry" in replies.text
    # From the entry's view: Edit, a field, a value, Save.
    view = await mod1.send(f"/g #{tip}")
    assert labels(view.last) == ["✏️ Edit", "🕘 History", "🗄 Archive"]
    replies = await press(mod1, view, "Edit")
    replies = await press(mod1, replies, "Source")
    replies = await mod1.send("Palermo Protocol, art. 3(a)")
    replies = await press(mod1, replies, "Save")
    assert "Saved" in replies.text
    assert (await entry_row(sandbox, tip)).source == "Palermo Protocol, art. 3(a)"
    # Archive: no longer found; Restore: found again.
    view = await mod1.send(f"/g #{tip}")
    await mod1.press(view.last, "Archive")
    assert "Archived" in (view.last.text or "") and labels(view.last)[-1] == "♻️ Restore"
    assert "trafficking in persons" not in (await group["anna"].send("/g THB")).text
    looked_up = await group["anna"].send("/g trafficking in persons")
    assert not looked_up.text.startswith("📖 trafficking in persons")
    await mod1.press(view.last, "Restore")
    assert "📖 trafficking in persons" in (await group["anna"].send("/g THB")).text
    entry = await entry_row(sandbox, tip)
    assert entry.status == EntryStatus.PUBLISHED and entry.revision == 6
    # /newterm publishes at once.
    replies = await mod1.send("/newterm mutual legal assistance | взаимная правовая помощь | MLA")
    replies = await press(mod1, replies, "Publish")
    assert "Published as entry" in replies.text
    assert "📖 mutual legal assistance" in (await group["anna"].send("/g MLA")).text


async def test_members_cannot_use_moderator_commands(sandbox: Sandbox, admin: SandboxUser) -> None:
    group = await working_group(sandbox, admin)
    anna = group["anna"]
    tip = group.entries["tip"]
    for command in (f"/editterm {tip} abbr X", "/newterm a | б", f"/editterm {tip}"):
        replies = await anna.send(command)
        assert "needs the role" in replies.text, command
    view = await anna.send(f"/g #{tip}")
    for data in (f"gl:ar:{tip}", f"gl:rs:{tip}", f"gl:ed:{tip}", "gl:rv:1", "gl:rj:1"):
        await anna.press_data(view.last, data)
        assert "needs the role" in alert(sandbox), data
    entry = await entry_row(sandbox, tip)
    assert entry.revision == 1 and entry.abbreviations == ["THB", "TIP"]


# -- history ------------------------------------------------------------------------------------


async def test_history_newest_first_and_paged(sandbox: Sandbox, admin: SandboxUser) -> None:
    group = await working_group(sandbox, admin)
    mod1 = group["mod1"]
    tip = group.entries["tip"]
    for value in ("A1", "A2", "A3", "A4", "A5", "A6"):
        await mod1.send(f"/editterm {tip} abbr {value}")
    await group["anna"].send("/timezone Asia/Kabul")
    replies = await group["anna"].send(f"/history {tip}")
    text = replies.text
    assert "History of trafficking in persons" in text
    assert "7 changes" in text and "page 1 of 2" in text
    assert text.index("Revision 7") < text.index("Revision 6")
    assert "abbreviations: A5 → A6" in text
    assert "Mod1 @user_mod1" in text
    assert "Asia/Kabul" in text
    page = replies.last
    await group["anna"].press(page, "Older")
    assert "page 2 of 2" in (page.text or "") and "Created." in (page.text or "")
    assert labels(page) == ["« Newer"]
    await group["anna"].press(page, "Newer")
    assert "Revision 7" in (page.text or "")
    # A forged page beyond the last shows the last.
    await group["anna"].press_data(page, f"gl:h:{tip}:99999")
    assert "page 2 of 2" in (page.text or "")
    assert (await group["anna"].send("/history")).text.startswith("Which entry?")
    assert "no glossary entry #999" in (await group["anna"].send("/history 999")).text


# -- markup -------------------------------------------------------------------------------------


MARKUP = ["<b>bold</b>", "a & b", "<script>alert(1)</script>", "&amp;lt;", "<a href='x'>y</a>"]


@pytest.mark.parametrize("markup", MARKUP)
async def test_markup_in_terms_and_definitions_is_shown_literally(
    sandbox: Sandbox, admin: SandboxUser, markup: str
) -> None:
    group = await working_group(sandbox, admin)
    mod1 = group["mod1"]
    # (A semicolon separates synonyms: a term has none.)
    term = f"term {markup}".replace(";", "")
    replies = await mod1.send(f"/newterm {term} | термин | | def {markup}")
    assert term in replies.text and f"def {markup}" in replies.text
    replies = await press(mod1, replies, "Publish")
    assert term in replies.text and f"def {markup}" in replies.text
    replies = await group["anna"].send(f"/g {term}")
    assert replies.text.startswith(f"📖 {term}") and f"def {markup}" in replies.text
    await group["anna"].inline(term)
    [result, *_] = sandbox.api.inline_answers[-1]["results"]
    assert result["title"] == term
    assert f"def {markup}" in result["description"]
    assert not sandbox.api.violations


async def test_four_thousand_character_lookups(sandbox: Sandbox, admin: SandboxUser) -> None:
    group = await working_group(sandbox, admin)
    for command in ("/g ", "/suggest ", "/newterm ", "/history ", "/editterm 1 source "):
        user = group["mod1"]
        replies = await user.send(command + "я" * 4000)
        assert replies, command
        for message in replies:
            assert len(message.text or "") <= 4096
    assert len(await entries(sandbox)) == 3
    assert [e.revision for e in await entries(sandbox)] == [1, 1, 1]
