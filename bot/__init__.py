"""wgbot: the working group's Telegram bot."""

import os

# python-telegram-bot 22 gives durations as timedelta when asked to (its future default).
os.environ.setdefault("PTB_TIMEDELTA", "1")
