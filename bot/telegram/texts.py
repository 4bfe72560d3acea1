"""Every user-visible sentence, looked up in `locales/` for a given locale.

Handlers and services ask this class for finished texts, so formatting rules
(HTML escaping, caption length) live in one place.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

from aiogram.utils.i18n import I18n

from bot.core.errors import MISCONFIGURED, ErrorKind
from bot.core.history import HistoryEntry
from bot.core.jobs import VARIANT_OK, Job
from bot.core.limits import Refusal
from bot.core.prompt import MAX_SEED, Limits, PromptError
from bot.core.stats import StatsReport
from bot.core.styles import StyleCatalog
from bot.core.text import caption, shorten

HISTORY_PROMPT_LENGTH = 60

_TAG = re.compile(r"<[^>]+>")


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
    ) -> None:
        self._history_days = max(1, round(history_retention / 86400)) if history_retention else 0
        self._i18n = i18n
        self._private_text_prompts = private_text_prompts
        self._yandex_daily_quota = yandex_daily_quota
        self._limits = limits
        self._deadline_minutes = _minutes(deadline_seconds)
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

    def start(self, locale: str) -> str:
        return self._with_sections(locale, self.get(locale, "start"), "start")

    def help(self, locale: str) -> str:
        text = self.get(
            locale,
            "help",
            max_seed=MAX_SEED,
            max_side=self._limits.max_side,
            max_elongation=f"{self._limits.max_elongation:g}",
            max_length=self._limits.max_length,
        )
        return self._with_sections(locale, text, "help")

    def _with_sections(self, locale: str, text: str, key: str) -> str:
        """The base text and the sections of the features that are on, each its own msgid
        (so each feature's text lives beside it in the catalogs)."""
        sections = [f"{key}.plain"] if self._private_text_prompts else []
        sections += [f"{key}.styles", f"{key}.history", f"{key}.variants"] if key == "help" else []
        extra = {"max_variants": self._limits.max_variants}
        return "\n\n".join([text, *(self.get(locale, s, **extra) for s in sections)])

    def privacy(self, locale: str) -> str:
        if self._retention_minutes >= 120:
            hours = round(self._retention_minutes / 60)
            after = self.get(locale, "privacy.retention_hours", hours=hours)
        elif self._retention_minutes:
            after = self.get(locale, "privacy.retention", minutes=self._retention_minutes)
        else:
            after = self.get(locale, "privacy.deleted")
        text = self.get(locale, "privacy", deadline_minutes=self._deadline_minutes, after=after)
        kept = "privacy.history" if self._history_days else "privacy.no_history"
        return "\n".join([text, self.get(locale, kept, days=self._history_days)])

    def styles(self, locale: str, styles: StyleCatalog) -> str:
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
        return "\n".join([self.get(locale, "styles.header"), *lines])

    def history(self, locale: str, entries: list[HistoryEntry]) -> str:
        if not entries:
            return self.get(locale, "history.empty")
        lines = [self.get(locale, "history.header")]
        for n, entry in enumerate(entries, 1):
            request = entry.request
            last = (request.seed or 0) + request.variants - 1
            seeds = (
                f"seeds {request.seed}–{last}" if request.variants > 1 else f"seed {request.seed}"
            )
            meta = f"{seeds} · {request.ratio}"
            meta += f" · {request.style}" if request.style else ""
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
        return self.get(
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

    def _seconds(self, locale: str, value: float | None) -> str:
        return self.get(locale, "stats.no_data") if value is None else f"{value:.1f} s"

    def status(self, job: Job, ended: int | None = None) -> str:
        """ "Generating…"; of an album, with its seeds and, once some have ended, how many."""
        if not job.is_album:
            return self.get(job.locale, "status.generating", seed=job.seed, ratio=job.request.ratio)
        text = self.get(
            job.locale,
            "status.album",
            n=job.request.variants,
            seeds=_seeds(job),
            ratio=job.request.ratio,
        )
        if ended:
            text += "\n" + self.get(
                job.locale, "status.album_progress", ended=ended, n=job.request.variants
            )
        return text

    def album_caption(self, job: Job) -> str:
        """The album's first caption: prompt, seeds, ratio, style, and the variants that
        could not be drawn."""
        meta = self.get(
            job.locale, "caption.album_meta", seeds=_seeds(job), ratio=job.request.ratio
        )
        if job.request.style is not None:
            meta += f" · {job.request.style}"
        failed = [str(i + 1) for i, r in enumerate(job.variant_results) if r != VARIANT_OK]
        if failed:
            meta += "\n" + self.get(
                job.locale, "caption.variants_failed", numbers=", ".join(failed)
            )
        prompt = job.request.text
        if job.enhanced_prompt is not None:
            prompt = self.get(job.locale, "caption.enhanced", prompt=job.enhanced_prompt)
        elif job.enhance_failed:
            meta = self.get(job.locale, "caption.enhance_failed") + "\n" + meta
        return caption(prompt, meta)

    def caption(self, job: Job) -> str:
        meta = self.get(job.locale, "caption.meta", seed=job.seed, ratio=job.request.ratio)
        if job.request.style is not None:
            meta += f" · {job.request.style}"
        prompt = job.request.text
        if job.enhanced_prompt is not None:
            prompt = self.get(job.locale, "caption.enhanced", prompt=job.enhanced_prompt)
        elif job.enhance_failed:
            meta = self.get(job.locale, "caption.enhance_failed") + "\n" + meta
        return caption(prompt, meta)

    def failure(self, job: Job, kind: ErrorKind) -> str:
        if kind in MISCONFIGURED:
            return self.get(job.locale, "fail.misconfigured")
        return self.get(job.locale, f"fail.{kind}", minutes=self._deadline_minutes)


def _seeds(job: Job) -> str:
    return f"{job.seed}–{job.variant_seed(job.request.variants - 1)}"


def _minutes(seconds: float) -> int:
    return max(1, round(seconds / 60))
