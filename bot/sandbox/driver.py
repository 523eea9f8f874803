"""Scripted users for the fake Bot API: they send commands and text, press buttons, join and leave
the group, block the bot; the real Application handles each update, and you read what it sent."""

from __future__ import annotations

import asyncio
import contextlib
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from telegram import Update
from telegram.ext import Application
from telegram.warnings import PTBUserWarning

from bot.app import build_application
from bot.clock import Clock, FakeClock, SystemClock
from bot.config import Settings
from bot.db import Database
from bot.delivery import DeliveryWorker
from bot.sandbox.fake_api import BOT_ID, BOT_USERNAME, FakeBotAPI, SandboxRequest, StoredMessage
from bot.sandbox.spec import BotApiSpec
from bot.scheduler import Scheduler

# How python-telegram-bot names the task of a handler registered with block=False, and what it
# says when it makes one in an Application that is not running (see `Sandbox.handle`).
NON_BLOCKING_TASK = ":process_update_non_blocking:"
NOT_RUNNING_WARNING = "Tasks created via `Application.create_task` while the application"


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class Replies(list[StoredMessage]):
    """The messages the bot sent while handling one update."""

    @property
    def text(self) -> str:
        return "\n\n".join(m.text or m.caption or "" for m in self)

    @property
    def last(self) -> StoredMessage:
        if not self:
            raise AssertionError("the bot sent nothing")
        return self[-1]

    def to(self, chat_id: int) -> Replies:
        return Replies(m for m in self if m.chat_id == chat_id)


@dataclass
class SandboxUser:
    sandbox: Sandbox
    id: int

    @property
    def api(self) -> FakeBotAPI:
        return self.sandbox.api

    @property
    def json(self) -> dict[str, Any]:
        return self.api.users[self.id]

    def _from(self) -> dict[str, Any]:
        return {
            k: v
            for k, v in self.json.items()
            if k in ("id", "is_bot", "first_name", "last_name", "username", "language_code")
        }

    async def send(self, text: str, chat_id: int | None = None) -> Replies:
        """A message from this user (a command gets its bot_command entity, as Telegram does)."""
        chat_id = self.id if chat_id is None else chat_id
        entities = []
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            entities.append({"type": "bot_command", "offset": 0, "length": _utf16_len(command)})
        stored = self.api.store_user_message(self.id, chat_id, text)
        message = self.api.message_json(stored)
        if entities:
            message["entities"] = entities
        return await self.sandbox.process({"message": message})

    async def edit(self, original: StoredMessage, text: str) -> Replies:
        original.text = text
        message = self.api.message_json(original)
        message["edit_date"] = self.api.now_ts()
        return await self.sandbox.process({"edited_message": message})

    async def press(self, message: StoredMessage, label: str) -> Replies:
        """Press the inline button whose text contains `label` (or is numbered `label`, from 1)."""
        return await self.sandbox.process(self.pressing(message, label))

    def pressing(self, message: StoredMessage, label: str) -> dict[str, Any]:
        """The update `press` sends (for `Sandbox.process_together`)."""
        buttons = [b for row in message.buttons for b in row]
        match = next((b for b in buttons if b["text"] == label), None) or next(
            (b for b in buttons if label.lower() in b["text"].lower()), None
        )
        if match is None and label.isdigit() and 0 < int(label) <= len(buttons):
            match = buttons[int(label) - 1]
        if match is None or "callback_data" not in match:
            raise AssertionError(
                f"no button {label!r} under the message; there are {[b['text'] for b in buttons]}"
            )
        return self.pressing_data(message, match["callback_data"])

    async def press_data(self, message: StoredMessage, data: str) -> Replies:
        """A callback query with any data at all: how a forged button press looks."""
        return await self.sandbox.process(self.pressing_data(message, data))

    def pressing_data(self, message: StoredMessage, data: str) -> dict[str, Any]:
        """The update `press_data` sends."""
        query = {
            "id": self.api.new_callback_id(),
            "from": self._from(),
            "chat_instance": str(message.chat_id),
            "message": self.api.message_json(message),
            "data": data,
        }
        return {"callback_query": query}

    async def inline(self, query: str) -> Replies:
        inline = {
            "id": self.api.new_callback_id(),
            "from": self._from(),
            "query": query,
            "offset": "",
        }
        return await self.sandbox.process({"inline_query": inline})

    def _membership(self, chat_id: int, old: str, new: str, user: dict[str, Any]) -> dict[str, Any]:
        def member(status: str) -> dict[str, Any]:
            data: dict[str, Any] = {"status": status, "user": user}
            if status == "kicked":
                data["until_date"] = 0
            return data

        return {
            "chat": self.api.chat_json(chat_id),
            "from": self._from(),
            "date": self.api.now_ts(),
            "old_chat_member": member(old),
            "new_chat_member": member(new),
        }

    async def join(self, chat_id: int) -> Replies:
        self.api.chats[chat_id].members[self.id] = "member"
        return await self.sandbox.process(
            {"chat_member": self._membership(chat_id, "left", "member", self._from())}
        )

    async def leave(self, chat_id: int, *, kicked: bool = False) -> Replies:
        chat = self.api.chats[chat_id]
        old = chat.members.get(self.id, "member")
        new = "kicked" if kicked else "left"
        chat.members[self.id] = new
        replies = await self.sandbox.process(
            {"chat_member": self._membership(chat_id, old, new, self._from())}
        )
        stored = self.api.store_user_message(self.id, chat_id, "")
        message = self.api.message_json(stored)
        message.pop("text", None)
        message["left_chat_member"] = self._from()
        replies.extend(await self.sandbox.process({"message": message}))
        return replies

    async def vote(self, message: StoredMessage, option_ids: list[int]) -> Replies:
        """A vote in a non-anonymous poll the bot sent (Telegram sends the bot a poll_answer)."""
        poll = message.poll
        if poll is None or poll["is_closed"]:
            raise AssertionError("no open poll in that message")
        for index in option_ids:
            poll["options"][index]["voter_count"] += 1
        poll["total_voter_count"] += 1
        answer = {
            "poll_id": poll["id"],
            "user": self._from(),
            "option_ids": option_ids,
            "option_persistent_ids": [poll["options"][i]["persistent_id"] for i in option_ids],
        }
        replies = await self.sandbox.process({"poll_answer": answer})
        replies.extend(await self.sandbox.poll_state(message))
        return replies

    async def block(self) -> Replies:
        self.api.blocked.add(self.id)
        bot = {
            k: v
            for k, v in self.api.bot_user().items()
            if k in ("id", "is_bot", "first_name", "username")
        }
        return await self.sandbox.process(
            {"my_chat_member": self._membership(self.id, "member", "kicked", bot)}
        )

    async def unblock(self) -> None:
        self.api.blocked.discard(self.id)

    def chat(self) -> list[StoredMessage]:
        """Everything in this user's private chat with the bot, oldest first."""
        return [
            m
            for (chat, _), m in sorted(self.api.messages.items())
            if chat == self.id and not m.deleted
        ]


class Sandbox:
    """The real Application on the fake Bot API, with scripted users."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        spec: BotApiSpec | None = None,
        database: Database | None = None,
        api: FakeBotAPI | None = None,
    ) -> None:
        self.clock = clock or SystemClock()
        # Passing the fake of an earlier Sandbox plays a restart: same Telegram, new bot process.
        self.api = api or FakeBotAPI(spec, clock=self.clock.now)
        self.settings = settings
        self.app: Application = build_application(  # type: ignore[type-arg]
            settings,
            request=SandboxRequest(self.api),
            clock=self.clock,
            database=database,
            run_delivery=False,
        )
        self.worker: DeliveryWorker = self.app.bot_data["delivery"]
        self.scheduler: Scheduler = self.app.bot_data["scheduler"]
        if isinstance(self.clock, FakeClock):
            # Virtual time: waiting for a turn moves the clock instead of sleeping, and one
            # request at a time keeps the order (and the fake's view of the rates) exact.
            self.worker.use_virtual_time(self._advance_to)
            # Virtual time has no timer to fire: `wait` runs the scheduler at each due moment.
            self.scheduler.job_queue = None
        self._started = False
        self.on_error: Callable[[BaseException], None] | None = None

    @property
    def bot_username(self) -> str:
        return BOT_USERNAME

    @property
    def bot_id(self) -> int:
        return BOT_ID

    async def start(self) -> None:
        await self.app.initialize()
        if self.app.post_init is not None:
            await self.app.post_init(self.app)
        self._started = True

    async def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        if self.app.post_stop is not None:
            await self.app.post_stop(self.app)
        with contextlib.suppress(RuntimeError):
            await self.app.shutdown()
        if self.app.post_shutdown is not None:
            await self.app.post_shutdown(self.app)

    def user(
        self,
        user_id: int,
        first_name: str,
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
    ) -> SandboxUser:
        if user_id not in self.api.users:
            self.api.add_user(
                user_id,
                first_name,
                last_name=last_name,
                username=username,
                language_code=language_code,
            )
        return SandboxUser(self, user_id)

    def group(self, chat_id: int, title: str, members: list[SandboxUser]) -> int:
        self.api.add_group(chat_id, title, [m.id for m in members])
        return chat_id

    async def _advance_to(self, moment: datetime) -> None:
        assert isinstance(self.clock, FakeClock)
        if moment > self.clock.now():
            self.clock.set(moment)
        await asyncio.sleep(0)

    async def deliver(self) -> int:
        """Let the delivery worker send everything that is due now."""
        return await self.worker.drain()

    async def wait(self, delta: timedelta) -> Replies:
        """Let time pass (fake clock): the clock stops at every moment something falls due, the
        scheduler handles it and the outbox is delivered, as a running bot would. Returns what
        the bot sent meanwhile."""
        assert isinstance(self.clock, FakeClock), "wait() needs a FakeClock"
        target = self.clock.now() + delta
        before = set(self.api.messages)
        for _ in range(100_000):
            moment = await self.scheduler.next_due()
            if moment is None or moment > target:
                break
            if moment > self.clock.now():
                self.clock.set(moment)
            if not await self.scheduler.tick():
                break
            await self.deliver()
        if target > self.clock.now():
            self.clock.set(target)
        await self.scheduler.tick()
        await self.deliver()
        return self._sent_since(before)

    def _sent_since(self, before: set[Any]) -> Replies:
        return Replies(
            m
            for key, m in sorted(self.api.messages.items())
            if key not in before and m.from_id == BOT_ID
        )

    async def process(self, payload: dict[str, Any]) -> Replies:
        """Hand one update to the Application, deliver what it queued, return what the bot sent.

        With a fake clock, each update comes a second after the last: people do not type faster,
        and Telegram's per-chat limits assume as much.
        """
        if isinstance(self.clock, FakeClock):
            self.clock.advance(timedelta(seconds=1))
        before = set(self.api.messages)
        await self.handle(Update.de_json(self.api.new_update(payload), self.app.bot))
        await self.deliver()
        return self._sent_since(before)

    async def process_together(self, payloads: list[dict[str, Any]]) -> Replies:
        """Hand several updates over at once, as the long-polling loop does with a batch from
        getUpdates: handlers that do not block (votes) run side by side. One second passes."""
        if isinstance(self.clock, FakeClock):
            self.clock.advance(timedelta(seconds=1))
        before = set(self.api.messages)
        updates = [Update.de_json(self.api.new_update(p), self.app.bot) for p in payloads]
        await self.handle(*updates)
        await self.deliver()
        return self._sent_since(before)

    async def handle(self, *updates: Update) -> None:
        """Process updates like the running bot, and wait for the handlers that run without
        blocking (block=False): the Application awaits those only while it is running, which the
        sandbox's Application is not (nothing polls Telegram here)."""
        before = asyncio.all_tasks()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", NOT_RUNNING_WARNING, PTBUserWarning)
            for update in updates:
                await self.app.process_update(update)
        spawned = [
            task for task in asyncio.all_tasks() - before if NON_BLOCKING_TASK in task.get_name()
        ]
        # Their errors went to the error handlers already (as a blocking handler's would).
        await asyncio.gather(*spawned, return_exceptions=True)
        # A running Application writes its dialogues' state every few seconds and at stop;
        # here after every update, so a restart finds exactly what was said.
        await self.app.update_persistence()

    async def poll_state(self, message: StoredMessage) -> Replies:
        """Telegram's `poll` update: the poll's current counts (how anonymous votes arrive)."""
        if message.poll is None:
            raise AssertionError("that message has no poll")
        return await self.process({"poll": dict(message.poll)})

    async def anonymous_votes(self, message: StoredMessage, counts: list[int]) -> Replies:
        """Anonymous voters chose these counts per option: the bot learns only the totals."""
        if message.poll is None:
            raise AssertionError("that message has no poll")
        for option, count in zip(message.poll["options"], counts, strict=True):
            option["voter_count"] += count
        message.poll["total_voter_count"] += sum(counts)
        return await self.poll_state(message)

    def now(self) -> datetime:
        return self.clock.now()
