"""python-telegram-bot's persistence, in the bot's own database: a restart (a new version, a
crash) in the middle of /announce, /newmeeting, /poll, /suggest ... loses nothing; the person
goes on where they were.

What is kept: each persistent ConversationHandler's step per (chat, user), and user_data (the
dialogues keep their drafts there). Not chat_data (pages of search results, cheap to ask
again), not bot_data, not callback data. The Application writes what changed every
`update_interval` seconds and when it stops; a person whose user_data is and was empty costs
nothing. Storage is `bot/services/dialogues.py`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from telegram.ext import BasePersistence, PersistenceInput

from bot.context import AppContext
from bot.services import dialogues

log = logging.getLogger(__name__)

UPDATE_INTERVAL_SECONDS = 5.0
# How often a running bot looks for drafts left untouched too long (dialogues.STALE_AFTER).
STALE_CHECK = timedelta(hours=1)

UserData = dict[Any, Any]
# python-telegram-bot's shapes (its own aliases live in a private module).
ConversationKey = tuple[int | str, ...]
ConversationDict = dict[ConversationKey, object]
CDCData = Any


class DatabasePersistence(BasePersistence[UserData, dict[Any, Any], dict[Any, Any]]):
    def __init__(
        self,
        app: AppContext,
        *,
        before_load: Callable[[AppContext], Awaitable[None]] | None = None,
        update_interval: float = UPDATE_INTERVAL_SECONDS,
    ) -> None:
        super().__init__(
            store_data=PersistenceInput(
                bot_data=False, chat_data=False, user_data=True, callback_data=False
            ),
            update_interval=update_interval,
        )
        self.app = app
        self._before_load = before_load
        # Set by build_application: to drop the in-memory copy of drafts found stale.
        self.application: Any = None
        self._stale_checked: datetime | None = None
        # Who has a row: an empty user_data for anybody else needs no statement.
        self._stored: set[int] = set()

    async def get_user_data(self) -> dict[int, UserData]:
        if self._before_load is not None:
            await self._before_load(self.app)
        async with self.app.db.session() as session:
            found = await dialogues.load_user_data(session, now=self.app.clock.now())
        self._stored = set(found)
        self._stale_checked = self.app.clock.now()
        if found:
            log.info("dialogues of %s person(s) resumed", len(found))
        return found

    async def update_user_data(self, user_id: int, data: UserData) -> None:
        await self._drop_stale_now_and_then()
        if not data and user_id not in self._stored:
            return
        async with self.app.db.session() as session:
            await dialogues.save_user_data(session, user_id, data, now=self.app.clock.now())
        if data:
            self._stored.add(user_id)
        else:
            self._stored.discard(user_id)

    async def _drop_stale_now_and_then(self) -> None:
        """While the bot runs (the start does it too): at most once per STALE_CHECK, on the
        persistence's regular run, drafts untouched for dialogues.STALE_AFTER go, from the
        database and from memory; a step of theirs then finds no draft and starts afresh."""
        now = self.app.clock.now()
        if self._stale_checked is not None and now - self._stale_checked < STALE_CHECK:
            return
        self._stale_checked = now
        async with self.app.db.session() as session:
            gone = await dialogues.drop_stale(session, now=now)
        for user_id in gone:
            self._stored.discard(user_id)
            if self.application is not None:
                self.application.drop_user_data(user_id)
        if gone:
            log.info("dialogue drafts of %s person(s) dropped: untouched too long", len(gone))

    async def drop_user_data(self, user_id: int) -> None:
        async with self.app.db.session() as session:
            await dialogues.drop_user_data(session, user_id)
        self._stored.discard(user_id)

    async def refresh_user_data(self, user_id: int, user_data: UserData) -> None:
        """Nothing to do: this process is the only one that writes a person's drafts."""

    async def get_conversations(self, name: str) -> ConversationDict:
        async with self.app.db.session() as session:
            return await dialogues.load_conversations(session, name)

    async def update_conversation(
        self, name: str, key: ConversationKey, new_state: object | None
    ) -> None:
        async with self.app.db.session() as session:
            await dialogues.save_conversation(
                session, name, tuple(int(k) for k in key), new_state, now=self.app.clock.now()
            )

    # -- what is not kept ------------------------------------------------------------------------

    async def get_chat_data(self) -> dict[int, dict[Any, Any]]:
        return {}

    async def get_bot_data(self) -> dict[Any, Any]:
        return {}

    async def get_callback_data(self) -> CDCData | None:
        return None

    async def update_chat_data(self, chat_id: int, data: dict[Any, Any]) -> None:
        """Not kept (store_data.chat_data is False)."""

    async def update_bot_data(self, data: dict[Any, Any]) -> None:
        """Not kept (store_data.bot_data is False)."""

    async def update_callback_data(self, data: CDCData) -> None:
        """Not kept (store_data.callback_data is False)."""

    async def drop_chat_data(self, chat_id: int) -> None:
        """Not kept (store_data.chat_data is False)."""

    async def refresh_chat_data(self, chat_id: int, chat_data: dict[Any, Any]) -> None:
        """Not kept (store_data.chat_data is False)."""

    async def refresh_bot_data(self, bot_data: dict[Any, Any]) -> None:
        """Not kept (store_data.bot_data is False)."""

    async def flush(self) -> None:
        """Every write above is committed when it is made."""
