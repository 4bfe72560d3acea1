"""`python -m bot demo`: its pictures, its markup, its options, and the chat page's API driving
the real bot against the emulators (private chat, group, inline mode, live events)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from PIL import Image

from bot.demo.chat import ANN, BORIS, ChatPage
from bot.demo.markup import to_html
from bot.demo.options import DemoOptions, options_from_env
from bot.demo.pictures import draw, images_picture, size_for_ratio, yandexart_picture
from bot.demo.runner import Demo
from bot.emulators.telegram import FakeTelegram
from bot.ops.app import create_bot, create_dispatcher
from bot.ops.settings import SettingsError, StartupError
from tests.bot_process import bot_env
from tests.conftest import FAST


def art_body(prompt: str, seed: int, width: int, height: int) -> dict[str, Any]:
    return {
        "generationOptions": {
            "seed": str(seed),
            "aspectRatio": {"widthRatio": str(width), "heightRatio": str(height)},
        },
        "messages": [{"text": prompt, "weight": "1"}],
    }


def size_of(jpeg: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(jpeg)) as image:
        assert image.format == "JPEG"
        return image.size


def test_same_seed_same_picture_in_the_requested_ratio() -> None:
    first = yandexart_picture(art_body("a red fox", 42, 16, 9))
    assert yandexart_picture(art_body("a red fox", 42, 16, 9)) == first
    assert yandexart_picture(art_body("a red fox", 43, 16, 9)) != first
    assert yandexart_picture(art_body("a red owl", 42, 16, 9)) != first
    width, height = size_of(first)
    assert abs(width / height - 16 / 9) < 0.01
    width, height = size_of(images_picture({"prompt": "a cat", "size": "768x1344"}))
    assert abs(width / height - 768 / 1344) < 0.01


def test_sizes_keep_the_ratio_within_the_largest_side() -> None:
    assert size_for_ratio(1, 1) == (512, 512)
    width, height = size_for_ratio(4, 1)
    assert width == 1024
    assert height == 256
    assert size_of(draw("Лиса в снегу", 1, 40, 30)) == (40, 30)  # Cyrillic, tiny sizes


def test_telegram_html_is_rendered_safely() -> None:
    shown = to_html(
        '<b>Hi</b> &lt;3 <a href="javascript:alert(1)">x</a> <a href="https://y.example">y</a>'
        " <tg-spoiler>s</tg-spoiler><blockquote expandable>q</blockquote><img src=x>",
        "HTML",
    )
    assert shown == (
        '<b>Hi</b> &lt;3 <a>x</a> <a href="https://y.example" target="_blank" rel="noopener">'
        'y</a> <span class="spoiler">s</span><blockquote class="expandable">q</blockquote>'
    )
    assert to_html("<b>not markup</b>", None) == "&lt;b&gt;not markup&lt;/b&gt;"
    assert to_html("<i>open", "HTML") == "<i>open</i>"


def test_options_come_from_two_variables_with_one_line_errors() -> None:
    assert options_from_env({}) == DemoOptions(8008, 0.2)
    assert options_from_env({"DEMO_PORT": "0", "DEMO_TIME_SCALE": "1"}) == DemoOptions(0, 1.0)
    with pytest.raises(SettingsError, match="DEMO_PORT"):
        options_from_env({"DEMO_PORT": "70000"})
    with pytest.raises(SettingsError, match="DEMO_TIME_SCALE"):
        options_from_env({"DEMO_TIME_SCALE": "fast"})
    with pytest.raises(SettingsError, match="DEMO_TIME_SCALE"):
        options_from_env({"DEMO_TIME_SCALE": "0"})


async def test_a_bad_option_stops_the_command_with_one_line(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "demo",
        env=bot_env({"DEMO_PORT": "http"}),
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2
    assert err.decode().strip().splitlines() == [
        "error: invalid settings: DEMO_PORT: must be a port number, 0-65535"
    ]


async def test_the_bot_settings_ignore_the_environment_and_dotenv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("BOT_TOKEN=1:real\nREDIS_URL=redis://nowhere:1/0\n")
    monkeypatch.setenv("WEBHOOK_URL", "https://example.com/hook")
    monkeypatch.setenv("YANDEX_API_KEY", "a-real-key")
    demo = Demo(DemoOptions(port=0))
    try:
        settings = await demo.start()
        assert settings.webhook_url is None
        assert settings.redis_url is None
        assert settings.yandex_api_key is not None
        assert settings.yandex_api_key.get_secret_value() == "demo-api-key"
        assert str(settings.telegram_api_url).rstrip("/") == demo.telegram.url
        assert settings.models == ("yandexart", "aliceai")
    finally:
        await demo.stop()


# --- the page's API against the real bot --------------------------------------------------


class Page:
    """What the browser does, over HTTP; plus the events it would be told."""

    def __init__(self, demo: Demo, http: aiohttp.ClientSession) -> None:
        self.demo = demo
        self.http = http
        self.events: list[dict[str, Any]] = []

    async def post(self, path: str, body: dict[str, Any]) -> Any:
        async with self.http.post(self.demo.url + path, json=body) as response:
            assert response.status == 200, await response.text()
            return await response.json()

    async def state(self) -> dict[str, Any]:
        async with self.http.get(self.demo.url + "api/state") as response:
            result: dict[str, Any] = await response.json()
            return result

    async def until(
        self, check: Callable[[dict[str, Any]], Any], timeout: float = 20.0
    ) -> dict[str, Any]:
        """The state once `check` holds; an AssertionError with the state after `timeout`."""
        state: dict[str, Any] = {}
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            state = await self.state()
            if check(state):
                return state
            await asyncio.sleep(0.05)
        raise AssertionError(f"not within {timeout}s: {json.dumps(state['chats'])[:2000]}")

    async def listen(self) -> None:
        async with self.http.get(self.demo.url + "events") as response:
            async for line in response.content:
                if line.startswith(b"data: "):
                    self.events.append(json.loads(line[6:]))

    async def photo(self, url: str) -> bytes:
        async with self.http.get(self.demo.url + url.lstrip("/")) as response:
            assert response.status == 200
            assert response.content_type == "image/jpeg"
            return await response.read()


@pytest.fixture
async def page() -> AsyncIterator[Page]:
    async with open_page(**FAST) as result:
        yield result


@contextlib.asynccontextmanager
async def open_page(**settings: Any) -> AsyncIterator[Page]:
    """The demo's emulators and page, and the real dispatcher polling them (without the
    signal handlers `run` installs, which a test cannot send)."""
    demo = Demo(DemoOptions(port=0, time_scale=0.02), **settings)
    started = await demo.start()
    bot = create_bot(started)
    dispatcher = create_dispatcher(started, bot)
    polling = asyncio.create_task(
        dispatcher.start_polling(bot, handle_signals=False, polling_timeout=1)
    )
    async with aiohttp.ClientSession() as http:
        result = Page(demo, http)
        listening = asyncio.create_task(result.listen())
        await demo.telegram.wait_for("setMyCommands", 2)
        try:
            yield result
        finally:
            await dispatcher.stop_polling()
            await polling
            await demo.stop()
            with contextlib.suppress(aiohttp.ClientError):
                await asyncio.wait_for(listening, 5)


def photos(state: dict[str, Any], view: str) -> list[dict[str, Any]]:
    return [m for m in state["chats"][view] if m["photo"]]


def button(message: dict[str, Any], label: str) -> dict[str, str]:
    found: list[dict[str, str]] = [
        b for row in message["buttons"] for b in row if label in b["text"]
    ]
    assert found, message["buttons"]
    return found[0]


async def test_private_art_again_and_the_protocol_panel(page: Page) -> None:
    await page.post(
        "api/send", {"chat": "private", "text": "/art a red fox --seed 42 --ratio 16:9"}
    )
    # The status message, then the picture; the status goes away (a deletion the page is
    # told of), leaving the prompt and the picture.
    state = await page.until(
        lambda s: photos(s, "private") and len(s["chats"]["private"]) == 2, timeout=20
    )
    first = photos(state, "private")[0]
    assert "seed 42" in first["html"]
    assert "16:9" in first["html"]
    (status,) = [e for e in state["log"] if e["what"] == "sendMessage"]
    assert "seed 42" in status["request"]["text"]
    (deleted,) = [e for e in state["log"] if e["what"] == "deleteMessage"]
    assert deleted["request"]["message_id"] == str(status["answer"]["result"]["message_id"])
    width, height = size_of(await page.photo(first["photo"]))
    assert abs(width / height - 16 / 9) < 0.01
    again = button(first, "Again")["callback_data"]
    await page.post("api/press", {"chat": "private", "message_id": first["key"], "data": again})
    state = await page.until(lambda s: len(photos(s, "private")) == 2)
    second = photos(state, "private")[1]
    assert await page.photo(second["photo"]) != await page.photo(first["photo"])
    calls = [(e["service"], e["what"]) for e in state["log"]]
    assert ("yandex", "POST /foundationModels/v1/imageGenerationAsync") in calls
    assert ("telegram", "sendPhoto") in calls
    assert ("telegram", "answerCallbackQuery") in calls
    submit = next(e for e in state["log"] if e["what"].endswith("imageGenerationAsync"))
    assert submit["request"]["generationOptions"]["seed"] == "42"
    done = [e for e in state["log"] if e["what"].startswith("GET /operations/op1")][-1]
    assert done["answer"]["response"]["image"].startswith("<")  # shortened, not base64
    kinds = {e["type"] for e in page.events}
    assert {"changed", "log"} <= kinds
    assert {"private", "group", "inline"} == set(state["chats"])
    assert any(c["command"] == "art" for c in state["commands"]["en"])


async def test_a_group_with_two_users(page: Page) -> None:
    await page.post("api/send", {"chat": "group", "user": BORIS, "text": "/art a green owl"})
    # The status message is deleted just after the picture arrives: wait for both.
    state = await page.until(lambda s: photos(s, "group") and len(s["chats"]["group"]) == 2)
    boris, picture = state["chats"]["group"]
    assert (boris["from"], boris["user"], boris["bot"]) == ("Boris", BORIS, False)
    assert picture["bot"]
    assert picture["reply_to"] == "/art a green owl"
    assert state["chats"]["private"] == []
    await page.post("api/send", {"chat": "group", "user": ANN, "text": "/art a blue owl --n 2"})
    state = await page.until(lambda s: len(photos(s, "group")) == 3)
    album = photos(state, "group")[1:]
    assert album[0]["album"] is not None
    assert album[0]["album"] == album[1]["album"]


async def test_inline_mode_in_another_chat(page: Page) -> None:
    answer = await page.post("api/inline", {"user": ANN, "query": "a blue cat --seed 7"})
    query_id = answer["query_id"]
    state = await page.until(lambda s: s["inline"].get(query_id, {}).get("results"))
    result = state["inline"][query_id]["results"][0]
    assert "a blue cat" in result["title"]
    await page.post("api/choose", {"query_id": query_id, "result_id": result["id"]})
    state = await page.until(lambda s: photos(s, "inline"))
    (message,) = state["chats"]["inline"]
    assert message["via"] == "art_test_bot"
    assert message["edited"]
    assert "seed 7" in message["html"]
    size_of(await page.photo(message["photo"]))


async def test_the_page_refuses_what_a_user_cannot_do(page: Page) -> None:
    async with page.http.post(
        page.demo.url + "api/send", json={"chat": "private", "user": BORIS, "text": "hi"}
    ) as response:
        assert response.status == 400
    async with page.http.post(
        page.demo.url + "api/send", json={"chat": "channel", "text": "hi"}
    ) as response:
        assert response.status == 400
    async with page.http.post(
        page.demo.url + "api/press", json={"chat": "private", "message_id": "x", "data": "d"}
    ) as response:
        assert response.status == 400
    # Another web site's form (a "simple" request, no CORS preflight) cannot drive it.
    async with page.http.post(
        page.demo.url + "api/send",
        data='{"chat": "private", "text": "/art a fox"}',
        headers={"Content-Type": "text/plain"},
    ) as response:
        assert response.status == 415
    async with page.http.get(page.demo.url + "file/photo-1-2") as response:
        assert response.status == 404
    async with page.http.get(page.demo.url) as response:
        assert "<title>" in await response.text()
    assert not page.demo.telegram.pushed


async def start_demo_command(workdir: Path) -> tuple[asyncio.subprocess.Process, str]:
    """`python -m bot demo` on a free port with quick pictures; returns it and its URL."""
    log = (workdir / "demo.log").open("ab")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "demo",
        env=bot_env({"DEMO_PORT": "0", "DEMO_TIME_SCALE": "0.05"}),
        cwd=workdir,
        stdout=asyncio.subprocess.PIPE,
        stderr=log,
    )
    log.close()
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 60)
    assert line.startswith(b"Demo: open http://127.0.0.1:"), line
    return process, line.split()[2].decode()


@pytest.mark.long
async def test_the_command_serves_the_page_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    process, url = await start_demo_command(tmp_path)
    try:
        async with aiohttp.ClientSession() as http:
            body = {"chat": "private", "text": "/art a red fox --seed 42 --ratio 16:9"}
            deadline = asyncio.get_running_loop().time() + 60
            async with http.post(url + "api/send", json=body) as response:
                assert response.status == 200
            while asyncio.get_running_loop().time() < deadline:
                async with http.get(url + "api/state") as response:
                    state = await response.json()
                if photos(state, "private"):
                    break
                await asyncio.sleep(0.1)
            assert photos(state, "private"), state["chats"]
    finally:
        process.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(process.wait(), 30)
    log = (tmp_path / "demo.log").read_text()
    assert code == 0, log
    assert "Traceback" not in log
    assert "bot stopped" in log
    with pytest.raises(aiohttp.ClientConnectionError):
        async with aiohttp.ClientSession() as http, http.get(url + "api/state"):
            pass


async def test_the_images_api_model_draws_too(page: Page) -> None:
    await page.post("api/send", {"chat": "private", "text": "/art a cat --model aliceai"})
    state = await page.until(
        lambda s: photos(s, "private") and len(s["chats"]["private"]) == 2, timeout=20
    )
    (call,) = [e for e in state["log"] if e["service"] == "images"]
    assert call["what"] == "POST /v1/images/generations"
    assert call["request"]["prompt"] == "a cat"
    assert call["answer"]["data"][0]["b64_json"].startswith("<")  # shortened in the panel
    width, height = size_of(await page.photo(photos(state, "private")[0]["photo"]))
    assert width == height
    assert not [e for e in state["log"] if e["what"].endswith("imageGenerationAsync")]


async def test_a_port_in_use_is_one_line_naming_demo_port() -> None:
    taken = Demo(DemoOptions(port=0))
    await taken.start()
    port = int(taken.page.url.rsplit(":", 1)[1])
    second = Demo(DemoOptions(port=port))
    try:
        with pytest.raises(StartupError, match=rf"^DEMO_PORT: cannot listen on port {port} \("):
            await second.start()
    finally:
        await second.stop()
        await taken.stop()


async def test_a_page_that_stops_reading_is_dropped_and_its_stream_ends() -> None:
    telegram = FakeTelegram()
    chat = ChatPage(telegram)
    await chat.start()
    try:
        async with aiohttp.ClientSession() as http, http.get(chat.url + "/events") as response:
            while not chat._subscribers:
                await asyncio.sleep(0.01)
            for _ in range(1001):  # one more than its queue holds, before it reads any
                chat._publish({"type": "changed"})
            # The stream ends (the page reconnects and reads the state again).
            body = await asyncio.wait_for(response.read(), 10)
        assert 1 <= body.count(b"data: ") < 1001
        assert not chat._subscribers
    finally:
        await chat.stop()


async def test_a_voice_message_is_heard_by_speechkit_and_drawn(page: Page) -> None:
    await page.post("api/voice", {"text": "a purple owl --seed 9"})
    state = await page.until(
        lambda s: photos(s, "private") and len(s["chats"]["private"]) == 2, timeout=20
    )
    voice, picture = state["chats"]["private"]
    assert voice["voice"] == 3
    assert "seed 9" in picture["html"]
    (heard,) = [e for e in state["log"] if e["service"] == "speechkit"]
    assert heard["answer"] == {"result": "a purple owl --seed 9"}
    downloads = [e["what"] for e in state["log"] if e["what"].startswith("download ")]
    assert downloads == [f"download voice/file_{voice['key']}.oga"]
    assert all("TEST-token" not in e["what"] for e in state["log"])


async def test_a_live_draft_with_stop_in_the_private_chat() -> None:
    async with open_page(**{**FAST, "live_progress": True}) as page:
        page.demo.yandex.hold = True  # the picture never comes: Stop is what ends it
        await page.post("api/send", {"chat": "private", "text": "/art a fox --seed 42"})
        state = await page.until(lambda s: s["chats"]["private"][-1].get("draft"))
        draft = state["chats"]["private"][-1]
        assert draft["stop"]
        assert "seed 42" in draft["html"]
        await page.post("api/stop", {})
        state = await page.until(
            lambda s: (
                s["chats"]["private"][-1]["bot"] and not s["chats"]["private"][-1].get("draft")
            )
        )
        assert state["chats"]["private"][-1]["html"] == "Cancelled."
        assert not photos(state, "private")


async def test_a_group_refusal_is_seen_by_its_sender_only(page: Page) -> None:
    await page.post("api/send", {"chat": "group", "user": BORIS, "text": "/art"})
    state = await page.until(lambda s: any(m.get("ephemeral") for m in s["chats"]["group"]))
    (notice,) = [m for m in state["chats"]["group"] if m.get("ephemeral")]
    assert notice["for"] == BORIS
    assert notice["bot"]
    assert [m["from"] for m in state["chats"]["group"]] == ["Boris", "Art"]
