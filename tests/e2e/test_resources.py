"""The resource library on Telegram: /resources with words and filters, paging, /resource, who
sees what (moderators-only resources, the group chat), /propose (dialogue and one line) with the
moderators' Approve / Edit / Reject, /addresource and the moderators' edits, visibility,
"superseded by" and archive, /reviews and the review reminders, role refusals, bad input and
forged buttons."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import col, select
from telegram.ext import ConversationHandler

from bot.models import Member, OutboxMessage
from bot.models.knowledge import (
    GlossarySuggestion,
    Resource,
    ResourceKind,
    ResourceStatus,
    Visibility,
)
from bot.sandbox.driver import Replies, Sandbox, SandboxUser
from bot.sandbox.fake_api import StoredMessage
from bot.scheduler import review_source
from bot.services import resources
from bot.services.resources import Draft
from handlers import resources as feature
from tests.conftest import GROUP_ID, make_member

NOT_ALLOWED = "needs the role"
NOT_ADMITTED = "only for members"


@pytest.fixture(autouse=True)
def _registered(sandbox: Sandbox) -> Iterator[None]:
    """Until handlers/__init__.py registers the feature (and the scheduler has its source):
    the resource handlers first in group 0, and the review reminders' source."""
    app = sandbox.app
    group = app.handlers.setdefault(0, [])
    if not any(isinstance(h, ConversationHandler) and h.name == "resources" for h in group):
        before = list(group)
        feature.register(app, 0)
        added = [h for h in app.handlers[0] if h not in before]
        app.handlers[0][:] = added + before
    if not any(source.name == "reviews" for source in sandbox.scheduler.sources):
        context = app.bot_data["app"]
        sandbox.scheduler.sources.append(review_source(context, feature.review_composer(context)))
    yield


# -- the people and the library ---------------------------------------------------------------


@dataclass
class Group:
    people: dict[str, SandboxUser] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)

    def __getitem__(self, name: str) -> SandboxUser:
        return self.people[name]


async def working_group(sandbox: Sandbox) -> Group:
    group = Group()
    for name, user_id, role in (
        ("mod1", 200, "moderator"),
        ("mod2", 201, "moderator"),
        ("alice", 300, "member"),
        ("bob", 301, "focal_point"),
    ):
        user = sandbox.user(user_id, name.capitalize(), username=name)
        group.ids[name] = await make_member(sandbox, user, role)
        group.people[name] = user
    group.people["stranger"] = sandbox.user(999, "Stranger", username="stranger")
    sandbox.api.chats[GROUP_ID].members.update({200: "member", 300: "member"})
    return group


def _app(sandbox: Sandbox) -> Any:
    return sandbox.app.bot_data["app"]


async def add(sandbox: Sandbox, moderator_id: int, **values: Any) -> int:
    """A resource added through the service, as a moderator would (published)."""
    app = _app(sandbox)
    draft: dict[str, Any] = {
        "url": "https://www.unodc.org/x",
        "title": "A resource",
        "kind": ResourceKind.REPORT,
    }
    draft.update(values)
    async with app.db.session() as session:
        moderator = await session.get(Member, moderator_id)
        assert moderator is not None
        row = await resources.create(
            session,
            moderator,
            Draft(**draft),
            now=sandbox.now(),
            indexes=app.indexes,
            compose=feature.notice_composer(app),
        )
        assert row.id is not None
        return row.id


async def library(sandbox: Sandbox, group: Group) -> dict[str, int]:
    moderator = group.ids["mod1"]
    return {
        "glotip": await add(
            sandbox,
            moderator,
            url="https://www.unodc.org/glotip",
            title="Global Report on Trafficking in Persons 2024",
            issuer="UNODC",
            year=2024,
            languages=("en", "ru"),
            countries=("KZ", "AF"),
            tags=("trafficking", "statistics"),
            summary="Trends and patterns of trafficking in persons.\nSecond line.",
        ),
        "hawala": await add(
            sandbox,
            moderator,
            url="https://www.fatf-gafi.org/hawala",
            title="The Role of Hawala in Money Laundering",
            issuer="FATF",
            year=2013,
            languages=("en",),
            countries=("AF", "PK"),
            tags=("hawala", "money laundering"),
        ),
        "nrm": await add(
            sandbox,
            moderator,
            url="https://www.osce.org/nrm",
            title="National Referral Mechanisms Handbook",
            kind=ResourceKind.GUIDELINE,
            issuer="OSCE ODIHR",
            year=2022,
            languages=("en", "ru"),
            countries=("KZ",),
            tags=("victims",),
        ),
        "secret": await add(
            sandbox,
            moderator,
            url="https://internal.example.org/checklist",
            title="Internal checklist for financial investigations",
            kind=ResourceKind.TOOL,
            year=2025,
            tags=("money laundering",),
            visibility=Visibility.MODERATORS,
        ),
    }


async def resource_row(sandbox: Sandbox, resource_id: int) -> Resource | None:
    async with _app(sandbox).db.session() as session:
        return await session.get(Resource, resource_id)


def alert(sandbox: Sandbox) -> str:
    return sandbox.api.callback_answers[-1].text or ""


def labels(message: StoredMessage) -> list[str]:
    return [b["text"] for row in message.buttons for b in row]


def data(message: StoredMessage) -> list[str]:
    return [b["callback_data"] for row in message.buttons for b in row]


async def press(user: SandboxUser, replies: list[StoredMessage], label: str) -> Replies:
    for message in reversed(replies):
        if any(label.lower() in text.lower() for text in labels(message)):
            return await user.press(message, label)
    raise AssertionError(f"no button {label!r} in {[labels(m) for m in replies]}")


def pause(sandbox: Sandbox, seconds: int = 5) -> None:
    sandbox.clock.advance(timedelta(seconds=seconds))  # type: ignore[attr-defined]


def bot_messages(sandbox: Sandbox, chat_id: int) -> list[StoredMessage]:
    return [
        m
        for (chat, _), m in sorted(sandbox.api.messages.items())
        if chat == chat_id and m.from_id == sandbox.bot_id and not m.deleted
    ]


# -- searching --------------------------------------------------------------------------------


async def test_search_with_words_and_filters(sandbox: Sandbox) -> None:
    group = await working_group(sandbox)
    ids = await library(sandbox, group)
    alice = group["alice"]
    replies = await alice.send("/resources hawala")
    text = replies.text
    assert "The Role of Hawala in Money Laundering" in text
    assert "FATF" in text and "2013" in text and "Report" in text
    assert f"res:v:{ids['hawala']}" in data(replies.last)
    # The title is a link to the resource.
    links = [e for e in replies.last.entities if e.type == "text_link"]
    assert any(e.url == "https://www.fatf-gafi.org/hawala" for e in links)
    # Filters: alone (newest first), with words, the alias /r, other spellings.
    replies = await alice.send("/r lang:ru")
    assert replies.text.index("Global Report") < replies.text.index("National Referral")
    assert "Hawala" not in replies.text
    replies = await alice.send("/resources trafficking country:KZ year:2020..")
    assert "Global Report" in replies.text and "Hawala" not in replies.text
    replies = await alice.send("/resources type:guidelines")
    assert "National Referral Mechanisms Handbook" in replies.text
    assert "Global Report" not in replies.text
    replies = await alice.send("/resources #money_laundering")
    assert "Hawala" in replies.text and "checklist" not in replies.text
    # A one-line summary (its first line).
    replies = await alice.send("/resources statistics")
    assert "Trends and patterns" in replies.text and "Second line" not in replies.text
    # /resource: one in full.
    replies = await alice.send(f"/resource {ids['glotip']}")
    assert "Second line." in replies.text and "Kazakhstan" in replies.text
    assert "#trafficking" in replies.text
    assert replies.last.buttons == []  # no moderator buttons for a member
    # No hit: the closest titles.
    replies = await alice.send("/resources refferal mechanism")
    assert "National Referral Mechanisms Handbook" in replies.text
    replies = await alice.send("/resources xqzt")
    assert "Nothing found for xqzt." in replies.text


async def test_bad_filters_explain_the_allowed_values(sandbox: Sandbox) -> None:
    group = await working_group(sandbox)
    await library(sandbox, group)
    alice = group["alice"]
    replies = await alice.send("/resources kind:foo")
    assert "foo is not a kind of resource" in replies.text
    assert "report, guideline, legislation, case_law, training, tool" in replies.text
    replies = await alice.send("/resources country:XX")
    assert "XX is not a country code" in replies.text
    replies = await alice.send("/resources year:abc")
    assert "year:2020.." in replies.text and "year:..2015" in replies.text
    replies = await alice.send("/resources lang:qqq")
    assert "qqq is not a language code" in replies.text
    replies = await alice.send("/resources kind:<b>")
    assert "<b> is not a kind of resource" in replies.text


async def test_paging(sandbox: Sandbox) -> None:
    group = await working_group(sandbox)
    for n in range(12):
        await add(
            sandbox,
            group.ids["mod1"],
            url=f"https://example.org/{n}",
            title=f"Annual report number {n}",
            year=2000 + n,
        )
    alice = group["alice"]
    replies = await alice.send("/resources kind:report")
    first = replies.last
    assert "12 found" in first.text and "Page 1 of 3" in first.text
    assert "Annual report number 11" in first.text and "number 6" not in first.text
    assert labels(first)[-1] == "»"
    await alice.press(first, "»")
    assert "Page 2 of 3" in (first.text or "") and "Annual report number 6" in (first.text or "")
    await alice.press(first, "»")
    assert "Annual report number 0" in (first.text or "")
    assert "»" not in labels(first)
    await alice.press(first, "«")
    assert "Page 2 of 3" in (first.text or "")
    # A query too long for the buttons' data is kept under a token.
    long_query = "annual report number kind:report year:2000..2011 lang:en,ru country:KZ"
    await add(
        sandbox,
        group.ids["mod1"],
        url="https://example.org/kz",
        title="Annual report number KZ",
        year=2005,
        languages=("ru",),
        countries=("KZ",),
    )
    replies = await alice.send("/resources annual report number kind:report year:2000..")
    assert "13 found" in replies.last.text
    replies = await alice.send(f"/resources {long_query}")
    assert "Annual report number KZ" in replies.text
    # Every button's data fits Telegram's 64 bytes (the fake refuses more).
    for message in bot_messages(sandbox, alice.id):
        assert all(len(d.encode()) <= 64 for d in data(message))


async def test_token_paging(sandbox: Sandbox) -> None:
    group = await working_group(sandbox)
    for n in range(7):
        await add(
            sandbox,
            group.ids["mod1"],
            url=f"https://example.org/{n}",
            title=f"Trafficking in persons country assessment {n}",
            year=2010 + n,
            countries=("KZ",),
        )
    alice = group["alice"]
    query = "trafficking in persons country assessment country:KZ year:2010..2020"
    replies = await alice.send(f"/resources {query}")
    message = replies.last
    assert any(d.startswith("res:p:1:t:") for d in data(message))
    await alice.press(message, "»")
    assert "Page 2 of 2" in (message.text or "")
    # A forged token (or one from before a restart): search again.
    await alice.press_data(message, "res:p:1:t:424242")
    assert "search again" in alert(sandbox)


async def test_moderators_only_resources_are_invisible_to_members(sandbox: Sandbox) -> None:
    group = await working_group(sandbox)
    ids = await library(sandbox, group)
    alice, mod1 = group["alice"], group["mod1"]
    for query in ("checklist", "#money_laundering", "kind:tool", "", "financial investigations"):
        replies = await alice.send(f"/resources {query}")
        assert "Internal checklist" not in replies.text, query
        assert f"res:v:{ids['secret']}" not in data(replies.last)
    assert "Nothing found for checklist" in (await alice.send("/resources checklist")).text
    replies = await alice.send(f"/resource {ids['secret']}")
    assert f"There is no resource #{ids['secret']}" in replies.text
    # A forged button for it.
    await alice.press_data(replies.last, f"res:v:{ids['secret']}")
    assert f"no resource #{ids['secret']}" in alert(sandbox)
    # Moderators see it, marked; in the group chat nobody does, whoever asks.
    replies = await mod1.send("/resources checklist")
    assert "Internal checklist" in replies.text and "🔒" in replies.text
    replies = await mod1.send(f"/resource {ids['secret']}")
    assert "moderators only" in replies.text
    replies = await mod1.send("/resources checklist", chat_id=GROUP_ID)
    assert "Internal checklist" not in replies.text
    replies = await mod1.send(f"/resource {ids['secret']}", chat_id=GROUP_ID)
    assert "There is no resource" in replies.text
    replies = await alice.send("/r hawala", chat_id=GROUP_ID)
    assert "Hawala" in replies.text and replies.last.chat_id == GROUP_ID
    replies = await mod1.send(f"/resource {ids['hawala']}", chat_id=GROUP_ID)
    assert "Hawala" in replies.text and replies.last.buttons == []


# -- proposing and reviewing ------------------------------------------------------------------


async def propose_by_dialogue(sandbox: Sandbox, user: SandboxUser) -> Replies:
    replies = await user.send("/propose")
    assert "Send the link" in replies.text
    for answer, expect in (
        ("https://www.fatf-gafi.org/guidance-ml", "Its title?"),
        ("Guidance on <b>hawala</b> & other services", "What kind"),
    ):
        replies = await user.send(answer)
        assert expect in replies.text, replies.text
    replies = await press(user, replies, "Guideline")
    assert "Who issued it" in replies.text
    replies = await user.send("FATF")
    assert "The year" in replies.text
    replies = await user.send("1850")
    assert "1850 is not a year I can use" in replies.text and "The year" in replies.text
    replies = await user.send("2021")
    replies = await user.send("en, ru")
    assert "countries" in replies.text
    replies = await press(user, replies, "Skip")
    assert "Tags" in replies.text
    replies = await user.send("hawala, money laundering")
    replies = await user.send("How <i>informal</i> value transfer is misused.")
    assert "Preview" in replies.text
    # Markup is shown literally.
    assert "Guidance on <b>hawala</b> & other services" in replies.text
    assert "<i>informal</i>" in replies.text
    return replies


async def test_propose_then_approve(sandbox: Sandbox) -> None:
    group = await working_group(sandbox)
    alice, mod1, mod2 = group["alice"], group["mod1"], group["mod2"]
    replies = await propose_by_dialogue(sandbox, alice)
    replies = await press(alice, replies, "Submit")
    assert "went to the moderators" in replies.to(alice.id).text
    async with _app(sandbox).db.session() as session:
        row = (await session.exec(select(Resource))).one()
    assert row.status == ResourceStatus.PENDING and row.year == 2021
    assert row.countries == [] and row.languages == ["en", "ru"]
    # Every moderator (and the admin) got it, with Approve / Edit / Reject.
    copies = {user.id: replies.to(user.id) for user in (mod1, mod2)}
    for copy in copies.values():
        assert "Proposed for the library" in copy.text and "Alice" in copy.text
        assert "Guidance on <b>hawala</b> & other services" in copy.text
        assert [label.split()[-1] for label in labels(copy.last)] == ["Approve", "Edit", "Reject"]
    # Pending: members do not find it yet.
    assert "Guidance on" not in (await alice.send("/resources hawala")).text
    pause(sandbox)
    replies = await mod1.press(copies[mod1.id].last, "Approve")
    mine, theirs = copies[mod1.id].last, copies[mod2.id].last
    assert "Approved by Mod1" in (mine.text or "") and mine.buttons == []
    assert "Approved by Mod1" in (theirs.text or "") and theirs.buttons == []
    told = replies.to(alice.id)
    assert "was approved" in told.text and f"#{row.id}" in told.text
    assert "Guidance on <b>hawala</b>" in (await alice.send("/resources hawala")).text
    # The other moderator presses their (old) copy, or a forged one: already reviewed.
    await mod2.press_data(theirs, f"res:no:{row.id}")
    assert "already been reviewed" in alert(sandbox)
    assert (await resource_row(sandbox, row.id or 0)).status == ResourceStatus.PUBLISHED  # type: ignore[union-attr]


async def test_propose_one_line_then_reject(sandbox: Sandbox) -> None:
    group = await working_group(sandbox)
    bob, mod2 = group["bob"], group["mod2"]
    replies = await bob.send(
        "/propose https://www.iom.int/handbook | IOM Handbook on Direct Assistance | guide | IOM "
        "| 2007"
    )
    assert "Preview" in replies.text and "Guideline" in replies.text
    replies = await press(bob, replies, "Submit")
    copy = replies.to(mod2.id).last
    pause(sandbox)
    replies = await mod2.press(copy, "Reject")
    assert "Rejected by Mod2" in (copy.text or "")
    assert "was not added" in replies.to(bob.id).text
    rows = await _resources(sandbox)
    assert [r.status for r in rows] == [ResourceStatus.REJECTED]
    # Members learn nothing of it by its number.
    assert "There is no resource" in (await bob.send(f"/resource {rows[0].id}")).text


async def _resources(sandbox: Sandbox) -> list[Resource]:
    async with _app(sandbox).db.session() as session:
        return list(await session.exec(select(Resource).order_by(col(Resource.id))))


async def test_moderator_edits_a_proposal_before_approving(sandbox: Sandbox) -> None:
    group = await working_group(sandbox)
    alice, mod1 = group["alice"], group["mod1"]
    replies = await alice.send("/propose https://example.org/a | Tpyo in title | report")
    replies = await press(alice, replies, "Submit")
    copy = replies.to(mod1.id).last
    replies = await mod1.press(copy, "Edit")
    replies = await press(mod1, replies, "Title")
    assert "Now: Tpyo in title" in replies.text
    replies = await mod1.send("Typo in title")
    assert "Saved." in replies.text and "Typo in title" in replies.text
    replies = await press(mod1, replies, "Approve")
    assert "Approved by Mod1" in replies.text or "Approved" in alert(sandbox)
    row = (await _resources(sandbox))[0]
    assert (row.title, row.status) == ("Typo in title", ResourceStatus.PUBLISHED)
    assert "Typo in title" in bot_messages(sandbox, alice.id)[-1].text  # type: ignore[operator]


async def test_moderators_add_edit_supersede_archive(sandbox: Sandbox) -> None:
    group = await working_group(sandbox)
    ids = await library(sandbox, group)
    mod1, alice = group["mod1"], group["alice"]
    replies = await mod1.send(
        "/addresource https://www.fatf-gafi.org/hawala-2023 | Hawala and money laundering, "
        "2023 update | report | FATF | 2023 | en | AF,PK | hawala"
    )
    assert "Add it to the library?" in replies.text
    replies = await press(mod1, replies, "Add to the library")
    assert "Added to the library as #" in replies.text
    new_id = max(r.id or 0 for r in await _resources(sandbox))
    assert "2023 update" in (await alice.send("/resources hawala")).text
    # Superseded by: itself, a missing one, then the new one.
    replies = await mod1.send(f"/resource {ids['hawala']}")
    view = replies.last
    replies = await mod1.press(view, "Superseded by")
    assert "Which resource supersedes" in replies.text
    replies = await mod1.send(str(ids["hawala"]))
    assert "cannot be superseded by itself" in replies.text
    replies = await mod1.send("99999")
    assert "no published resource #99999" in replies.text
    replies = await mod1.send(str(new_id))
    assert "Saved." in replies.text and f"Superseded by #{new_id}" in replies.text
    replies = await alice.send("/resources role of hawala")
    assert f"Superseded by #{new_id}" in replies.text
    # Edit a field; a bad value is explained and asked again.
    replies = await mod1.press(view, "Edit")
    replies = await press(mod1, replies, "Year")
    replies = await mod1.send("3000")
    assert "3000 is not a year I can use" in replies.text
    replies = await mod1.send("2014")
    assert "Saved." in replies.text
    assert (await resource_row(sandbox, ids["hawala"])).year == 2014  # type: ignore[union-attr]
    replies = await mod1.send(f"/resource {ids['hawala']}")
    view = replies.last
    replies = await mod1.press(view, "Edit")
    replies = await press(mod1, replies, "Link")
    replies = await mod1.send("javascript:alert(1)")
    assert "is not a web link" in replies.text
    replies = await mod1.send("/cancel")
    assert "Cancelled" in replies.text
    # Visibility: moderators only, then members again.
    await mod1.press(view, "Moderators only")
    assert "moderators only" in (view.text or "")
    assert "Role of Hawala" not in (await alice.send("/resources role of hawala")).text
    await mod1.press(view, "Visible to members")
    assert "Role of Hawala" in (await alice.send("/resources role of hawala")).text
    # Archive: asks, then does; members no longer find it; restore.
    replies = await mod1.press(view, "Archive")
    replies = await press(mod1, replies, "No")
    assert "nothing changed" in replies.text.lower() or "Kept" in (
        bot_messages(sandbox, mod1.id)[-1].text or ""
    )
    replies = await mod1.press(view, "Archive")
    confirm = replies.last
    await mod1.press(confirm, "Yes, archive it")
    assert "is archived" in (confirm.text or "")
    assert "Role of Hawala" not in (await alice.send("/resources role of hawala")).text
    assert "There is no resource" in (await alice.send(f"/resource {ids['hawala']}")).text
    replies = await mod1.send(f"/resource {ids['hawala']}")
    assert "archived" in replies.text
    await mod1.press(replies.last, "Restore")
    assert "Role of Hawala" in (await alice.send("/resources role of hawala")).text


# -- reviews ------------------------------------------------------------------------------------


async def _suggestion(sandbox: Sandbox, author_id: int, term: str) -> int:
    async with _app(sandbox).db.session() as session:
        row = GlossarySuggestion(
            proposed={"terms": {"en": [term]}}, author_id=author_id, created_at=sandbox.now()
        )
        session.add(row)
        await session.flush()
        assert row.id is not None
        return row.id


async def test_reviews_and_reminders(sandbox: Sandbox) -> None:
    group = await working_group(sandbox)
    alice, bob, mod1, mod2 = group["alice"], group["bob"], group["mod1"], group["mod2"]
    assert "Nothing waits for a review" in (await mod1.send("/reviews")).text
    await _suggestion(sandbox, group.ids["alice"], "hawala <script>")
    for user, url in ((alice, "https://example.org/a"), (bob, "https://example.org/b")):
        replies = await user.send(
            f"/propose {url} | Proposal from {user.json['first_name']} | tool"
        )
        await press(user, replies, "Submit")
        pause(sandbox)
    replies = await mod1.send("/reviews")
    listing = replies.last
    assert "2 proposed resources" in listing.text  # type: ignore[operator]
    assert "1 glossary suggestion" in listing.text  # type: ignore[operator]
    assert "hawala <script>" in listing.text  # type: ignore[operator]
    # A glossary suggestion carries the glossary's own buttons (handlers/glossary.py).
    assert {"gl:ok:1", "gl:rv:1", "gl:rj:1"} <= set(data(listing))
    assert "Proposal from Alice" in listing.text  # type: ignore[operator]
    rows = await _resources(sandbox)
    await mod1.press(listing, f"✅ #{rows[0].id}")
    assert "1 proposed resource" in (listing.text or "")
    assert "Proposal from Alice" not in (listing.text or "")
    # Four days later the moderators are reminded of what still waits, in one message, once.
    sent = await sandbox.wait(timedelta(days=4))
    for moderator in (mod1, mod2):
        digest = sent.to(moderator.id)
        assert len(digest) == 1, digest.text
        assert "1 glossary suggestion" in digest.text and "1 proposed resource" in digest.text
        assert "/reviews lists all that wait (2)" in digest.text
        assert "26 Nov 2026, 14:00 (Asia/Almaty" in digest.text
    assert not sent.to(alice.id)
    again = await sandbox.wait(timedelta(days=1))
    assert not again.to(mod1.id)
    # Approved: it stops reminding; the suggestion goes on.
    await mod2.press(bot_messages(sandbox, mod2.id)[1], "Approve")
    later = await sandbox.wait(timedelta(days=2))
    assert "1 glossary suggestion" in later.to(mod1.id).text
    assert "proposed resource" not in later.to(mod1.id).text


# -- who may --------------------------------------------------------------------------------------


async def test_role_refusals(sandbox: Sandbox) -> None:
    group = await working_group(sandbox)
    ids = await library(sandbox, group)
    alice, stranger = group["alice"], group["stranger"]
    for command in ("/resources hawala", f"/resource {ids['hawala']}", "/propose", "/r"):
        replies = await stranger.send(command)
        assert NOT_ADMITTED in replies.text, command
        assert "Hawala" not in replies.text
    for command in ("/addresource", "/reviews"):
        assert NOT_ALLOWED in (await alice.send(command)).text, command
    # A member pressing the moderators' buttons (forged): refused, nothing changed.
    replies = await alice.send(f"/resource {ids['hawala']}")
    for forged in (
        f"res:ok:{ids['hawala']}",
        f"res:ar:{ids['hawala']}:y",
        f"res:vis:{ids['hawala']}:o",
        f"res:e:{ids['hawala']}:title",
        f"res:sup:{ids['hawala']}",
        f"res:ed:{ids['hawala']}",
    ):
        await alice.press_data(replies.last, forged)
        assert NOT_ALLOWED in alert(sandbox), forged
    row = await resource_row(sandbox, ids["hawala"])
    assert row is not None and row.status == ResourceStatus.PUBLISHED
    assert row.visibility == Visibility.MEMBERS and row.revision == 1
    # /propose and /addresource are for private chats.
    replies = await alice.send("/propose", chat_id=GROUP_ID)
    assert "private" in replies.text.lower()


async def test_bad_input_and_forged_buttons(sandbox: Sandbox) -> None:
    group = await working_group(sandbox)
    ids = await library(sandbox, group)
    alice, mod1 = group["alice"], group["mod1"]
    for line, expect in (
        ("javascript:alert(1) | Title | report", "is not a web link"),
        ("https://example.org/x | " + "T" * 301 + " | report", "at most 300"),
        ("https://example.org/x | Title | poem", "poem is not a kind of resource"),
        ("https://example.org/x | Title | report | UN | 2099", "2099 is not a year"),
        ("https://example.org/x | Title | report | UN | 2020 | xx-lang", "not a language code"),
        ("https://example.org/x | Title | report | UN | 2020 | en | ZZ", "ZZ is not a country"),
        ("https://www.fatf-gafi.org/hawala | Again | report", f"#{ids['hawala']}"),
        ("https://internal.example.org/checklist | Again | report", "already in the library"),
        ("just some words", "/propose https://link | Title"),
    ):
        replies = await alice.send(f"/propose {line}")
        assert expect in replies.text, (line, replies.text)
        assert "Preview" not in replies.text
    # (The duplicate that is for moderators only is not named to a member.)
    assert f"#{ids['secret']}" not in bot_messages(sandbox, alice.id)[-2].text  # type: ignore[operator]
    assert len(await _resources(sandbox)) == 4
    # Forged and stale buttons.
    replies = await alice.send("/resources hawala")
    message = replies.last
    for forged, expect in (
        ("res:v:99999999999", "no longer valid"),
        ("res:v:2147483648", "no resource"),
        ("res:v:0", "no resource"),
        ("res:p:99999:q:hawala", ""),
        ("res:p:0:q:kind:foo", "not a kind of resource"),
        ("res:zzz", "no longer valid"),
        ("res:d:ok", "no longer valid"),
    ):
        await alice.press_data(message, forged)
        assert expect in alert(sandbox), forged
    pending = (await mod1.send("/resources hawala")).last
    await mod1.press_data(pending, "res:ok:99999999")
    assert "no resource #99999999" in alert(sandbox)
    await mod1.press_data(pending, f"res:ok:{ids['hawala']}")
    assert "already been reviewed" in alert(sandbox)
    await mod1.press_data(pending, "res:e:99999999:title")
    assert "no resource" in alert(sandbox)
    # HTML in every text, shown literally.
    marked = await add(
        sandbox,
        group.ids["mod1"],
        url="https://example.org/?a=1&b=2",
        title="<a href='https://evil.example'>click</a> & <b>bold</b>",
        issuer="<i>Issuer</i>",
        tags=("<tag>",),
        summary="<script>alert(1)</script>",
    )
    replies = await alice.send(f"/resource {marked}")
    text = replies.text
    for literal in (
        "<a href='https://evil.example'>click</a> & <b>bold</b>",
        "<i>Issuer</i>",
        "<script>alert(1)</script>",
        "#<tag>",
    ):
        assert literal in text, literal
    assert not any(e.url == "https://evil.example" for e in replies.last.entities)
    assert "<b>bold</b>" in (await alice.send("/resources bold click")).text


async def test_dialogue_details(sandbox: Sandbox) -> None:
    group = await working_group(sandbox)
    alice = group["alice"]
    replies = await alice.send("/propose")
    replies = await alice.send("not a link")
    assert "is not a web link" in replies.text and "Send the link" in replies.text
    replies = await alice.send("https://example.org/report")
    replies = await alice.send("A title")
    replies = await alice.send("kinds of things")
    assert "is not a kind of resource" in replies.text
    replies = await alice.send("case law")
    assert "Who issued it" in replies.text
    replies = await alice.send("/cancel")
    assert "nothing was saved" in replies.text.lower()
    assert await _resources(sandbox) == []
    # A button from the finished dialogue.
    await alice.press_data(replies.last, "res:d:ok")
    assert "no longer valid" in alert(sandbox)


async def test_outbox_keys_are_unique(sandbox: Sandbox) -> None:
    group = await working_group(sandbox)
    alice = group["alice"]
    replies = await alice.send("/propose https://example.org/q | Q | report")
    await press(alice, replies, "Submit")
    async with _app(sandbox).db.session() as session:
        rows = list(
            await session.exec(select(OutboxMessage).where(OutboxMessage.kind == resources.KIND))
        )
    keys = [r.dedup_key for r in rows]
    assert len(keys) == len(set(keys)) == 3  # two moderators and the admin (ADMIN_IDS)
