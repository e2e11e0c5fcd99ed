"""The rule this plugin exists to prove: an integration is one package plus one registry line.

Everything about Tracker (its plugin, stand-in, registry line and tests) lives in ``tests/tracker/``;
no other code or configuration file of the repository names it, so adding it changed nothing
outside its package. Documentation (Markdown) may name it: the README walks through it as the
example of writing an integration.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "tests/tracker/"
WORD = "tracker"
DOCS = (".md",)


def repository_files() -> list[str]:
    """Tracked files, and new ones not ignored (so the rule holds before a commit too)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
        timeout=60,
    )
    return sorted({name for name in listed.stdout.decode().split("\0") if name and (ROOT / name).is_file()})


def test_the_tracker_is_named_only_in_its_own_package() -> None:
    files = repository_files()
    inside: list[str] = []
    outside: list[str] = []
    for name in files:
        if name.endswith(DOCS):
            continue
        try:
            text = (ROOT / name).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            text = ""  # binary: only its path can name it
        lines = [number for number, line in enumerate(text.splitlines(), 1) if WORD in line.lower()]
        if WORD in name.lower() or lines:
            (inside if name.startswith(PACKAGE) else outside).append(f"{name}:{lines[:5]}")
    assert len(inside) >= 5, f"the scan must see the package itself: {inside}"
    assert outside == [], "Tracker is named outside tests/tracker/"
