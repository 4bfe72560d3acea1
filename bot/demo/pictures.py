"""Pictures the demo's emulators draw instead of YandexART: deterministic (the same prompt,
seed and size give the same bytes), in the requested aspect ratio, and quick (Pillow, a few
milliseconds), so the demo shows what "same seed, same picture" and `--ratio` mean."""

from __future__ import annotations

import hashlib
import io
import math
import random
from typing import Any

from PIL import Image, ImageDraw, ImageFont

# YandexART answers about a megapixel; the demo draws a quarter of that to stay quick.
AREA = 512 * 512
MAX_SIDE = 1024


def size_for_ratio(width_ratio: float, height_ratio: float, area: int = AREA) -> tuple[int, int]:
    """Pixel size with this aspect ratio and about `area` pixels, each side ≤ MAX_SIDE."""
    ratio = width_ratio / height_ratio
    width = math.sqrt(area * ratio)
    height = width / ratio
    scale = min(1.0, MAX_SIDE / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def draw(prompt: str, seed: int, width: int, height: int) -> bytes:
    """A JPEG of `width`x`height`: a gradient and shapes picked by the prompt and seed, and
    the prompt written on it."""
    digest = hashlib.sha256(f"{seed}\n{prompt}".encode()).digest()
    rng = random.Random(digest)
    top, bottom = _colour(rng), _colour(rng)
    image = Image.new("RGB", (width, height))
    pixels = ImageDraw.Draw(image)
    for row in range(height):
        t = row / max(1, height - 1)
        pixels.line(
            [(0, row), (width, row)],
            fill=tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)),
        )
    for _ in range(rng.randint(4, 9)):
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        r = rng.uniform(0.05, 0.3) * min(width, height)
        if rng.random() < 0.5:
            pixels.ellipse([x - r, y - r, x + r, y + r], fill=_colour(rng))
        else:
            points = [
                (x + r * math.cos(a), y + r * math.sin(a))
                for a in sorted(rng.uniform(0, 2 * math.pi) for _ in range(3))
            ]
            pixels.polygon(points, fill=_colour(rng))
    _caption(pixels, prompt, seed, width, height)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


def _colour(rng: random.Random) -> tuple[int, int, int]:
    return rng.randint(20, 235), rng.randint(20, 235), rng.randint(20, 235)


def _caption(pixels: ImageDraw.ImageDraw, prompt: str, seed: int, width: int, height: int) -> None:
    size = max(10, min(width, height) // 18)
    font = _font(size)
    text = prompt if len(prompt) <= 60 else prompt[:59] + "…"
    label = f"{text}\nseed {seed} · {width}x{height}"
    box = pixels.multiline_textbbox((0, 0), label, font=font)
    margin = size // 2
    top = height - (box[3] - box[1]) - 3 * margin
    pixels.rectangle([0, top, width, height], fill=(0, 0, 0))
    pixels.multiline_text((margin, top + margin), label, font=font, fill=(255, 255, 255))


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu when installed (it has Cyrillic), else Pillow's own font."""
    try:
        return ImageFont.truetype("DejaVuSans.ttf", size)
    except OSError:
        return ImageFont.load_default(size=size)


def yandexart_picture(body: dict[str, Any]) -> bytes:
    """YandexART's picture for a submit body (`generationOptions`, `messages`)."""
    options = body.get("generationOptions", {})
    ratio = options.get("aspectRatio", {})
    size = size_for_ratio(float(ratio.get("widthRatio", 1)), float(ratio.get("heightRatio", 1)))
    prompt = " ".join(str(m.get("text", "")) for m in body.get("messages", []))
    return draw(prompt, int(options.get("seed", 0)), *size)


def images_picture(body: dict[str, Any]) -> bytes:
    """The Images API's picture: its size is given (`WxH`), it takes no seed."""
    width, height = (int(side) for side in str(body["size"]).split("x"))
    size = size_for_ratio(width, height)
    return draw(str(body["prompt"]), 0, *size)


def generation_seconds(body: dict[str, Any], median: float) -> float:
    """An emulated generation time around `median`: log-normal (sigma 0.5) as YandexART's
    are, drawn from the request so the same request takes the same time."""
    digest = hashlib.sha256(repr(sorted(body.items())).encode()).digest()
    return median * math.exp(0.5 * random.Random(digest).gauss(0, 1))
