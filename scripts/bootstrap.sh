#!/usr/bin/env bash
# Installs what is missing, for one of two jobs, and says what each install is for:
#   scripts/bootstrap.sh              the main job (scripts/up.sh): Java 17 and Maven to run Neo4j, and
#                                     .venv with the project and its runtime dependencies
#   scripts/bootstrap.sh --for-tests  the test job (scripts/test.sh): the above, plus Debian's Chromium (the
#                                     gallery's browser tests), the docker compose CLI plugin (the check of
#                                     docker-compose.yml) and the dev tools in .venv (pytest, mypy, ruff, ...)
#   --print-plan                      print each requirement, what it is for and what would be done; change nothing
# System packages come from apt when missing and we run as root. Idempotent and quick when nothing changed:
# the runtime and the test installs of .venv keep separate stamps, so the main job never pulls the dev tools.
set -euo pipefail
cd "$(dirname "$0")/.."

for_tests=no
plan_only=no
for arg in "$@"; do
  case $arg in
    --for-tests) for_tests=yes ;;
    --print-plan) plan_only=yes ;;
    *) echo "bootstrap: unknown argument '$arg' (known: --for-tests, --print-plan)" >&2; exit 2 ;;
  esac
done

say() { echo "bootstrap: $*"; }
can_apt() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }

# ---------------------------------------------------------------- system packages (apt)
apt_packages=()
apt_reasons=()
apt_need() {  # <package> <what it is for> <present?>
  if [ "$3" = yes ]; then
    [ "$plan_only" = no ] || say "$1 ($2): present"
    return
  fi
  apt_packages+=("$1")
  apt_reasons+=("$1 ($2)")
}
present() { if "$@" >/dev/null 2>&1; then echo yes; else echo no; fi; }

apt_need openjdk-17-jre-headless "Java 17, to run Neo4j" "$(present command -v java)"
apt_need maven "to fetch Neo4j's jars from Maven Central" "$(present command -v mvn)"
if [ "$for_tests" = yes ]; then
  # Playwright drives Debian's Chromium (no browser download); CHROMIUM_PATH may point at another one.
  chromium_found=$(present command -v chromium)
  [ -z "${CHROMIUM_PATH:-}" ] && ! command -v chromium-browser >/dev/null 2>&1 || chromium_found=yes
  apt_need chromium "for the gallery's browser tests" "$chromium_found"
fi

if [ ${#apt_packages[@]} -gt 0 ]; then
  if ! can_apt; then
    for reason in "${apt_reasons[@]}"; do
      say "$reason: missing, and cannot install it (needs root and apt-get); install it yourself" >&2
    done
    hint="or point NEO4J_URI at a Neo4j 5.26 server"
    [ "$for_tests" = no ] || hint="$hint, and CHROMIUM_PATH at a Chromium"
    say "($hint)" >&2
  elif [ "$plan_only" = yes ]; then
    for reason in "${apt_reasons[@]}"; do say "$reason: will install with apt-get"; done
  else
    say "installing ${apt_reasons[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_packages[@]}" >/dev/null
  fi
fi

# ---------------------------------------------------------------- docker compose plugin (tests only)
if [ "$for_tests" = yes ]; then
  why="docker compose CLI plugin (for the test that validates docker-compose.yml)"
  if ! command -v docker >/dev/null 2>&1; then
    [ "$plan_only" = no ] || say "$why: not needed, there is no docker CLI (the test is skipped)"
  elif docker compose version >/dev/null 2>&1; then
    [ "$plan_only" = no ] || say "$why: present"
  elif ! command -v go >/dev/null 2>&1; then
    say "$why: missing, and Go is needed to build it" >&2
  elif [ "$plan_only" = yes ]; then
    say "$why: will build it with Go (~2 min once)"
  else
    say "building the $why; ~2 min once"
    scripts/install-compose-plugin.sh
  fi
fi

# ---------------------------------------------------------------- the virtualenv
python=${PYTHON:-python3}
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
runtime_stamp=.venv/.installed-runtime  # the project and its runtime dependencies
tests_stamp=.venv/.installed            # the same plus the dev extras (a superset)
stamped() { [ -f "$1" ] && [ "$(cat "$1")" = "$want" ]; }

pip_install() {  # <requirement> <what it is for> <stamp>...
  local requirement=$1 what=$2
  shift 2
  if [ "$plan_only" = yes ]; then
    say "$what: will install"
    return
  fi
  say "installing $what"
  [ -x .venv/bin/python ] || "$python" -m venv .venv
  if ! { .venv/bin/python -m pip install -q --upgrade pip && .venv/bin/python -m pip install -q -e "$requirement"; } \
      > .venv/pip.log 2>&1; then
    cat .venv/pip.log >&2
    exit 1
  fi
  for stamp in "$@"; do echo "$want" > "$stamp"; done
}

if [ "$for_tests" = yes ]; then
  what="the project with its runtime dependencies and dev tools into .venv (for the tests and checks: pytest,"
  what="$what playwright, mypy, ruff, grpcio-tools)"
  if stamped "$tests_stamp"; then
    [ "$plan_only" = no ] || say "$what: up to date"
  else
    pip_install '.[dev]' "$what" "$runtime_stamp" "$tests_stamp"
  fi
else
  what="the project with its runtime dependencies into .venv (to run the server, sandbox, gateway and gallery)"
  if stamped "$runtime_stamp" || stamped "$tests_stamp"; then
    [ "$plan_only" = no ] || say "$what: up to date"
  else
    pip_install . "$what" "$runtime_stamp"
  fi
fi
