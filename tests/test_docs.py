"""The operator's documents keep their promises: the README fits and starts an operator on
its first screen, its links and setting names are real, and docs/settings.md is what the
settings class says today."""

from __future__ import annotations

import re

from bot.__main__ import COMMANDS
from bot.ops.settings import Settings
from scripts.settings_doc import render
from tests.bot_process import ROOT

README = (ROOT / "README.md").read_text()


# Written by other branches at the same time; linked ahead.
def test_settings_page_is_current() -> None:
    """If this fails after adding a setting: `make docs`."""
    assert (ROOT / "docs" / "settings.md").read_text() == render()


def test_readme_is_short_and_starts_an_operator_on_its_first_screen() -> None:
    lines = README.splitlines()
    assert len(lines) <= 250
    first_screen = "\n".join(lines[:30])
    for step in ("cp .env.example .env", "make run", "pip install .", "docker compose up"):
        assert step in first_screen, step
    for name in ("BOT_TOKEN", "YANDEX_FOLDER_ID", "YANDEX_API_KEY"):
        assert name in first_screen, name


def test_readme_links_and_names_are_real() -> None:
    for target in re.findall(r"\]\(([^)#]+)\)", README):
        if target.startswith("http"):
            continue
        assert (ROOT / target).is_file(), target
    settings = {name.upper() for name in Settings.model_fields}
    for name in re.findall(r"`([A-Z][A-Z0-9_]{3,})`", README):
        assert name in settings, name


def test_readme_lists_the_commands_as_the_cli_does() -> None:
    for name, command in COMMANDS.items():
        assert f"  {name:<8} {command.help}\n" in README, name


def test_documents_are_in_one_language() -> None:
    """Russian user texts live in the catalogs; the documents' prose is English. What they
    quote (code, `input`, "a message") may be Russian."""
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
        text = re.sub(r"`[^`\n]*`|\"[^\"\n]*\"", "", text)
        assert not re.search("[А-Яа-яЁё]", text), path.name
