"""Starter content shipped with the bot: `glossary.json` and `resources.json`, loaded by
`wgbot db seed` and the sandbox (see bot.services.knowledge_io)."""
