"""A fake Telegram Bot API, in process: what python-telegram-bot talks to in tests and the sandbox.

It keeps users, chats, messages, edits, deletions, pins, callback answers, polls, files and command
menus; checks every request against the official specification (`spec.py`); and fails the way
Telegram fails: 400 Bad Request with Telegram's description, 403 Forbidden, 429 with retry_after.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from telegram.error import TimedOut
from telegram.request import BaseRequest, RequestData

from bot.html_text import Entity, TelegramHtmlError, parse_html
from bot.sandbox.spec import BadRequest, BotApiSpec

log = logging.getLogger(__name__)

BOT_ID = 7_000_000_001
BOT_USERNAME = "wgbot_sandbox_bot"
# Statuses getChatMember reports for people who are in a chat.
PRESENT = ("creator", "administrator", "member", "restricted")


class ApiError(Exception):
    """Answer a request the way Telegram does when it refuses one."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after


@dataclass
class Fault:
    """An injected failure: the next `count` matching requests fail with this answer."""

    method: str
    status: int
    description: str
    count: int = 1
    chat_id: int | None = None
    retry_after: int | None = None
    # Raise instead of answering: python-telegram-bot sees a network error (a timeout).
    timeout: bool = False


@dataclass
class StoredMessage:
    chat_id: int
    message_id: int
    from_id: int
    date: int
    text: str | None = None
    html: str | None = None
    entities: list[Entity] = field(default_factory=list)
    caption: str | None = None
    reply_markup: dict[str, Any] | None = None
    document: dict[str, Any] | None = None
    photo: list[dict[str, Any]] | None = None
    poll: dict[str, Any] | None = None
    deleted: bool = False
    edited: bool = False
    pinned: bool = False
    reply_to: int | None = None

    @property
    def buttons(self) -> list[list[dict[str, Any]]]:
        if not self.reply_markup:
            return []
        return list(self.reply_markup.get("inline_keyboard", []))


@dataclass
class Chat:
    id: int
    type: str
    title: str | None = None
    # user id -> ChatMember status
    members: dict[int, str] = field(default_factory=dict)


@dataclass
class CallbackAnswer:
    callback_query_id: str
    text: str | None
    show_alert: bool


@dataclass(frozen=True)
class TelegramLimits:
    """Flood limits as Telegram applies them to a bot (documented figures; bursts tolerated)."""

    per_second: int = 30
    # With allow_paid_broadcast (a fee in Stars per message): this many a second instead.
    paid_per_second: int = 1000
    private_burst: int = 3
    private_per_second: float = 1.0
    group_per_minute: int = 20


# Requests that put a message in a chat, and so count against the limits.
_COUNTED = frozenset(
    m.lower()
    for m in (
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendPoll",
        "sendMediaGroup",
        "copyMessage",
        "forwardMessage",
        "sendAudio",
        "sendVideo",
        "sendVoice",
        "sendAnimation",
        "sendSticker",
        "sendLocation",
        "sendContact",
        "editMessageText",
        "editMessageCaption",
    )
)


class _Bucket:
    """A token bucket: `capacity` at once, refilled at `rate` per second."""

    def __init__(self, capacity: float, rate: float, now: float) -> None:
        self.capacity, self.rate = capacity, rate
        self.tokens, self.at = capacity, now

    def wait(self, now: float) -> float:
        """Seconds until a token is free (0: take one now)."""
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class FakeBotAPI:
    """The state of a small Telegram, seen from one bot."""

    def __init__(
        self,
        spec: BotApiSpec | None = None,
        clock: Callable[[], datetime] | None = None,
        limits: TelegramLimits | None = TelegramLimits(),
    ) -> None:
        self.spec = spec
        # None lifts the limits (benchmarks of the bot's own cost); tests keep them.
        self.limits = limits
        self._sent_at: deque[float] = deque()
        self._chat_buckets: dict[int, _Bucket] = {}
        self.too_many_requests = 0
        self.clock = clock or (lambda: datetime.now(UTC))
        self.users: dict[int, dict[str, Any]] = {}
        self.chats: dict[int, Chat] = {}
        self.messages: dict[tuple[int, int], StoredMessage] = {}
        self._message_ids: dict[int, itertools.count[int]] = {}
        self.blocked: set[int] = set()
        self.started: set[int] = set()
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.violations: list[tuple[str, dict[str, Any], str]] = []
        self.callback_answers: list[CallbackAnswer] = []
        self.inline_answers: list[dict[str, Any]] = []
        self.commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self.files: dict[str, bytes] = {}
        self.faults: list[Fault] = []
        self.webhook: dict[str, Any] | None = None
        self._update_ids = itertools.count(1)
        self._callback_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self.updates: list[dict[str, Any]] = []
        self._updates_changed = asyncio.Condition()

    # -- the world ---------------------------------------------------------------------------

    def add_user(
        self,
        user_id: int,
        first_name: str,
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
    ) -> dict[str, Any]:
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        self.users[user_id] = user
        self.chats.setdefault(user_id, Chat(id=user_id, type="private"))
        return user

    def add_group(self, chat_id: int, title: str, member_ids: list[int] = ()) -> Chat:  # type: ignore[assignment]
        chat = Chat(id=chat_id, type="supergroup", title=title)
        chat.members = {uid: "member" for uid in member_ids}
        chat.members[BOT_ID] = "administrator"
        self.chats[chat_id] = chat
        return chat

    def chat_json(self, chat_id: int) -> dict[str, Any]:
        chat = self.chats[chat_id]
        if chat.type == "private":
            user = self.users[chat_id]
            data = {"id": chat_id, "type": "private", "first_name": user["first_name"]}
            for key in ("last_name", "username"):
                if key in user:
                    data[key] = user[key]
            return data
        return {"id": chat_id, "type": chat.type, "title": chat.title}

    def bot_user(self) -> dict[str, Any]:
        return {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "WG Bot",
            "username": BOT_USERNAME,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": True,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def next_message_id(self, chat_id: int) -> int:
        counter = self._message_ids.setdefault(chat_id, itertools.count(1))
        return next(counter)

    def now_ts(self) -> int:
        return int(self.clock().timestamp())

    def message_json(self, message: StoredMessage) -> dict[str, Any]:
        sender = self.bot_user() if message.from_id == BOT_ID else self.users[message.from_id]
        data: dict[str, Any] = {
            "message_id": message.message_id,
            "date": message.date,
            "chat": self.chat_json(message.chat_id),
            "from": {
                k: v
                for k, v in sender.items()
                if k in ("id", "is_bot", "first_name", "last_name", "username", "language_code")
            },
        }
        if message.text is not None:
            data["text"] = message.text
            if message.entities:
                data["entities"] = [_entity_json(e) for e in message.entities]
        if message.caption is not None:
            data["caption"] = message.caption
            if message.entities:
                data["caption_entities"] = [_entity_json(e) for e in message.entities]
        if message.reply_markup:
            data["reply_markup"] = message.reply_markup
        if message.document:
            data["document"] = message.document
        if message.photo:
            data["photo"] = message.photo
        if message.poll:
            data["poll"] = message.poll
        if message.edited:
            data["edit_date"] = self.now_ts()
        return data

    # -- updates -----------------------------------------------------------------------------

    def new_update(self, payload: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": next(self._update_ids), **payload}
        return update

    async def enqueue(self, update: dict[str, Any]) -> None:
        """Make an update available to getUpdates (polling mode)."""
        async with self._updates_changed:
            self.updates.append(update)
            self._updates_changed.notify_all()

    def store_user_message(
        self, user_id: int, chat_id: int, text: str, entities: list[dict[str, Any]] | None = None
    ) -> StoredMessage:
        message = StoredMessage(
            chat_id=chat_id,
            message_id=self.next_message_id(chat_id),
            from_id=user_id,
            date=self.now_ts(),
            text=text,
        )
        self.messages[(chat_id, message.message_id)] = message
        if chat_id == user_id:
            self.started.add(user_id)
        return message

    def new_callback_id(self) -> str:
        return str(next(self._callback_ids))

    # -- faults ------------------------------------------------------------------------------

    def inject(self, fault: Fault) -> None:
        self.faults.append(fault)

    def _take_fault(self, method: str, params: dict[str, Any]) -> Fault | None:
        for fault in self.faults:
            if fault.method.lower() != method.lower():
                continue
            if fault.chat_id is not None and params.get("chat_id") != fault.chat_id:
                continue
            fault.count -= 1
            if fault.count <= 0:
                self.faults.remove(fault)
            return fault
        return None

    # -- requests ----------------------------------------------------------------------------

    async def call(
        self, method: str, params: dict[str, Any], files: dict[str, Any] | None = None
    ) -> Any:
        """Handle one Bot API request; returns the `result` or raises ApiError."""
        self.requests.append((method, params))
        fault = self._take_fault(method, params)
        if fault is not None:
            if fault.timeout:
                raise TimeoutError(f"injected timeout for {method}")
            raise ApiError(fault.status, fault.description, fault.retry_after)
        if self.limits is not None and method.lower() in _COUNTED:
            self._check_flood(params.get("chat_id"), paid=bool(params.get("allow_paid_broadcast")))
        if self.spec is not None:
            try:
                self.spec.check(method, params, (files or {}).keys())
            except BadRequest as exc:
                self.violations.append((method, params, exc.description))
                log.error("sandbox refused %s: %s", method, exc.description)
                raise ApiError(exc.status, exc.description) from None
        handler = getattr(self, f"_m_{method.lower()}", None)
        if handler is None:
            raise ApiError(400, f"Bad Request: the sandbox does not implement {method} yet")
        return await handler(params, files or {})

    def _check_flood(self, chat_id: Any, *, paid: bool = False) -> None:
        """Answer 429 with retry_after, as Telegram does, when a limit would be broken."""
        assert self.limits is not None
        now = self.clock().timestamp()
        while self._sent_at and self._sent_at[0] <= now - 1.0:
            self._sent_at.popleft()
        wait = 0.0
        overall = self.limits.paid_per_second if paid else self.limits.per_second
        if len(self._sent_at) >= overall:
            wait = self._sent_at[-overall] + 1.0 - now
        if isinstance(chat_id, int):
            bucket = self._chat_buckets.get(chat_id)
            if bucket is None:
                bucket = (
                    _Bucket(self.limits.group_per_minute, self.limits.group_per_minute / 60, now)
                    if chat_id < 0
                    else _Bucket(self.limits.private_burst, self.limits.private_per_second, now)
                )
                self._chat_buckets[chat_id] = bucket
            if wait <= 0:
                wait = bucket.wait(now)
        if wait > 0:
            self.too_many_requests += 1
            seconds = max(1, math.ceil(wait))
            raise ApiError(429, f"Too Many Requests: retry after {seconds}", retry_after=seconds)
        self._sent_at.append(now)

    # Methods: named _m_<lowercase Bot API name>.

    async def _m_getme(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        return self.bot_user()

    async def _m_logout(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        return True

    async def _m_close(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        return True

    async def _m_getupdates(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        offset = int(params.get("offset", 0))
        limit = int(params.get("limit", 100))
        timeout = float(params.get("timeout", 0))
        async with self._updates_changed:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
            if not self.updates and timeout > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._updates_changed.wait(), timeout)
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
            return self.updates[:limit]

    async def _m_setwebhook(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        self.webhook = dict(params)
        return True

    async def _m_deletewebhook(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        self.webhook = None
        return True

    def _private_or_group(self, chat_id: Any) -> Chat:
        if not isinstance(chat_id, int):
            raise ApiError(400, "Bad Request: chat not found")
        chat = self.chats.get(chat_id)
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        if chat.type == "private":
            if chat_id in self.blocked:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            if chat_id not in self.started:
                raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        elif chat.members.get(BOT_ID) not in PRESENT:
            raise ApiError(403, "Forbidden: bot is not a member of the supergroup chat")
        return chat

    def _formatted(
        self, text: str, parse_mode: str | None, limit: int, what: str
    ) -> tuple[str, list[Entity]]:
        if parse_mode and parse_mode.upper() == "HTML":
            try:
                plain, entities = parse_html(text)
            except TelegramHtmlError as exc:
                raise ApiError(400, f"Bad Request: can't parse entities: {exc}") from None
        else:
            plain, entities = text, []
        if what == "text" and not plain.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if _utf16_len(plain) > limit:
            raise ApiError(400, f"Bad Request: message {what} is too long")
        return plain, entities

    def _store_bot_message(self, chat: Chat, **fields: Any) -> StoredMessage:
        message = StoredMessage(
            chat_id=chat.id,
            message_id=self.next_message_id(chat.id),
            from_id=BOT_ID,
            date=self.now_ts(),
            **fields,
        )
        self.messages[(chat.id, message.message_id)] = message
        return message

    async def _m_sendmessage(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        chat = self._private_or_group(params.get("chat_id"))
        text = str(params["text"])
        plain, entities = self._formatted(text, params.get("parse_mode"), 4096, "text")
        reply = params.get("reply_parameters") or {}
        message = self._store_bot_message(
            chat,
            text=plain,
            html=text,
            entities=entities,
            reply_markup=params.get("reply_markup"),
            reply_to=reply.get("message_id"),
        )
        return self.message_json(message)

    def _file(self, field: str, params: dict[str, Any], files: dict[str, Any]) -> dict[str, Any]:
        file_id = f"{field}-{next(self._file_ids)}"
        name = "file"
        content = b""
        value = params.get(field)
        if value is None and field in files:
            # python-telegram-bot sends an upload as a multipart part named after the field.
            value = f"attach://{field}"
        if isinstance(value, str) and value.startswith("attach://"):
            upload = files.get(value.removeprefix("attach://"))
            if upload is None:
                raise ApiError(400, "Bad Request: file must be non-empty")
            name, content = upload[0], upload[1]
        elif isinstance(value, str) and value in self.files:
            content = self.files[value]
        elif isinstance(value, str) and value.startswith(("http://", "https://")):
            content = value.encode()
        else:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        if not content:
            raise ApiError(400, "Bad Request: file must be non-empty")
        self.files[file_id] = content
        return {
            "file_id": file_id,
            "file_unique_id": file_id,
            "file_name": name or "file",
            "file_size": len(content),
        }

    def _send_file(self, field: str, params: dict[str, Any], files: dict[str, Any]) -> Any:
        chat = self._private_or_group(params.get("chat_id"))
        stored = self._file(field, params, files)
        caption = params.get("caption")
        plain, entities = (None, [])
        if caption:
            plain, entities = self._formatted(caption, params.get("parse_mode"), 1024, "caption")
        attachment: dict[str, Any] = (
            {"photo": [{**stored, "width": 800, "height": 600}]}
            if field == "photo"
            else {"document": stored}
        )
        message = self._store_bot_message(
            chat,
            caption=plain,
            html=caption,
            entities=entities,
            reply_markup=params.get("reply_markup"),
            **attachment,
        )
        return self.message_json(message)

    async def _m_senddocument(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        return self._send_file("document", params, files)

    async def _m_sendphoto(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        return self._send_file("photo", params, files)

    async def _m_sendpoll(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        chat = self._private_or_group(params.get("chat_id"))
        options = [
            {
                "persistent_id": str(index),
                "text": o["text"] if isinstance(o, dict) else str(o),
                "voter_count": 0,
            }
            for index, o in enumerate(params.get("options", []))
        ]
        poll = {
            "id": f"poll-{next(self._file_ids)}",
            "question": params["question"],
            "options": options,
            "total_voter_count": 0,
            "is_closed": False,
            "is_anonymous": params.get("is_anonymous", True),
            "type": params.get("type", "regular"),
            "allows_multiple_answers": params.get("allows_multiple_answers", False),
            "allows_revoting": params.get("allows_revoting", True),
            "members_only": params.get("members_only", False),
        }
        if "close_date" in params:
            poll["close_date"] = params["close_date"]
        message = self._store_bot_message(chat, poll=poll, reply_markup=params.get("reply_markup"))
        return self.message_json(message)

    async def _m_stoppoll(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        message = self._existing(params.get("chat_id"), params.get("message_id"))
        if message.poll is None:
            raise ApiError(400, "Bad Request: message with poll to stop not found")
        if message.poll["is_closed"]:
            raise ApiError(400, "Bad Request: poll has already been closed")
        message.poll["is_closed"] = True
        return message.poll

    def _existing(self, chat_id: Any, message_id: Any) -> StoredMessage:
        message = self.messages.get((chat_id, message_id))  # type: ignore[arg-type]
        if message is None or message.deleted:
            raise ApiError(400, "Bad Request: message to edit not found")
        return message

    async def _m_editmessagetext(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        if "inline_message_id" in params:
            return True
        message = self._existing(params.get("chat_id"), params.get("message_id"))
        if message.from_id != BOT_ID:
            raise ApiError(400, "Bad Request: message can't be edited")
        text = str(params["text"])
        plain, entities = self._formatted(text, params.get("parse_mode"), 4096, "text")
        markup = params.get("reply_markup")
        if (
            plain == message.text
            and entities == message.entities
            and markup == message.reply_markup
        ):
            raise ApiError(
                400,
                "Bad Request: message is not modified: specified new message content and reply "
                "markup are exactly the same as a current content and reply markup of the message",
            )
        message.text, message.html, message.entities = plain, text, entities
        message.reply_markup = markup
        message.edited = True
        return self.message_json(message)

    async def _m_editmessagereplymarkup(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        message = self._existing(params.get("chat_id"), params.get("message_id"))
        markup = params.get("reply_markup")
        if markup == message.reply_markup:
            raise ApiError(400, "Bad Request: message is not modified")
        message.reply_markup = markup
        message.edited = True
        return self.message_json(message)

    async def _m_deletemessage(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        message = self.messages.get((params.get("chat_id"), params.get("message_id")))  # type: ignore[arg-type]
        if message is None or message.deleted:
            raise ApiError(400, "Bad Request: message to delete not found")
        message.deleted = True
        return True

    async def _m_pinchatmessage(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        message = self._existing(params.get("chat_id"), params.get("message_id"))
        message.pinned = True
        return True

    async def _m_unpinchatmessage(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        if "message_id" in params:
            self._existing(params.get("chat_id"), params.get("message_id")).pinned = False
        return True

    async def _m_answercallbackquery(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        self.callback_answers.append(
            CallbackAnswer(
                str(params["callback_query_id"]),
                params.get("text"),
                bool(params.get("show_alert", False)),
            )
        )
        return True

    async def _m_answerinlinequery(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        self.inline_answers.append(dict(params))
        return True

    @staticmethod
    def _scope_key(params: dict[str, Any]) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(params.get("language_code", ""))

    async def _m_setmycommands(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        self.commands[self._scope_key(params)] = list(params["commands"])
        return True

    async def _m_deletemycommands(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        self.commands.pop(self._scope_key(params), None)
        return True

    async def _m_getmycommands(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        return self.commands.get(self._scope_key(params), [])

    async def _m_setmydescription(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        return True

    async def _m_setmyshortdescription(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        return True

    async def _m_getchat(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        chat_id = params.get("chat_id")
        if chat_id not in self.chats:
            raise ApiError(400, "Bad Request: chat not found")
        return {
            **self.chat_json(chat_id),
            "accent_color_id": 0,
            "max_reaction_count": 11,  # type: ignore[arg-type]
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
            },
        }

    async def _m_getchatmember(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        chat = self.chats.get(params.get("chat_id"))  # type: ignore[arg-type]
        if chat is None or chat.type == "private":
            raise ApiError(400, "Bad Request: chat not found")
        user_id = params.get("user_id")
        if user_id == BOT_ID:
            user = self.bot_user()
        elif user_id in self.users:
            user = self.users[user_id]  # type: ignore[index]
        else:
            raise ApiError(400, "Bad Request: PARTICIPANT_ID_INVALID")
        status = chat.members.get(user_id, "left")  # type: ignore[arg-type]
        member: dict[str, Any] = {"status": status, "user": user}
        if status == "administrator":
            member.update(
                can_be_edited=False,
                is_anonymous=False,
                can_manage_chat=True,
                can_delete_messages=True,
                can_manage_video_chats=True,
                can_restrict_members=True,
                can_promote_members=False,
                can_change_info=True,
                can_invite_users=True,
                can_post_stories=False,
                can_edit_stories=False,
                can_delete_stories=False,
                can_pin_messages=True,
            )
        elif status == "kicked":
            member["until_date"] = 0
        return member


def _entity_json(entity: Entity) -> dict[str, Any]:
    data: dict[str, Any] = {"type": entity.type, "offset": entity.offset, "length": entity.length}
    if entity.url:
        data["url"] = entity.url
    if entity.language:
        data["language"] = entity.language
    return data


class SandboxRequest(BaseRequest):
    """python-telegram-bot's transport, pointed at the fake: no sockets, same serialization."""

    def __init__(self, api: FakeBotAPI) -> None:
        self.api = api

    @property
    def read_timeout(self) -> float | None:
        return 5.0

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        api_method = url.rstrip("/").rsplit("/", 1)[-1]
        params = request_data.parameters if request_data else {}
        files: dict[str, Any] = {}
        if request_data is not None and request_data.contains_files:
            for name, value in request_data.multipart_data.items():
                if isinstance(value, tuple):
                    files[name] = (value[0], value[1])
        try:
            result = await self.api.call(api_method, dict(params), files)
        except TimeoutError as exc:
            # What python-telegram-bot raises when Telegram does not answer in time.
            raise TimedOut(str(exc)) from exc
        except ApiError as exc:
            body: dict[str, Any] = {
                "ok": False,
                "error_code": exc.status,
                "description": exc.description,
            }
            if exc.retry_after is not None:
                body["parameters"] = {"retry_after": exc.retry_after}
            return exc.status, json.dumps(body).encode()
        return 200, json.dumps({"ok": True, "result": result}).encode()
