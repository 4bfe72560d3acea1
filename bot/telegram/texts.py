"""Every user-visible sentence, looked up in `locales/` for a given locale.

Handlers and services ask this class for finished texts, so formatting rules
(HTML escaping, caption length) live in one place.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping

from aiogram.utils.i18n import I18n

from bot.core.errors import MISCONFIGURED, ErrorKind
from bot.core.jobs import TELL_GRACE, Job
from bot.core.limits import Refusal
from bot.core.models import FULL, ONLY_YANDEXART, YANDEXART, Capabilities
from bot.core.prompt import MAX_PARTS, MAX_SEED, Limits, PromptError
from bot.core.stats import StatsReport
from bot.core.text import caption
from bot.core.voice import MAX_BYTES, MAX_SECONDS, VoiceIssue, stt_failure

_TAG = re.compile(r"<[^>]+>")
# Failure texts that name YandexART; another model's failures name that model instead.
_NAMING_THE_SERVICE = frozenset(
    {"moderation", "prompt_too_long", "quota", "unavailable", "failed", "misconfigured"}
)


class Texts:
    def __init__(
        self,
        i18n: I18n,
        limits: Limits,
        deadline_seconds: float,
        retention_seconds: float = 0,
        yandex_daily_quota: int = 5000,
        *,
        models: Mapping[str, Capabilities] = ONLY_YANDEXART,
        offered: tuple[str, ...] = (YANDEXART,),
    ) -> None:
        """`models`: what each known model can do; `offered`: those users may pick."""
        self._i18n = i18n
        self._models = models
        self.offered = offered
        self._yandex_daily_quota = yandex_daily_quota
        self._limits = limits
        self._deadline_minutes = _minutes(deadline_seconds)
        # The longest an unfinished request is kept: its deadline, then the time to tell.
        self._kept_minutes = _minutes(deadline_seconds + TELL_GRACE)
        self._retention_minutes = _minutes(retention_seconds) if retention_seconds > 0 else 0

    @property
    def locales(self) -> tuple[str, ...]:
        return self._i18n.available_locales

    def get(self, locale: str, key: str, **params: object) -> str:
        return self._i18n.gettext(key, locale=locale).format(**params)

    @staticmethod
    def plain(text: str) -> str:
        """Telegram HTML made plain, for places without markup (inline descriptions)."""
        return html.unescape(_TAG.sub("", text))

    def help(self, locale: str) -> str:
        text = self.get(
            locale,
            "help",
            max_seed=MAX_SEED,
            max_side=self._limits.max_side,
            max_elongation=f"{self._limits.max_elongation:g}",
            max_length=self._limits.max_length,
            max_parts=MAX_PARTS,
        )
        if self.offered == (YANDEXART,):
            return text
        models = [self.get(locale, "help.models")]
        models += [self.get(locale, f"help.model.{name}") for name in self.offered]
        return text + "\n\n" + "\n".join(models)

    def privacy(self, locale: str) -> str:
        if self._retention_minutes >= 120:
            hours = round(self._retention_minutes / 60)
            after = self.get(locale, "privacy.retention_hours", hours=hours)
        elif self._retention_minutes:
            after = self.get(locale, "privacy.retention", minutes=self._retention_minutes)
        else:
            after = self.get(locale, "privacy.deleted")
        return self.get(locale, "privacy", deadline_minutes=self._kept_minutes, after=after)

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
        if self.offered == (YANDEXART,) and set(report.by_model) <= {YANDEXART}:
            return text
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
        return "\n".join([text, *lines])

    def _seconds(self, locale: str, value: float | None) -> str:
        return self.get(locale, "stats.no_data") if value is None else f"{value:.1f} s"

    def status(self, job: Job) -> str:
        key = self._with_model(job) or "generating"
        return self.get(job.locale, f"status.{key}", **self._meta(job))

    def caption(self, job: Job) -> str:
        key = self._with_model(job) or "meta"
        meta = self.get(job.locale, f"caption.{key}", **self._meta(job))
        prompt = job.request.text
        if job.enhanced_prompt is not None:
            prompt = self.get(job.locale, "caption.enhanced", prompt=job.enhanced_prompt)
        elif job.enhance_failed:
            meta = self.get(job.locale, "caption.enhance_failed") + "\n" + meta
        return caption(prompt, meta)

    def inline_description(self, job: Job) -> str:
        key = self._with_model(job)
        if key is None:
            return self.get(job.locale, "inline.description", **self._meta(job))
        return self.get(job.locale, f"caption.{key}", **self._meta(job))

    def _with_model(self, job: Job) -> str | None:
        """The status and caption naming the model (when users have a choice, or the model
        has no seeds, whose status shows none); None for the plain ones."""
        if not self._models.get(job.request.model, FULL).seed:
            return "model_noseed"
        return None if len(self.offered) == 1 else "model"

    @staticmethod
    def _meta(job: Job) -> dict[str, object]:
        return {"seed": job.seed, "ratio": job.request.ratio, "model": job.request.model}

    def failure(self, job: Job, kind: ErrorKind) -> str:
        key = "misconfigured" if kind in MISCONFIGURED else str(kind)
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


def _minutes(seconds: float) -> int:
    return max(1, round(seconds / 60))
