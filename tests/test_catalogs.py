"""The catalogs are compiled from the .po files at start-up: an edit shows at the next start,
with no build step and no compiled file that could go stale."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.telegram.catalogs import CatalogError, PackagedI18n

PO = """\
msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\\n"

msgid "greeting"
msgstr "{text}"

#, fuzzy
msgid "draft"
msgstr "a fuzzy entry is used, as with pybabel compile --use-fuzzy"
"""


def _package(root: Path, name: str, catalogs: dict[str, str]) -> None:
    package = root / name
    package.mkdir()
    (package / "__init__.py").write_text("")
    for locale, text in catalogs.items():
        folder = package / locale / "LC_MESSAGES"
        folder.mkdir(parents=True)
        (folder / "messages.po").write_text(text, encoding="utf-8")


def test_texts_come_straight_from_the_po_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _package(
        tmp_path,
        "catalogs_a",
        {"en": PO.format(text="Hello"), "ru": PO.format(text="Привет")},
    )
    (tmp_path / "catalogs_a" / "notes").mkdir()  # not a catalog: skipped
    monkeypatch.syspath_prepend(str(tmp_path))
    i18n = PackagedI18n(package="catalogs_a")
    assert i18n.available_locales == ("en", "ru")
    assert i18n.gettext("greeting", locale="ru") == "Привет"
    assert i18n.gettext("greeting", locale="en") == "Hello"
    assert i18n.gettext("draft", locale="en").startswith("a fuzzy entry is used")


def test_the_installed_catalogs_have_every_text_in_both_languages() -> None:
    i18n = PackagedI18n()
    assert set(i18n.available_locales) == {"en", "ru"}
    for key in ("start", "help", "cmd.art", "status.generating"):
        english = i18n.gettext(key, locale="en")
        russian = i18n.gettext(key, locale="ru")
        assert english != key
        assert russian not in (key, english)


@pytest.mark.parametrize(
    ("name", "catalogs", "message"),
    [
        ("catalogs_b", {"en": 'msgid "a"\n'}, "locales: en catalog is invalid"),
        ("catalogs_c", {"ru": PO.format(text="Привет")}, "no en catalog in the catalogs_c package"),
    ],
)
def test_broken_catalogs_are_named(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    catalogs: dict[str, str],
    message: str,
) -> None:
    _package(tmp_path, name, catalogs)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(CatalogError, match=message):
        PackagedI18n(package=name)


def test_a_missing_catalog_package_is_named() -> None:
    with pytest.raises(CatalogError, match="the no_such_catalogs package is not installed"):
        PackagedI18n(package="no_such_catalogs")
