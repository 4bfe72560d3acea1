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


def first_argument(script: str, start: int) -> str:
    """The text of a call's argument from `start` to the next top-level comma or paren."""
    depth, end = 0, start
    while end < len(script):
        char = script[end]
        if char in "([{":
            depth += 1
        elif char in ")]}":
            if depth == 0:
                break
            depth -= 1
        elif char == "," and depth == 0:
            break
        end += 1
    return script[start:end].strip()


def undeclared_keys(script: str) -> list[str]:
    """Calls whose key is not a KEYS element (or a name bound to one)."""
    bound = {name for match in _BOUND.finditer(script) for name in match.groups() if name}
    bad = []
    for match in _CALL.finditer(script):
        command = match.group(1).upper()
        if command in KEYLESS:
            continue
        key = first_argument(script, match.end()) if match.group(2) == "," else ""
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


def test_every_script_declares_its_keys() -> None:
    found = scripts()
    assert len(found) >= 12, sorted(found)  # the store's, the budget's and the line's
    bad = {where: keys for where, script in found.items() if (keys := undeclared_keys(script))}
    assert bad == {}
