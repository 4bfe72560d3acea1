"""`python -m bot demo`: the emulators of Telegram, YandexART, the Images API and SpeechKit
on 127.0.0.1, the chat page, and the real bot (`bot.ops.server.run`, as `python -m bot`)
configured to talk to them. No setting, `.env` or environment variable of the bot is read:
the demo never reaches the real services."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from bot.demo.chat import ChatPage, spoken
from bot.demo.options import DemoOptions
from bot.demo.pictures import generation_seconds, images_picture, yandexart_picture
from bot.emulators.images import FakeImages
from bot.emulators.speechkit import FakeSpeechKit
from bot.emulators.telegram import BOT_TOKEN, FakeTelegram
from bot.emulators.yandexart import FakeYandex
from bot.ops.server import run
from bot.ops.settings import Settings, SettingsError, StartupError, describe_problems

# Generation times are the real ones times DEMO_TIME_SCALE: YandexART's median is about 20 s
# (bench/common.py's model).
YANDEXART_MEDIAN = 20.0
# The Images API draws during the call; assumed somewhat quicker than YandexART.
IMAGES_MEDIAN = 10.0
API_KEY = "demo-api-key"
FOLDER = "demo-folder"


class DemoSettings(Settings):
    """The bot's settings from the demo's values alone: never the environment or `.env`."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


class Demo:
    """The emulators, the page and the settings that point the bot at them."""

    def __init__(self, options: DemoOptions, **overrides: Any) -> None:
        self.options = options
        self.telegram = FakeTelegram(BOT_TOKEN)
        self.yandex = FakeYandex(api_key=API_KEY)
        self.speechkit = FakeSpeechKit(api_key=API_KEY)
        self.overrides = overrides
        # The Images API's model URI, as the bot's settings will name it.
        model_uri = str(Settings.model_fields["images_model_uri"].default).format(folder=FOLDER)
        self.images = FakeImages(api_key=API_KEY, model_uri=model_uri)
        self.page = ChatPage(self.telegram)
        self.settings: Settings | None = None

    async def start(self) -> Settings:
        scale = self.options.time_scale
        median = YANDEXART_MEDIAN * scale
        self.yandex.image_factory = yandexart_picture
        self.yandex.duration = lambda body: generation_seconds(body, median)
        self.page.watch("yandex", self.yandex)
        self.speechkit.transcribe = spoken
        self.page.watch("speechkit", self.speechkit)
        await self.telegram.start()
        await self.yandex.start()
        await self.speechkit.start()
        self.images.image_factory = images_picture
        self.images.duration = lambda body: generation_seconds(body, IMAGES_MEDIAN * scale)
        self.page.watch("images", self.images)
        await self.images.start()
        try:
            await self.page.start(self.options.port)
        except OSError as exc:
            raise StartupError(
                f"DEMO_PORT: cannot listen on port {self.options.port} ({exc.strerror});"
                " DEMO_PORT=0 takes any free one"
            ) from None
        self.settings = self._settings()
        return self.settings

    def _settings(self) -> Settings:
        median = YANDEXART_MEDIAN * self.options.time_scale
        values = {
            "bot_token": BOT_TOKEN,
            "yandex_folder_id": FOLDER,
            "yandex_api_key": API_KEY,
            "telegram_api_url": self.telegram.url,
            "yandex_api_url": self.yandex.url,
            "stt_api_url": self.speechkit.url,
            "images_api_url": self.images.url,
            "models": ("yandexart", "aliceai"),
            # The demo shows YandexART first (seeds, weights, albums); the bot's own default
            # is the model Yandex recommends today (docs/models.md).
            "default_model": "yandexart",
            # The poll schedule of the scaled generation times, polling less often than a
            # production bot would, so the protocol panel stays readable.
            "poll_prior_median": median,
            "poll_first_delay": max(0.1, median / 4),
            "poll_min_gap": max(0.05, median / 5),
            "poll_max_interval": max(0.5, median),
            **self.overrides,
        }
        try:
            return DemoSettings(**values)
        except ValidationError as exc:
            raise SettingsError(describe_problems(exc), "the demo's own settings") from None

    @property
    def url(self) -> str:
        return self.page.url + "/"

    async def stop(self) -> None:
        await self.page.close()
        for server in (self.page, self.images, self.speechkit, self.yandex, self.telegram):
            await server.stop()


async def run_demo(options: DemoOptions) -> None:
    """Serve the demo until Ctrl-C (SIGINT) or SIGTERM, then stop everything."""
    # The emulators' access log would fill the terminal (and show the token in each URL):
    # the page's protocol panel shows the requests instead.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    demo = Demo(options)
    try:
        settings = await demo.start()
        print(f"Demo: open {demo.url} (Ctrl-C stops it)", flush=True)
        await run(settings)
    finally:
        await demo.stop()
