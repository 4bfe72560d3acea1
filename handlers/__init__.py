"""aiogram routers, one per feature; each handler parses, calls a service and answers."""

from aiogram import Router

from handlers import art, info


def routers() -> list[Router]:
    return [info.router, art.router]
