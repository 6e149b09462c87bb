"""Front ends: command line, console chat, evaluation and the Telegram bot. They parse, call and format."""
