"""The fake Bot API over HTTP, for a bot process pointed at it with TELEGRAM_BASE_URL.

Tests use it to run `wgbot run` for real (polling, signals, logs) without Telegram:
`http://127.0.0.1:<port>` as TELEGRAM_BASE_URL; requests arrive as Telegram receives them
(form fields whose values are JSON-encoded unless they are plain strings, or multipart).
"""

from __future__ import annotations

import json
from typing import Any

import tornado.web
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from bot.sandbox.fake_api import ApiError, FakeBotAPI


def _decode(api: FakeBotAPI, method: str, name: str, raw: str) -> Any:
    """Form values are strings: the spec's types say whether to read one as JSON."""
    types = api.spec.parameter_types(method, name) if api.spec else ()
    if types and all(t == "String" for t in types):
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


class _MethodEndpoint(tornado.web.RequestHandler):
    def initialize(self, api: FakeBotAPI) -> None:
        self.api = api

    async def post(self, _token: str, method: str) -> None:
        params: dict[str, Any] = {}
        if self.request.headers.get("Content-Type", "").startswith("application/json"):
            params = json.loads(self.request.body or b"{}")
        else:
            for name, values in self.request.body_arguments.items():
                params[name] = _decode(self.api, method, name, values[-1].decode())
        files = {
            name: (upload[0]["filename"], upload[0]["body"])
            for name, upload in self.request.files.items()
        }
        try:
            result = await self.api.call(method, params, files)
        except ApiError as exc:
            self.set_status(exc.status)
            body: dict[str, Any] = {
                "ok": False,
                "error_code": exc.status,
                "description": exc.description,
            }
            if exc.retry_after is not None:
                body["parameters"] = {"retry_after": exc.retry_after}
            self.write(body)
            return
        self.write({"ok": True, "result": result})

    get = post


class FakeBotAPIServer:
    """Serves one FakeBotAPI on 127.0.0.1, on a free port, in the running event loop."""

    def __init__(self, api: FakeBotAPI) -> None:
        self.api = api
        app = tornado.web.Application([(r"/bot([^/]+)/(\w+)", _MethodEndpoint, {"api": api})])
        self._server = HTTPServer(app)
        sockets = bind_sockets(0, "127.0.0.1")
        self.port = sockets[0].getsockname()[1]
        self._server.add_sockets(sockets)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._server.stop()
