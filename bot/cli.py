"""`wgbot run | sandbox | db upgrade | db downgrade | db current | db seed`,
`wgbot glossary import|export FILE`, `wgbot resources import|export FILE`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from bot.config import ConfigError, Mode, Settings, load_settings
from bot.logging_setup import configure

log = logging.getLogger("wgbot")


def _fail(message: str, code: int = 2) -> int:
    print(f"wgbot: {message}", file=sys.stderr)
    return code


def _secrets(settings: Settings) -> list[str]:
    values = []
    for secret in (settings.bot_token, settings.webhook_secret):
        if secret is not None:
            values.append(secret.get_secret_value())
    return values


async def _schema_state(settings: Settings) -> tuple[str | None, str | None]:
    from bot.db import Database
    from bot.migrations import current_revision, head_revision

    db = Database(settings.database_url)
    try:
        return await current_revision(db), head_revision()
    finally:
        await db.dispose()


def cmd_run(settings: Settings) -> int:
    from bot import migrations
    from bot.app import ALLOWED_UPDATES, build_application

    settings.require_token()
    current, head = asyncio.run(_schema_state(settings))
    if current != head:
        if not settings.auto_migrate:
            return _fail(
                f"the database schema is at {current or 'nothing'}, the code needs {head}: "
                "run `wgbot db upgrade` first (or set AUTO_MIGRATE=true)",
                code=1,
            )
        log.info("upgrading the database schema from %s to %s", current, head)
        migrations.upgrade(settings.database_url)
    application = build_application(settings)
    if settings.mode is Mode.WEBHOOK:
        from bot.webhook import serve

        asyncio.run(serve(application, settings))
    else:
        # run_polling stops cleanly on SIGINT and SIGTERM.
        application.run_polling(allowed_updates=ALLOWED_UPDATES, drop_pending_updates=False)
    return 0


def _schema_problem(settings: Settings) -> str | None:
    """Why the knowledge commands cannot run on this database yet, if they cannot."""
    current, head = asyncio.run(_schema_state(settings))
    if current != head:
        return (
            f"the database schema is at {current or 'nothing'}, the code needs {head}: "
            "run `wgbot db upgrade` first"
        )
    return None


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


async def _seed(settings: Settings) -> tuple[int, int]:
    from bot.clock import SystemClock
    from bot.db import Database
    from bot.services import knowledge_io

    db = Database(settings.database_url)
    try:
        async with db.session() as session:
            return await knowledge_io.seed(session, now=SystemClock().now())
    finally:
        await db.dispose()


def cmd_seed(settings: Settings) -> int:
    problem = _schema_problem(settings)
    if problem:
        return _fail(problem, code=1)
    entries, resources = asyncio.run(_seed(settings))
    if not entries and not resources:
        print("nothing to seed: the glossary and the resource library already have content")
    else:
        print(
            f"seeded {_plural(entries, 'glossary entry', 'glossary entries')} and "
            f"{_plural(resources, 'resource', 'resources')}"
        )
    return 0


async def _knowledge(settings: Settings, collection: str, action: str, path: str) -> str:
    from bot.clock import SystemClock
    from bot.db import Database
    from bot.services import knowledge_io

    one, many = ("entry", "entries") if collection == "glossary" else ("resource", "resources")
    db = Database(settings.database_url)
    try:
        async with db.session() as session:
            if action == "export":
                count = await knowledge_io.export_file(session, collection, path)
                return f"exported {_plural(count, one, many)} to {path}"
            result = await knowledge_io.import_file(
                session, collection, path, now=SystemClock().now()
            )
    finally:
        await db.dispose()
    summary = (
        f"imported {_plural(result.total, one, many)}: {result.new} new, {result.updated} updated"
    )
    if result.unchanged:
        summary += f", {result.unchanged} unchanged"
    return summary


def cmd_knowledge(settings: Settings, collection: str, action: str, path: str) -> int:
    """`wgbot glossary|resources import|export FILE`: 0 and a summary line, or 1 and why."""
    from bot.services.knowledge_io import ImportRefused, format_of

    try:
        format_of(path)
    except ValueError as exc:
        return _fail(str(exc), code=1)
    problem = _schema_problem(settings)
    if problem:
        return _fail(problem, code=1)
    try:
        print(asyncio.run(_knowledge(settings, collection, action, path)))
    except ImportRefused as exc:
        print(
            f"wgbot: {path} refused, nothing was imported "
            f"({_plural(len(exc.problems), 'problem', 'problems')}):",
            file=sys.stderr,
        )
        for line in exc.problems:
            print(line, file=sys.stderr)
        return 1
    except FileNotFoundError:
        return _fail(f"{path}: no such file", code=1)
    except OSError as exc:
        verb = "read" if action == "import" else "write"
        return _fail(f"cannot {verb} {path}: {exc.strerror or exc}", code=1)
    return 0


def cmd_db(settings: Settings, action: str, revision: str | None) -> int:
    from bot import migrations

    if action == "seed":
        return cmd_seed(settings)
    if action == "upgrade":
        migrations.upgrade(settings.database_url, revision or "head")
    elif action == "downgrade":
        if not revision:
            return _fail("db downgrade needs a revision, e.g. `wgbot db downgrade base`")
        migrations.downgrade(settings.database_url, revision)
    current, head = asyncio.run(_schema_state(settings))
    print(f"database schema: {current or 'empty'} (code: {head})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="wgbot", description="The working group's Telegram bot")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="run the bot on Telegram (needs BOT_TOKEN)")
    sandbox = commands.add_parser(
        "sandbox", help="run the bot on an offline fake Telegram, chatting in this terminal"
    )
    sandbox.add_argument(
        "--db", default="sandbox-data/sandbox.sqlite3", help="the sandbox's own SQLite file"
    )
    sandbox.add_argument("--reset", action="store_true", help="start from a fresh demo group")
    db = commands.add_parser("db", help="database schema")
    db.add_argument("action", choices=["upgrade", "downgrade", "current", "seed"])
    db.add_argument("revision", nargs="?")
    for collection, what in (
        ("glossary", "the glossary"),
        ("resources", "the resource library"),
    ):
        knowledge = commands.add_parser(
            collection, help=f"import or export {what} (.json or .csv, by the file's extension)"
        )
        knowledge.add_argument("action", choices=["import", "export"])
        knowledge.add_argument("file")
    args = parser.parse_args(argv)

    if args.command == "sandbox":
        from bot.sandbox.terminal import run_terminal

        return run_terminal(args.db, reset=args.reset)
    try:
        settings = load_settings()
        configure(settings.log_level, _secrets(settings))
        if args.command == "run":
            return cmd_run(settings)
        if args.command in ("glossary", "resources"):
            return cmd_knowledge(settings, args.command, args.action, args.file)
        return cmd_db(settings, args.action, args.revision)
    except ConfigError as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        return _fail(f"cannot reach the database or network: {exc}", code=1)
