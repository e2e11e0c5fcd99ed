#!/usr/bin/env bash
# The main job: installs what is missing, then runs Neo4j, the ClickUp sandbox and the gRPC server,
# configures and tests ClickUp against the sandbox, and prints how to call the service.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec .venv/bin/python -m devtools.demo "$@"
