"""What the Dockerfile, the compose file and the lock promise, checked without a builder
(none on the CI machine): pinned tags, the lock in its own layer, an unprivileged user, a
health check that is a real command, and tests running on exactly the locked versions."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tomllib
from importlib.metadata import version
from pathlib import Path

from bot.__main__ import COMMANDS
from tests.bot_process import ROOT

DOCKERFILE = (ROOT / "Dockerfile").read_text()
COMPOSE = (ROOT / "docker-compose.yml").read_text()
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _pins(lock: str) -> dict[str, str]:
    text = (ROOT / "requirements" / lock).read_text()
    return {m[1].lower(): m[2] for m in re.finditer(r"^([A-Za-z0-9_.-]+)==(\S+)", text, re.M)}


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~ ;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    lines = [line.strip() for line in joined.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def _exec_form(arguments: str) -> list[str]:
    command = json.loads(arguments.split("CMD", 1)[-1])
    assert isinstance(command, list)
    return [str(part) for part in command]


def test_base_image_is_pinned_to_a_patch_release_of_the_locked_python() -> None:
    (base,) = [args for op, args in _instructions() if op == "FROM"]
    match = re.fullmatch(r"python:(\d+)\.(\d+)\.\d+-slim-[a-z]+", base)
    assert match, base
    lock_header = (ROOT / "requirements" / "lock.txt").read_text()
    assert f"pip-compile with Python {match[1]}.{match[2]}" in lock_header


def test_dependencies_come_from_the_lock_in_their_own_layer() -> None:
    steps = _instructions()
    copy_lock = steps.index(("COPY", "requirements/lock.txt /tmp/lock.txt"))
    install_lock = steps.index(
        ("RUN", "pip install --require-hashes -r /tmp/lock.txt && rm /tmp/lock.txt")
    )
    copy_code = steps.index(("COPY", "bot ./bot"))
    install_package = steps.index(("RUN", "pip install --no-deps . && rm -rf /src"))
    assert copy_lock < install_lock < copy_code < install_package
    # Nothing of the package (or the README) is copied before the dependencies are in.
    assert all(op != "COPY" for op, _ in steps[:copy_lock])
    assert all(op != "COPY" for op, _ in steps[copy_lock + 1 : install_lock])


def test_the_bot_runs_unprivileged_and_its_health_check_is_a_real_command() -> None:
    steps = _instructions()
    users = [args for op, args in steps if op == "USER"]
    assert users == ["bot"]
    assert any(op == "RUN" and "useradd --system" in args and " bot" in args for op, args in steps)
    (health,) = [args for op, args in steps if op == "HEALTHCHECK"]
    (cmd,) = [args for op, args in steps if op == "CMD"]
    scripts = PYPROJECT["project"]["scripts"]
    for command, expected in ((_exec_form(health), "health"), (_exec_form(cmd), "run")):
        assert command == ["yandexart-bot", expected]
        assert command[0] in scripts
        assert command[1] in COMMANDS
    assert '      test: ["CMD", "yandexart-bot", "health"]' in COMPOSE


def test_compose_pins_redis_and_scales_without_port_clashes() -> None:
    images = re.findall(r"^\s*image:\s*(\S+)", COMPOSE, re.M)
    assert images == [images[0]]
    assert re.fullmatch(r"redis:\d+\.\d+\.\d+-alpine", images[0]), images
    live = [line for line in COMPOSE.splitlines() if not line.strip().startswith("#")]
    # A fixed host port ("8080:8080") or a fixed name would clash with `--scale bot=3`.
    assert not any(re.search(r"\bports:", line) for line in live)
    assert not any("container_name" in line for line in live)


def test_the_locks_cover_every_dependency_and_agree() -> None:
    runtime, dev = _pins("lock.txt"), _pins("dev-lock.txt")
    for requirement in PYPROJECT["project"]["dependencies"]:
        assert _name(requirement) in runtime, requirement
    for requirement in PYPROJECT["project"]["optional-dependencies"]["dev"]:
        assert _name(requirement) in dev, requirement
    assert "pytest-xdist" in dev
    assert {name: dev[name] for name in runtime} == runtime


def test_the_tests_run_on_exactly_the_locked_versions() -> None:
    """CI installs requirements/dev-lock.txt (`make test`): what it tested is what the
    image gets. A developer's venv that drifted is remade by `make .venv/.dev`."""
    drifted = {
        name: (pinned, version(name))
        for name, pinned in _pins("dev-lock.txt").items()
        if version(name) != pinned
    }
    assert drifted == {}


def test_without_a_builder_the_image_step_says_so(tmp_path: Path) -> None:
    for builder in ("docker", "podman", "buildah"):
        fake = tmp_path / builder
        fake.write_text("#!/bin/sh\nexit 1\n")
        fake.chmod(0o755)
    done = subprocess.run(
        [str(ROOT / "scripts" / "build-image")],
        env={"PATH": f"{tmp_path}:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout) == (0, "skipped: no builder\n")
    assert "make image" in (ROOT / ".ci" / "run").read_text()
