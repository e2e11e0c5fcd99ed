"""A benchmark's Neo4j starts empty (devtools.neo4j_local): ``wipe`` removes the instance's data, and
never under a running instance."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from devtools.neo4j_local import LocalNeo4j, Neo4jLocalError


@pytest.fixture
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalNeo4j:
    monkeypatch.setenv("INTEGRATION_HUB_CACHE", str(tmp_path))
    found = LocalNeo4j("wiped", 7999)
    (found.home / "data" / "databases" / "neo4j").mkdir(parents=True)
    (found.home / "data" / "databases" / "neo4j" / "neostore").write_bytes(b"earlier runs")
    (found.home / "conf").mkdir()
    return found


def test_wipe_removes_the_data_of_a_stopped_instance_and_keeps_the_rest(instance: LocalNeo4j) -> None:
    instance.wipe()
    assert not (instance.home / "data").exists()
    assert (instance.home / "conf").exists()


def test_wipe_refuses_a_running_instance(instance: LocalNeo4j) -> None:
    (instance.home / "run").mkdir()
    (instance.home / "run" / "server.pid").write_text(str(os.getpid()))  # a live process
    with pytest.raises(Neo4jLocalError, match="stop the wiped instance"):
        instance.wipe()
    assert (instance.home / "data" / "databases" / "neo4j" / "neostore").exists()
