#!/usr/bin/env bash
# The test command: installs what is missing, checks lint, format and types, then runs the suite.
# The suite starts what it needs itself: the project's own Neo4j (or NEO4J_URI), the ClickUp
# sandbox and the gRPC server, all on loopback. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
