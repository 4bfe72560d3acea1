"""Uploads are named after their seed, with the extension of their real format."""

from __future__ import annotations

import pytest

from bot.core.images import JPEG, PNG
from bot.telegram.delivery import _upload


@pytest.mark.parametrize(
    ("image", "name"),
    [
        (JPEG + b"rest", "yandexart-42.jpg"),
        (PNG + b"rest", "yandexart-42.png"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "yandexart-42.webp"),
    ],
)
def test_an_upload_is_named_by_its_format(image: bytes, name: str) -> None:
    assert _upload(image, 42).filename == name
