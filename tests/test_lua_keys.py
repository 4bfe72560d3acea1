"""Every Lua script in the bot names its keys in KEYS, never builds them from ARGV or data:
Redis Cluster routes a script by its KEYS and refuses keys of other slots. (Scripts that
keep to one slot are also run on a cluster node by the `cluster` case of test_store.py.)"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Commands that take no key.
KEYLESS = {"TIME"}
# Where the keys are, for commands whose key is not just the first argument.
EVERY_ARGUMENT = {"DEL", "UNLINK", "EXISTS", "TOUCH", "MGET", "WATCH", "PFCOUNT", "PFMERGE"}
EVERY_ARGUMENT |= {"SUNION", "SINTER", "SDIFF", "SUNIONSTORE", "SINTERSTORE", "SDIFFSTORE"}
FIRST_TWO = {"RENAME", "RENAMENX", "RPOPLPUSH", "LMOVE", "BLMOVE", "SMOVE", "COPY"}
FIRST_TWO |= {"ZRANGESTORE", "GEOSEARCHSTORE"}
DESTINATION_AND_NUMKEYS = {"ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"}
_CALL = re.compile(r"redis\.p?call\(\s*'(\w+)'\s*(,|\))")
_BOUND = re.compile(r"for\s+\w+\s*,\s*(\w+)\s+in\s+ipairs\(KEYS\)|local\s+(\w+)\s*=\s*KEYS\[")


def scripts() -> dict[str, str]:
    """Every string in the bot's code that calls Redis from Lua, by file and line."""
    found = {}
    for path in sorted([*(ROOT / "bot").rglob("*.py"), *(ROOT / "handlers").rglob("*.py")]):
        if "emulators" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
                continue
            text = node.value
            if "redis.call(" in text or "redis.pcall(" in text:
                found[f"{path.relative_to(ROOT)}:{node.lineno}"] = text
    return found


def arguments(script: str, start: int) -> list[str]:
    """The texts of a call's arguments from `start` to its closing paren."""
    found, depth, begin = [], 0, start
    for end in range(start, len(script)):
        char = script[end]
        if char in "([{":
            depth += 1
        elif char in ")]}" and depth:
            depth -= 1
        elif char in ",)" and depth == 0:
            found.append(script[begin:end].strip())
            if char == ")":
                break
            begin = end + 1
    return found


def key_arguments(command: str, args: list[str]) -> list[str]:
    if command in EVERY_ARGUMENT:
        return args
    if command in FIRST_TWO:
        return args[:2]
    if command in DESTINATION_AND_NUMKEYS:
        count = int(args[1]) if len(args) > 1 and args[1].isdigit() else len(args) - 2
        return [args[0], *args[2 : 2 + count]] if count >= 0 else args
    return args[:1]


def undeclared_keys(script: str) -> list[str]:
    """Calls whose key is not a KEYS element (or a name bound to one)."""
    bound = {name for match in _BOUND.finditer(script) for name in match.groups() if name}
    bad = []
    for match in _CALL.finditer(script):
        command = match.group(1).upper()
        if command in KEYLESS:
            continue
        args = arguments(script, match.end()) if match.group(2) == "," else []
        for key in key_arguments(command, args) or [""]:
            if not (re.fullmatch(r"KEYS\[[^\]]+\]", key) or key in bound):
                bad.append(f"{command} {key or '(no key)'}")
    return bad


def test_the_checker_finds_a_key_built_from_argv() -> None:
    old_claim = """
    for _, id in ipairs(ids) do
      local key = ARGV[5] .. id
      local data = redis.call('HGET', key, 'data')
      redis.call('ZADD', KEYS[1], ARGV[3], id)
    end
    """
    assert undeclared_keys(old_claim) == ["HGET key"]
    assert undeclared_keys("redis.call('DEL', ARGV[1] .. id)") == ["DEL ARGV[1] .. id"]
    assert undeclared_keys("for _, k in ipairs(KEYS) do redis.call('DEL', k) end") == []
    assert undeclared_keys("return redis.call('TIME')") == []
    assert undeclared_keys("redis.call('DEL', KEYS[1], 'x' .. ARGV[1])") == ["DEL 'x' .. ARGV[1]"]
    assert undeclared_keys("redis.call('RENAME', KEYS[1], ARGV[2])") == ["RENAME ARGV[2]"]
    assert undeclared_keys("redis.call('ZUNIONSTORE', KEYS[1], 2, KEYS[2], key)") == [
        "ZUNIONSTORE key"
    ]
    assert undeclared_keys("redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])") == []
    assert undeclared_keys("redis.call('GET')") == ["GET (no key)"]


def test_every_script_declares_its_keys() -> None:
    found = scripts()
    assert len(found) >= 12, sorted(found)  # the store's, the budget's and the line's
    bad = {where: keys for where, script in found.items() if (keys := undeclared_keys(script))}
    assert bad == {}
