"""The local Neo4j launcher's password: never readable as an option, and passed as a value whatever it holds."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest

from devtools.neo4j_local import LocalNeo4j, main, new_password, provision, set_initial_password_command


def test_generated_passwords_never_start_with_a_dash_and_need_no_quoting() -> None:
    drawn = [new_password() for _ in range(20_000)]
    assert len(set(drawn)) == len(drawn)
    for password in drawn:
        assert re.fullmatch(r"[a-z][0-9a-f]{32}", password), "a letter first, then hex: no '-', nothing to quote"
        assert shlex.quote(password) == password


@pytest.mark.parametrize("password", ["-Xabcdefgh12", "--require-password-change", "-h", "p0123456789abcdef"])
def test_the_command_line_keeps_the_password_as_a_value(password: str) -> None:
    command = set_initial_password_command(Path("/lib"), password)
    assert command[-3:] == ["set-initial-password", "--", password], "'--' ends the options just before it"


def test_neo4j_admin_takes_a_password_starting_with_a_dash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real admin tool, on a throwaway home: the failure of issue 9 was 'Missing required parameter'."""
    if shutil.which("java") is None or shutil.which("mvn") is None:
        pytest.skip("needs Java and Maven (the project's own Neo4j); the suite then uses NEO4J_URI or testcontainers")
    lib = provision()  # the shared jar cache, resolved once per machine
    monkeypatch.setenv("INTEGRATION_HUB_CACHE", str(tmp_path))
    instance = LocalNeo4j("dash-password", port=1)
    conf = instance._write_config()
    (instance.home / "password").write_text("-Xabcdefgh12\n")

    instance._set_initial_password(lib, conf, instance.connection().password)

    auth = (instance.home / "data" / "dbms" / "auth.ini").read_text()
    assert auth.startswith("neo4j:SHA-256,"), "the password was set (stored hashed)"
    assert "-Xabcdefgh12" not in auth


def test_env_prints_lines_a_shell_can_eval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("INTEGRATION_HUB_CACHE", str(tmp_path))
    home = tmp_path / "instances" / "quoted"
    home.mkdir(parents=True)
    (home / "password").write_text("-it's $HOME\n")
    assert main(["env", "--name", "quoted", "--port", "7999"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["NEO4J_URI=bolt://127.0.0.1:7999", "NEO4J_USER=neo4j", "NEO4J_PASSWORD='-it'\"'\"'s $HOME'"]
    assert shlex.split(lines[2].partition("=")[2]) == ["-it's $HOME"]
