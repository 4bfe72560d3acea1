"""Local emulators of the Bot API, YandexART, the Images API and SpeechKit.

They refuse what the real services refuse (markup, lengths, edit rules, auth), so the tests
and `python -m bot demo` see the bot as Telegram and Yandex would. The bot's own packages
never import them (an import-linter contract).
"""
