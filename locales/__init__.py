"""The bot's gettext catalogs (`<locale>/LC_MESSAGES/messages.po`), shipped as package data
and compiled in memory when the bot starts (bot/telegram/catalogs.py)."""
