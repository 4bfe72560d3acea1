"""Bot API calls with a JSON body.

aiogram sends every call as an HTML form, and a form quotes each byte of each value in
Python (urllib's `quote`): the costliest step of sending a long text such as /help. The
Bot API takes `application/json` for every method but uploads ("application/json (except
for uploading files)", core.telegram.org/bots/api#making-requests), so calls go as one
JSON document; a call carrying a file still goes as aiogram's multipart form.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.exceptions import TelegramNetworkError
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import InputFile
from aiohttp import ClientError, ClientTimeout

from bot.core.netcause import network_cause

if TYPE_CHECKING:
    from aiogram import Bot

JSON_HEADERS = {"Content-Type": "application/json"}


class JsonSession(AiohttpSession):
    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        timeout: int | None = None,  # noqa: ASYNC109 - aiogram's signature
    ) -> TelegramType:
        params = self.json_params(bot, method)
        if params is None:
            return await super().make_request(bot, method, timeout)
        session = await self.create_session()
        url = self.api.api_url(token=bot.token, method=method.__api_method__)
        try:
            async with session.post(
                url,
                data=self.json_dumps(params).encode(),
                headers=JSON_HEADERS,
                timeout=ClientTimeout(total=self.timeout if timeout is None else timeout),
            ) as resp:
                raw_result = await resp.text()
        # As aiogram's session raises them, in fixed words (an error's text may quote the
        # URL, which carries the token).
        except TimeoutError as e:
            raise TelegramNetworkError(method=method, message="Request timeout error") from e
        except ClientError as e:
            cause = f"{type(e).__name__}: {network_cause(e)}"
            raise TelegramNetworkError(method=method, message=cause) from e
        response = self.check_response(
            bot=bot, method=method, status_code=resp.status, content=raw_result
        )
        return cast(TelegramType, response.result)

    def json_params(self, bot: Bot, method: TelegramMethod[TelegramType]) -> dict[str, Any] | None:
        """The call's parameters as aiogram's form would send them, but as JSON values
        (nested objects as objects, not as JSON in a string); None when it uploads a file."""
        files: dict[str, InputFile] = {}
        params = {}
        for key, value in method.model_dump(warnings=False).items():
            prepared = self.prepare_value(value, bot=bot, files=files, _dumps_json=False)
            # The form leaves out what is None or an empty string, and nothing else.
            if prepared is not None and prepared != "":
                params[key] = prepared
        return None if files else params
