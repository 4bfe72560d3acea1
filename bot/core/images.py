"""What counts as a picture: the formats Telegram shows as a photo, told by their first
bytes (magic numbers), so a broken or foreign result is never sent as one."""

from __future__ import annotations

JPEG = b"\xff\xd8\xff"
PNG = b"\x89PNG\r\n\x1a\n"


def image_format(data: bytes) -> str | None:
    """The format ("jpeg", "png" or "webp") by the file signature; None for anything else."""
    if data.startswith(JPEG):
        return "jpeg"
    if data.startswith(PNG):
        return "png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def is_image(data: bytes) -> bool:
    return image_format(data) is not None
