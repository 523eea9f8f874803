"""What every handler and job needs: settings, the database and the clock, in one object."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.db import Database


@dataclass
class AppContext:
    settings: Settings
    db: Database
    clock: Clock = field(default_factory=SystemClock)

    @property
    def admin_ids(self) -> frozenset[int]:
        return frozenset(self.settings.admin_ids)
