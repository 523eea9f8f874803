"""The resource library without Telegram: field and filter parsing (each syntax and bad values),
search with filters, who sees what, propose / approve / reject and the outbox rows they write,
the moderators' changes, the search index kept in step with changes made through another session,
and the review reminders (bot/services/reviews.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from bot.db import Database
from bot.models import Admission, Member, OutboxAction, OutboxMessage, OutboxState, Role
from bot.models.knowledge import (
    GlossarySuggestion,
    Resource,
    ResourceKind,
    ResourceStatus,
    ReviewStatus,
    Visibility,
)
from bot.services import members, outbox, resources, reviews
from bot.services.errors import ServiceError
from bot.services.resources import Draft, Notice, Query

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


# -- people and resources -------------------------------------------------------------------------


async def _member(db: Database, telegram_id: int, role: Role = Role.MEMBER) -> int:
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
        assert member.id is not None
        return member.id


async def _people(db: Database) -> dict[str, int]:
    return {
        "mod1": await _member(db, 1, Role.MODERATOR),
        "mod2": await _member(db, 2, Role.ADMIN),
        "alice": await _member(db, 3),
        "bob": await _member(db, 4, Role.FOCAL_POINT),
    }


def _compose(notice: Notice) -> dict[str, Any]:
    return {"text": f"{notice.kind}|{notice.resource.id}|{notice.recipient.member_id}"}


def _draft(**fields: Any) -> Draft:
    values: dict[str, Any] = {
        "url": "https://www.unodc.org/report",
        "title": "Global Report on Trafficking in Persons",
        "kind": ResourceKind.REPORT,
    }
    values.update(fields)
    return Draft(**values)


LIBRARY = [
    _draft(
        url="https://www.unodc.org/glotip-2024",
        title="Global Report on Trafficking in Persons 2024",
        issuer="UNODC",
        year=2024,
        languages=("en", "ru"),
        countries=("KZ", "AF"),
        tags=("trafficking", "statistics"),
        summary="Trends and patterns of trafficking in persons worldwide.",
    ),
    _draft(
        url="https://www.fatf-gafi.org/hawala",
        title="The Role of Hawala in Money Laundering",
        kind=ResourceKind.REPORT,
        issuer="FATF",
        year=2013,
        languages=("en",),
        countries=("AF", "PK"),
        tags=("hawala", "money laundering"),
        summary="How hawala and similar services are misused.",
    ),
    _draft(
        url="https://www.osce.org/nrm-handbook",
        title="National Referral Mechanisms Handbook",
        kind=ResourceKind.GUIDELINE,
        issuer="OSCE ODIHR",
        year=2022,
        languages=("en", "ru"),
        countries=("KZ", "KG"),
        tags=("victims", "referral"),
    ),
    _draft(
        url="https://www.unodc.org/som-protocol",
        title="Protocol against the Smuggling of Migrants",
        kind=ResourceKind.LEGISLATION,
        issuer="United Nations",
        year=2000,
        languages=("en", "ru", "fa"),
        tags=("smuggling of migrants",),
    ),
    _draft(
        url="https://www.unodc.org/case-law-db",
        title="Human Trafficking Case Law Database",
        kind=ResourceKind.CASE_LAW,
        issuer="UNODC",
        languages=("en",),
        tags=("trafficking", "courts"),
    ),
    _draft(
        url="https://internal.example.org/checklist",
        title="Internal checklist for financial investigations",
        kind=ResourceKind.TOOL,
        issuer="Secretariat",
        year=2025,
        tags=("money laundering",),
        visibility=Visibility.MODERATORS,
    ),
]


async def _library(db: Database, indexes: dict[str, Any], moderator_id: int) -> list[int]:
    ids = []
    async with db.session() as session:
        moderator = await session.get(Member, moderator_id)
        assert moderator is not None
        for number, draft in enumerate(LIBRARY):
            row = await resources.create(
                session,
                moderator,
                draft,
                now=NOW + timedelta(minutes=number),
                indexes=indexes,
                compose=_compose,
            )
            ids.append(row.id)
    return ids


async def _search(
    db: Database, indexes: dict[str, Any], text: str, *, moderator: bool = False, page: int = 0
) -> resources.Results:
    async with db.session() as session:
        return await resources.search_resources(
            session,
            indexes,
            resources.parse_query(text, NOW),
            moderator=moderator,
            page=page,
            language="en",
        )


def _titles(found: resources.Results) -> list[str]:
    return [item.resource.title for item in found.items]


# -- parsing --------------------------------------------------------------------------------------


def test_filters_in_the_query() -> None:
    query = resources.parse_query(
        "hawala  #Money-Laundering country:af lang:RU kind:reports year:2010..2020", NOW
    )
    assert query.words == "hawala"
    assert query.tags == ("money-laundering",)
    assert query.countries == {"AF"}
    assert query.languages == {"ru"}
    assert query.kinds == {"report"}
    assert (query.year_from, query.year_to) == (2010, 2020)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("year:2020..", (2020, None)),
        ("year:..2015", (None, 2015)),
        ("year:2018", (2018, 2018)),
        ("year:2018..2020", (2018, 2020)),
        ("years:2018-2020", (2018, 2020)),
    ],
)
def test_year_filters(text: str, expected: tuple[int | None, int | None]) -> None:
    query = resources.parse_query(text, NOW)
    assert (query.year_from, query.year_to) == expected
    assert query.words == ""


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("kind:report", {"report"}),
        ("kind:reports", {"report"}),
        ("type:guidance", {"guideline"}),
        ("kind:law", {"legislation"}),
        ('kind:"case law"', {"case_law"}),
        ("kind:case-law", {"case_law"}),
        ("types:toolkit,training", {"tool", "training"}),
    ],
)
def test_kind_spellings(text: str, kinds: set[str]) -> None:
    assert resources.parse_query(text, NOW).kinds == kinds


def test_other_spellings_of_filters() -> None:
    query = resources.parse_query("country:Kazakhstan,KG language:russian tag:hawala", NOW)
    assert query.countries == {"KZ", "KG"}
    assert query.languages == {"ru"}
    assert query.tags == ("hawala",)
    # A word with a colon that is not a filter is a word.
    assert resources.parse_query("article:3 protocol", NOW).words == "article:3 protocol"


@pytest.mark.parametrize(
    ("text", "code", "mentions"),
    [
        ("kind:foo", "resource_bad_kind", "foo"),
        ("kind:", "resource_bad_kind", ""),
        ("country:XX", "bad_country", "XX"),
        ("country:Atlantis", "bad_country", "Atlantis"),
        ("lang:zz", "resource_bad_language", "zz"),
        ("year:abc", "resource_bad_year_filter", "abc"),
        ("year:1800", "resource_bad_year_filter", "1800"),
        ("year:2030..", "resource_bad_year_filter", "2030.."),
        ("year:2020..2010", "resource_bad_year_filter", "2020..2010"),
        ("year:..", "resource_bad_year_filter", ".."),
    ],
)
def test_bad_filter_values(text: str, code: str, mentions: str) -> None:
    with pytest.raises(ServiceError) as caught:
        resources.parse_query(text, NOW)
    assert caught.value.code == code
    assert mentions in " ".join(str(v) for v in caught.value.params.values())
    if code == "resource_bad_kind":
        assert "case_law" in caught.value.params["kinds"]


def test_fields_as_typed() -> None:
    assert (
        resources.clean_url(" https://www.unodc.org/x?a=1&b=2 ")
        == "https://www.unodc.org/x?a=1&b=2"
    )
    for bad in (
        "javascript:alert(1)",
        "ftp://example.org/file",
        "www.unodc.org",
        "https://",
        "https://localhost/x",
        "https://exa mple.org",
        'https://example.org/"><b>',
    ):
        with pytest.raises(ServiceError) as caught:
            resources.clean_url(bad)
        assert caught.value.code == "resource_bad_url", bad
    with pytest.raises(ServiceError) as caught:
        resources.clean_url("https://example.org/" + "a" * 1000)
    assert caught.value.code == "resource_url_too_long"
    with pytest.raises(ServiceError) as caught:
        resources.clean_title("x" * 301)
    assert caught.value.code == "resource_title_too_long"
    with pytest.raises(ServiceError) as caught:
        resources.clean_issuer("x" * 201)
    assert caught.value.code == "resource_issuer_too_long"
    with pytest.raises(ServiceError) as caught:
        resources.clean_summary("x" * 2001)
    assert caught.value.code == "resource_summary_too_long"
    assert resources.parse_year("2020", NOW) == 2020
    assert resources.parse_year("2027", NOW) == 2027  # next year: announced publications
    for bad in ("1899", "2028", "20x0", "", "99999"):
        with pytest.raises(ServiceError) as caught:
            resources.parse_year(bad, NOW)
        assert caught.value.code == "resource_bad_year"
    assert resources.parse_languages("en, RU, prs, Dari, персидский") == ["en", "ru", "prs", "fa"]
    assert resources.parse_countries("kz kg Afghanistan") == ["KZ", "KG", "AF"]
    with pytest.raises(ServiceError):
        resources.parse_countries("KZ, EU")
    assert resources.parse_tags("#hawala #FIU") == ["hawala", "fiu"]
    assert resources.parse_tags("money laundering, hawala") == ["money laundering", "hawala"]
    assert resources.parse_kind("Case law") == ResourceKind.CASE_LAW


def test_one_line() -> None:
    draft = resources.parse_line(
        "https://www.fatf-gafi.org/x | FATF <b>Guidance</b> | guidance | FATF | 2021 | en,ru | "
        "KZ | hawala | A summary | with a bar",
        NOW,
    )
    assert draft.title == "FATF <b>Guidance</b>"  # kept as typed; templates escape it
    assert draft.kind == ResourceKind.GUIDELINE
    assert (draft.issuer, draft.year, draft.languages) == ("FATF", 2021, ("en", "ru"))
    assert draft.summary == "A summary | with a bar"
    short = resources.parse_line("https://example.org/a | Title | tool", NOW)
    assert (short.issuer, short.year) == ("", None)
    for bad, code in (
        ("https://example.org/a | Title", "resource_line_unparseable"),
        ("notalink | Title | report", "resource_bad_url"),
        ("https://example.org/a | | report", "resource_title_empty"),
        ("https://example.org/a | Title | poem", "resource_bad_kind"),
        ("https://example.org/a | Title | report | X | 1850", "resource_bad_year"),
    ):
        with pytest.raises(ServiceError) as caught:
            resources.parse_line(bad, NOW)
        assert caught.value.code == code, bad


def test_ids() -> None:
    assert resources.parse_id("#12") == 12
    assert resources.parse_id("99999999999") is None
    assert resources.parse_id(str(2**31)) is None
    assert resources.parse_id("0") is None
    assert resources.parse_id("abc") is None


def test_document() -> None:
    row = Resource(
        id=7,
        title="Hawala",
        url="https://example.org",
        kind=ResourceKind.REPORT,
        tags=["Money Laundering"],
        summary="s",
        issuer="FATF",
        year=2013,
        languages=["en"],
        countries=["AF"],
        created_at=NOW,
        updated_at=NOW,
    )
    doc = resources.document(row)
    assert doc.key == 7
    kinds = [f.kind.value for f in doc.fields]
    assert kinds == ["term", "tag", "text", "other"]
    assert doc.attributes["tags"] == {"moneylaundering"}
    assert doc.attributes["kind"] == "report"
    assert doc.attributes["superseded"] is None
    assert Query(tags=("money_laundering",)).matches(doc.attributes)
    assert not Query(year_from=2014).matches(doc.attributes)


# -- search ---------------------------------------------------------------------------------------


async def test_search_with_words_and_filters(db: Database) -> None:
    people = await _people(db)
    indexes: dict[str, Any] = {}
    await _library(db, indexes, people["mod1"])
    found = await _search(db, indexes, "trafficking")
    assert "Global Report on Trafficking in Persons 2024" in _titles(found)
    found = await _search(db, indexes, "hawala")
    assert _titles(found)[0] == "The Role of Hawala in Money Laundering"
    # Filters narrow the words' hits.
    assert _titles(await _search(db, indexes, "trafficking kind:case_law")) == [
        "Human Trafficking Case Law Database"
    ]
    assert _titles(await _search(db, indexes, "trafficking year:2020..")) == [
        "Global Report on Trafficking in Persons 2024"
    ]
    # Filters alone: newest first (no year last).
    assert _titles(await _search(db, indexes, "lang:ru")) == [
        "Global Report on Trafficking in Persons 2024",
        "National Referral Mechanisms Handbook",
        "Protocol against the Smuggling of Migrants",
    ]
    assert _titles(await _search(db, indexes, "country:AF #hawala")) == [
        "The Role of Hawala in Money Laundering"
    ]
    assert _titles(await _search(db, indexes, "year:..2013")) == [
        "The Role of Hawala in Money Laundering",
        "Protocol against the Smuggling of Migrants",
    ]
    assert _titles(await _search(db, indexes, "#money_laundering")) == [
        "The Role of Hawala in Money Laundering"
    ]
    assert _titles(await _search(db, indexes, "kind:guideline year:2018..2020")) == []
    # Nothing at all: everything members may see, paged.
    everything = await _search(db, indexes, "")
    assert everything.total == 5 and everything.pages == 1


async def test_paging(db: Database) -> None:
    people = await _people(db)
    indexes: dict[str, Any] = {}
    async with db.session() as session:
        moderator = await session.get(Member, people["mod1"])
        assert moderator is not None
        for n in range(12):
            await resources.create(
                session,
                moderator,
                _draft(url=f"https://example.org/{n}", title=f"Report number {n}", year=2000 + n),
                now=NOW,
                indexes=indexes,
                compose=_compose,
            )
    first = await _search(db, indexes, "kind:report")
    assert (first.total, first.pages, len(first.items)) == (12, 3, 5)
    assert _titles(first)[0] == "Report number 11"
    last = await _search(db, indexes, "kind:report", page=2)
    assert _titles(last) == ["Report number 1", "Report number 0"]
    beyond = await _search(db, indexes, "kind:report", page=40)
    assert beyond.page == 2
    worded = await _search(db, indexes, "report number", page=1)
    assert (worded.total, worded.page, len(worded.items)) == (12, 1, 5)


async def test_visibility(db: Database) -> None:
    people = await _people(db)
    indexes: dict[str, Any] = {}
    ids = await _library(db, indexes, people["mod1"])
    hidden = ids[-1]
    for text in ("checklist", "#money_laundering", "kind:tool", "", "financial investigations"):
        assert hidden not in [i.resource.id for i in (await _search(db, indexes, text)).items]
    assert hidden in [
        i.resource.id for i in (await _search(db, indexes, "checklist", moderator=True)).items
    ]
    async with db.session() as session:
        with pytest.raises(ServiceError) as caught:
            await resources.visible(session, hidden, moderator=False)
        assert caught.value.code == "resource_not_found"
        assert (await resources.visible(session, hidden, moderator=True)).id == hidden
        with pytest.raises(ServiceError):
            await resources.visible(session, 2**31 + 5, moderator=True)
    # No hit: the closest titles, never one a member may not see.
    found = await _search(db, indexes, "checklisst for internal investigatons")
    assert all(r.id != hidden for r in found.closest)


async def test_superseded(db: Database) -> None:
    people = await _people(db)
    indexes: dict[str, Any] = {}
    ids = await _library(db, indexes, people["mod1"])
    async with db.session() as session:
        moderator = await session.get(Member, people["mod1"])
        assert moderator is not None
        old = await resources.get(session, ids[1])
        for target, code in (
            (ids[1], "resource_superseded_by_itself"),
            (9999, "resource_supersede_missing"),
            (2**40, "resource_supersede_missing"),
        ):
            with pytest.raises(ServiceError) as caught:
                await resources.supersede(session, moderator, old, target, now=NOW, indexes=indexes)
            assert caught.value.code == code
        await resources.supersede(session, moderator, old, ids[0], now=NOW, indexes=indexes)
        newer = await resources.get(session, ids[0])
        with pytest.raises(ServiceError) as caught:
            await resources.supersede(session, moderator, newer, ids[1], now=NOW, indexes=indexes)
        assert caught.value.code == "resource_supersede_cycle"
        # Superseded by a resource members may not see: marked, without its number.
        hidden_old = await resources.get(session, ids[2])
        await resources.supersede(session, moderator, hidden_old, ids[-1], now=NOW, indexes=indexes)
    found = await _search(db, indexes, "hawala")
    assert found.items[0].superseded and found.items[0].superseded_by is not None
    assert found.items[0].superseded_by.id == ids[0]
    found = await _search(db, indexes, "referral")
    assert found.items[0].superseded and found.items[0].superseded_by is None


# -- propose, approve, reject ----------------------------------------------------------------


async def _outbox(db: Database) -> list[OutboxMessage]:
    async with db.session() as session:
        return list(await session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))))


async def _propose(db: Database, indexes: dict[str, Any], author_id: int, **fields: Any) -> int:
    async with db.session() as session:
        author = await session.get(Member, author_id)
        assert author is not None
        row = await resources.create(
            session, author, _draft(**fields), now=NOW, indexes=indexes, compose=_compose
        )
        assert row.status == ResourceStatus.PENDING
        assert row.id is not None
        return row.id


async def test_propose_and_approve(db: Database) -> None:
    people = await _people(db)
    indexes: dict[str, Any] = {}
    await _library(db, indexes, people["mod1"])
    proposal = await _propose(
        db, indexes, people["alice"], url="https://example.org/new", title="Hawala networks"
    )
    # Pending: nobody finds it; every moderator got it.
    assert not (await _search(db, indexes, "networks")).items
    rows = await _outbox(db)
    assert sorted(r.recipient_id for r in rows) == sorted([people["mod1"], people["mod2"]])
    assert {r.payload["text"] for r in rows} == {
        f"proposed|{proposal}|{people['mod1']}",
        f"proposed|{proposal}|{people['mod2']}",
    }
    # mod2's copy was delivered; mod1 presses Approve on theirs.
    async with db.session() as session:
        for row in rows:
            await outbox.mark_sent(
                session, row.id or 0, now=NOW, telegram_message_id=500 + row.chat_id
            )
    async with db.session() as session:
        moderator = await session.get(Member, people["mod1"])
        assert moderator is not None
        await resources.decide(
            session,
            moderator,
            proposal,
            True,
            now=NOW + timedelta(hours=1),
            indexes=indexes,
            compose=_compose,
            pressed=(1, 501),
        )
    found = await _search(db, indexes, "networks")
    assert [i.resource.id for i in found.items] == [proposal]
    new = (await _outbox(db))[len(rows) :]
    assert [(r.action, r.chat_id, r.payload["text"]) for r in new] == [
        (OutboxAction.SEND, 3, f"approved|{proposal}|{people['alice']}"),
        (OutboxAction.EDIT, 2, f"decided|{proposal}|{people['mod2']}"),
    ]
    assert new[1].target_message_id == 502
    # Decided: a second press (anybody's) changes nothing.
    async with db.session() as session:
        other = await session.get(Member, people["mod2"])
        assert other is not None
        with pytest.raises(ServiceError) as caught:
            await resources.decide(
                session, other, proposal, False, now=NOW, indexes=indexes, compose=_compose
            )
        assert caught.value.code == "resource_decided"
        row = await resources.get(session, proposal)
        assert row.status == ResourceStatus.PUBLISHED and row.reviewed_by_id == people["mod1"]


async def test_reject_and_undelivered_copies(db: Database) -> None:
    people = await _people(db)
    indexes: dict[str, Any] = {}
    proposal = await _propose(db, indexes, people["bob"])
    async with db.session() as session:
        moderator = await session.get(Member, people["mod2"])
        assert moderator is not None
        await resources.decide(
            session, moderator, proposal, False, now=NOW, indexes=indexes, compose=_compose
        )
    rows = await _outbox(db)
    # The copies still queued are withdrawn; the author is told.
    assert [r.state for r in rows if r.recipient_id != people["bob"]] == [OutboxState.CANCELLED] * 2
    told = [r for r in rows if r.recipient_id == people["bob"]]
    assert [r.payload["text"] for r in told] == [f"rejected|{proposal}|{people['bob']}"]
    assert not (await _search(db, indexes, "global report")).items
    async with db.session() as session:
        member = await session.get(Member, people["alice"])
        assert member is not None
        with pytest.raises(ServiceError) as caught:
            await resources.visible(session, proposal, moderator=False)
        assert caught.value.code == "resource_not_found"
        with pytest.raises(ServiceError) as caught:
            await resources.decide(
                session, member, proposal, True, now=NOW, indexes=indexes, compose=_compose
            )
        assert caught.value.code == "forbidden"


async def test_duplicates_and_member_limits(db: Database) -> None:
    people = await _people(db)
    indexes: dict[str, Any] = {}
    ids = await _library(db, indexes, people["mod1"])
    async with db.session() as session:
        alice = await session.get(Member, people["alice"])
        assert alice is not None
        with pytest.raises(ServiceError) as caught:
            await resources.create(
                session,
                alice,
                _draft(url="https://www.fatf-gafi.org/hawala/"),
                now=NOW,
                indexes=indexes,
                compose=_compose,
            )
        assert (caught.value.code, caught.value.params) == ("resource_duplicate", {"id": ids[1]})
        with pytest.raises(ServiceError) as caught:
            await resources.create(
                session,
                alice,
                _draft(url="https://internal.example.org/checklist"),
                now=NOW,
                indexes=indexes,
                compose=_compose,
            )
        assert caught.value.code == "resource_duplicate_hidden"
        # A member cannot make a proposal moderators-only.
        row = await resources.create(
            session,
            alice,
            _draft(url="https://example.org/x", visibility=Visibility.MODERATORS),
            now=NOW,
            indexes=indexes,
            compose=_compose,
        )
        assert row.visibility == Visibility.MEMBERS


async def test_moderator_changes(db: Database) -> None:
    people = await _people(db)
    indexes: dict[str, Any] = {}
    ids = await _library(db, indexes, people["mod1"])
    async with db.session() as session:
        moderator = await session.get(Member, people["mod1"])
        assert moderator is not None
        row = await resources.get(session, ids[0])
        revision = row.revision
        await resources.edit(
            session,
            moderator,
            row,
            "title",
            resources.parse_field("title", "Global Report 2024 (edited)", NOW),
            now=NOW,
            indexes=indexes,
        )
        assert row.revision == revision + 1
        with pytest.raises(ServiceError) as caught:
            await resources.edit(session, moderator, row, "year", 2024, now=NOW, indexes=indexes)
        assert caught.value.code == "resource_nothing_changed"
        with pytest.raises(ServiceError) as caught:
            await resources.edit(session, moderator, row, "year", 1800, now=NOW, indexes=indexes)
        assert caught.value.code == "resource_bad_year"
        await resources.set_visibility(
            session, moderator, row, Visibility.MODERATORS, now=NOW, indexes=indexes
        )
    assert not (await _search(db, indexes, "edited")).items
    assert (await _search(db, indexes, "edited", moderator=True)).items
    async with db.session() as session:
        moderator = await session.get(Member, people["mod1"])
        assert moderator is not None
        row = await resources.get(session, ids[1])
        await resources.archive(session, moderator, row, now=NOW, indexes=indexes)
        with pytest.raises(ServiceError) as caught:
            await resources.archive(session, moderator, row, now=NOW, indexes=indexes)
        assert caught.value.code == "resource_not_editable"
    assert not (await _search(db, indexes, "hawala", moderator=True)).items
    async with db.session() as session:
        moderator = await session.get(Member, people["mod1"])
        assert moderator is not None
        row = await resources.get(session, ids[1])
        await resources.restore(session, moderator, row, now=NOW, indexes=indexes)
    assert (await _search(db, indexes, "hawala")).items


# -- the index follows changes made elsewhere ----------------------------------------------------


async def test_synced_index_picks_up_changes_from_another_session(db: Database) -> None:
    people = await _people(db)
    mine: dict[str, Any] = {}
    ids = await _library(db, mine, people["mod1"])
    assert (await _search(db, mine, "hawala")).items
    # Another process (its own indexes) changes rows; this one finds out at its next search.
    theirs: dict[str, Any] = {}
    async with db.session() as session:
        moderator = await session.get(Member, people["mod2"])
        assert moderator is not None
        row = await resources.get(session, ids[1])
        await resources.edit(
            session,
            moderator,
            row,
            "title",
            "Informal value transfer systems",
            now=NOW,
            indexes=theirs,
        )
        await resources.create(
            session,
            moderator,
            _draft(url="https://example.org/new", title="Victim compensation schemes"),
            now=NOW,
            indexes=theirs,
            compose=_compose,
        )
        archived = await resources.get(session, ids[2])
        await resources.archive(session, moderator, archived, now=NOW, indexes=theirs)
    assert _titles(await _search(db, mine, "informal value transfer")) == [
        "Informal value transfer systems"
    ]
    assert _titles(await _search(db, mine, "compensation")) == ["Victim compensation schemes"]
    assert not (await _search(db, mine, "referral mechanisms")).items
    # Deleted rows go too.
    async with db.session() as session:
        row = await resources.get(session, ids[3])
        await session.delete(row)
    assert not (await _search(db, mine, "smuggling of migrants protocol")).items
    # A change that was put into the index but rolled back is undone at the next search.
    with pytest.raises(RuntimeError):
        async with db.session() as session:
            moderator = await session.get(Member, people["mod1"])
            assert moderator is not None
            row = await resources.get(session, ids[4])
            await resources.edit(
                session, moderator, row, "title", "Rolled back title", now=NOW, indexes=mine
            )
            raise RuntimeError("refused")
    assert not (await _search(db, mine, "rolled back")).items
    assert (await _search(db, mine, "case law database")).items


async def test_unchanged_table_costs_one_query(db: Database) -> None:
    people = await _people(db)
    indexes: dict[str, Any] = {}
    await _library(db, indexes, people["mod1"])
    async with db.session() as session:
        first = await resources.synced_index(session, indexes)
        statements: list[str] = []
        from sqlalchemy import event

        engine = db.engine.sync_engine

        def count(*args: Any) -> None:
            statements.append(str(args[2]))

        event.listen(engine, "before_cursor_execute", count)
        try:
            again = await resources.synced_index(session, indexes)
        finally:
            event.remove(engine, "before_cursor_execute", count)
    assert again is first
    assert len(statements) == 1 and "count" in statements[0].lower()


# -- review reminders -----------------------------------------------------------------------------


def _digest(digest: reviews.Digest) -> dict[str, Any]:
    return {
        "text": f"{digest.suggestions}+{digest.resources}|{digest.oldest.isoformat()}"
        f"|to={digest.recipient.member_id}"
    }


async def _suggest(db: Database, author_id: int, at: datetime) -> int:
    async with db.session() as session:
        row = GlossarySuggestion(
            proposed={"terms": {"en": ["hawala"]}}, author_id=author_id, created_at=at
        )
        session.add(row)
        await session.flush()
        assert row.id is not None
        return row.id


async def _digests(db: Database) -> list[OutboxMessage]:
    async with db.session() as session:
        return list(
            await session.exec(
                select(OutboxMessage)
                .where(OutboxMessage.kind == reviews.KIND)
                .order_by(col(OutboxMessage.id))
            )
        )


async def _run(db: Database, now: datetime, days: int = 3) -> int:
    async with db.session() as session:
        return await reviews.process_due(session, now=now, days=days, compose=_digest)


async def _next(db: Database, days: int = 3) -> datetime | None:
    async with db.session() as session:
        return await reviews.next_due(session, days=days)


async def test_nothing_pending_reminds_nobody(db: Database) -> None:
    await _people(db)
    assert await _next(db) is None
    assert await _run(db, NOW + timedelta(days=30)) == 0
    assert await _digests(db) == []
    async with db.session() as session:
        assert await reviews.rebuild(session, now=NOW) is None


async def test_review_digest_once_per_period(db: Database) -> None:
    people = await _people(db)
    indexes: dict[str, Any] = {}
    await _suggest(db, people["alice"], NOW)
    await _suggest(db, people["bob"], NOW + timedelta(hours=1))
    await _suggest(db, people["bob"], NOW + timedelta(hours=2))
    first = await _propose(db, indexes, people["alice"], url="https://example.org/a")
    await _propose(db, indexes, people["bob"], url="https://example.org/b")
    assert await _next(db) == NOW + timedelta(days=3)
    # Not yet.
    assert await _run(db, NOW + timedelta(days=2, hours=23)) == 0
    # Due: one digest per moderator, counting everything that waited a whole period.
    due = NOW + timedelta(days=3, hours=3)
    assert await _run(db, due) == 5
    digests = await _digests(db)
    assert sorted(d.recipient_id for d in digests) == sorted([people["mod1"], people["mod2"]])
    assert digests[0].payload["text"].startswith(f"3+2|{NOW.isoformat()}")
    # Handled: nothing again within the period, however often the scheduler looks.
    assert await _next(db) == due + timedelta(days=3)
    assert await _run(db, due) == 0
    assert await _run(db, due + timedelta(days=2)) == 0
    assert len(await _digests(db)) == 2
    # An approved one stops reminding; the rest are reminded again after another period.
    async with db.session() as session:
        moderator = await session.get(Member, people["mod1"])
        assert moderator is not None
        await resources.decide(
            session, moderator, first, True, now=due, indexes=indexes, compose=_compose
        )
        for row in await session.exec(select(GlossarySuggestion)):
            row.status = ReviewStatus.APPROVED
            session.add(row)
    assert await _run(db, due + timedelta(days=3)) == 1
    digests = await _digests(db)
    assert len(digests) == 4
    assert digests[-1].payload["text"].startswith("0+1|")


async def test_one_digest_a_day(db: Database) -> None:
    """Items due later the same day share the day's digest; one that falls due after it went
    (a row another process wrote late) waits for the next day's."""
    people = await _people(db)
    indexes: dict[str, Any] = {}
    await _propose(db, indexes, people["alice"], url="https://example.org/a")
    async with db.session() as session:
        alice = await session.get(Member, people["alice"])
        assert alice is not None
        await resources.create(
            session,
            alice,
            _draft(url="https://example.org/b"),
            now=NOW + timedelta(hours=6),
            indexes=indexes,
            compose=_compose,
        )
    assert await _run(db, NOW + timedelta(days=3)) == 2
    digests = await _digests(db)
    assert len(digests) == 2 and digests[0].payload["text"].startswith("0+2|")
    async with db.session() as session:
        alice = await session.get(Member, people["alice"])
        assert alice is not None
        row = await resources.create(
            session,
            alice,
            _draft(url="https://example.org/c"),
            now=NOW + timedelta(hours=7),
            indexes=indexes,
            compose=_compose,
        )
        late = row.id
    assert await _run(db, NOW + timedelta(days=3, hours=7)) == 1
    assert len(await _digests(db)) == 2  # not a second digest the same day
    tomorrow = datetime(2026, 11, 30, tzinfo=UTC)
    assert await _next(db) == tomorrow
    assert await _run(db, tomorrow) == 1
    digests = await _digests(db)
    assert len(digests) == 4
    assert digests[-1].payload["text"].startswith("0+1|")
    async with db.session() as session:
        assert (await resources.get(session, late or 0)).reminded_at == tomorrow
    assert await _next(db) == NOW + timedelta(days=6)


async def test_no_moderators_no_loop(db: Database) -> None:
    author = await _member(db, 3)
    indexes: dict[str, Any] = {}
    await _propose(db, indexes, author, url="https://example.org/a")
    assert await _run(db, NOW + timedelta(days=3)) == 1
    assert await _digests(db) == []
    assert await _next(db) == NOW + timedelta(days=6)
