"""Every user-visible sentence, looked up in `locales/` for a given locale.

Handlers and services ask this class for finished texts, so formatting rules
(HTML escaping, caption length) live in one place.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from aiogram.utils.i18n import I18n

from bot.core.errors import MISCONFIGURED, ErrorKind
from bot.core.history import HistoryEntry
from bot.core.jobs import TELL_GRACE, VARIANT_OK, Job
from bot.core.limits import Refusal
from bot.core.models import FULL, ONLY_YANDEXART, YANDEXART, Capabilities
from bot.core.prompt import MAX_PARTS, MAX_SEED, ArtRequest, Limits, PromptError
from bot.core.stats import StatsReport
from bot.core.styles import StyleCatalog
from bot.core.text import caption, shorten, split_lines
from bot.core.voice import MAX_BYTES, MAX_SECONDS, VoiceIssue, stt_failure

HISTORY_PROMPT_LENGTH = 60

_TAG = re.compile(r"<[^>]+>")
# Failure texts that name YandexART; another model's failures name that model instead.
_NAMING_THE_SERVICE = frozenset(
    {"moderation", "prompt_too_long", "quota", "unavailable", "failed", "misconfigured"}
)


# Texts with a number in them, by the parameter that is counted: each has plural forms in the
# catalogs (msgid_plural "<key>.plural"; Russian has three), chosen by gettext's ngettext.
COUNTED = {
    "status.album": "n",
    "status.album_model": "n",
    "limit.concurrent": "limit",
    "limit.daily": "limit",
    "limit.pictures": "remaining",
    "voice.too_long": "seconds",
    "error.prompt_too_long": "length",
    "error.prompt_too_long_style": "limit",
    "pay.button": "credits",
    "pay.title": "credits",
}


class Texts:
    def __init__(
        self,
        i18n: I18n,
        limits: Limits,
        deadline_seconds: float,
        retention_seconds: float = 0,
        yandex_daily_quota: int = 5000,
        private_text_prompts: bool = False,
        history_retention: float = 0,
        *,
        models: Mapping[str, Capabilities] = ONLY_YANDEXART,
        offered: tuple[str, ...] = (YANDEXART,),
        inline_storage: bool = False,
        button_icons: Mapping[str, str] | None = None,
    ) -> None:
        """`models`: what each known model can do; `offered`: those users may pick;
        `inline_storage`: inline pictures are uploaded to INLINE_STORAGE_CHAT_ID;
        `button_icons`: the custom emoji the operator set for buttons, by action."""
        self._inline_storage = inline_storage
        self.button_icons: Mapping[str, str] = button_icons or {}
        self._history_days = max(1, round(history_retention / 86400)) if history_retention else 0
        self._i18n = i18n
        self._private_text_prompts = private_text_prompts
        self._models = models
        self.offered = offered
        self._yandex_daily_quota = yandex_daily_quota
        self._limits = limits
        self._deadline_minutes = _minutes(deadline_seconds)
        # The longest an unfinished request is kept: its deadline, then the time to tell.
        self._kept_minutes = _minutes(deadline_seconds + TELL_GRACE)
        self._retention_minutes = _minutes(retention_seconds) if retention_seconds > 0 else 0
        self._static_texts: dict[tuple[str, str], str] = {}

    @property
    def locales(self) -> tuple[str, ...]:
        return self._i18n.available_locales

    def get(self, locale: str, key: str, **params: object) -> str:
        """The text of `key`; of a counted one (COUNTED), the form its number takes."""
        counted = COUNTED.get(key)
        if counted is None:
            return self._i18n.gettext(key, locale=locale).format(**params)
        n = int(str(params[counted]))
        return self._i18n.gettext(key, f"{key}.plural", n, locale=locale).format(**params)

    @staticmethod
    def plain(text: str) -> str:
        """Telegram HTML made plain, for places without markup (inline descriptions)."""
        return html.unescape(_TAG.sub("", text))

    def start(self, locale: str) -> str:
        return self._static("start", locale, self._start)

    def help(self, locale: str) -> str:
        return self._static("help", locale, self._help)

    def privacy(self, locale: str) -> str:
        return self._static("privacy", locale, self._privacy)

    def _static(self, key: str, locale: str, build: Callable[[str], str]) -> str:
        """A text that depends on the locale and the settings alone, built once each."""
        text = self._static_texts.get((key, locale))
        if text is None:
            text = self._static_texts[key, locale] = build(locale)
        return text

    def _start(self, locale: str) -> str:
        return self._with_sections(locale, self.get(locale, "start"), "start")

    def _help(self, locale: str) -> str:
        text = self.get(
            locale,
            "help",
            max_seed=MAX_SEED,
            max_side=self._limits.max_side,
            max_elongation=f"{self._limits.max_elongation:g}",
            max_length=self._limits.max_length,
            max_parts=MAX_PARTS,
        )
        return self._with_sections(locale, text, "help")

    def _with_sections(self, locale: str, text: str, key: str) -> str:
        """The base text and the sections of the features that are on, each its own msgid
        (so each feature's text lives beside it in the catalogs); /help lists the models
        when users have a choice."""
        sections = [f"{key}.plain"] if self._private_text_prompts else []
        sections += [f"{key}.styles", f"{key}.history", f"{key}.variants"] if key == "help" else []
        extra = {"max_variants": self._limits.max_variants}
        texts = [text, *(self.get(locale, s, **extra) for s in sections)]
        if key == "help" and self.offered != (YANDEXART,):
            models = [self.get(locale, "help.models")]
            models += [self.get(locale, f"help.model.{name}") for name in self.offered]
            texts.append("\n".join(models))
        return "\n\n".join(texts)

    def _privacy(self, locale: str) -> str:
        if self._retention_minutes >= 120:
            hours = round(self._retention_minutes / 60)
            after = self.get(locale, "privacy.retention_hours", hours=hours)
        elif self._retention_minutes:
            after = self.get(locale, "privacy.retention", minutes=self._retention_minutes)
        else:
            after = self.get(locale, "privacy.deleted")
        text = self.get(locale, "privacy", deadline_minutes=self._kept_minutes, after=after)
        kept = "privacy.history" if self._history_days else "privacy.no_history"
        return "\n".join([text, self.get(locale, kept, days=self._history_days)])

    def styles(self, locale: str, styles: StyleCatalog) -> list[str]:
        """/styles, in as many messages as Telegram needs."""
        lines = [
            self.get(
                locale,
                "styles.line",
                name=html.escape(style.name),
                title=html.escape(style.title(locale)),
                prompt=html.escape(style.prompt),
            )
            for style in styles
        ]
        return split_lines([self.get(locale, "styles.header"), *lines])

    def forget(self, locale: str, key: str) -> str:
        """/forget's question or its answer; with a storage chat, what /forget leaves there
        (the bot does not track those uploads, so it cannot delete them)."""
        text = self.get(locale, key)
        return (
            text + "\n\n" + self.get(locale, "forget.inline_storage")
            if self._inline_storage
            else text
        )

    def history(self, locale: str, entries: list[HistoryEntry]) -> str:
        if not entries:
            return self.get(locale, "history.empty")
        lines = [self.get(locale, "history.header")]
        for n, entry in enumerate(entries, 1):
            request = entry.request
            meta = self._request_meta(locale, request, request.seed or 0)
            when = datetime.fromtimestamp(entry.at, UTC).strftime("%Y-%m-%d %H:%M")
            prompt = html.escape(shorten(request.text, HISTORY_PROMPT_LENGTH))
            lines.append(f"{n}. {prompt}\n    <i>{html.escape(meta)} · {when} UTC</i>")
        return "\n".join(lines)

    def prompt_error(self, locale: str, error: PromptError) -> str:
        params = {k: html.escape(str(v)) for k, v in error.params.items()}
        return self.get(locale, f"error.{error.code}", **params)

    def refusal(self, locale: str, refusal: Refusal) -> str:
        left = max(0, int(refusal.resets_in))
        return self.get(
            locale,
            f"limit.{refusal.reason}",
            limit=refusal.limit,
            hours=left // 3600,
            minutes=left % 3600 // 60,
            remaining=refusal.remaining,
        )

    def stats(self, locale: str, report: StatsReport) -> str:
        none = self.get(locale, "stats.none")
        failures = ", ".join(f"{kind} {count}" for kind, count in report.failures.items())
        text = self.get(
            locale,
            "stats.text",
            pending=report.pending,
            delivered=report.delivered,
            submitted=report.submitted,
            quota=self._yandex_daily_quota,
            failures=failures or none,
            mean=self._seconds(locale, report.lag_mean),
            p95=self._seconds(locale, report.lag_p95),
        )
        aside = [self.get(locale, "stats.model_aside", model=m) for m in report.models_aside]
        if self.offered == (YANDEXART,) and set(report.by_model) <= {YANDEXART}:
            return "\n".join([text, *aside])
        lines = [
            self.get(
                locale,
                "stats.model",
                model=name,
                submitted=figures.submitted,
                delivered=figures.delivered,
                failed=figures.failed,
            )
            for name, figures in report.by_model.items()
        ]
        return "\n".join([text, *lines, *aside])

    def _seconds(self, locale: str, value: float | None) -> str:
        return self.get(locale, "stats.no_data") if value is None else f"{value:.1f} s"

    def status(self, job: Job, ended: int | None = None) -> str:
        """ "Generating…" (naming the model when that matters); of an album, with its seeds
        and, once some have ended, how many."""
        text = self._status(job, ended)
        if job.credits:
            text += "\n" + self.get(job.locale, "status.cost", credits=job.credits)
        return text

    def _status(self, job: Job, ended: int | None) -> str:
        key = self._model_key(job.request.model)
        if not job.is_album:
            text = self.get(job.locale, f"status.{key or 'generating'}", **self._meta(job))
            return text + self._instead(job.locale, job.request)
        text = self.get(
            job.locale,
            "status.album_model" if key else "status.album",
            n=job.request.variants,
            seeds=_seeds(job.seed, job.request.variants),
            ratio=job.request.ratio,
            model=job.request.model,
        )
        if ended:
            text += "\n" + self.get(
                job.locale, "status.album_progress", ended=ended, n=job.request.variants
            )
        return text

    def draft(self, job: Job, *, elapsed: float, estimate: float | None, place: int | None) -> str:
        """The live draft of a private chat: the status (or the place in the queue for the
        Yandex quota), the time so far and what such pictures usually take."""
        if place is None:
            head = self.status(job)
        else:
            head = self.get(job.locale, "status.queued", position=place)
        lines = [head, self.get(job.locale, "draft.elapsed", seconds=round(elapsed))]
        if estimate is not None:
            lines.append(self.get(job.locale, "draft.estimate", seconds=max(1, round(estimate))))
        return "\n".join(lines)

    def album_caption(self, job: Job) -> str:
        """The album's first caption: prompt, seeds, ratio, style, and the variants that
        could not be drawn."""
        meta = self._request_meta(job.locale, job.request, job.seed)
        failed = [str(i + 1) for i, r in enumerate(job.variant_results) if r != VARIANT_OK]
        if failed:
            meta += "\n" + self.get(
                job.locale, "caption.variants_failed", numbers=", ".join(failed)
            )
        return self._caption(job, meta)

    def caption(self, job: Job) -> str:
        return self._caption(job, self._request_meta(job.locale, job.request, job.seed))

    def _caption(self, job: Job, meta: str) -> str:
        """The prompt drawn (the enhanced one when there is one) over `meta`."""
        prompt = job.request.text
        if job.enhanced_prompt is not None:
            prompt = self.get(job.locale, "caption.enhanced", prompt=job.enhanced_prompt)
        elif job.enhance_failed:
            meta = self.get(job.locale, "caption.enhance_failed") + "\n" + meta
        return caption(prompt, meta)

    def inline_description(self, job: Job) -> str:
        key = self._model_key(job.request.model)
        if key is None:
            return self.get(job.locale, "inline.description", **self._meta(job))
        return self.get(job.locale, f"caption.{key}", **self._meta(job))

    def _model_key(self, model: str) -> str | None:
        """The status and caption naming the model (when users have a choice, or the model
        has no seeds, whose status shows none); None for the plain ones."""
        if not self._models.get(model, FULL).seed:
            return "model_noseed"
        return None if len(self.offered) == 1 else "model"

    def _request_meta(self, locale: str, request: ArtRequest, seed: int) -> str:
        """A caption's (and a /history line's) second part: the model when it matters, the
        seed or an album's seeds, the ratio, the style."""
        key = self._model_key(request.model)
        if request.variants > 1:
            album_key = "caption.album_model" if key else "caption.album_meta"
            seeds = _seeds(seed, request.variants)
            meta = self.get(
                locale, album_key, seeds=seeds, ratio=request.ratio, model=request.model
            )
        else:
            params = {"seed": seed, "ratio": request.ratio, "model": request.model}
            meta = self.get(locale, f"caption.{key or 'meta'}", **params)
        meta += f" · {request.style}" if request.style is not None else ""
        return meta + self._instead(locale, request)

    def _instead(self, locale: str, request: ArtRequest) -> str:
        """Why another model than the one asked for drew it (a line), or nothing."""
        gone = request.instead_of
        if gone is None:
            return ""
        key = "instead.down" if gone in self.offered else "instead.removed"
        return "\n" + self.get(locale, key, model=request.model, gone=gone)

    def model_set_aside(self, locale: str, model: str, error: str) -> str:
        """The admins' notice: which model, Yandex's words, and what to change."""
        uri_setting = "ART_MODEL_URI" if model == YANDEXART else "IMAGES_MODEL_URI"
        return self.get(
            locale,
            "admin.model_set_aside",
            model=model,
            error=html.escape(error[:300]),
            uri_setting=uri_setting,
        )

    @staticmethod
    def _meta(job: Job) -> dict[str, object]:
        return {"seed": job.seed, "ratio": job.request.ratio, "model": job.request.model}

    def failure(self, job: Job, kind: ErrorKind) -> str:
        key = "misconfigured" if kind in MISCONFIGURED else str(kind)
        if kind is ErrorKind.NO_MODEL:
            return self.get(job.locale, "fail.no_model", model=job.request.model)
        if job.request.model != YANDEXART and key in _NAMING_THE_SERVICE:
            return self.get(job.locale, f"fail.model.{key}", model=job.request.model)
        return self.get(job.locale, f"fail.{key}", minutes=self._deadline_minutes)

    def voice_issue(self, locale: str, issue: VoiceIssue) -> str:
        return self.get(
            locale, f"voice.{issue}", seconds=MAX_SECONDS, megabytes=MAX_BYTES // 1_000_000
        )

    def voice_failure(self, locale: str, kind: ErrorKind) -> str:
        """A recognition that SpeechKit refused or could not do."""
        return self.get(locale, f"voice.fail.{stt_failure(kind)}")

    def heard(self, locale: str, text: str) -> str:
        """The recognised text, shown back to the user above the status."""
        return self.get(locale, "voice.heard", text=html.escape(text))

    def voice_status(self, heard_text: str, job: Job) -> str:
        return f"{self.heard(job.locale, heard_text)}\n{self.status(job)}"


def _seeds(first: int, variants: int) -> str:
    return f"{first}–{first + variants - 1}"


def _minutes(seconds: float) -> int:
    return max(1, round(seconds / 60))
