"""What every handler and job needs: settings, the database and the clock, in one object."""

from __future__ import annotations

from dataclasses import dataclass, field

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

    def __post_init__(self) -> None:
        self.identities.ttl = self.settings.member_cache_seconds

    @property
    def admin_ids(self) -> frozenset[int]:
        return frozenset(self.settings.admin_ids)
