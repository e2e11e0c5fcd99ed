"""What scripts/up.sh (the main job) and scripts/test.sh install, read from their --print-plan mode.

The plans are checked on this machine and on a simulated fresh one (a copy of the scripts with no
.venv, and a PATH holding only the shell tools the bootstrap uses): the main job must never pull
what only the tests use, and every install line says what it is for.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEST_ONLY = ("chromium", "compose", "dev tools", "playwright", "pytest")
SHELL_TOOLS = ("bash", "id", "sha256sum", "cut", "cat", "dirname")


def plan(script: str, root: Path = ROOT, path: str | None = None) -> str:
    bash = shutil.which("bash")
    assert bash is not None
    env = {**os.environ, "PATH": path if path is not None else os.environ["PATH"]}
    env.pop("CHROMIUM_PATH", None)
    result = subprocess.run(
        [bash, str(root / "scripts" / script), "--print-plan"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


@pytest.fixture(params=["root", "user"])
def fresh_machine(tmp_path: Path, request: pytest.FixtureRequest) -> tuple[Path, str]:
    """A copy of the scripts without a .venv, and a PATH without java, mvn, chromium, docker or go
    (apt-get is a stub that fails if anything calls it: --print-plan must not), run as root (who may
    install with apt-get) or as a user (who is told what to install)."""
    root = tmp_path / "clone"
    shutil.copytree(ROOT / "scripts", root / "scripts")
    shutil.copy(ROOT / "pyproject.toml", root)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if request.param == "user":
        fake_id = bin_dir / "id"
        fake_id.write_text("#!/bin/sh\necho 1000\n")
        fake_id.chmod(0o755)
    for tool in SHELL_TOOLS:
        if (bin_dir / tool).exists():
            continue
        found = shutil.which(tool)
        assert found is not None, tool
        (bin_dir / tool).symlink_to(found)
    stub = bin_dir / "apt-get"
    stub.write_text("#!/bin/sh\necho 'apt-get was called' >&2\nexit 99\n")
    stub.chmod(0o755)
    return root, str(bin_dir)


def install_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("bootstrap: ")]


def test_the_main_job_plans_nothing_that_only_the_tests_use() -> None:
    text = plan("up.sh").lower()
    assert not [word for word in TEST_ONLY if word in text], text
    assert "java 17, to run neo4j" in text
    assert "runtime dependencies" in text


def test_the_test_job_plans_the_test_tools_with_their_purpose() -> None:
    text = plan("test.sh")
    assert "chromium (for the gallery's browser tests)" in text
    assert "docker compose CLI plugin (for the test that validates docker-compose.yml)" in text
    assert "dev tools" in text


def test_on_a_fresh_machine_the_main_job_installs_only_java_maven_and_the_runtime(
    fresh_machine: tuple[Path, str],
) -> None:
    root, path = fresh_machine
    text = plan("up.sh", root, path)
    lines = install_lines(text)
    # As root the packages "will install with apt-get"; otherwise the plan says they cannot be installed.
    assert one(lines, "bootstrap: openjdk-17-jre-headless (Java 17, to run Neo4j): ")
    assert one(lines, "bootstrap: maven (to fetch Neo4j's jars from Maven Central): ")
    assert one(
        lines,
        "bootstrap: the project with its runtime dependencies into .venv "
        "(to run the server, sandbox, gateway and gallery): will install",
    )
    assert not [word for word in TEST_ONLY if word in text.lower()], text
    assert "apt-get was called" not in text


def test_on_a_fresh_machine_the_test_job_adds_chromium_and_the_dev_tools(fresh_machine: tuple[Path, str]) -> None:
    root, path = fresh_machine
    text = plan("test.sh", root, path)
    lines = install_lines(text)
    assert one(lines, "bootstrap: chromium (for the gallery's browser tests): ")
    assert one(
        lines, "bootstrap: docker compose CLI plugin (for the test that validates docker-compose.yml): not needed"
    )
    assert one(
        lines,
        "bootstrap: the project with its runtime dependencies and dev tools into .venv "
        "(for the tests and checks: pytest, playwright, mypy, ruff, grpcio-tools): will install",
    )
    assert "apt-get was called" not in text


def one(lines: list[str], start: str) -> bool:
    return len([line for line in lines if line.startswith(start)]) == 1
