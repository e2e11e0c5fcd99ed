#!/usr/bin/env bash
# The main job: installs what it needs (Java 17 and Maven for Neo4j, the runtime dependencies in .venv;
# nothing that only the tests use), then runs Neo4j, the ClickUp and Jira sandboxes, the gRPC server, the
# webhook gateway and the gallery, configures, tests and imports ClickUp and Jira, and prints how to call it.
# `scripts/up.sh --print-plan` only prints what would be installed and why.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = --print-plan ]; then
  exec scripts/bootstrap.sh --print-plan
fi
scripts/bootstrap.sh
exec .venv/bin/python -m devtools.demo "$@"
