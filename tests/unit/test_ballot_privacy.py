"""Secret ballots: no table, log line or queued message links a voter to a choice.

After a ballot with votes from several members (through the service), every table is read
(every row; on PostgreSQL also each row's xmin) and every log record of every logger at DEBUG,
and `_links` lists whatever ties a voter identifier (member id in a voter column, Telegram id,
username, full name) to a choice (an option's index or text). The control tests plant such a
link (a log line with the choice, a message to a voter naming it) and check `_links` finds it:
the test can fail.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlmodel import SQLModel

import bot.models  # noqa: F401  (every table in the metadata)
from bot import logging_setup
from bot.db import Database
from bot.models import Admission, Member, OutboxMessage, PollKind, Role
from bot.services import members, outbox, polls
from bot.services.polls import PollDraft, PollNotice

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
GROUP = -100777
OPTIONS = ["Alpha proposal", "Bravo proposal", "Charlie proposal"]
# Who votes what (index into VOTERS): every option chosen by someone.
CHOICES = {0: [0], 1: [1], 2: [2], 3: [1]}
VOTER_COLUMNS = {"voter", "recipient_id", "member_id", "actor_id", "subject_id", "created_by_id"}


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """The bot's own logging configuration at its most verbose (LOG_LEVEL=DEBUG), every
    record captured: what an operator running with DEBUG would find in the log."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in logging.root.manager.loggerDict}
    logging_setup.configure("DEBUG", [])
    root.handlers.append(caplog.handler)
    caplog.handler.setLevel(logging.DEBUG)
    yield caplog
    root.handlers[:] = handlers
    root.setLevel(level)
    for name in list(logging.root.manager.loggerDict):
        logging.getLogger(name).setLevel(levels.get(name, logging.NOTSET))


def compose(notice: PollNotice) -> dict[str, Any]:
    """Like the real composer: the ballot and the results carry the options, for everybody
    alike; nothing else does."""
    poll = notice.poll
    if notice.kind == "ballot":
        return {
            "text": poll.question,
            "buttons": [[o, f"poll:vote:{poll.id}:{i}"] for i, o in enumerate(poll.options)],
        }
    if notice.kind == "results":
        assert notice.tally is not None
        lines = [f"{o}: {n}" for o, n in zip(poll.options, notice.tally.counts, strict=True)]
        return {"text": "\n".join([poll.question, *lines])}
    return {"text": f"{notice.kind}: {poll.question}"}


@dataclass
class Evidence:
    voters: list[Member]
    poll_id: int
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    xmins: dict[str, list[str]] = field(default_factory=dict)
    logs: list[str] = field(default_factory=list)


async def _read_everything(db: Database, evidence: Evidence) -> None:
    async with db.session() as session:
        connection = await session.connection()
        for table in SQLModel.metadata.sorted_tables:
            rows = [dict(r._mapping) for r in await connection.execute(select(table))]
            evidence.tables[table.name] = rows
            if db.dialect == "postgresql":
                query = text(f'SELECT xmin::text AS xmin, * FROM "{table.name}"')
                evidence.xmins[table.name] = [
                    str(r._mapping["xmin"]) for r in await connection.execute(query)
                ]


async def _ballot(db: Database, caplog: pytest.LogCaptureFixture) -> Evidence:
    async with db.session() as session:
        people = []
        for n, (name, username) in enumerate(
            [("Mod Erator", "mod_erator"), ("Aigerim Voter", "aigerim_v"),
             ("Bakhrom Voter", "bakhrom_v"), ("Chynara Voter", "chynara_v"),
             ("Dilnoza Voter", "dilnoza_v"), ("Ermek Absent", "ermek_a")],
        ):  # fmt: skip
            member = await members.admit(
                session,
                members.Profile(700_000_100 + n, name, username),
                via=Admission.MODERATOR,
                now=NOW,
            )
            member.role = Role.MODERATOR if n == 0 else Role.MEMBER
            session.add(member)
            people.append(member)
        await session.flush()
        poll = await polls.open_poll(
            session,
            people[0],
            PollDraft("Which proposal?", list(OPTIONS), kind=PollKind.SECRET),
            now=NOW,
            group_chat_id=GROUP,
            compose=compose,
        )
        assert poll.id is not None
        evidence = Evidence(voters=people[1:5], poll_id=poll.id)
    # The ballots go out.
    async with db.session() as session:
        for row in await outbox.claim(session, now=NOW, worker="t", limit=100):
            assert row.id is not None
            await outbox.mark_sent(session, row.id, now=NOW, telegram_message_id=row.id + 50)
    for index, choices in CHOICES.items():
        async with db.session() as session:
            poll = await polls.get(session, evidence.poll_id)
            voter = await session.get(Member, evidence.voters[index].id)
            assert voter is not None
            await polls.vote(
                session, poll, voter, choices, now=NOW, group_chat_id=GROUP, compose=compose
            )
    return evidence


def _identities(member: Member) -> list[str]:
    return [str(member.telegram_id), member.username or "", member.full_name]


def _links(evidence: Evidence, *, closed: bool) -> list[str]:
    """Everything found that ties a voter to a choice (empty: nothing)."""
    found: list[str] = []
    voter_ids = {m.id for m in evidence.voters}
    names = [i for m in evidence.voters for i in _identities(m)]
    options = [o.lower() for o in OPTIONS]

    def strings(row: dict[str, Any]) -> str:
        return " ".join(str(v) for v in row.values()).lower()

    # Structure: who voted and what was chosen never share a table.
    for row in evidence.tables["ballot_voters"]:
        if set(row) != {"poll_id", "voter"}:
            found.append(f"ballot_voters row with more than poll and voter: {row}")
    for row in evidence.tables["ballot_counts"]:
        if set(row) != {"poll_id", "option", "count"}:
            found.append(f"ballot_counts row with more than poll, option, count: {row}")
    if not closed and len(evidence.tables["ballot_voters"]) != len(CHOICES):
        found.append("the voters are not all recorded")
    # Every row of every table: a voter and a choice together.
    for name, rows in evidence.tables.items():
        if name in ("ballot_counts", "ballot_voters", "polls", "members"):
            continue
        for row in rows:
            flat = strings(row)
            who = any(row.get(c) in voter_ids for c in VOTER_COLUMNS if c in row) or any(
                n.lower() in flat for n in names
            )
            what = [o for o in options if o in flat]
            if not (who and what):
                continue
            # A ballot or the results: the options for everybody alike, not a choice.
            key = str(row.get("dedup_key", ""))
            if name == "outbox" and key.split(":")[2] in ("ballot", "results"):
                continue
            found.append(f"{name} row ties a voter to {what}: {row}")
    # The same notice reads the same for every voter (it cannot depend on their vote).
    payloads: dict[str, set[str]] = {}
    for row in evidence.tables["outbox"]:
        what = str(row["dedup_key"]).split(":")[2]
        payloads.setdefault(what, set()).add(repr(row["payload"]))
    for what, seen in payloads.items():
        if len(seen) > 1:
            found.append(f"{what} messages differ between recipients: {seen}")
    # Audit entries name no option.
    for row in evidence.tables["audit_log"]:
        if any(o in strings(row) for o in options) or "option " in strings(row):
            found.append(f"audit entry names an option: {row}")
    # PostgreSQL: every counter of the ballot was written by the same (the last) vote.
    if evidence.xmins and not closed:
        counters = evidence.xmins["ballot_counts"]
        if len(set(counters)) != 1:
            found.append(f"ballot counters written by different transactions: {counters}")
    # Logs: no option text, no voter identifier.
    for line in evidence.logs:
        lowered = line.lower()
        if any(o in lowered for o in options):
            found.append(f"log line names an option: {line}")
        if any(n.lower() in lowered for n in names if n) or any(
            f"{word}{sep}{i}" in lowered
            for i in voter_ids
            for word in ("member", "voter", "user")
            for sep in (" ", " #", "=", ":", " id ")
        ):
            found.append(f"log line names a voter: {line}")
    return found


async def _collect(db: Database, evidence: Evidence, caplog: pytest.LogCaptureFixture) -> None:
    await _read_everything(db, evidence)
    evidence.logs = [r.getMessage() for r in caplog.records]


async def test_no_link_between_voters_and_choices(
    db: Database, logs: pytest.LogCaptureFixture
) -> None:
    caplog = logs
    evidence = await _ballot(db, caplog)
    await _collect(db, evidence, caplog)
    assert len(evidence.tables["ballot_voters"]) == 4
    assert sorted(r["count"] for r in evidence.tables["ballot_counts"]) == [1, 1, 2]
    if db.dialect == "postgresql":
        assert len(evidence.xmins["ballot_counts"]) == 3
    assert _links(evidence, closed=False) == []
    # Closed: the result is stored, voters and counters are gone.
    async with db.session() as session:
        poll = await polls.get(session, evidence.poll_id)
        await polls.close(session, poll, now=NOW, actor=None, group_chat_id=GROUP, compose=compose)
    await _collect(db, evidence, caplog)
    assert evidence.tables["ballot_voters"] == [] and evidence.tables["ballot_counts"] == []
    assert evidence.tables["polls"][0]["results"]["counts"] == [1, 2, 1]
    assert _links(evidence, closed=True) == []


async def test_control_a_logged_choice_is_found(
    db: Database, logs: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog = logs
    real = polls._check_choices

    def leaky(poll: Any, choices: list[int]) -> list[int]:
        polls.log.debug("poll %s: chose %s", poll.id, poll.options[choices[0]])
        return real(poll, choices)

    monkeypatch.setattr(polls, "_check_choices", leaky)
    evidence = await _ballot(db, caplog)
    await _collect(db, evidence, caplog)
    assert any("log line names an option" in f for f in _links(evidence, closed=False))


async def test_control_a_message_naming_the_choice_is_found(
    db: Database, logs: pytest.LogCaptureFixture
) -> None:
    caplog = logs
    evidence = await _ballot(db, caplog)
    voter = evidence.voters[1]
    async with db.session() as session:
        session.add(
            OutboxMessage(
                kind=polls.KIND,
                ref_id=evidence.poll_id,
                dedup_key=f"poll:{evidence.poll_id}:ack:{voter.id}",
                chat_id=voter.telegram_id,
                recipient_id=voter.id,
                payload={"text": f"You voted for {OPTIONS[1]}"},
                created_at=NOW,
                not_before=NOW,
            )
        )
    await _collect(db, evidence, caplog)
    assert any("outbox row ties a voter" in f for f in _links(evidence, closed=False))


async def test_a_failed_statement_shows_no_values(db: Database) -> None:
    """A database error (logged with its traceback by the error handler, next to the update's
    user) names the statement but not its values: a failed vote shows no voter or choice."""
    from sqlalchemy import insert
    from sqlalchemy.exc import IntegrityError

    from bot.models import BallotVoter

    row = {"poll_id": 987_654, "voter": "voter-4242"}  # no such poll: the foreign key refuses
    with pytest.raises(IntegrityError) as refused:
        async with db.session() as session:
            connection = await session.connection()
            await connection.execute(insert(BallotVoter).values(**row))
    message = str(refused.value)
    assert "ballot_voters" in message  # the statement is named
    assert "voter-4242" not in message and "987654" not in message
