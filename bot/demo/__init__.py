"""`python -m bot demo`: the real bot against the emulators, and a chat page to talk to it.

Nothing else imports this package (an import-linter contract); it may import the emulators
and the bot's wiring (bot.ops).
"""
