"""What every handler and job needs: settings, the database and the clock, in one object."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.db import Database
from bot.services.identity import IdentityCache


@dataclass
class AppContext:
    settings: Settings
    db: Database
    clock: Clock = field(default_factory=SystemClock)
    identities: IdentityCache = field(default_factory=IdentityCache)
    # Strangers found not to be in the group chat, until when: a stranger who writes ten times
    # costs one getChatMember a minute, not ten. A join seen in the group clears the entry.
    not_in_group_until: dict[int, datetime] = field(default_factory=dict)
    # Search indexes of this process, by collection ("glossary", "resources"): made and kept in
    # step by their services (bot/services/search.py).
    indexes: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.identities.ttl = self.settings.member_cache_seconds

    @property
    def admin_ids(self) -> frozenset[int]:
        return frozenset(self.settings.admin_ids)
