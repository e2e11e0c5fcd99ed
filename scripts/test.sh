#!/usr/bin/env bash
# The test command: installs what the tests need (what the main job needs, plus Chromium, the docker
# compose plugin and the dev tools), checks lint, format and types, then runs the suite. The suite starts
# what it needs itself: the project's own Neo4j (or NEO4J_URI), the ClickUp sandbox and the gRPC server,
# all on loopback. Extra arguments go to pytest; `scripts/test.sh --print-plan` only prints the install plan.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = --print-plan ]; then
  exec scripts/bootstrap.sh --for-tests --print-plan
fi
scripts/bootstrap.sh --for-tests
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
