"""The glossary service without Telegram: entries and their history, suggestions approved and
rejected, input checks, the search document, and the index kept in step across processes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from bot.db import Database
from bot.models import (
    Admission,
    AuditAction,
    AuditEntry,
    ChangeAction,
    EntryStatus,
    GlossaryChange,
    GlossaryEntry,
    GlossarySuggestion,
    Member,
    OutboxAction,
    OutboxMessage,
    OutboxState,
    ReviewStatus,
    Role,
)
from bot.services import glossary, members
from bot.services.errors import ServiceError
from bot.services.glossary import Content, Notice
from bot.services.search import FieldKind, SearchIndex

NOW = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)


def compose(notice: Notice) -> dict[str, Any]:
    return {"text": f"{notice.kind}|{notice.suggestion.id}|{len(notice.changes)}"}


def tip(**changes: Any) -> Content:
    content = Content(
        terms={"en": ["trafficking in persons", "human trafficking"], "ru": ["торговля людьми"]},
        abbreviations=["THB", "TIP"],
        definitions={"en": "The recruitment ... for the purpose of exploitation."},
        source="Trafficking in Persons Protocol, art. 3(a)",
        tags=["tip"],
    )
    for key, value in changes.items():
        setattr(content, key, value)
    return content


def som() -> Content:
    return Content(
        terms={"en": ["smuggling of migrants"], "ru": ["незаконный ввоз мигрантов"]},
        abbreviations=["SOM"],
        source="Smuggling of Migrants Protocol, art. 3(a)",
    )


async def _member(db: Database, telegram_id: int, role: Role = Role.MEMBER) -> Member:
    async with db.session() as session:
        member = await members.admit(
            session,
            members.Profile(telegram_id, f"Person {telegram_id}", f"user{telegram_id}"),
            via=Admission.MODERATOR,
            now=NOW,
        )
        member.role = role
        session.add(member)
        await session.flush()
        return member


async def _create(db: Database, actor: Member, content: Content) -> GlossaryEntry:
    async with db.session() as session:
        return await glossary.create(session, actor, content, now=NOW)


async def _changes(db: Database, entry_id: int) -> list[GlossaryChange]:
    async with db.session() as session:
        rows = await session.exec(
            select(GlossaryChange)
            .where(GlossaryChange.entry_id == entry_id)
            .order_by(col(GlossaryChange.id))
        )
        return list(rows)


# -- entries and their history ----------------------------------------------------------------


async def test_create_edit_archive_restore_keep_the_history(db: Database) -> None:
    moderator = await _member(db, 1, Role.MODERATOR)
    entry = await _create(db, moderator, tip())
    assert entry.id is not None and entry.revision == 1
    async with db.session() as session:
        entry = await glossary.get(session, entry.id)
        changes = await glossary.change(
            session,
            moderator,
            entry,
            {"abbr": ["THB", "TIP", "HT"], "d:ru": "Вербовка ... в целях эксплуатации."},
            now=NOW + timedelta(hours=1),
        )
        assert {c.key for c in changes} == {"abbr", "d:ru"}
        assert entry.revision == 2
        await glossary.archive(session, moderator, entry, now=NOW + timedelta(hours=2))
        with pytest.raises(ServiceError) as error:
            await glossary.archive(session, moderator, entry, now=NOW + timedelta(hours=2))
        assert error.value.code == "glossary_already_archived"
        with pytest.raises(ServiceError) as error:
            await glossary.change(session, moderator, entry, {"src": "x"}, now=NOW)
        assert error.value.code == "glossary_archived"
        await glossary.restore(session, moderator, entry, now=NOW + timedelta(hours=3))
        assert entry.revision == 4 and entry.status == EntryStatus.PUBLISHED
    rows = await _changes(db, entry.id)
    assert [r.action for r in rows] == [
        ChangeAction.CREATED,
        ChangeAction.EDITED,
        ChangeAction.ARCHIVED,
        ChangeAction.RESTORED,
    ]
    assert [r.revision for r in rows] == [1, 2, 3, 4]
    assert rows[0].before is None and rows[0].after["terms"]["ru"] == ["торговля людьми"]
    assert rows[1].before is not None and rows[1].before["abbreviations"] == ["THB", "TIP"]
    assert rows[1].after["abbreviations"] == ["THB", "TIP", "HT"]
    assert rows[2].after["status"] == "archived"
    assert all(r.actor_label.startswith("Person 1") for r in rows)
    async with db.session() as session:
        lines, pages, total = await glossary.history(session, entry.id, 0, page_size=3)
        assert (pages, total) == (2, 4)
        assert [line.change.action for line in lines] == ["restored", "archived", "edited"]
        assert [c.key for c in lines[1].changes] == ["status"]
        assert {c.key for c in lines[2].changes} == {"abbr", "d:ru"}
        audit = list(
            await session.exec(
                select(AuditEntry).where(AuditEntry.action == AuditAction.GLOSSARY_CHANGED)
            )
        )
        assert len(audit) == 4


async def test_an_edit_that_changes_nothing_is_refused(db: Database) -> None:
    moderator = await _member(db, 1, Role.MODERATOR)
    entry = await _create(db, moderator, tip())
    async with db.session() as session:
        entry = await glossary.get(session, entry.id or 0)
        with pytest.raises(ServiceError) as error:
            await glossary.change(session, moderator, entry, {"abbr": ["THB", "TIP"]}, now=NOW)
        assert error.value.code == "glossary_unchanged"
        assert entry.revision == 1


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (tip(terms={"en": ["trafficking"]}), "glossary_needs_en_ru"),
        (tip(terms={"en": ["   "], "ru": ["торговля"]}), "glossary_term_empty"),
        (tip(terms={"en": ["x" * 301], "ru": ["торговля"]}), "glossary_term_too_long"),
        (
            tip(terms={"en": ["a"], "ru": ["б"], "xx": ["?"]}),
            "glossary_language_unknown",
        ),
        (tip(definitions={"en": "d" * 2001}), "glossary_definition_too_long"),
        (tip(definitions={"zz": "d"}), "glossary_language_unknown"),
        (tip(related_ids=[2**31]), "glossary_related_bad"),
        (tip(related_ids=[99]), "glossary_related_unknown"),
        (tip(source="s" * 501), "glossary_source_too_long"),
    ],
)
async def test_bad_content_is_refused_and_nothing_saved(
    db: Database, content: Content, code: str
) -> None:
    moderator = await _member(db, 1, Role.MODERATOR)
    async with db.session() as session:
        with pytest.raises(ServiceError) as error:
            await glossary.create(session, moderator, content, now=NOW)
        assert error.value.code == code
        assert not list(await session.exec(select(GlossaryEntry)))


async def test_limits_are_exact(db: Database) -> None:
    moderator = await _member(db, 1, Role.MODERATOR)
    content = tip(terms={"en": ["e" * 300], "ru": ["р" * 300]}, definitions={"en": "d" * 2000})
    entry = await _create(db, moderator, content)
    assert entry.terms["en"] == ["e" * 300]


async def test_a_duplicate_preferred_term_points_to_the_entry(db: Database) -> None:
    moderator = await _member(db, 1, Role.MODERATOR)
    first = await _create(db, moderator, tip())
    async with db.session() as session:
        with pytest.raises(ServiceError) as error:
            await glossary.create(
                session,
                moderator,
                tip(terms={"en": ["Trafficking  in PERSONS"], "ru": ["другое"]}),
                now=NOW,
            )
        assert error.value.code == "glossary_duplicate"
        assert error.value.params == {"term": "Trafficking in PERSONS", "id": first.id}
        # Russian too, with ё folded to е.
        with pytest.raises(ServiceError) as error:
            await glossary.create(
                session, moderator, tip(terms={"en": ["other"], "ru": ["Торговля людьми"]}), now=NOW
            )
        assert error.value.params["id"] == first.id
        # A synonym may be shared; an archived entry's term is free again.
        await glossary.create(
            session,
            moderator,
            tip(
                terms={"en": ["child trafficking", "human trafficking"], "ru": ["торговля детьми"]}
            ),
            now=NOW,
        )
        entry = await glossary.get(session, first.id or 0)
        await glossary.archive(session, moderator, entry, now=NOW)
        again = await glossary.create(session, moderator, tip(), now=NOW)
        # ... and restoring the old one is then refused.
        with pytest.raises(ServiceError) as error:
            await glossary.restore(session, moderator, entry, now=NOW)
        assert error.value.code == "glossary_duplicate"
        assert error.value.params["id"] == again.id


def test_reading_typed_fields() -> None:
    assert glossary.parse_terms("  human   trafficking ; TIP;;tip ", "en") == [
        "human trafficking",
        "TIP",
    ]
    assert glossary.parse_abbreviations("THB, TIP; STR/SAR") == ["THB", "TIP", "STR/SAR"]
    assert glossary.parse_tags("#TIP, finance  #tip") == ["tip", "finance"]
    assert glossary.parse_related("#3, 7 3") == [3, 7]
    assert glossary.parse_field("t:*", "fa: قاچاق انسان\nps: -") == {
        "t:fa": ["قاچاق انسان"],
        "t:ps": [],
    }
    assert glossary.parse_field("d:*", "uz: ta'rif\nikkinchi qator") == {
        "d:uz": "ta'rif\nikkinchi qator"
    }
    assert glossary.parse_field("src", "-") == {"src": ""}
    assert glossary.field_key("def:ru") == "d:ru"
    assert glossary.field_key("FA") == "t:fa"
    assert glossary.field_key("abbreviations") == "abbr"
    for name, code in (("xx", "glossary_language_unknown"), ("colour", "glossary_field_unknown")):
        with pytest.raises(ServiceError) as error:
            glossary.field_key(name)
        assert error.value.code == code
    with pytest.raises(ServiceError) as error:
        glossary.parse_field("t:*", "no colon here")
    assert error.value.code == "glossary_language_line"
    with pytest.raises(ServiceError) as error:
        glossary.parse_related("twelve")
    assert error.value.code == "glossary_related_bad"


def test_the_one_line_form() -> None:
    content = glossary.parse_line(
        "trafficking in persons; human trafficking | торговля людьми | THB, TIP | "
        "The recruitment of persons | Вербовка людей | Protocol, art. 3(a) | tip #core | "
        "fa: قاچاق انسان"
    )
    assert content.terms == {
        "en": ["trafficking in persons", "human trafficking"],
        "ru": ["торговля людьми"],
        "fa": ["قاچاق انسان"],
    }
    assert content.abbreviations == ["THB", "TIP"]
    assert content.definitions == {"en": "The recruitment of persons", "ru": "Вербовка людей"}
    assert content.source == "Protocol, art. 3(a)"
    assert content.tags == ["tip", "core"]
    with pytest.raises(ServiceError) as error:
        glossary.parse_line("only english |  ")
    assert error.value.code == "glossary_needs_en_ru"
    assert error.value.params == {"missing": "ru"}
    with pytest.raises(ServiceError) as error:
        glossary.parse_line("a; ; | б | " + "x" * 301)
    assert error.value.code == "glossary_term_too_long"
    with pytest.raises(ServiceError) as error:
        glossary.parse_line("a|b|c|d|e|f|g|h")
    assert error.value.code == "glossary_line_too_many_parts"


def test_diff_names_fields() -> None:
    before = tip()
    after = glossary.with_fields(before, {"t:ru": ["торговля людьми", "ТЛ"], "d:en": ""})
    changes = glossary.diff(before, after)
    assert [(c.key, c.old, c.new) for c in changes] == [
        ("t:ru", "торговля людьми", "торговля людьми; ТЛ"),
        ("d:en", "The recruitment ... for the purpose of exploitation.", ""),
    ]


# -- suggestions ------------------------------------------------------------------------------


async def _outbox(db: Database) -> list[OutboxMessage]:
    async with db.session() as session:
        rows = await session.exec(
            select(OutboxMessage)
            .where(OutboxMessage.kind == glossary.KIND)
            .order_by(col(OutboxMessage.id))
        )
        return list(rows)


async def _sent(db: Database) -> None:
    """Pretend the delivery worker sent every pending row (message id = row id + 1000)."""
    async with db.session() as session:
        for row in await session.exec(
            select(OutboxMessage).where(OutboxMessage.state == OutboxState.PENDING)
        ):
            row.state = OutboxState.SENT
            row.telegram_message_id = (row.id or 0) + 1000
            session.add(row)


async def test_a_new_entry_suggested_and_approved(db: Database) -> None:
    author = await _member(db, 10)
    moderator = await _member(db, 1, Role.MODERATOR)
    admin = await _member(db, 2, Role.ADMIN)
    async with db.session() as session:
        suggestion = await glossary.suggest(session, author, tip(), now=NOW, compose=compose)
    rows = await _outbox(db)
    assert sorted(r.chat_id for r in rows) == [1, 2]
    assert all(r.payload["text"].startswith("review|") for r in rows)
    await _sent(db)
    rows = await _outbox(db)
    async with db.session() as session:
        decided, entry = await glossary.approve(
            session,
            moderator,
            suggestion.id or 0,
            now=NOW + timedelta(hours=1),
            compose=compose,
            pressed=(1, next(r.telegram_message_id for r in rows if r.chat_id == 1)),
        )
        assert decided.status == ReviewStatus.APPROVED and decided.reviewed_by_id == moderator.id
        assert entry.created_by_id == author.id and entry.revision == 1
        # A second decision, by anybody, names who decided.
        for deciding in (admin, moderator):
            with pytest.raises(ServiceError) as error:
                await glossary.reject(
                    session, deciding, suggestion.id or 0, now=NOW, compose=compose
                )
            assert error.value.code == "glossary_suggestion_approved"
            assert error.value.params == {"name": "Person 1"}
    rows = await _outbox(db)
    told = [r for r in rows if r.chat_id == 10]
    assert [r.payload["text"].split("|")[0] for r in told] == ["approved"]
    edits = [r for r in rows if r.action == OutboxAction.EDIT]
    # Only the admin's copy: the moderator saw it where they pressed.
    assert [(r.chat_id, r.payload["text"].split("|")[0]) for r in edits] == [(2, "decided")]
    assert edits[0].target_message_id is not None
    changes = await _changes(db, entry.id or 0)
    assert [(c.action, c.suggestion_id, c.actor_id) for c in changes] == [
        (ChangeAction.CREATED, suggestion.id, moderator.id)
    ]


async def test_an_edit_suggestion_applies_only_its_fields(db: Database) -> None:
    author = await _member(db, 10)
    moderator = await _member(db, 1, Role.MODERATOR)
    entry = await _create(db, moderator, tip())
    async with db.session() as session:
        current = await glossary.get(session, entry.id or 0)
        proposed = glossary.with_fields(Content.of(current), {"abbr": ["THB", "TIP", "HT"]})
        suggestion = await glossary.suggest(
            session,
            author,
            proposed,
            entry_id=entry.id,
            now=NOW + timedelta(minutes=5),
            compose=compose,
        )
    # Meanwhile a moderator changes the source.
    async with db.session() as session:
        current = await glossary.get(session, entry.id or 0)
        await glossary.change(
            session, moderator, current, {"src": "Palermo Protocol"}, now=NOW + timedelta(hours=1)
        )
    async with db.session() as session:
        changes = await glossary.suggestion_changes(
            session, await glossary.find_suggestion(session, suggestion.id or 0)
        )
        assert [c.key for c in changes] == ["abbr"]
        _, approved = await glossary.approve(
            session, moderator, suggestion.id or 0, now=NOW + timedelta(hours=2), compose=compose
        )
        assert approved.abbreviations == ["THB", "TIP", "HT"]
        assert approved.source == "Palermo Protocol"  # not undone
        assert approved.revision == 3
    rows = await _changes(db, entry.id or 0)
    assert rows[-1].suggestion_id == suggestion.id
    assert rows[-1].before is not None and rows[-1].before["abbreviations"] == ["THB", "TIP"]


async def test_reject_with_a_reason_and_withdraw(db: Database) -> None:
    author = await _member(db, 10)
    other = await _member(db, 11)
    moderator = await _member(db, 1, Role.MODERATOR)
    async with db.session() as session:
        first = await glossary.suggest(session, author, tip(), now=NOW, compose=compose)
        second = await glossary.suggest(session, author, som(), now=NOW, compose=compose)
    await _sent(db)
    async with db.session() as session:
        with pytest.raises(ServiceError) as error:
            await glossary.reject(
                session, moderator, first.id or 0, "x" * 501, now=NOW, compose=compose
            )
        assert error.value.code == "glossary_reason_too_long"
        rejected = await glossary.reject(
            session,
            moderator,
            first.id or 0,
            "  Already in   the glossary ",
            now=NOW,
            compose=compose,
        )
        assert rejected.reason == "Already in the glossary"
        with pytest.raises(ServiceError) as error:
            await glossary.withdraw(session, other, second.id or 0, now=NOW, compose=compose)
        assert error.value.code == "glossary_suggestion_not_yours"
        await glossary.withdraw(session, author, second.id or 0, now=NOW, compose=compose)
        assert await session.get(GlossarySuggestion, second.id) is None
        assert not list(await session.exec(select(GlossaryEntry)))
    rows = await _outbox(db)
    assert [r.payload["text"].split("|")[0] for r in rows if r.chat_id == 10] == ["rejected"]
    edits = sorted(r.payload["text"].split("|")[0] for r in rows if r.action == OutboxAction.EDIT)
    assert edits == ["decided", "withdrawn"]


async def test_copies_not_yet_sent_are_withdrawn_when_decided(db: Database) -> None:
    author = await _member(db, 10)
    moderator = await _member(db, 1, Role.MODERATOR)
    await _member(db, 2, Role.MODERATOR)
    async with db.session() as session:
        suggestion = await glossary.suggest(session, author, tip(), now=NOW, compose=compose)
        await glossary.approve(session, moderator, suggestion.id or 0, now=NOW, compose=compose)
    rows = await _outbox(db)
    reviews = [r for r in rows if r.payload["text"].startswith("review")]
    assert {r.state for r in reviews} == {OutboxState.CANCELLED}
    assert not [r for r in rows if r.action == OutboxAction.EDIT]


async def test_suggestions_are_checked_like_entries(db: Database) -> None:
    author = await _member(db, 10)
    moderator = await _member(db, 1, Role.MODERATOR)
    entry = await _create(db, moderator, tip())
    async with db.session() as session:
        with pytest.raises(ServiceError) as error:
            await glossary.suggest(session, author, tip(), now=NOW, compose=compose)
        assert error.value.code == "glossary_duplicate"
        current = await glossary.get(session, entry.id or 0)
        with pytest.raises(ServiceError) as error:
            await glossary.suggest(
                session, author, Content.of(current), entry_id=entry.id, now=NOW, compose=compose
            )
        assert error.value.code == "glossary_unchanged"
        with pytest.raises(ServiceError) as error:
            await glossary.suggest(session, author, som(), entry_id=2**31, now=NOW, compose=compose)
        assert error.value.code == "glossary_not_found"
        with pytest.raises(ServiceError) as error:
            await glossary.approve(session, moderator, 2**31, now=NOW, compose=compose)
        assert error.value.code == "glossary_suggestion_not_found"


async def test_a_moderator_revises_a_suggestion_before_approving(db: Database) -> None:
    author = await _member(db, 10)
    moderator = await _member(db, 1, Role.MODERATOR)
    async with db.session() as session:
        suggestion = await glossary.suggest(session, author, som(), now=NOW, compose=compose)
        revised = await glossary.revise(
            session, moderator, suggestion.id or 0, {"tags": ["som", "core"]}
        )
        assert revised.proposed["tags"] == ["som", "core"]
        _, entry = await glossary.approve(
            session, moderator, suggestion.id or 0, now=NOW, compose=compose
        )
        assert entry.tags == ["som", "core"]


async def test_forget_labels_blanks_the_history(db: Database) -> None:
    moderator = await _member(db, 1, Role.MODERATOR)
    entry = await _create(db, moderator, tip())
    async with db.session() as session:
        member = await session.get(Member, moderator.id)
        assert member is not None
        await glossary.forget_labels(session, member, "forgotten member #1")
    rows = await _changes(db, entry.id or 0)
    assert [r.actor_label for r in rows] == ["forgotten member #1"]


# -- search -----------------------------------------------------------------------------------


def test_document_maps_every_field() -> None:
    entry = GlossaryEntry(
        id=7,
        terms={"ru": ["торговля людьми"], "en": ["trafficking in persons", "human trafficking"]},
        abbreviations=["THB"],
        definitions={"en": "The recruitment"},
        source="Protocol, art. 3(a)",
        tags=["tip"],
        status=EntryStatus.PUBLISHED,
        created_at=NOW,
        updated_at=NOW,
    )
    document = glossary.document(entry)
    assert document.key == 7
    assert [(f.text, f.kind, f.language) for f in document.fields] == [
        ("trafficking in persons", FieldKind.TERM, "en"),
        ("human trafficking", FieldKind.SYNONYM, "en"),
        ("торговля людьми", FieldKind.TERM, "ru"),
        ("THB", FieldKind.ABBREVIATION, None),
        ("The recruitment", FieldKind.TEXT, "en"),
        ("tip", FieldKind.TAG, None),
        ("Protocol, art. 3(a)", FieldKind.OTHER, None),
    ]
    assert document.attributes == {"tags": ["tip"], "status": "published"}


async def _keys(db: Database, indexes: dict[str, Any], query: str) -> list[int]:
    async with db.session() as session:
        return [f.entry.id or 0 for f in await glossary.search(session, indexes, query)]


async def test_the_index_follows_changes_made_by_another_process(database_url: str) -> None:
    one, two = Database(database_url), Database(database_url)
    try:
        moderator = await _member(one, 1, Role.MODERATOR)
        first = await _create(one, moderator, tip())
        mine: dict[str, Any] = {}
        assert await _keys(one, mine, "trafficking") == [first.id]
        index = mine[glossary.INDEX]
        assert isinstance(index, SearchIndex) and len(index) == 1
        # "Another process": its own database connection, its own (empty) indexes.
        theirs: dict[str, Any] = {}
        second = await _create(two, moderator, som())
        async with two.session() as session:
            entry = await glossary.get(session, first.id or 0)
            await glossary.change(
                session, moderator, entry, {"abbr": ["THB", "TIP", "HTX"]}, now=NOW
            )
        assert await _keys(two, theirs, "HTX") == [first.id]
        # This process notices through (count, sum of revisions), and reloads only those rows.
        assert await _keys(one, mine, "smuggling of migrants") == [second.id]
        assert await _keys(one, mine, "HTX") == [first.id]
        assert mine[glossary.INDEX] is index and len(index) == 2
        async with two.session() as session:
            entry = await glossary.get(session, second.id or 0)
            await glossary.archive(session, moderator, entry, now=NOW)
        assert await _keys(one, mine, "smuggling of migrants") == []
        assert len(index) == 1
        # Its own change: in the index at once, without a reload.
        async with one.session() as session:
            entry = await glossary.get(session, second.id or 0)
            await glossary.restore(session, moderator, entry, now=NOW)
        glossary.indexed(mine, entry)
        assert len(index) == 2
        async with one.session() as session:
            sync = mine["glossary:sync"]
            assert sync.fingerprint == (2, 2 + 3)
            assert await glossary.synced_index(session, mine) is index
    finally:
        await one.dispose()
        await two.dispose()


async def test_search_finds_through_typos_and_transliteration(db: Database) -> None:
    moderator = await _member(db, 1, Role.MODERATOR)
    first = await _create(db, moderator, tip())
    await _create(db, moderator, som())
    indexes: dict[str, Any] = {}
    async with db.session() as session:
        for query in ("trafficking in persons", "trafficing", "torgovlya lyudmi", "THB"):
            found = await glossary.search(session, indexes, query, language="en")
            assert found and found[0].entry.id == first.id, query
        transliterated = await glossary.search(session, indexes, "torgovlya lyudmi")
        assert transliterated[0].hit.matched.text == "торговля людьми"
        assert await glossary.search(session, indexes, "   ") == []
        assert await glossary.search(session, indexes, "qwxzv") == []
        assert await glossary.closest(session, indexes, "qwxzv")
