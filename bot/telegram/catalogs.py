"""The gettext catalogs, compiled in memory at start-up from the `.po` files of the `locales`
package: an installed bot carries its texts, never reads the working directory, and has no
compiled `.mo` files that could go stale."""

from __future__ import annotations

import gettext
import io
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from aiogram.utils.i18n import I18n
from babel.messages.mofile import write_mo
from babel.messages.pofile import PoFileError, read_po

CATALOGS_PACKAGE = "locales"


class CatalogError(Exception):
    """The catalogs are missing or cannot be read; the message says which."""


def compile_catalog(data: bytes, locale: str) -> gettext.GNUTranslations:
    """A `.po` file's bytes as translations (what `pybabel compile --use-fuzzy` would write)."""
    try:
        catalog = read_po(io.BytesIO(data), locale=locale, abort_invalid=True)
    except (PoFileError, ValueError) as exc:
        raise CatalogError(f"locales: {locale} catalog is invalid ({exc})") from None
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=True)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


class PackagedI18n(I18n):
    """aiogram's I18n fed from the package's `.po` files instead of a directory of `.mo` files."""

    def __init__(
        self,
        *,
        package: str = CATALOGS_PACKAGE,
        default_locale: str = "en",
        domain: str = "messages",
    ) -> None:
        self.package = package
        # `path` is only kept by aiogram for `find_locales`, which is replaced below.
        root = Path(str(_package_root(package)))
        super().__init__(path=root, default_locale=default_locale, domain=domain)

    def find_locales(self) -> dict[str, gettext.GNUTranslations]:
        root = _package_root(self.package)
        found: dict[str, gettext.GNUTranslations] = {}
        for entry in sorted(root.iterdir(), key=lambda e: e.name):
            po = entry / "LC_MESSAGES" / f"{self.domain}.po"
            if entry.is_dir() and po.is_file():
                found[entry.name] = compile_catalog(po.read_bytes(), entry.name)
        if self.default_locale not in found:
            raise CatalogError(
                f"locales: no {self.default_locale} catalog in the {self.package} package"
            )
        return found


def _package_root(package: str) -> Traversable:
    try:
        return files(package)
    except ModuleNotFoundError:
        raise CatalogError(f"locales: the {package} package is not installed") from None
