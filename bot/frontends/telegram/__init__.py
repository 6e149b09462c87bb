"""The Telegram bot: application, handlers, replies, buttons and rate limits."""
