"""`wgbot sandbox`: chat with the real bot in a terminal, on the fake Bot API, as any demo person.

Plain lines are messages from the current person to the bot; lines starting with `!` drive the
sandbox (switch person, press a button, write in the group chat, ...). Everything the bot sends,
to anybody, is printed, so a moderator's copy of an access request shows up as it happens.

The loop is synchronous around `asyncio.Runner`: the event loop runs one command at a time and
input is read outside it, so Ctrl-C at the prompt is a plain KeyboardInterrupt (asyncio's own
SIGINT handling would otherwise wait for the next line) and nothing blocks the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from bot import migrations
from bot.clock import FakeClock
from bot.config import Settings
from bot.db import Database
from bot.html_text import Entity
from bot.models import MemberStatus, Role
from bot.sandbox.demo import ADMIN, GROUP_ID, PEOPLE, DemoPerson, add_to_fake, seed
from bot.sandbox.driver import Replies, Sandbox, SandboxUser
from bot.sandbox.fake_api import BOT_ID, PRESENT, StoredMessage
from bot.sandbox.spec import BotApiSpec
from bot.services import members

HELP = """\
sandbox commands (anything else is a message to the bot from the current person):
  !as <handle>      become another person (see !users)
  !who, !users      the demo people, their handles and roles
  !press <n>, !<n>  press button n under the bot's last message with buttons in your chat
  !group <text>     write <text> in the group chat
  !join, !leave     join or leave the group chat
  !block, !unblock  block or unblock the bot
  !wait <n>m|h|d    let time pass (reminders and scheduled messages fall due; e.g. !wait 90m)
  !help             this list
  !quit             stop (Ctrl-D does too)"""

# ANSI SGR pairs: each closes only its own attribute, so nested formatting survives.
_ANSI: dict[str, tuple[str, str]] = {
    "bold": ("\x1b[1m", "\x1b[22m"),
    "italic": ("\x1b[3m", "\x1b[23m"),
    "underline": ("\x1b[4m", "\x1b[24m"),
    "strikethrough": ("\x1b[9m", "\x1b[29m"),
    "spoiler": ("\x1b[7m", "\x1b[27m"),
    "code": ("\x1b[36m", "\x1b[39m"),
    "pre": ("\x1b[36m", "\x1b[39m"),
}
# Markdown-ish marks for pipes and logs, where escape codes would be noise.
_PLAIN: dict[str, tuple[str, str]] = {
    "bold": ("*", "*"),
    "italic": ("_", "_"),
    "strikethrough": ("~", "~"),
    "spoiler": ("||", "||"),
    "code": ("`", "`"),
    "pre": ("```\n", "\n```"),
}
_QUOTE = "│ "


def _python_index(text: str) -> dict[int, int]:
    """UTF-16 offset -> index into the str (entities count UTF-16 units; Python counts chars)."""
    index: dict[int, int] = {}
    offset = 0
    for i, ch in enumerate(text):
        index[offset] = i
        offset += 2 if ord(ch) > 0xFFFF else 1
    index[offset] = len(text)
    return index


def _marks(entity: Entity, ansi: bool, inner: str) -> tuple[str, str]:
    if entity.type == "text_link":
        url = entity.url or ""
        # A link whose text is its address needs no repetition.
        suffix = "" if url == inner else f" <{url}>"
        if ansi:
            return "\x1b[4m", f"\x1b[24m{suffix}"
        return "", suffix
    if entity.type == "pre" and entity.language:
        return ("\x1b[36m", "\x1b[39m") if ansi else (f"```{entity.language}\n", "\n```")
    table = _ANSI if ansi else _PLAIN
    return table.get(entity.type, ("", ""))


def format_text(text: str, entities: list[Entity], *, ansi: bool) -> str:
    """The message as a terminal can show it: ANSI attributes, or markdown-like marks."""
    index = _python_index(text)
    spans: list[tuple[int, int, Entity]] = []
    for entity in entities:
        start = index.get(entity.offset)
        end = index.get(entity.offset + entity.length)
        if start is None or end is None or end <= start:
            continue  # an entity that splits a surrogate pair or is empty: show the text plain
        spans.append((start, end, entity))
    # Outer entities first where they start together, so they close last.
    spans.sort(key=lambda s: (s[0], -s[1]))
    out: list[str] = []
    stack: list[tuple[int, int, Entity, str]] = []  # (start, end, entity, closing mark)
    quote_depth = 0

    def close_until(position: int) -> None:
        nonlocal quote_depth
        # Close everything ending here; entities above them that go on are closed and reopened,
        # which keeps the marks balanced even if entities overlap instead of nesting.
        while any(end <= position for _, end, _, _ in stack):
            reopen: list[tuple[int, int, Entity, str]] = []
            while stack:
                item = stack.pop()
                out.append(item[3])
                if item[2].type in ("blockquote", "expandable_blockquote"):
                    quote_depth -= 1
                if item[1] <= position:
                    break
                reopen.append(item)
            for item in reversed(reopen):
                open_span(item[0], item[1], item[2])

    def open_span(start: int, end: int, entity: Entity) -> None:
        nonlocal quote_depth
        if entity.type in ("blockquote", "expandable_blockquote"):
            if quote_depth == 0:
                out.append(_QUOTE)
            quote_depth += 1
            stack.append((start, end, entity, ""))
            return
        opening, closing = _marks(entity, ansi, text[start:end])
        out.append(opening)
        stack.append((start, end, entity, closing))

    pending = iter(spans)
    upcoming = next(pending, None)
    for position in range(len(text) + 1):
        close_until(position)
        while upcoming is not None and upcoming[0] == position:
            open_span(*upcoming)
            upcoming = next(pending, None)
        if position == len(text):
            break
        ch = text[position]
        out.append(ch)
        if ch == "\n" and quote_depth and position + 1 < len(text):
            out.append(_QUOTE)
    return "".join(out)


@dataclass
class _Seen:
    """What a message looked like before an update, to notice the bot's edits."""

    text: str | None
    caption: str | None
    markup: Any
    deleted: bool


class Terminal:
    """The read-eval-print loop: one input line in, everything the bot did because of it out."""

    def __init__(
        self,
        sandbox: Sandbox,
        users: dict[str, SandboxUser],
        *,
        out: TextIO,
        ansi: bool,
        echo: bool,
    ) -> None:
        self.sandbox = sandbox
        self.users = users
        self.out = out
        self.ansi = ansi
        self.echo = echo
        self.handle = ADMIN.handle
        self.people = {p.handle: p for p in PEOPLE}
        self.by_id = {p.telegram_id: p for p in PEOPLE}

    # -- output ------------------------------------------------------------------------------

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def note(self, text: str) -> None:
        """A line from the sandbox itself (not the bot), set apart from the conversation."""
        self.say(f"\x1b[2m· {text}\x1b[22m" if self.ansi else f"· {text}")

    @property
    def user(self) -> SandboxUser:
        return self.users[self.handle]

    @property
    def me(self) -> DemoPerson:
        return self.people[self.handle]

    def name_of_chat(self, chat_id: int) -> str:
        demo = self.by_id.get(chat_id)
        if demo is not None:
            return f"{demo.full_name} ({demo.handle})"
        chat = self.sandbox.api.chats.get(chat_id)
        if chat is not None and chat.title:
            return f"{chat.title} (group)"
        user = self.sandbox.api.users.get(chat_id)
        return user["first_name"] if user else str(chat_id)

    def show_message(self, arrow: str, message: StoredMessage) -> None:
        self.say(f"bot {arrow} {self.name_of_chat(message.chat_id)}:")
        body = message.text if message.text is not None else message.caption
        if message.document:
            self.say(f"[document: {message.document.get('file_name', 'file')}]")
        if message.photo:
            self.say("[photo]")
        if message.poll:
            options = " / ".join(o["text"] for o in message.poll.get("options", []))
            self.say(f"[poll] {message.poll.get('question', '')}: {options}")
        if body:
            self.say(format_text(body, message.entities, ansi=self.ansi))
        buttons = self.button_line(message)
        if buttons:
            self.say(buttons)

    def button_line(self, message: StoredMessage) -> str:
        rows: list[str] = []
        number = 0
        for row in message.buttons:
            cells = []
            for button in row:
                number += 1
                label = f"[{number}] {button.get('text', '')}"
                if "url" in button:
                    label += f" <{button['url']}>"
                cells.append(label)
            rows.append("  ".join(cells))
        return "\n".join(rows)

    # -- running one update, showing its effects ---------------------------------------------

    def snapshot(self) -> dict[tuple[int, int], _Seen]:
        return {
            key: _Seen(m.text, m.caption, m.reply_markup, m.deleted)
            for key, m in self.sandbox.api.messages.items()
            if m.from_id == BOT_ID
        }

    async def observe(self, action: Callable[[], Awaitable[object]]) -> None:
        """Run `action` and print what the bot sent, edited, deleted and answered meanwhile."""
        api = self.sandbox.api
        before = self.snapshot()
        answers = len(api.callback_answers)
        try:
            await action()
        except Exception as exc:  # the sandbox must outlive anything a handler does
            self.note(f"the update failed: {type(exc).__name__}: {exc}")
        for answer in api.callback_answers[answers:]:
            if answer.text:
                kind = "alert" if answer.show_alert else "popup"
                self.say(f"bot ({kind}): {answer.text}")
        # Insertion order of the fake's messages is the order they were sent, across chats.
        for key, message in list(api.messages.items()):
            if message.from_id != BOT_ID:
                continue
            seen = before.get(key)
            if seen is None:
                if not message.deleted:
                    self.show_message("→", message)
            elif message.deleted and not seen.deleted:
                self.say(f"bot ✗ {self.name_of_chat(message.chat_id)}: deleted a message")
            elif (message.text, message.caption, message.reply_markup) != (
                seen.text,
                seen.caption,
                seen.markup,
            ):
                self.show_message("✎", message)

    # -- commands ----------------------------------------------------------------------------

    async def describe(self, demo: DemoPerson) -> str:
        """Name and current role, from the database (roles change while you play)."""
        app = self.sandbox.app.bot_data["app"]
        async with app.db.session() as session:
            member = await members.by_telegram_id(session, demo.telegram_id)
        if member is None:
            role = "not admitted"
        elif member.status == MemberStatus.REMOVED:
            role = "removed"
        else:
            role = Role(member.role).value.replace("_", " ")
            where = ", ".join(x for x in (member.country, member.agency) if x)
            if where:
                role += f" ({where})"
            if member.status == MemberStatus.INACTIVE:
                role += ", has blocked the bot"
        return f"{demo.full_name} — {role}"

    async def banner(self) -> None:
        self.say(f"wgbot sandbox: an offline Telegram. You are {await self.describe(self.me)}.")
        self.say("Type a message or a /command to the bot; switch person with `!as kz`,")
        self.say("list people with `!users`, all sandbox commands with `!help`, leave with !quit.")
        if not self.echo:
            self.say()

    async def run_line(self, line: str) -> bool:
        """Handle one input line; False when the person asked to quit. Never raises."""
        try:
            return await self._run_line(line)
        except Exception as exc:  # a typo in the terminal must not end the session
            self.note(f"that did not work: {type(exc).__name__}: {exc}")
            return True

    async def _run_line(self, line: str) -> bool:
        line = line.strip()
        if not line:
            return True
        if self.echo:
            # A blank line between turns, so a piped run reads as a conversation.
            self.say()
            self.say(f"{self.me.full_name} ›  {line}")
        if not line.startswith("!"):
            await self.send(line)
            return True
        words = line[1:].split(maxsplit=1)
        if not words:
            self.note("a sandbox command follows the !, e.g. !help")
            return True
        name = words[0].lower()
        rest = words[1].strip() if len(words) > 1 else ""
        args = rest.split()
        if name in ("quit", "exit", "q"):
            return False
        if name.isdigit():
            await self.press(name)
        elif name == "press":
            await self.press(args[0] if args else "")
        elif name == "as":
            await self.switch(args[0] if args else "")
        elif name in ("who", "users"):
            await self.list_users()
        elif name == "group":
            await self.group(rest)
        elif name == "join":
            await self.join()
        elif name == "leave":
            await self.leave()
        elif name == "block":
            await self.observe(self.user.block)
            self.note(f"{self.me.full_name} blocked the bot")
        elif name == "unblock":
            await self.user.unblock()
            self.note(f"{self.me.full_name} unblocked the bot")
        elif name == "wait":
            await self.wait(rest)
        elif name == "help":
            self.say(HELP)
        else:
            self.note(f"unknown sandbox command !{name}; !help lists them")
        return True

    async def wait(self, amount: str) -> None:
        match = re.fullmatch(r"(\d{1,4})\s*([mhd])", amount.strip().lower())
        clock = self.sandbox.clock
        if match is None or not isinstance(clock, FakeClock):
            self.note("say how long, e.g. !wait 30m, !wait 2h or !wait 1d")
            return
        unit = {"m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
        delta = timedelta(**{unit: int(match.group(1))})
        # Through every moment something falls due (reminders on time, not all late at once).
        await self.observe(lambda: self.sandbox.wait(delta))
        self.note(f"it is now {clock.now():%Y-%m-%d %H:%M} UTC")

    async def send(self, text: str) -> None:
        if self.user.id in self.sandbox.api.blocked:
            # Writing to a bot you blocked unblocks it, in Telegram too.
            await self.user.unblock()
            self.note(f"{self.me.full_name} unblocked the bot")
        await self.observe(lambda: self.user.send(text))

    async def switch(self, handle: str) -> None:
        handle = handle.lower().lstrip("@")
        if handle not in self.users:
            # Accept Telegram usernames too.
            handle = next(
                (p.handle for p in PEOPLE if (p.username or "").lower() == handle), handle
            )
        if handle not in self.users:
            self.note(f"nobody is called {handle!r}; !users lists the handles")
            return
        self.handle = handle
        self.note(f"you are now {await self.describe(self.me)}")

    async def list_users(self) -> None:
        width = max(len(p.handle) for p in PEOPLE)
        for demo in PEOPLE:
            mark = "*" if demo.handle == self.handle else " "
            self.say(f"{mark} {demo.handle:<{width}}  {await self.describe(demo)}")

    def last_with_buttons(self) -> StoredMessage | None:
        for message in reversed(self.user.chat()):
            if message.from_id == BOT_ID and message.buttons:
                return message
        return None

    async def press(self, raw: str) -> None:
        message = self.last_with_buttons()
        if message is None:
            self.note("no message with buttons in your chat with the bot")
            return
        buttons = [b for row in message.buttons for b in row]
        if not raw.isdigit() or not 1 <= int(raw) <= len(buttons):
            choices = ", ".join(f"[{i}] {b.get('text', '')}" for i, b in enumerate(buttons, 1))
            self.note(f"press a number from 1 to {len(buttons)}: {choices}")
            return
        button = buttons[int(raw) - 1]
        if "callback_data" not in button:
            where = button.get("url") or "something outside the chat"
            self.note(f"that button opens {where}")
            return
        data = str(button["callback_data"])
        await self.observe(lambda: self.user.press_data(message, data))

    def in_group(self) -> bool:
        chat = self.sandbox.api.chats[GROUP_ID]
        return chat.members.get(self.user.id) in PRESENT

    async def group(self, text: str) -> None:
        if not text:
            self.note("!group needs the text to write, e.g. !group /help")
            return
        if not self.in_group():
            self.note(f"{self.me.full_name} is not in the group chat; !join first")
            return
        await self.observe(lambda: self.user.send(text, chat_id=GROUP_ID))

    async def join(self) -> None:
        if self.in_group():
            self.note(f"{self.me.full_name} is already in the group chat")
            return
        await self.observe(lambda: self.user.join(GROUP_ID))
        self.note(f"{self.me.full_name} joined the group chat")

    async def leave(self) -> None:
        if not self.in_group():
            self.note(f"{self.me.full_name} is not in the group chat")
            return

        async def leave() -> Replies:
            return await self.user.leave(GROUP_ID)

        await self.observe(leave)
        self.note(f"{self.me.full_name} left the group chat")


def _lines(
    stdin: TextIO, out: TextIO, prompt: Callable[[], str] | None
) -> Callable[[], str | None]:
    """A function returning the next input line, or None at the end of input."""
    if prompt is not None:
        # readline gives the prompt history and editing; absent on some platforms.
        with contextlib.suppress(ImportError):
            import readline  # noqa: F401

        def ask() -> str | None:
            try:
                return input(prompt())
            except EOFError:
                print(file=out)
                return None

        return ask

    def read() -> str | None:
        line = stdin.readline()
        return line if line else None

    return read


def _quiet_logging() -> None:
    """Only warnings and errors, one short line each, on stderr: the chat is the output."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("(%(levelname)s %(name)s: %(message)s)"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)


def _load_spec() -> BotApiSpec | None:
    try:
        return BotApiSpec.load()
    except FileNotFoundError as exc:
        print(f"warning: requests are not checked against the Bot API spec: {exc}", file=sys.stderr)
        return None


def run_terminal(
    db_path: str,
    reset: bool = False,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
) -> int:
    """Run the sandbox chat until end of input or !quit; 0 on a clean stop."""
    stdin = stdin or sys.stdin
    out = stdout or sys.stdout
    _quiet_logging()
    path = Path(db_path).expanduser()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if reset:
            # SQLite in WAL mode keeps two companion files; a fresh start removes them too.
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
    except OSError as exc:
        print(f"wgbot sandbox: cannot use {path}: {exc}", file=sys.stderr)
        return 1
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=f"sqlite:///{path}",
        admin_ids=[ADMIN.telegram_id],
        group_chat_id=GROUP_ID,
    )
    # Alembic runs its own event loop, so the schema is brought up to date before ours starts.
    try:
        migrations.upgrade(settings.database_url)
    except Exception as exc:  # a damaged or foreign file: say so in one line
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        print(
            f"wgbot sandbox: cannot prepare {path} ({reason}); --reset starts afresh",
            file=sys.stderr,
        )
        return 1
    spec = _load_spec()
    interactive = stdin.isatty()
    ansi = out.isatty()

    with asyncio.Runner() as runner:
        database = Database(settings.database_url)
        # Sandbox time starts now and moves a second per message (and with !wait): people do not
        # type faster than that, and Telegram's flood limits count on it.
        sandbox = Sandbox(
            settings, spec=spec, database=database, clock=FakeClock(datetime.now(UTC))
        )
        started = False
        try:
            runner.run(seed(database, sandbox.now()))
            users = add_to_fake(sandbox, GROUP_ID)
            runner.run(sandbox.start())
            started = True
            terminal = Terminal(sandbox, users, out=out, ansi=ansi, echo=not interactive)
            runner.run(terminal.banner())
            prompt = (lambda: f"{terminal.handle}> ") if interactive else None
            next_line = _lines(stdin, out, prompt)
            while True:
                try:
                    line = next_line()
                except KeyboardInterrupt:
                    print(file=out)
                    break
                if line is None or not runner.run(terminal.run_line(line)):
                    break
        except KeyboardInterrupt:
            print(file=out)
        finally:
            if started:
                runner.run(sandbox.stop())
            else:
                runner.run(database.dispose())
    return 0
