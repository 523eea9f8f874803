"""Errors a service raises when a request cannot be done; handlers turn the code into words."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """`code` names the reason (a handler maps it to a translated message); params fill it in."""

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.params = params
