"""Checking Bot API requests against the official specification (bot/sandbox/spec.py)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllPrivateChats,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    InputMediaDocument,
    KeyboardButton,
    ReplyKeyboardMarkup,
)
from telegram.request import BaseRequest, RequestData

from bot.sandbox import spec as spec_module
from bot.sandbox.spec import BadRequest, BotApiSpec, find_spec_path


@pytest.fixture(scope="module")
def spec() -> BotApiSpec:
    return BotApiSpec.load()


def _keyboard(**button: Any) -> dict[str, Any]:
    return {"inline_keyboard": [[{"text": "OK", **button}]]}


def _bad(spec: BotApiSpec, method: str, params: dict[str, Any], **kwargs: Any) -> BadRequest:
    with pytest.raises(BadRequest) as info:
        spec.check(method, params, **kwargs)
    return info.value


# --- loading ------------------------------------------------------------------------------------


def test_load_is_cached_and_has_a_version(spec: BotApiSpec) -> None:
    assert BotApiSpec.load() is spec
    assert BotApiSpec.load(find_spec_path()) is spec
    assert spec.version.startswith("Bot API ")
    assert "sendMessage" in spec.method_names


def test_find_spec_path_env_var(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    target = tmp_path / "api.json"
    monkeypatch.setenv("WGBOT_BOT_API_SPEC", str(target))
    assert find_spec_path() == target


def test_find_spec_path_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("WGBOT_BOT_API_SPEC", raising=False)
    monkeypatch.setattr(spec_module, "_SPEC_CANDIDATES", (tmp_path / "nope.json",))
    with pytest.raises(FileNotFoundError, match="WGBOT_BOT_API_SPEC"):
        find_spec_path()


def test_load_from_an_explicit_small_spec(tmp_path: Path) -> None:
    path = tmp_path / "api.json"
    path.write_text(
        json.dumps(
            {
                "version": "Bot API 0.1",
                "methods": {
                    "ping": {
                        "fields": [
                            {"name": "n", "types": ["Integer"], "required": True, "description": ""}
                        ]
                    }
                },
                "types": {},
            }
        )
    )
    small = BotApiSpec.load(path)
    assert small.version == "Bot API 0.1"
    small.check("PING", {"n": 1})
    assert _bad(small, "ping", {"n": "1"}).description == (
        'Bad Request: parameter "n" must be Integer'
    )


# --- methods and parameters ---------------------------------------------------------------------


def test_valid_send_message_with_inline_keyboard(spec: BotApiSpec) -> None:
    spec.check(
        "sendMessage",
        {
            "chat_id": 42,
            "text": "<b>Hello</b> &amp; welcome",
            "parse_mode": "HTML",
            "reply_markup": {
                "inline_keyboard": [
                    [{"text": "Yes", "callback_data": "y"}, {"text": "Site", "url": "https://x"}],
                    [{"text": "Copy", "copy_text": {"text": "abc"}}],
                ]
            },
            "link_preview_options": {"is_disabled": True},
            "reply_parameters": {"message_id": 7},
        },
    )


def test_method_names_are_case_insensitive(spec: BotApiSpec) -> None:
    spec.check("SENDMESSAGE", {"chat_id": "@channel", "text": "hi"})
    spec.check("getme", {})


def test_unknown_method_is_404(spec: BotApiSpec) -> None:
    exc = _bad(spec, "sendMessages", {"chat_id": 1, "text": "x"})
    assert (exc.status, exc.description) == (404, "Not Found")


def test_unknown_parameter(spec: BotApiSpec) -> None:
    exc = _bad(spec, "sendMessage", {"chat_id": 1, "text": "x", "foo": 1})
    assert (exc.status, exc.description) == (400, 'Bad Request: parameter "foo" is unknown')


def test_unknown_nested_field(spec: BotApiSpec) -> None:
    exc = _bad(
        spec,
        "sendMessage",
        {"chat_id": 1, "text": "x", "reply_markup": _keyboard(callback_data="a", colour="red")},
    )
    assert exc.description == (
        'Bad Request: parameter "reply_markup.inline_keyboard[0][0].colour" is unknown'
    )


def test_missing_chat_id(spec: BotApiSpec) -> None:
    exc = _bad(spec, "sendMessage", {"text": "x"})
    assert exc.description == 'Bad Request: parameter "chat_id" is required'


@pytest.mark.parametrize("chat_id", [True, 1.5, None, [1]])
def test_chat_id_of_the_wrong_type(spec: BotApiSpec, chat_id: Any) -> None:
    exc = _bad(spec, "sendMessage", {"chat_id": chat_id, "text": "x"})
    assert exc.description == 'Bad Request: parameter "chat_id" must be Integer or String'


@pytest.mark.parametrize(
    ("method", "params", "expected"),
    [
        ("sendMessage", {"chat_id": 1, "text": "x", "disable_notification": 1}, "Boolean"),
        ("sendMessage", {"chat_id": 1, "text": "x", "message_thread_id": True}, "Integer"),
        ("sendMessage", {"chat_id": 1, "text": 5}, "String"),
        ("sendLocation", {"chat_id": 1, "latitude": "1", "longitude": 2}, "Float"),
    ],
)
def test_primitive_types(
    spec: BotApiSpec, method: str, params: dict[str, Any], expected: str
) -> None:
    assert _bad(spec, method, params).description.endswith(f"must be {expected}")


def test_float_accepts_int_and_float(spec: BotApiSpec) -> None:
    spec.check("sendLocation", {"chat_id": 1, "latitude": 1, "longitude": 2.5})
    spec.check("sendMessage", {"chat_id": 1, "text": "x", "disable_notification": False})


def test_arrays(spec: BotApiSpec) -> None:
    spec.check(
        "sendMessage",
        {"chat_id": 1, "text": "xy", "entities": [{"type": "bold", "offset": 0, "length": 1}]},
    )
    exc = _bad(spec, "sendMessage", {"chat_id": 1, "text": "xy", "entities": {"type": "bold"}})
    assert exc.description == 'Bad Request: parameter "entities" must be Array of MessageEntity'
    exc = _bad(
        spec,
        "sendMessage",
        {
            "chat_id": 1,
            "text": "x",
            "reply_markup": {"inline_keyboard": [{"text": "a", "callback_data": "b"}]},
        },
    )
    assert "inline_keyboard[0]" in exc.description


def test_nested_required_field(spec: BotApiSpec) -> None:
    exc = _bad(spec, "sendMessage", {"chat_id": 1, "text": "x", "reply_parameters": {}})
    assert exc.description == 'Bad Request: parameter "reply_parameters.message_id" is required'


def test_reply_keyboard_accepts_strings_and_objects(spec: BotApiSpec) -> None:
    spec.check(
        "sendMessage",
        {
            "chat_id": 1,
            "text": "x",
            "reply_markup": {
                "keyboard": [["plain", {"text": "Share", "request_contact": True}]],
                "resize_keyboard": True,
            },
        },
    )
    exc = _bad(
        spec,
        "sendMessage",
        {
            "chat_id": 1,
            "text": "x",
            "reply_markup": {
                "keyboard": [[{"text": "Both", "request_contact": True, "request_location": True}]]
            },
        },
    )
    assert "at most one of" in exc.description
    spec.check(
        "sendMessage", {"chat_id": 1, "text": "x", "reply_markup": {"remove_keyboard": True}}
    )


# --- prose limits -------------------------------------------------------------------------------


def test_callback_data_is_limited_to_64_bytes(spec: BotApiSpec) -> None:
    spec.check(
        "sendMessage",
        {"chat_id": 1, "text": "x", "reply_markup": _keyboard(callback_data="x" * 64)},
    )
    exc = _bad(
        spec,
        "sendMessage",
        {"chat_id": 1, "text": "x", "reply_markup": _keyboard(callback_data="x" * 65)},
    )
    assert exc.description == "Bad Request: BUTTON_DATA_INVALID"
    # 22 Cyrillic letters are 44 bytes; 33 are 66 bytes.
    exc = _bad(
        spec,
        "sendMessage",
        {"chat_id": 1, "text": "x", "reply_markup": _keyboard(callback_data="я" * 33)},
    )
    assert exc.description == "Bad Request: BUTTON_DATA_INVALID"
    exc = _bad(
        spec,
        "sendMessage",
        {"chat_id": 1, "text": "x", "reply_markup": _keyboard(callback_data="")},
    )
    assert exc.description == "Bad Request: BUTTON_DATA_INVALID"


def test_inline_button_needs_exactly_one_action_and_a_label(spec: BotApiSpec) -> None:
    exc = _bad(spec, "sendMessage", {"chat_id": 1, "text": "x", "reply_markup": _keyboard()})
    assert "Text buttons are unallowed in the inline keyboard" in exc.description
    exc = _bad(
        spec,
        "sendMessage",
        {"chat_id": 1, "text": "x", "reply_markup": _keyboard(callback_data="a", url="https://x")},
    )
    assert "exactly one of" in exc.description
    exc = _bad(
        spec,
        "sendMessage",
        {
            "chat_id": 1,
            "text": "x",
            "reply_markup": {"inline_keyboard": [[{"text": " ", "callback_data": "a"}]]},
        },
    )
    assert "button text must be non-empty" in exc.description
    # style and icon_custom_emoji_id are not actions.
    spec.check(
        "sendMessage",
        {"chat_id": 1, "text": "x", "reply_markup": _keyboard(callback_data="a", style="danger")},
    )


def test_text_length(spec: BotApiSpec) -> None:
    spec.check("sendMessage", {"chat_id": 1, "text": "x" * 4096})
    spec.check("sendMessage", {"chat_id": 1, "text": "😀" * 2048})
    exc = _bad(spec, "sendMessage", {"chat_id": 1, "text": "x" * 4097})
    assert exc.description == "Bad Request: message is too long"
    # UTF-16: 2049 emoji are 4098 code units.
    exc = _bad(spec, "sendMessage", {"chat_id": 1, "text": "😀" * 2049})
    assert exc.description == "Bad Request: message is too long"
    # Markup does not count once parsed.
    spec.check(
        "sendMessage", {"chat_id": 1, "text": "<b>" + "x" * 4096 + "</b>", "parse_mode": "HTML"}
    )
    exc = _bad(spec, "editMessageText", {"chat_id": 1, "message_id": 2, "text": "x" * 4097})
    assert exc.description == "Bad Request: message is too long"


@pytest.mark.parametrize("text", ["", "   \n", "<b></b>"])
def test_empty_text(spec: BotApiSpec, text: str) -> None:
    exc = _bad(spec, "sendMessage", {"chat_id": 1, "text": text, "parse_mode": "HTML"})
    assert exc.description == "Bad Request: message text is empty"


def test_bad_html(spec: BotApiSpec) -> None:
    exc = _bad(spec, "sendMessage", {"chat_id": 1, "text": "<b>x", "parse_mode": "HTML"})
    assert exc.description == (
        "Bad Request: can't parse entities: can't find end tag corresponding to start tag \"b\""
    )
    exc = _bad(spec, "sendMessage", {"chat_id": 1, "text": "a & b", "parse_mode": "HTML"})
    assert exc.description.startswith("Bad Request: can't parse entities: character '&'")
    # Without a parse mode the same text is just text.
    spec.check("sendMessage", {"chat_id": 1, "text": "<b>x"})
    # Markdown modes are accepted unchecked.
    spec.check("sendMessage", {"chat_id": 1, "text": "*x", "parse_mode": "MarkdownV2"})
    exc = _bad(spec, "sendMessage", {"chat_id": 1, "text": "x", "parse_mode": "BBCode"})
    assert "unsupported parse_mode" in exc.description


def test_caption(spec: BotApiSpec) -> None:
    params = {"chat_id": 1, "document": "FILE_ID", "parse_mode": "HTML"}
    spec.check("sendDocument", {**params, "caption": ""})
    spec.check("sendDocument", {**params, "caption": "<i>" + "c" * 1024 + "</i>"})
    exc = _bad(spec, "sendDocument", {**params, "caption": "c" * 1025})
    assert exc.description == "Bad Request: message caption is too long"
    exc = _bad(spec, "sendDocument", {**params, "caption": "<u>c"})
    assert exc.description.startswith("Bad Request: can't parse entities:")


def test_answer_callback_query_text(spec: BotApiSpec) -> None:
    spec.check("answerCallbackQuery", {"callback_query_id": "1", "text": "é" * 200})
    exc = _bad(spec, "answerCallbackQuery", {"callback_query_id": "1", "text": "é" * 201})
    assert exc.description == "Bad Request: MESSAGE_TOO_LONG"


def test_send_poll_limits(spec: BotApiSpec) -> None:
    options = [{"text": "yes"}, {"text": "no"}]
    spec.check("sendPoll", {"chat_id": 1, "question": "q" * 300, "options": options})
    exc = _bad(spec, "sendPoll", {"chat_id": 1, "question": "q" * 301, "options": options})
    assert exc.description == "Bad Request: poll question length must not exceed 300"
    exc = _bad(spec, "sendPoll", {"chat_id": 1, "question": "", "options": options})
    assert exc.description == "Bad Request: poll question must be non-empty"
    too_many = [{"text": str(i)} for i in range(13)]
    exc = _bad(spec, "sendPoll", {"chat_id": 1, "question": "q", "options": too_many})
    assert exc.description == "Bad Request: poll can't have more than 12 options"
    exc = _bad(spec, "sendPoll", {"chat_id": 1, "question": "q", "options": []})
    assert exc.description.startswith("Bad Request: poll must have at least")
    long_option = [{"text": "o" * 101}, {"text": "no"}]
    exc = _bad(spec, "sendPoll", {"chat_id": 1, "question": "q", "options": long_option})
    assert exc.description == "Bad Request: poll options length must not exceed 100"


# --- setMyCommands and union types --------------------------------------------------------------


def test_set_my_commands_with_chat_scope(spec: BotApiSpec) -> None:
    spec.check(
        "setMyCommands",
        {
            "commands": [
                {"command": "start", "description": "Start"},
                {"command": "help_2", "description": "Help"},
            ],
            "scope": {"type": "chat", "chat_id": -100123},
            "language_code": "ru",
        },
    )


@pytest.mark.parametrize("command", ["Start", "start-now", "", "x" * 33, "/start"])
def test_set_my_commands_rejects_bad_command_names(spec: BotApiSpec, command: str) -> None:
    exc = _bad(spec, "setMyCommands", {"commands": [{"command": command, "description": "d"}]})
    assert exc.description == "Bad Request: BOT_COMMAND_INVALID"


def test_set_my_commands_descriptions_and_count(spec: BotApiSpec) -> None:
    exc = _bad(spec, "setMyCommands", {"commands": [{"command": "a", "description": ""}]})
    assert exc.description == "Bad Request: command description must be non-empty"
    exc = _bad(spec, "setMyCommands", {"commands": [{"command": "a", "description": "d" * 257}]})
    assert exc.description == "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID"
    commands = [{"command": f"c{i}", "description": "d"} for i in range(101)]
    exc = _bad(spec, "setMyCommands", {"commands": commands})
    assert exc.description.startswith("Bad Request: too many commands")
    exc = _bad(spec, "setMyCommands", {"commands": [{"command": "a"}]})
    assert exc.description == 'Bad Request: parameter "commands[0].description" is required'


def test_scope_subtype_is_chosen_by_its_type_field(spec: BotApiSpec) -> None:
    cmds = [{"command": "a", "description": "d"}]
    spec.check("setMyCommands", {"commands": cmds, "scope": {"type": "all_private_chats"}})
    # chat_id belongs to BotCommandScopeChat, not to the default scope.
    exc = _bad(
        spec, "setMyCommands", {"commands": cmds, "scope": {"type": "default", "chat_id": 1}}
    )
    assert exc.description == 'Bad Request: parameter "scope.chat_id" is unknown'
    exc = _bad(spec, "setMyCommands", {"commands": cmds, "scope": {"type": "chat"}})
    assert exc.description == 'Bad Request: parameter "scope.chat_id" is required'
    exc = _bad(spec, "setMyCommands", {"commands": cmds, "scope": {"type": "everyone"}})
    assert exc.description.startswith('Bad Request: parameter "scope.type" must be one of')
    exc = _bad(spec, "setMyCommands", {"commands": cmds, "scope": {}})
    assert exc.description == 'Bad Request: parameter "scope.type" is required'


def test_media_group_subtypes_and_attachments(spec: BotApiSpec) -> None:
    media = [
        {"type": "document", "media": "attach://f1", "caption": "one"},
        {"type": "document", "media": "FILE_ID"},
    ]
    spec.check("sendMediaGroup", {"chat_id": 1, "media": media}, files={"f1"})
    exc = _bad(spec, "sendMediaGroup", {"chat_id": 1, "media": media}, files={"other"})
    assert "no such file was uploaded" in exc.description
    exc = _bad(spec, "sendMediaGroup", {"chat_id": 1, "media": [{"type": "sticker", "media": "x"}]})
    assert 'parameter "media[0].type" must be one of "audio", "document"' in exc.description
    # Photos and videos mix in an album; documents only go with documents.
    photo, video = {"type": "photo", "media": "P"}, {"type": "video", "media": "V"}
    spec.check("sendMediaGroup", {"chat_id": 1, "media": [photo, video]})
    exc = _bad(spec, "sendMediaGroup", {"chat_id": 1, "media": [photo, media[1]]})
    assert "documents and audio files" in exc.description
    exc = _bad(spec, "sendMediaGroup", {"chat_id": 1, "media": [photo]})
    assert exc.description == 'Bad Request: parameter "media" must have 2-10 elements, not 1'


def test_top_level_upload_needs_a_file_part(spec: BotApiSpec) -> None:
    # PTB leaves a directly uploaded document out of the parameters (see below).
    spec.check("sendDocument", {"chat_id": 1}, files={"document"})
    spec.check("sendDocument", {"chat_id": 1})  # without file info, assumed uploaded
    exc = _bad(spec, "sendDocument", {"chat_id": 1}, files=set())
    assert exc.description == 'Bad Request: parameter "document" is required'
    exc = _bad(spec, "sendMessage", {"text": "x"}, files={"chat_id"})
    assert exc.description == 'Bad Request: parameter "chat_id" can\'t be a file'


def test_bad_request_attributes() -> None:
    exc = BadRequest("Bad Request: x")
    assert (exc.status, exc.description, str(exc)) == (400, "Bad Request: x", "Bad Request: x")


# --- real requests from python-telegram-bot ----------------------------------------------------

_USER = {"id": 5, "is_bot": False, "first_name": "Ann"}
_MESSAGE = {"message_id": 1, "date": 0, "chat": {"id": 5, "type": "private"}, "text": "x"}
_RESULTS: dict[str, Any] = {
    "getMe": {"id": 1, "is_bot": True, "first_name": "Bot", "username": "wg_bot"},
    "sendMessage": _MESSAGE,
    "editMessageText": _MESSAGE,
    "sendDocument": _MESSAGE,
    "sendMediaGroup": [_MESSAGE],
    "getChatMember": {"status": "member", "user": _USER},
}


class RecordingRequest(BaseRequest):
    """A transport that records what PTB would send and answers with a canned success."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any], set[str]]] = []

    @property
    def read_timeout(self) -> float | None:
        return 1.0

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
        api_method = url.rsplit("/", 1)[-1]
        params = dict(request_data.parameters) if request_data else {}
        files = set(request_data.multipart_data) if request_data else set()
        self.calls.append((api_method, params, files))
        body = {"ok": True, "result": _RESULTS.get(api_method, True)}
        return 200, json.dumps(body).encode()


async def test_requests_built_by_python_telegram_bot_pass(spec: BotApiSpec) -> None:
    request = RecordingRequest()
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("Да", callback_data="yes"),
                InlineKeyboardButton("Site", url="https://example.org"),
            ]
        ]
    )
    async with Bot("123:TEST", request=request, get_updates_request=request) as bot:
        await bot.send_message(5, "<b>Hi</b> &amp; bye", parse_mode="HTML", reply_markup=keyboard)
        await bot.send_message(
            5,
            "choose",
            reply_markup=ReplyKeyboardMarkup(
                [[KeyboardButton("A")], ["B"]], one_time_keyboard=True
            ),
            reply_to_message_id=3,
            disable_web_page_preview=True,
        )
        await bot.edit_message_text(
            "<i>edited</i>", chat_id=5, message_id=1, parse_mode="HTML", reply_markup=keyboard
        )
        await bot.answer_callback_query("cbq-1", text="Saved", show_alert=True)
        await bot.set_my_commands(
            [BotCommand("start", "Start"), BotCommand("help", "Help")],
            scope=BotCommandScopeAllPrivateChats(),
            language_code="en",
        )
        await bot.get_chat_member(5, 7)
        await bot.send_document(
            5,
            InputFile(io.BytesIO(b"report"), filename="r.txt"),
            caption="<b>Report</b>",
            parse_mode="HTML",
        )
        await bot.send_document(5, io.BytesIO(b"x"), filename="t.txt", thumbnail=io.BytesIO(b"j"))
        await bot.send_media_group(
            5, [InputMediaDocument(io.BytesIO(b"a"), filename="a.txt"), InputMediaDocument("FILE")]
        )

    sent = [name for name, _, _ in request.calls]
    assert sent[0] == "getMe"
    assert {
        "sendMessage",
        "editMessageText",
        "answerCallbackQuery",
        "setMyCommands",
        "getChatMember",
        "sendDocument",
        "sendMediaGroup",
    } <= set(sent)
    for name, params, files in request.calls:
        spec.check(name, params, files=files)
        spec.check(name, params)

    # What PTB 22 actually sends, which the checks above rely on.
    by_name = {name: (params, files) for name, params, files in request.calls}
    doc_params, doc_files = next(
        (p, f) for n, p, f in request.calls if n == "sendDocument" and "caption" in p
    )
    assert "document" not in doc_params and doc_files == {"document"}
    scope = by_name["setMyCommands"][0]["scope"]
    assert scope == {"type": "all_private_chats"}  # a str-enum member, equal to its value
    assert by_name["sendMessage"][0]["reply_parameters"] == {"message_id": 3}


async def test_a_ptb_request_that_telegram_would_refuse_is_caught(spec: BotApiSpec) -> None:
    request = RecordingRequest()
    async with Bot("123:TEST", request=request) as bot:
        await bot.send_message(
            5,
            "x",
            reply_markup=InlineKeyboardMarkup(
                [[InlineKeyboardButton("long", callback_data="d" * 65)]]
            ),
        )
    name, params, files = request.calls[-1]
    assert _bad(spec, name, params, files=files).description == "Bad Request: BUTTON_DATA_INVALID"


def test_conditionally_required_parameters(spec: BotApiSpec) -> None:
    spec.check("editMessageText", {"inline_message_id": "abc", "text": "x"})
    spec.check("editMessageText", {"chat_id": 1, "message_id": 2, "text": "x"})
    exc = _bad(spec, "editMessageText", {"chat_id": 1, "text": "x"})
    assert exc.description == 'Bad Request: parameter "message_id" is required'
    exc = _bad(spec, "editMessageText", {"text": "x"})
    assert exc.description == 'Bad Request: parameter "chat_id" is required'
    exc = _bad(spec, "editMessageText", {"chat_id": 1, "message_id": 2})
    assert exc.description == 'Bad Request: parameter "text" is required'
