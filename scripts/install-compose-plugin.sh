#!/usr/bin/env bash
# Builds the `docker compose` CLI plugin from its Go module when the docker CLI is present without it
# (no engine is needed for `docker compose config`, which the tests run). Needs Go; about 2 minutes.
set -euo pipefail
version=v2.40.3
module=github.com/docker/compose/v2
target=${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins/docker-compose

source_dir=$(go mod download -json "$module@$version" | python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$source_dir/." "$work"
chmod -R u+w "$work"
mkdir -p "$(dirname "$target")"
# Built inside the module (not `go install`): its go.mod has exclude directives that go install refuses.
(cd "$work" && go build -trimpath -ldflags "-X $module/internal.Version=$version" -o "$target" ./cmd)
echo "installed $("$target" version)"
