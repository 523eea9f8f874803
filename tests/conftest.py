"""Fixtures: a fresh database per test (SQLite or PostgreSQL), and the bot on the fake Bot API.

The database comes from WGBOT_TEST_DATABASE: `sqlite` (default) or `postgresql`. With PostgreSQL
a new database is created for the run on WGBOT_TEST_POSTGRES (default: the local server) and
dropped afterwards; if the server is unreachable the run fails: it never skips.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot import migrations
from bot.clock import FakeClock
from bot.config import Settings
from bot.db import Database
from bot.sandbox.driver import Sandbox, SandboxUser
from bot.sandbox.spec import BotApiSpec

ADMIN_ID = 100_000_001
GROUP_ID = -1_001_234_567_890
BACKEND = os.environ.get("WGBOT_TEST_DATABASE", "sqlite")
POSTGRES_SERVER = os.environ.get("WGBOT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")


def pytest_report_header() -> str:
    return f"wgbot database backend: {BACKEND}"


async def _pg_admin(sql: str) -> None:
    import asyncpg

    url = make_url(POSTGRES_SERVER)
    connection = await asyncpg.connect(
        host=url.host,
        port=url.port or 5432,
        user=url.username or "postgres",
        password=url.password,
        database=url.database or "postgres",
    )
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def template_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The schema, built once per run with Alembic (the only way the schema is made)."""
    if BACKEND == "sqlite":
        path = tmp_path_factory.mktemp("db") / "template.sqlite3"
        url = f"sqlite:///{path}"
        migrations.upgrade(url)
        yield url
    elif BACKEND == "postgresql":
        name = f"wgbot_test_{uuid.uuid4().hex[:10]}"
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
        url = make_url(POSTGRES_SERVER).set(database=name).render_as_string(hide_password=False)
        migrations.upgrade(url)
        yield url
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    else:
        raise pytest.UsageError(f"WGBOT_TEST_DATABASE must be sqlite or postgresql, not {BACKEND}")


async def _truncate_all(url: str) -> None:
    from sqlmodel import SQLModel

    import bot.models  # noqa: F401

    db = Database(url)
    try:
        async with db.engine.begin() as connection:
            names = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
            await connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    finally:
        await db.dispose()


@pytest.fixture
async def database_url(template_database: str, tmp_path: Path) -> str:
    """A database of this test's own, at the current schema and empty."""
    if BACKEND == "sqlite":
        source = Path(make_url(template_database).database or "")
        target = tmp_path / "test.sqlite3"
        shutil.copyfile(source, target)
        return f"sqlite:///{target}"
    await _truncate_all(template_database)
    return template_database


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


@pytest.fixture(scope="session")
def spec() -> BotApiSpec:
    # No skip: without the specification the sandbox would accept anything.
    return BotApiSpec.load()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        admin_ids=[ADMIN_ID],
        group_chat_id=GROUP_ID,
        default_timezone="Asia/Almaty",
        default_language="en",
    )


@pytest.fixture
async def sandbox(settings: Settings, clock: FakeClock, spec: BotApiSpec) -> AsyncIterator[Sandbox]:
    box = Sandbox(settings, clock=clock, spec=spec)
    box.group(GROUP_ID, "TIP/SOM working group", [])
    await box.start()
    yield box
    await box.stop()
    # A request Telegram would refuse fails the test that made it.
    assert not box.api.violations, f"requests Telegram would refuse: {box.api.violations}"


@pytest.fixture
def admin(sandbox: Sandbox) -> SandboxUser:
    user = sandbox.user(ADMIN_ID, "Ayana", last_name="Admin", username="ayana_admin")
    sandbox.api.started.add(user.id)  # admins have talked to the bot before
    return user


async def make_member(
    sandbox: Sandbox,
    user: SandboxUser,
    role: str = "member",
    *,
    country: str | None = None,
    agency: str | None = None,
    language: str | None = None,
) -> int:
    """Admit a scripted user directly (as a moderator would have), at a role; returns member id."""
    from bot.models import Admission, Role
    from bot.services import members

    sandbox.api.started.add(user.id)  # a member has opened a chat with the bot before
    app = sandbox.app.bot_data["app"]
    async with app.db.session() as session:
        profile = members.Profile(user.id, user.json["first_name"], user.json.get("username"))
        member = await members.admit(
            session, profile, via=Admission.MODERATOR, now=sandbox.now(), language=language
        )
        member.role = Role(role)
        member.country = country
        member.agency = agency
        session.add(member)
        await session.flush()
        assert member.id is not None
        return member.id


async def member_row(sandbox: Sandbox, telegram_id: int):  # type: ignore[no-untyped-def]
    from bot.services import members

    app = sandbox.app.bot_data["app"]
    async with app.db.session() as session:
        return await members.by_telegram_id(session, telegram_id)


async def audit_rows(sandbox: Sandbox) -> list:  # type: ignore[type-arg]
    from sqlmodel import select

    from bot.models import AuditEntry

    app = sandbox.app.bot_data["app"]
    async with app.db.session() as session:
        return list(await session.exec(select(AuditEntry).order_by(AuditEntry.id)))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    # A skipped test is a test that did not run: the suite has none on purpose, so fail the run.
    skipped = terminalreporter.stats.get("skipped", [])
    if skipped:
        terminalreporter.write_line(f"{len(skipped)} test(s) skipped: failing the run", red=True)
        terminalreporter._session.exitstatus = pytest.ExitCode.TESTS_FAILED  # type: ignore[attr-defined]


@pytest.fixture
async def restarts(sandbox: Sandbox) -> AsyncIterator[list[Sandbox]]:
    """Bots started after the first one (same database, same Telegram); stopped at the end."""
    started: list[Sandbox] = []
    yield started
    for again in started:
        await again.stop()


async def restart(sandbox: Sandbox, restarts: list[Sandbox], down_for: timedelta) -> Sandbox:
    """Stop the bot (a normal stop), let `down_for` pass with nobody running, start a new
    process on the same database and the same Telegram; it sends what was due."""
    await sandbox.stop()
    sandbox.clock.advance(down_for)  # type: ignore[attr-defined]
    again = Sandbox(sandbox.settings, clock=sandbox.clock, api=sandbox.api)
    restarts.append(again)
    await again.start()
    await again.deliver()
    return again
