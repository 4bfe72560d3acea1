"""All configuration, read from the environment or `.env` when the app starts.

Settings are never read at import time: `load_settings()` is called by `python -m bot`
(and by tests with their own values), so a bad value stops start-up with one clear line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    Field,
    FilePath,
    HttpUrl,
    ModelWrapValidatorHandler,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.core.ledger import Pack, parse_packs

DEFAULT_TELEGRAM_API_URL = "https://api.telegram.org"
DEFAULT_YANDEX_API_URL = "https://llm.api.cloud.yandex.net"
DEFAULT_STT_API_URL = "https://stt.api.cloud.yandex.net"
DEFAULT_IMAGES_API_URL = "https://ai.api.cloud.yandex.net"
# Model names an operator may offer: `yandexart` is the async YandexART API, `aliceai` the
# synchronous Images API of Yandex AI Studio (bot/ops/app.py builds each one's backend).
KNOWN_MODELS = ("yandexart", "aliceai")
# The buttons BUTTON_EMOJI may give a custom emoji (bot/telegram/keyboards.py Action).
BUTTON_ACTIONS = ("cancel", "again", "original")
DEFAULT_YANDEX_IAM_URL = "https://iam.api.cloud.yandex.net"
_TOKEN = re.compile(r"^\d+:[\w-]+$")
_WEBHOOK_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


class StartupError(Exception):
    """The bot cannot start as deployed; the message says what to fix, in one line."""


class SettingsError(StartupError):
    """Settings missing or invalid. `str()` is one line naming each; `report()` is what the
    operator reads: where settings were read from, then one line per setting with an example.
    Neither ever shows a value."""

    def __init__(self, problems: list[tuple[str, str]], source: str) -> None:
        super().__init__("invalid settings: " + "; ".join(_join(n, r) for n, r in problems))
        self.problems = problems
        self.source = source

    def report(self) -> str:
        count = len(self.problems)
        head = f"{count} setting{'s' if count > 1 else ''} to fix ({self.source}):"
        lines = [head]
        for name, reason in self.problems:
            example = _example(name)
            lines.append(f"  {_join(name, reason)}" + (f"; e.g. {example}" if example else ""))
        return "\n".join(lines)


def _join(name: str, reason: str) -> str:
    return f"{name}: {reason}" if name else reason


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        # `NAME=` in .env (as in .env.example) means "use the default".
        env_ignore_empty=True,
    )

    # The bot's token from @BotFather.
    bot_token: SecretStr = Field(min_length=1, examples=["123456789:AAE-token-from-BotFather"])
    # The Yandex Cloud folder of the models (and of the quota).
    yandex_folder_id: str = Field(min_length=1, examples=["b1g-your-folder-id"])
    # A service account's API key (`Api-Key` auth; never expires). Wins over the two below.
    yandex_api_key: SecretStr | None = Field(default=None, examples=["AQVN-your-api-key"])
    # A fixed IAM token (`Bearer` auth); it expires within 12 h: for a quick try only.
    yandex_iam_token: SecretStr | None = None
    # A service account's authorized key (JSON): IAM tokens are made from it and kept fresh.
    yandex_sa_key_file: FilePath | None = None
    # Where IAM tokens are made from `YANDEX_SA_KEY_FILE`.
    yandex_iam_url: HttpUrl = HttpUrl(DEFAULT_YANDEX_IAM_URL)

    # Bot API base URL (a self-hosted `telegram-bot-api`, or a fake in tests).
    telegram_api_url: HttpUrl = HttpUrl(DEFAULT_TELEGRAM_API_URL)
    # Base URL for generation and operations.
    yandex_api_url: HttpUrl = HttpUrl(DEFAULT_YANDEX_API_URL)
    # Unset: jobs in memory; `redis://…`: jobs in Redis (docs/operations.md, "Memory or Redis").
    redis_url: str | None = Field(
        default=None, pattern=r"^(rediss?|unix)://", examples=["redis://localhost:6379/0"]
    )
    # Redis behind Sentinel (docs/redis.md): the sentinels, host:port,host:port; the client
    # follows a failover. REDIS_URL then gives only a password and a database
    # (redis://:password@/0), or is unset.
    redis_sentinels: str | None = Field(
        default=None, examples=["sentinel-1:26379,sentinel-2:26379"]
    )
    # The name the sentinels monitor the master as (required with REDIS_SENTINELS).
    redis_sentinel_master: str | None = Field(default=None, min_length=1, examples=["art"])
    # A claim on a job lasts this long unless renewed; after a crash, others wait this long.
    job_lease_seconds: float = Field(default=60.0, gt=0)
    # Finished jobs (prompt included) are kept this long for the buttons under a picture;
    # 0 deletes them at once (the buttons then answer that they are out of date).
    job_retention: float = Field(default=86400.0, ge=0)
    # A user's requests are listed in /history this long (seconds); 0 keeps no history.
    history_retention: float = Field(default=2592000.0, ge=0)
    # Drawn pictures whose delivery Telegram put off are kept until delivered, never drawn
    # again: in memory mode all of them together, with Redis each one, at most this many MB.
    kept_pictures_max_mb: int = Field(default=256, ge=1)
    # While the store is unreachable, at most this many new jobs wait in memory; beyond it
    # users are told the bot is busy.
    outage_backlog_max: int = Field(default=1000, ge=0)
    # /healthz answers 503 when the job loop has made no progress for this many seconds.
    loop_stall_seconds: float = Field(default=60.0, gt=0)
    # Delivered pictures' file_ids, by a hash of the request, to answer repeats at once.
    cache_ttl: float = Field(default=604800.0, ge=0)
    # Inline mode uploads pictures here to get a file_id; unset: the user's private chat.
    inline_storage_chat_id: int | None = None

    # Access and fair use. Lists are comma-separated ids; empty allowlists admit everyone.
    # Users allowed to use the bot anywhere.
    allowed_user_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    # Comma-separated chat ids where everyone may use the bot.
    allowed_chat_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    # Comma-separated admin user ids: `/stats`, no limits.
    admin_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    # A user's generations in progress at once.
    max_concurrent_per_user: int = Field(default=2, ge=1)
    # A user's generations per UTC day.
    daily_quota_per_user: int = Field(default=50, ge=1)

    # The Yandex API budget, for the whole bot (all instances when Redis is on).
    # Generation requests to Yandex per minute.
    submit_rate_per_minute: float = Field(default=500.0, gt=0)
    # YandexGPT requests per minute, whole bot.
    completion_rate_per_minute: float = Field(default=100.0, gt=0)
    # Shown in /stats next to today's submits (the default Yandex quota per cloud).
    yandex_daily_quota: int = Field(default=5000, ge=1)

    # Telegram flood limits the bot keeps to (messages).
    # Messages the bot sends to one group per minute.
    group_messages_per_minute: float = Field(default=20.0, gt=0)
    # Messages the bot sends to one private chat per second.
    chat_messages_per_second: float = Field(default=1.0, gt=0)
    # Messages the bot sends overall per second.
    messages_per_second: float = Field(default=30.0, gt=0)
    # Seconds a notice for one user stays in a group where Telegram refused it as ephemeral.
    notice_ttl: float = Field(default=60.0, gt=0)
    # Private chats show a live draft while a picture is drawn, refreshed this often (seconds).
    live_progress: bool = True
    # Seconds between two updates of the live draft.
    draft_interval: float = Field(default=2.0, ge=1.0, le=20.0)
    # Custom emoji before the Cancel, Again and Original buttons: action=custom emoji id.
    button_emoji: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)

    # Unset: long polling; set: webhook mode, the public URL Telegram posts to.
    webhook_url: HttpUrl | None = Field(default=None, examples=["https://bot.example.org/hook"])
    # Required with `WEBHOOK_URL`; 1–256 of `A-Z a-z 0-9 _ -`.
    webhook_secret: SecretStr | None = Field(default=None, examples=["a-long-random-string"])
    # Address the webhook (and ops) server listens on.
    webhook_host: str = "0.0.0.0"  # noqa: S104 - the webhook server must be reachable
    # Port of the webhook server.
    webhook_port: int = Field(default=8080, ge=1, le=65535)
    # Polling mode: serve `/healthz` and `/metrics` on this port.
    health_port: int | None = Field(default=None, ge=1, le=65535)
    # /healthz and /metrics on a port of their own, off the public webhook listener.
    ops_port: int | None = Field(default=None, ge=1, le=65535)
    # `DEBUG`, `INFO`, `WARNING`, `ERROR`.
    log_level: str = Field(default="INFO", pattern=r"^(?i:DEBUG|INFO|WARNING|ERROR|CRITICAL)$")

    # YandexART's model URI template (`{folder}` is `YANDEX_FOLDER_ID`): a fixed model
    # version, not a `/latest` alias (docs/models.md).
    art_model_uri: str = Field(default="art://{folder}/yandex-art-2.0", min_length=1)
    # YandexGPT model for `--enhance`.
    gpt_model_uri: str = Field(default="gpt://{folder}/yandexgpt/latest", min_length=1)

    # Adaptive poll schedule: first poll after `poll_first_delay`, then each gap grows by
    # `poll_growth` up to `poll_max_interval`; all in seconds.
    poll_first_delay: float = Field(default=5.0, gt=0)
    # Each gap between polls is this many times the previous one.
    poll_growth: float = Field(default=1.5, ge=1)
    # Longest gap between polls, seconds.
    poll_max_interval: float = Field(default=30.0, gt=0)
    # Operation polls per second for the whole bot (Yandex quota).
    poll_rate_limit: float = Field(default=50.0, gt=0, description="Operation polls per second")
    # "hazard": spend the poll quota on the jobs most likely to have finished since their last
    # poll, each polled at most every `poll_min_gap` seconds; before durations are known,
    # generation times are assumed log-normal around `poll_prior_median` seconds.
    # "learned": poll where past generations of the same model and ratio finished, every
    # `poll_target_lag` seconds there, letting at most `poll_late_share` of them arrive later
    # where that saves the most polls; "growing": the schedule above, always.
    poll_schedule: Literal["hazard", "learned", "growing"] = "hazard"
    # With `hazard`: no operation is polled more often than this, seconds.
    poll_min_gap: float = Field(default=1.0, gt=0)
    # With `hazard`: median generation time assumed before any are known, seconds.
    poll_prior_median: float = Field(default=10.0, gt=0)
    # With `learned`: the gap between polls where finishes are likely, seconds.
    poll_target_lag: float = Field(default=1.4, gt=0)
    # With `learned`: share of pictures that may arrive later than `POLL_TARGET_LAG`, spent where it
    # saves the most polls.
    poll_late_share: float = Field(default=0.04, ge=0, lt=0.5)
    # Seconds after which the bot stops waiting and tells the user.
    generation_deadline: float = Field(default=1800.0, gt=0, description="Seconds")
    # How long to keep retrying a submit that Yandex refuses with 429/5xx before telling the user.
    submit_patience: float = Field(default=300.0, gt=0)

    # Characters of prompt text, all parts together.
    prompt_max_length: int = Field(default=500, gt=0)
    # In private chats any text that is not a command is a prompt, read like /art's.
    private_text_prompts: bool = True
    # A TOML file of style presets that add to or override the built-in ones.
    styles_file: Path | None = None
    # Largest side of a ratio.
    ratio_max_side: int = Field(default=32, ge=1)
    # Largest long-side / short-side.
    ratio_max_elongation: float = Field(default=4.0, ge=1)
    # Most variants one request may ask for (--n), sent as one album (Telegram: 2-10).
    max_variants: int = Field(default=4, ge=1, le=10)

    # Seconds for one call to Yandex.
    http_timeout: float = Field(default=30.0, gt=0, description="Seconds for one Yandex call")
    # Fast retries of a submit on 429/5xx/network errors.
    http_retries: int = Field(default=4, ge=0)

    # Voice prompts: voice messages recognised by SpeechKit (synchronous recognition, v1).
    voice_prompts: bool = True
    # Base URL of SpeechKit recognition.
    stt_api_url: HttpUrl = HttpUrl(DEFAULT_STT_API_URL)
    # SpeechKit's quota for synchronous recognition is 20 requests a second.
    stt_rate_per_minute: float = Field(default=1200.0, gt=0)
    # "Sending a photo…" is repeated this often (seconds) while a picture is on its way;
    # Telegram shows a chat action for at most 5 s.
    chat_action_interval: float = Field(default=4.5, gt=0, le=5)
    # Voice messages downloaded and recognised at a time by one instance (the rest wait
    # before their audio is fetched).
    stt_max_in_flight: int = Field(default=20, ge=1)
    # Updates one instance handles at a time; the rest wait as data: at Telegram when
    # polling, in a line of 4x this when a webhook (docs/intake.md).
    updates_in_work: int = Field(default=16, ge=1, le=1000)
    # Models users may pick (`--model`, /settings), and the one they get without choosing.
    # Out of the box both, the one Yandex recommends today first (docs/models.md); a model
    # Yandex refuses is set aside and requests go to the next one here.
    models: Annotated[tuple[str, ...], NoDecode] = ("aliceai", "yandexart")
    # The model of a request that names none and of users who chose none; one of `MODELS`.
    default_model: str = "aliceai"
    # The Images API (model `aliceai`): synchronous, one call per picture.
    # Base URL of the Images API.
    images_api_url: HttpUrl = HttpUrl(DEFAULT_IMAGES_API_URL)
    # Images API model URI template; `{folder}` is `YANDEX_FOLDER_ID`.
    images_model_uri: str = Field(default="art://{folder}/aliceai-image-art-3.0", min_length=1)
    # Images API calls per minute, whole bot.
    images_rate_per_minute: float = Field(default=60.0, gt=0)
    # Seconds one Images API call (one picture) may take, never past the request's deadline.
    images_http_timeout: float = Field(default=120.0, gt=0, description="Seconds per call")
    # A model Yandex refuses as a model (access denied, gone, invalid URI) is set aside for
    # this many seconds, for every instance, and requests go to the next model in MODELS.
    model_retry_after: float = Field(default=600.0, gt=0)
    # An operation unfinished for 3x the longest its model ever took, and at least this
    # many seconds, means the model stalls: it is set aside too.
    model_stall_floor: float = Field(default=120.0, gt=0)

    # Payments in Telegram Stars (docs/payments.md): packs of credits sold with /buy, as
    # "credits:stars" pairs; empty turns payments off. How users reach the operator about
    # a payment (/paysupport), required when packs are sold.
    credit_packs: Annotated[tuple[Pack, ...], NoDecode] = ()
    # How users reach the operator about a payment (/paysupport); required with CREDIT_PACKS.
    paysupport_text: str = Field(default="", max_length=1000)

    @field_validator("bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr) -> SecretStr:
        if not _TOKEN.match(value.get_secret_value()):
            raise ValueError("must look like 123456789:AAE..., as @BotFather gives it")
        return value

    @field_validator("allowed_user_ids", "allowed_chat_ids", "admin_ids", mode="before")
    @classmethod
    def _id_list(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return frozenset(int(item) for item in value.replace(" ", "").split(",") if item)
            except ValueError:
                raise ValueError("must be comma-separated numeric ids") from None
        return value

    @field_validator("models", mode="before")
    @classmethod
    def _model_list(cls, value: object) -> object:
        if isinstance(value, str):
            value = tuple(item for item in value.replace(" ", "").lower().split(",") if item)
        if isinstance(value, tuple | list):
            unknown = [name for name in value if name not in KNOWN_MODELS]
            if unknown:
                raise ValueError(f"unknown model {unknown[0]!r}; known: {', '.join(KNOWN_MODELS)}")
            if not value or len(set(value)) != len(value):
                raise ValueError("must name one or more models, each once")
        return value

    @field_validator("credit_packs", mode="before")
    @classmethod
    def _packs(cls, value: object) -> object:
        return parse_packs(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _paysupport_with_packs(self) -> Settings:
        if self.credit_packs and not self.paysupport_text.strip():
            raise ValueError(
                "PAYSUPPORT_TEXT: must say how to reach you when CREDIT_PACKS sells credits"
            )
        return self

    @field_validator("button_emoji", mode="before")
    @classmethod
    def _button_emoji(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        icons = {}
        for item in filter(None, value.replace(" ", "").split(",")):
            action, _, emoji_id = item.partition("=")
            if action not in BUTTON_ACTIONS or not emoji_id.isdigit():
                raise ValueError(
                    f"must be action=custom emoji id, comma-separated; actions: "
                    f"{', '.join(BUTTON_ACTIONS)}"
                )
            icons[action] = emoji_id
        return icons

    @field_validator("default_model", mode="before")
    @classmethod
    def _model_name(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("yandex_sa_key_file")
    @classmethod
    def _key_file(cls, value: FilePath | None) -> FilePath | None:
        if value is not None:
            from bot.yandex.iam import ServiceAccountKey

            ServiceAccountKey.from_file(value)
        return value

    @field_validator("redis_sentinels")
    @classmethod
    def _sentinels_shape(cls, value: str | None) -> str | None:
        if value is not None:
            parse_sentinels(value)
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _secret_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _WEBHOOK_SECRET.match(value.get_secret_value()):
            raise ValueError("must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if "{folder}" not in self.art_model_uri:
            raise ValueError("ART_MODEL_URI must contain {folder}")
        if self.webhook_url is not None and self.webhook_secret is None:
            raise ValueError("WEBHOOK_SECRET is required when WEBHOOK_URL is set")
        if "{folder}" not in self.images_model_uri:
            raise ValueError("IMAGES_MODEL_URI must contain {folder}")
        if self.default_model not in self.models:
            raise ValueError(f"DEFAULT_MODEL must be one of MODELS ({', '.join(self.models)})")
        if self.webhook_url is not None and self.ops_port == self.webhook_port:
            raise ValueError("OPS_PORT must differ from WEBHOOK_PORT")
        self._sentinels_consistent()
        return self

    def _sentinels_consistent(self) -> None:
        if bool(self.redis_sentinels) != bool(self.redis_sentinel_master):
            raise ValueError("REDIS_SENTINELS and REDIS_SENTINEL_MASTER go together")
        if self.redis_sentinels and self.redis_url:
            parts = urlsplit(self.redis_url)
            if parts.scheme != "redis" or parts.hostname or parts.port:
                raise ValueError(
                    "REDIS_URL: with REDIS_SENTINELS it names no host (the sentinels name the "
                    "master), only a password and a database: redis://:password@/0"
                )

    @property
    def uses_redis(self) -> bool:
        return bool(self.redis_url or self.redis_sentinels)

    @property
    def sentinel_addresses(self) -> list[tuple[str, int]]:
        return parse_sentinels(self.redis_sentinels) if self.redis_sentinels else []

    @model_validator(mode="wrap")
    @classmethod
    def _every_error_at_once(
        cls, data: Any, handler: ModelWrapValidatorHandler[Settings]
    ) -> Settings:
        """Pydantic checks the whole model only once every field is valid; the Yandex
        credential is checked on the raw values, so one run names every missing setting."""
        if not isinstance(data, dict) or _has_credential(data):
            return handler(data)
        try:
            handler(data)
            errors = []
        except ValidationError as exc:
            errors = exc.errors()
        missing = PydanticCustomError(
            "missing", "set YANDEX_API_KEY, YANDEX_SA_KEY_FILE or YANDEX_IAM_TOKEN"
        )
        no_credential = {"type": missing, "loc": ("yandex_api_key",), "input": None}
        raise ValidationError.from_exception_data(cls.__name__, [*errors, no_credential])  # type: ignore[list-item]

    def secrets(self) -> dict[str, str]:
        """Values that must never appear in logs, by the setting that holds them."""
        values = {
            "BOT_TOKEN": self.bot_token,
            "YANDEX_API_KEY": self.yandex_api_key,
            "YANDEX_IAM_TOKEN": self.yandex_iam_token,
            "WEBHOOK_SECRET": self.webhook_secret,
        }
        secrets = {name: v.get_secret_value() for name, v in values.items() if v is not None}
        password = urlsplit(self.redis_url).password if self.redis_url else None
        if password:
            secrets["REDIS_URL password"] = password
        return secrets

    @property
    def ops_listener(self) -> tuple[str, int] | None:
        """The setting and port serving /healthz and /metrics: OPS_PORT in either mode, else
        the webhook listener in webhook mode, else HEALTH_PORT; None when nothing does."""
        if self.ops_port is not None:
            return "OPS_PORT", self.ops_port
        if self.webhook_url is not None:
            return "WEBHOOK_PORT", self.webhook_port
        return None if self.health_port is None else ("HEALTH_PORT", self.health_port)

    @property
    def listeners(self) -> dict[str, int]:
        """Every port the bot listens on, by the setting that names it."""
        ports = {"WEBHOOK_PORT": self.webhook_port} if self.webhook_url is not None else {}
        if self.ops_listener is not None:
            ports[self.ops_listener[0]] = self.ops_listener[1]
        return ports

    @property
    def model_uri(self) -> str:
        return self.art_model_uri.format(folder=self.yandex_folder_id)

    @property
    def images_model_uri_resolved(self) -> str:
        return self.images_model_uri.format(folder=self.yandex_folder_id)

    @property
    def gpt_model_uri_resolved(self) -> str:
        return self.gpt_model_uri.format(folder=self.yandex_folder_id)

    @property
    def stt_folder_id(self) -> str | None:
        """SpeechKit v1 wants `folderId` with a user account's IAM token, never with a
        service account's credentials (its API key, or tokens from its key file)."""
        if self.yandex_api_key is not None or self.yandex_sa_key_file is not None:
            return None
        return self.yandex_folder_id

    @property
    def yandex_credential(self) -> str:
        """The setting whose credential is used: an API key wins over a service-account
        key file, which wins over a fixed IAM token."""
        if self.yandex_api_key is not None:
            return "YANDEX_API_KEY"
        return "YANDEX_SA_KEY_FILE" if self.yandex_sa_key_file else "YANDEX_IAM_TOKEN"

    @property
    def yandex_auth_header(self) -> str | None:
        """The fixed Authorization header; None with a key file (its tokens change)."""
        if self.yandex_api_key is not None:
            return f"Api-Key {self.yandex_api_key.get_secret_value()}"
        if self.yandex_sa_key_file is not None:
            return None
        assert self.yandex_iam_token is not None
        return f"Bearer {self.yandex_iam_token.get_secret_value()}"


def parse_sentinels(value: str) -> list[tuple[str, int]]:
    """`host:port,host:port` as pairs; ValueError names what is wrong."""
    addresses = []
    for item in value.split(","):
        host, _, port = item.strip().rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("must be host:port,host:port,... (at least one)")
        addresses.append((host.strip("[]"), int(port)))
    return addresses


def _has_credential(data: dict[str, Any]) -> bool:
    keys = ("yandex_api_key", "yandex_sa_key_file", "yandex_iam_token")
    return any(data.get(key) not in (None, "") for key in keys)


def _example(name: str) -> str | None:
    """`NAME=value` for an error line: the field's example, else its default."""
    field = Settings.model_fields.get(name.lower())
    if field is None:
        return None
    if field.examples:
        return f"{name}={field.examples[0]}"
    if field.default is None or isinstance(field.default, SecretStr):
        return None
    value = field.default
    if isinstance(value, tuple | frozenset):
        value = ",".join(str(item) for item in value)
    elif isinstance(value, bool):
        value = str(value).lower()
    return f"{name}={value}"


# Pydantic's error types in an operator's words; the others keep pydantic's message.
_PLAIN = {
    "greater_than_equal": "must be at least {ge}",
    "greater_than": "must be more than {gt}",
    "less_than_equal": "must be at most {le}",
    "less_than": "must be less than {lt}",
    "int_parsing": "must be a whole number",
    "float_parsing": "must be a number",
    "bool_parsing": "must be true or false",
    "url_parsing": "must be a URL such as https://host",
    "url_scheme": "must start with http:// or https://",
    "string_pattern_mismatch": "is not in the expected form",
    "string_too_short": "must not be empty",
}


def _plain(error: ErrorDetails) -> str:
    if error["type"] == "missing" and error["msg"] == "Field required":
        return "missing"
    template = _PLAIN.get(error["type"])
    if template is None:
        return str(error["msg"]).removeprefix("Value error, ")
    bounds = {key: _number(value) for key, value in error.get("ctx", {}).items()}
    return template.format(**bounds)


def _number(value: object) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def describe_problems(exc: ValidationError) -> list[tuple[str, str]]:
    """(SETTING, reason) for each error; pydantic's own text would echo the values."""
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        name = "_".join(str(p) for p in error["loc"]).upper()
        problems.append((name, _plain(error)))
    return problems


def settings_source(env_file: object) -> str:
    """Where settings were read from, for the operator: `.env` is found in the current
    directory, which is easy to get wrong."""
    if env_file is None:
        return "read from the environment only"
    path = Path(str(env_file))
    if path.is_file():
        return f"read from the environment and {path.resolve()}"
    return f"read from the environment; no {path.name} file in {path.resolve().parent}"


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        env_file = overrides.get("_env_file", Settings.model_config.get("env_file"))
        raise SettingsError(describe_problems(exc), settings_source(env_file)) from None
