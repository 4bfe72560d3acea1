"""docs/settings.md, made from the settings class: `make docs` (or
`python -m scripts.settings_doc > docs/settings.md`). Each setting's meaning is the comment
above its field (or its `description`), so the code and the page cannot drift apart;
tests/test_docs.py checks the page is current."""

from __future__ import annotations

import ast
import inspect
import typing
from enum import Enum
from pathlib import Path
from typing import Any

import annotated_types
from pydantic import SecretStr
from pydantic.fields import FieldInfo

from bot.ops import settings as settings_module
from bot.ops.settings import Settings

HEADER = """\
# Settings

<!-- Generated from bot/ops/settings.py by `make docs`; do not edit by hand. -->

Every setting is an environment variable, or a line `NAME=value` in a `.env` file in the
directory the bot is started from (a variable set in the environment wins; `NAME=` with no
value means the default). `.env.example` lists them all with their defaults. Required:
`BOT_TOKEN`, `YANDEX_FOLDER_ID`, and one of `YANDEX_API_KEY`, `YANDEX_SA_KEY_FILE` and
`YANDEX_IAM_TOKEN` (when several are set, that order decides). At start every missing or
invalid setting is named at once, each with an example, and the bot does not start; secret
values are never printed, and a secret shorter than 8 characters is refused. Durations are
in seconds.

| Setting | Default | Allowed | Meaning |
| --- | --- | --- | --- |
"""


def field_comments() -> dict[str, str]:
    """The comment block right above each field of Settings, joined into one line."""
    source = Path(inspect.getfile(settings_module)).read_text()
    lines = source.splitlines()
    tree = ast.parse(source)
    cls = next(
        node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "Settings"
    )
    comments = {}
    for node in cls.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            block: list[str] = []
            index = node.lineno - 2
            while index >= 0 and lines[index].strip().startswith("#"):
                block.insert(0, lines[index].strip().removeprefix("#").strip())
                index -= 1
            comments[node.target.id] = " ".join(block)
    return comments


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict):
        return ",".join(f"{key}={item}" for key, item in value.items()) or "empty"
    if isinstance(value, tuple | frozenset | list):
        return ",".join(str(item) for item in value) or "empty"
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


def default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    if field.default_factory is not None:
        return _value(field.default_factory())  # type: ignore[call-arg]
    if field.default is None:
        return "unset"
    text = _value(field.default)
    return "empty" if text in ("", "empty") else f"`{text}`"


def allowed(field: FieldInfo) -> str:
    """The constraints pydantic checks, in short."""
    parts = []
    for item in field.metadata:
        for attr, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            bound = getattr(item, attr, None)
            if isinstance(item, annotated_types.BaseMetadata) and bound is not None:
                parts.append(f"{sign} {_value(bound)}")
    choices = [arg for arg in typing.get_args(field.annotation) if isinstance(arg, str)]
    if typing.get_origin(field.annotation) is typing.Literal:
        parts.append(", ".join(f"`{choice}`" for choice in choices))
    if field.annotation is not None and SecretStr in (
        field.annotation,
        *typing.get_args(field.annotation),
    ):
        parts.append("secret")
    return "; ".join(parts)


def render() -> str:
    comments = field_comments()
    rows = []
    for name, field in Settings.model_fields.items():
        meaning = comments.get(name) or field.description or ""
        cells = (f"`{name.upper()}`", default(field), allowed(field), meaning.replace("|", "\\|"))
        rows.append("| " + " | ".join(cells) + " |")
    return HEADER + "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(render(), end="")
