#!/usr/bin/env bash
# Installs what the project needs on a fresh machine: Java 17 and Maven (for Neo4j) and Chromium (for
# the gallery's browser tests) from apt if missing and we may; the docker compose plugin when the
# docker CLI lacks it; a virtualenv in .venv with the project and its dev tools. Idempotent and quick
# when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
# Debian's Chromium for the gallery's browser tests (Playwright drives it; no browser download).
[ -n "${CHROMIUM_PATH:-}" ] || command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "bootstrap: installing ${missing[*]} (needed to run Neo4j)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "bootstrap: ${missing[*]} missing; install them (or point NEO4J_URI at a Neo4j 5.26 server," \
      "CHROMIUM_PATH at a Chromium)" >&2
  fi
fi

if command -v docker >/dev/null 2>&1 && ! docker compose version >/dev/null 2>&1 && command -v go >/dev/null 2>&1; then
  echo "bootstrap: building the docker compose CLI plugin (to validate docker-compose.yml; ~2 min once)"
  scripts/install-compose-plugin.sh
fi

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
stamp=.venv/.installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "bootstrap: installing Python dependencies into .venv"
  if ! { .venv/bin/python -m pip install -q --upgrade pip && .venv/bin/python -m pip install -q -e '.[dev]'; } \
      > .venv/pip.log 2>&1; then
    cat .venv/pip.log >&2
    exit 1
  fi
  echo "$want" > "$stamp"
fi
