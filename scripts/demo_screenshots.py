"""Render the README's pictures of the demo: docs/img/demo-private.png (a private /art with
its buttons), demo-album.png (an album of variants) and demo-group.png (a group exchange).

    .venv/bin/python scripts/demo_screenshots.py   # or: make screenshots

Needs Debian's `chromium` (scripts/ensure-chromium) and the dev extras (Playwright, which
drives it; never `playwright install`). Starts `python -m bot demo` on a free port.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from PIL import Image
from playwright.async_api import Page, ViewportSize, async_playwright

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "img"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
VIEWPORT: ViewportSize = {"width": 1200, "height": 900}
TIMEOUT_MS = 60_000


async def main() -> None:
    env = {"PATH": os.environ["PATH"], "DEMO_PORT": "0", "DEMO_TIME_SCALE": "0.05"}
    demo = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "demo",
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert demo.stdout is not None
    url = (await asyncio.wait_for(demo.stdout.readline(), 60)).split()[2].decode()
    OUT.mkdir(parents=True, exist_ok=True)
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
            )
            page = await browser.new_page(viewport=VIEWPORT)
            page.set_default_timeout(TIMEOUT_MS)
            await page.goto(url)
            await private_art(page)
            await album(page)
            await group(page)
            await browser.close()
    finally:
        demo.send_signal(signal.SIGINT)
        await asyncio.wait_for(demo.wait(), 30)


async def send(page: Page, text: str) -> None:
    await page.fill("#text", text)
    await page.press("#text", "Enter")


async def pictures(page: Page, count: int) -> None:
    """Until `count` pictures are shown and loaded, and no status is left."""
    await page.wait_for_function(
        f"""() => {{
            const images = [...document.querySelectorAll('#messages .msg img')];
            return images.length === {count} && images.every(i => i.complete && i.naturalWidth)
                && ![...document.querySelectorAll('#messages .msg.bot')].some(
                    m => m.textContent.includes('Generating'));
        }}"""
    )
    await page.evaluate(
        "() => { const m = document.querySelector('#messages'); m.scrollTop = m.scrollHeight; }"
    )
    await page.wait_for_timeout(300)


async def shoot(page: Page, name: str) -> None:
    """A PNG of 256 colours: a fifth of the size, and the README stays light (< 200 kB)."""
    path = OUT / f"{name}.png"
    await page.screenshot(path=path)
    with Image.open(path) as shot:
        small = shot.convert("RGB").quantize(colors=256)
    small.save(path, optimize=True)


async def private_art(page: Page) -> None:
    await send(page, "/art a red fox in the snow --seed 42 --ratio 16:9")
    await pictures(page, 1)
    # Open the picture's request in the panel: what the bot sent to Telegram.
    await page.click("#log li:has-text('sendPhoto') summary")
    await page.evaluate("() => { document.querySelector('#protocol').scrollTop = 0; }")
    await shoot(page, "demo-private")


async def album(page: Page) -> None:
    await send(page, "/art a lighthouse at dawn --n 4")
    await pictures(page, 5)
    await shoot(page, "demo-album")


async def group(page: Page) -> None:
    await page.click(".chat[data-view=group]")
    await page.check("input[name=as][value='7002']")
    await send(page, "/art a green owl reading a book --ratio 2:1")
    await pictures(page, 1)
    await page.check("input[name=as][value='7001']")
    await send(page, "/art an orange cat on a roof --ratio 2:1")
    await pictures(page, 2)
    await shoot(page, "demo-group")


if __name__ == "__main__":
    asyncio.run(main())
