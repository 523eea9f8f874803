"""Check a Bot API request against the official, machine-readable specification.

The sandbox (fake Telegram used by tests) calls :meth:`BotApiSpec.check` for every request the bot
makes, so a request Telegram would reject fails in tests instead of in production. The spec is the
JSON scraped from core.telegram.org (see ``shared/telegram-bot-api/README.md``); limits that the
documentation only states in prose ("1-4096 characters after entities parsing", "1-64 bytes",
"Exactly one of the fields other than ...") are extracted from the ``description`` strings, so a
newer spec brings its new limits along.

``params`` are what python-telegram-bot 22 puts in ``RequestData.parameters``: JSON-ready values
(nested objects already dicts, StringEnum members still str subclasses). A file uploaded as a
top-level parameter does *not* appear there at all (PTB only sends it as a multipart part named
after the parameter); files inside objects appear as ``"attach://<name>"``. Pass the multipart
part names as ``files`` so both cases can be checked.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from bot.html_text import TelegramHtmlError, parse_html, utf16_len

__all__ = ["BadRequest", "BotApiSpec", "find_spec_path"]

SPEC_ENV_VAR = "WGBOT_BOT_API_SPEC"
_PROJECT_ROOT = Path(__file__).resolve().parents[2]  # parent of the ``bot`` package
_SPEC_CANDIDATES = (
    _PROJECT_ROOT.parent / "shared" / "telegram-bot-api" / "api.json",
    Path("/work/shared/telegram-bot-api/api.json"),
)


def find_spec_path() -> Path:
    """Locate api.json: $WGBOT_BOT_API_SPEC, else the shared checkout next to the project."""
    env = os.environ.get(SPEC_ENV_VAR)
    if env:
        return Path(env)
    for candidate in _SPEC_CANDIDATES:
        if candidate.is_file():
            return candidate
    tried = ", ".join(str(c) for c in _SPEC_CANDIDATES)
    raise FileNotFoundError(
        f"Telegram Bot API spec (api.json) not found; tried {tried}. "
        f"Set {SPEC_ENV_VAR} to the path of api.json."
    )


class BadRequest(Exception):
    """What Telegram would answer with ``ok: false``: an HTTP status and its description."""

    def __init__(self, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


def _bad(message: str) -> BadRequest:
    return BadRequest(f"Bad Request: {message}")


# --- spec model ---------------------------------------------------------------------------------

_PRIMITIVES = frozenset({"Integer", "Float", "Boolean", "String", "InputFile"})
_ARRAY_PREFIX = "Array of "
_ATTACH_PREFIX = "attach://"
# "Scope type, must be chat" / 'Type of the result, must be audio' / 'always "user"'
_DISCRIMINATOR_RE = re.compile(r'(?:must be|always) "?([a-z0-9_]+)"?\s*$')
_RANGE_RE = re.compile(r"(\d+)-(\d+) (characters|bytes)")
_ARRAY_RANGE_RE = re.compile(r"(?:list of|must include) (\d+)-(\d+) ")
_AT_MOST_RE = re.compile(r"At most (\d+) \w+ can be specified")
_EXCLUSIVE_RE = re.compile(r"(Exactly|At most) one of the fields other than (.+?) must be used")
# "Required if inline_message_id is not specified", "required if text isn't specified",
# "Required if chat_id and message_id are not specified", "Required if X is specified".
_REQUIRED_IF_RE = re.compile(
    r"[Rr]equired if (\w+)(?: and (\w+))? (?:is|are) (not specified|specified)"
    r"|[Rr]equired if (\w+) isn't specified"
)
_STRING_INSTEAD = "String can be used instead of this object"
_BOT_COMMAND_RE = re.compile(r"[a-z0-9_]+")
_BUTTONS = {"InlineKeyboardButton": "inline keyboard button", "KeyboardButton": "keyboard button"}


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    types: tuple[str, ...]
    required: bool
    description: str
    # Prose limits pulled out of the description.
    length: tuple[int, int, str] | None  # (min, max, "characters" | "bytes")
    after_entities: bool
    array_length: tuple[int, int] | None
    # Conditional requirement: needed when none of ``unless`` / any of ``with_`` is present.
    required_unless: tuple[str, ...] = ()
    required_with: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Type:
    name: str
    fields: dict[str, _Field]
    subtypes: tuple[str, ...]  # type expressions, not always type names (RichText has "String")
    discriminator: tuple[str, str] | None  # (field, required value) for members of a union
    string_ok: bool  # KeyboardButton: "String can be used instead of this object"
    exclusive: tuple[str, frozenset[str]] | None  # ("exactly" | "at most", action fields)


def _make_field(raw: Mapping[str, Any]) -> _Field:
    desc = raw.get("description", "")
    m = _RANGE_RE.search(desc)
    a = _ARRAY_RANGE_RE.search(desc)
    at_most = _AT_MOST_RE.search(desc)
    array_length = (int(a.group(1)), int(a.group(2))) if a else None
    if at_most:
        array_length = (0, int(at_most.group(1)))
    required_unless: tuple[str, ...] = ()
    required_with: tuple[str, ...] = ()
    r = _REQUIRED_IF_RE.search(desc)
    if r and r.group(4):
        required_unless = (r.group(4),)
    elif r:
        names = tuple(n for n in (r.group(1), r.group(2)) if n)
        if r.group(3) == "not specified":
            required_unless = names
        else:
            required_with = names
    return _Field(
        name=raw["name"],
        types=tuple(raw["types"]),
        required=bool(raw.get("required")),
        description=desc,
        length=(int(m.group(1)), int(m.group(2)), m.group(3)) if m else None,
        after_entities="after entit" in desc,
        array_length=array_length,
        required_unless=required_unless,
        required_with=required_with,
    )


def _make_type(name: str, raw: Mapping[str, Any]) -> _Type:
    fields = {f["name"]: _make_field(f) for f in raw.get("fields", [])}
    description = " ".join(raw.get("description", []))
    discriminator = None
    first = next(iter(fields.values()), None)
    # Union members announce themselves in their first field ("type", "status" or "source").
    is_member = bool(raw.get("subtype_of"))
    if is_member and first is not None and first.required and first.types == ("String",):
        m = _DISCRIMINATOR_RE.search(first.description)
        if m:
            discriminator = (first.name, m.group(1))
    exclusive = None
    m = _EXCLUSIVE_RE.search(description)
    if m:
        excluded = {x.strip() for x in re.split(r",|\band\b", m.group(2)) if x.strip()}
        group = frozenset(n for n, f in fields.items() if not f.required and n not in excluded)
        exclusive = ("exactly" if m.group(1) == "Exactly" else "at most", group)
    return _Type(
        name=name,
        fields=fields,
        subtypes=tuple(raw.get("subtypes", ())),
        discriminator=discriminator,
        string_ok=_STRING_INSTEAD in description,
        exclusive=exclusive,
    )


def _jsonish(value: Any) -> str:
    """Short rendering of a value for error messages."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# Telegram's own wording for the limits the bot is most likely to hit; anything else gets a
# generic "must be N-M characters long".
_LENGTH_MESSAGES: dict[tuple[str, str], tuple[str, str]] = {
    # (owner, field): (too short, too long)
    ("sendMessage", "text"): ("message text is empty", "message is too long"),
    ("editMessageText", "text"): ("message text is empty", "message is too long"),
    ("sendMessageDraft", "text"): ("message text is empty", "message is too long"),
    ("InputTextMessageContent", "message_text"): ("message text is empty", "message is too long"),
    ("answerCallbackQuery", "text"): ("MESSAGE_TOO_LONG", "MESSAGE_TOO_LONG"),
    ("InlineKeyboardButton", "callback_data"): ("BUTTON_DATA_INVALID", "BUTTON_DATA_INVALID"),
    ("BotCommand", "command"): ("BOT_COMMAND_INVALID", "BOT_COMMAND_INVALID"),
    ("BotCommand", "description"): (
        "command description must be non-empty",
        "BOT_COMMAND_DESCRIPTION_INVALID",
    ),
    ("sendPoll", "question"): (
        "poll question must be non-empty",
        "poll question length must not exceed 300",
    ),
    ("InputPollOption", "text"): (
        "poll option text must be non-empty",
        "poll options length must not exceed 100",
    ),
}


# --- the checker --------------------------------------------------------------------------------


class BotApiSpec:
    """The Bot API specification, able to validate one request at a time."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.version: str = str(data.get("version", "unknown"))
        self._types: dict[str, _Type] = {
            name: _make_type(name, raw) for name, raw in data.get("types", {}).items()
        }
        # Telegram matches method names case-insensitively (PTB sends camelCase).
        self._methods: dict[str, tuple[str, dict[str, _Field]]] = {
            name.lower(): (name, {f["name"]: _make_field(f) for f in raw.get("fields", [])})
            for name, raw in data.get("methods", {}).items()
        }

    @classmethod
    def load(cls, path: Path | None = None) -> BotApiSpec:
        """Load (once per process and path) the spec at ``path`` or :func:`find_spec_path`."""
        return _load_cached((path or find_spec_path()).resolve())

    def parameter_types(self, method: str, parameter: str) -> tuple[str, ...]:
        """The types the spec lists for one parameter (empty if unknown)."""
        entry = self._methods.get(method.lower())
        field = entry[1].get(parameter) if entry else None
        return tuple(field.types) if field else ()

    @property
    def method_names(self) -> list[str]:
        return sorted(name for name, _ in self._methods.values())

    def check(
        self,
        method: str,
        params: Mapping[str, Any],
        files: Collection[str] | None = None,
    ) -> None:
        """Raise :class:`BadRequest` if Telegram would reject ``method`` called with ``params``.

        ``files`` are the multipart part names (``RequestData.multipart_data`` keys). When given,
        top-level uploads and ``attach://`` references are checked against them. When ``None``,
        attach:// references are taken on trust and a missing parameter that may be a file
        (``InputFile`` among its types) is assumed to have been uploaded, because PTB leaves a
        directly uploaded file out of the parameters.
        """
        entry = self._methods.get(method.lower())
        if entry is None:
            raise BadRequest("Not Found", status=404)
        name, fields = entry
        if files is None:
            uploaded = {
                key
                for key, field in fields.items()
                if key not in params and "InputFile" in field.types
            }
        else:
            uploaded = set(files) & fields.keys()
            for part in uploaded - params.keys():
                if "InputFile" not in fields[part].types:
                    raise _bad(f'parameter "{part}" can\'t be a file')
        present = set(params) | uploaded
        checker = _Checker(self, set(files) if files is not None else None)
        checker.fields(name, fields, params, "", present)


@cache
def _load_cached(path: Path) -> BotApiSpec:
    with path.open(encoding="utf-8") as fh:
        return BotApiSpec(json.load(fh))


class _Checker:
    """One request's validation; raises BadRequest on the first problem found."""

    def __init__(self, spec: BotApiSpec, files: set[str] | None) -> None:
        self.types = spec._types
        self.files = files

    # objects

    def fields(
        self,
        owner: str,
        fields: Mapping[str, _Field],
        obj: Mapping[str, Any],
        path: str,
        present: Collection[str] | None = None,
    ) -> None:
        for key in obj:
            if key not in fields:
                # Telegram silently ignores unknown parameters and fields; we reject them on
                # purpose, because an unknown name is nearly always a typo or a spec drift that
                # would otherwise silently lose data.
                raise _bad(f'parameter "{path}{key}" is unknown')
        seen = obj.keys() if present is None else present
        for field in fields.values():
            if field.name in seen:
                continue
            if (
                field.required
                or (field.required_unless and not any(n in seen for n in field.required_unless))
                or any(n in seen for n in field.required_with)
            ):
                raise _bad(f'parameter "{path}{field.name}" is required')
        for key, value in obj.items():
            self.value(value, fields[key].types, f"{path}{key}")
        for key, value in obj.items():
            self.prose(owner, fields[key], value, obj, f"{path}{key}")

    def object(self, value: Any, type_name: str, path: str) -> None:
        info = self.types[type_name]
        if info.subtypes:
            self.union(value, info, path)
            return
        if isinstance(value, str) and info.string_ok:
            return
        if not isinstance(value, Mapping):
            raise _bad(f'parameter "{path}" must be {type_name}')
        prefix = f"{path}." if path else ""
        if info.discriminator is not None:
            key, expected = info.discriminator
            if key in value and value[key] != expected:
                raise _bad(f'parameter "{prefix}{key}" must be "{expected}"')
        self.fields(type_name, info.fields, value, prefix)
        if info.exclusive is not None:
            self.exclusive(info, value, path)

    def union(self, value: Any, info: _Type, path: str) -> None:
        """An abstract type: the value must match one of its subtypes."""
        if not isinstance(value, Mapping):
            # RichText also admits a plain String or an Array of RichText.
            self.value(value, info.subtypes, path)
            return
        members = [s for s in info.subtypes if s in self.types]
        discriminators = [self.types[s].discriminator for s in members]
        keys = {d[0] for d in discriminators if d is not None}
        if None not in discriminators and len(keys) == 1:
            # Members are told apart by one field ("type", "status" or "source") whose
            # description reads 'must be chat' or 'always "user"'.
            (key,) = keys
            if key not in value:
                prefix = f"{path}." if path else ""
                raise _bad(f'parameter "{prefix}{key}" is required')
            self.discriminate(value, members, path)
            members = [
                s for s, d in zip(members, discriminators, strict=True) if d == (key, value[key])
            ]
        # Otherwise (InputMessageContent) members differ only by their fields: try them all.
        self.alternatives(value, members, path)

    def discriminate(self, value: Mapping[str, Any], types: Sequence[str], path: str) -> None:
        """If ``types`` are union members told apart by one field, that field must pick one."""
        infos = [self.types.get(t) for t in types]
        discriminators = [i.discriminator if i else None for i in infos]
        keys = {d[0] for d in discriminators if d is not None}
        if None in discriminators or len(keys) != 1:
            return
        (key,) = keys
        if key in value and not any(d[1] == value[key] for d in discriminators if d):
            allowed = ", ".join(dict.fromkeys(f'"{d[1]}"' for d in discriminators if d))
            prefix = f"{path}." if path else ""
            raise _bad(
                f'parameter "{prefix}{key}" must be one of {allowed}, not {_jsonish(value[key])}'
            )

    def exclusive(self, info: _Type, value: Mapping[str, Any], path: str) -> None:
        mode, group = info.exclusive or ("", frozenset())
        used = sorted(k for k in value if k in group)
        if mode == "exactly" and len(used) == 1:
            return
        if mode == "at most" and len(used) <= 1:
            return
        if info.name == "InlineKeyboardButton" and not used:
            raise _bad(
                "can't parse inline keyboard button: Text buttons are unallowed in the inline "
                "keyboard"
            )
        what = "inline keyboard button" if info.name == "InlineKeyboardButton" else info.name
        raise _bad(
            f'can\'t parse {what} "{path}": {mode} one of {", ".join(sorted(group))} must be '
            f"used, got {', '.join(used) or 'none'}"
        )

    # values

    def value(self, value: Any, types: Sequence[str], path: str) -> None:
        """``value`` must match one of the type expressions in ``types``."""
        matching = [t for t in types if self.shape_matches(value, t)]
        if not matching:
            raise _bad(f'parameter "{path}" must be {" or ".join(types)}')
        if len(matching) > 1 and all(t.startswith(_ARRAY_PREFIX) for t in matching):
            # The scraper renders "Array of InputMediaAudio, InputMediaDocument, ..." as several
            # array alternatives, but Telegram means one array whose items may be any of them
            # (photos and videos do mix in an album); sendMediaGroup's stricter rule is in prose.
            inner = [t[len(_ARRAY_PREFIX) :] for t in matching]
            for index, item in enumerate(value):
                self.value(item, inner, f"{path}[{index}]")
            return
        self.alternatives(value, matching, path)

    def alternatives(self, value: Any, types: Sequence[str], path: str) -> None:
        if len(types) == 1:
            self.single(value, types[0], path)
            return
        if isinstance(value, Mapping):
            self.discriminate(value, types, path)
        # Several alternatives fit the JSON shape (reply_markup is one of four objects): accept
        # if any fits; otherwise report the error of the one the value most resembles.
        errors: list[tuple[int, int, BadRequest]] = []
        for index, type_expr in enumerate(types):
            try:
                self.single(value, type_expr, path)
            except BadRequest as exc:
                errors.append((-self.affinity(value, type_expr), index, exc))
            else:
                return
        raise min(errors, key=lambda e: (e[0], e[1]))[2]

    def single(self, value: Any, type_expr: str, path: str) -> None:
        if type_expr.startswith(_ARRAY_PREFIX):
            if not isinstance(value, list | tuple):
                raise _bad(f'parameter "{path}" must be {type_expr}')
            inner = type_expr[len(_ARRAY_PREFIX) :]
            for index, item in enumerate(value):
                self.value(item, (inner,), f"{path}[{index}]")
            return
        if type_expr in _PRIMITIVES:
            if not self.primitive_matches(value, type_expr):
                raise _bad(f'parameter "{path}" must be {type_expr}')
            if isinstance(value, str):
                self.attachment(value, path)
            return
        if type_expr not in self.types:
            raise _bad(f'parameter "{path}" has a type unknown to the spec: {type_expr}')
        self.object(value, type_expr, path)

    def attachment(self, value: str, path: str) -> None:
        if self.files is None or not value.startswith(_ATTACH_PREFIX):
            return
        name = value[len(_ATTACH_PREFIX) :]
        if name not in self.files:
            raise _bad(f'parameter "{path}" refers to "{value}", but no such file was uploaded')

    @staticmethod
    def primitive_matches(value: Any, type_name: str) -> bool:
        # bool is an int subclass in Python; Telegram does not accept true for a number.
        if type_name == "Integer":
            return isinstance(value, int) and not isinstance(value, bool)
        if type_name == "Float":
            return isinstance(value, int | float) and not isinstance(value, bool)
        if type_name == "Boolean":
            return isinstance(value, bool)
        if type_name == "String":
            return isinstance(value, str)
        # InputFile inside JSON can only be a reference to a multipart part.
        return isinstance(value, str) and value.startswith(_ATTACH_PREFIX)

    def shape_matches(self, value: Any, type_expr: str, depth: int = 0) -> bool:
        """Cheap pre-filter: does the JSON kind of ``value`` fit ``type_expr`` at all?"""
        if type_expr.startswith(_ARRAY_PREFIX):
            return isinstance(value, list | tuple)
        if type_expr in _PRIMITIVES:
            return self.primitive_matches(value, type_expr)
        info = self.types.get(type_expr)
        if info is None:
            return False
        if info.subtypes:
            # RichText's members include "String" and "Array of RichText"; guard recursion.
            return depth < 8 and any(self.shape_matches(value, s, depth + 1) for s in info.subtypes)
        return isinstance(value, Mapping) or (info.string_ok and isinstance(value, str))

    def affinity(self, value: Any, type_expr: str) -> int:
        """How much ``value`` looks like ``type_expr``: the number of its keys that are fields."""
        if type_expr.startswith(_ARRAY_PREFIX) and isinstance(value, list | tuple):
            inner = type_expr[len(_ARRAY_PREFIX) :]
            return sum(self.affinity(item, inner) for item in value)
        info = self.types.get(type_expr)
        if info is None or not isinstance(value, Mapping):
            return 0
        if info.subtypes:
            return max((self.affinity(value, s) for s in info.subtypes), default=0)
        score = sum(1 for key in value if key in info.fields)
        if (
            info.discriminator is not None
            and value.get(info.discriminator[0]) == (info.discriminator[1])
        ):
            score += 100
        return score

    # prose limits

    def prose(
        self, owner: str, field: _Field, value: Any, obj: Mapping[str, Any], path: str
    ) -> None:
        if isinstance(value, list) and field.array_length is not None:
            low, high = field.array_length
            if not low <= len(value) <= high:
                raise _bad(self.array_message(owner, field, len(value), low, high, path))
        if owner == "sendMediaGroup" and field.name == "media" and isinstance(value, list):
            # str.__str__ turns PTB's str-enum members into plain strings.
            kinds = {
                str.__str__(item["type"])
                for item in value
                if isinstance(item, Mapping) and isinstance(item.get("type"), str)
            }
            if len(kinds) > 1 and kinds & {"audio", "document"}:
                raise _bad("documents and audio files can be grouped only with their own kind")
        if not isinstance(value, str):
            return
        if (
            owner == "BotCommand"
            and field.name == "command"
            and not _BOT_COMMAND_RE.fullmatch(value)
        ):
            raise _bad("BOT_COMMAND_INVALID")
        # The spec states no limit, but Telegram refuses a button without a label.
        if owner in _BUTTONS and field.name == "text" and not value.strip():
            raise _bad(f"can't parse {_BUTTONS[owner]}: button text must be non-empty")
        # Parsed even without a length limit, so bad HTML is caught wherever a parse mode applies.
        text = self.visible_text(field, value, obj)
        if field.length is None:
            return
        low, high, unit = field.length
        if unit == "bytes":
            size = len(value.encode("utf-8"))
        else:
            # Telegram trims whitespace, so "   " is as empty as "".
            size = utf16_len(text) if text.strip() or low == 0 else 0
        if size < low or size > high:
            short, long_ = _LENGTH_MESSAGES.get(
                (owner, field.name),
                (f'parameter "{path}" must be {low}-{high} {unit} long',) * 2,
            )
            if field.name == "caption" and size > high:
                long_ = "message caption is too long"
            raise _bad(short if size < low else long_)

    def visible_text(self, field: _Field, value: str, obj: Mapping[str, Any]) -> str:
        """The text after entity parsing, if the field has a parse mode sibling set to HTML."""
        mode = obj.get(f"{field.name}_parse_mode")
        if mode is None and field.name in ("text", "caption", "message_text"):
            mode = obj.get("parse_mode")
        if not isinstance(mode, str) or not mode:
            return value
        if mode.lower() == "html":
            try:
                return parse_html(value)[0]
            except TelegramHtmlError as exc:
                detail = str(exc).removeprefix("Can't parse entities: ")
                raise _bad(f"can't parse entities: {detail}") from None
        if mode.lower() in ("markdown", "markdownv2"):
            # Markdown is accepted unchecked (the bot uses HTML); the raw length overestimates
            # the visible one, which errs on the safe side.
            return value
        raise _bad(f"unsupported parse_mode {_jsonish(mode)}")

    @staticmethod
    def array_message(owner: str, field: _Field, size: int, low: int, high: int, path: str) -> str:
        if owner == "sendPoll" and field.name == "options":
            if size < low:
                return f"poll must have at least {low} option{'s' if low > 1 else ''}"
            return f"poll can't have more than {high} options"
        if owner == "setMyCommands" and field.name == "commands":
            return f"too many commands: at most {high} can be specified"
        return f'parameter "{path}" must have {low}-{high} elements, not {size}'
