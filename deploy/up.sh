#!/usr/bin/env bash
# Gatehouse and its demo apps on a Debian machine with docker.io, from nothing to a running stack,
# without a container registry:
#   deploy/up.sh            (run from anywhere; as root, or a user with sudo)
#
# 1. Starts the Docker engine when it is not running (systemctl, or dockerd in the background
#    when the machine has no systemd), installing docker.io first if dockerd is missing.
# 2. Uses `docker compose` (v2) or `docker-compose` (Debian's 1.29), installing docker-compose
#    when neither works.
# 3. Pulls the Deno base image, or builds a local stand-in when the registry cannot be reached
#    (deploy/offline/build_base_image.sh), and seeds the npm packages the image needs
#    (deploy/offline/seed_node_modules.sh), with Deno from PATH or from npm.
# 4. Builds the images with the classic builder (it uses the local base image), starts the stack
#    detached, waits until Gatehouse is healthy, and copies the development CA out.
#
# Installing packages needs a Debian mirror, and Deno and the npm packages come from the npm
# registry (or a deno already on PATH; DENO_BIN=/path/to/deno also works); nothing comes from a
# container registry. The variables of docker-compose.yml (GATEHOUSE_HTTP_PORT, ...) apply.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
version="$(sed -n 's/^ *"deno": *"\([0-9][0-9.]*\)".*/\1/p' deno.json | head -n 1)"
tag="${GATEHOUSE_TAG:-local}"

step() { printf '\n==> %s\n' "$*"; }
fail() {
  echo "Cannot bring the stack up: $*" >&2
  exit 1
}
as_root() { if [[ "$(id -u)" == 0 ]]; then "$@"; else sudo "$@"; fi; }
apt_install() {
  as_root apt-get update -q && as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "$@" ||
    fail "apt-get install $* failed (is a Debian mirror reachable?)"
}

# --- 1. The engine -------------------------------------------------------------------------
if ! docker info >/dev/null 2>&1; then
  if ! command -v dockerd >/dev/null; then
    step "Installing docker.io (the Docker engine)"
    apt_install docker.io
  fi
  if ! docker info >/dev/null 2>&1; then
    if [[ -d /run/systemd/system ]]; then
      step "Starting the Docker engine (systemctl start docker)"
      as_root systemctl start docker
    else
      step "Starting dockerd in the background (no systemd; log: /var/log/gatehouse-dockerd.log)"
      as_root sh -c 'nohup dockerd >>/var/log/gatehouse-dockerd.log 2>&1 &'
    fi
    for _ in $(seq 1 60); do
      docker info >/dev/null 2>&1 && break
      sleep 1
    done
    docker info >/dev/null 2>&1 ||
      fail "the Docker engine did not answer within 60 s (see /var/log/gatehouse-dockerd.log)"
  fi
fi

# --- 2. Compose ----------------------------------------------------------------------------
if docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
elif command -v docker-compose >/dev/null; then
  compose=(docker-compose)
else
  step "Installing docker-compose"
  apt_install docker-compose
  compose=(docker-compose)
fi
echo "Compose: ${compose[*]}"

# --- 3. Deno, the base image and the npm packages -------------------------------------------
pinned_deno() { command -v deno >/dev/null && deno --version | head -n 1 | grep -q "^deno $version "; }
pinned_deno || export PATH="$root/.tools/node_modules/.bin:$PATH"
if ! pinned_deno; then
  if [[ -n "${DENO_BIN:-}" ]]; then
    mkdir -p .tools/bin && ln -sf "$(readlink -f "$DENO_BIN")" .tools/bin/deno
    export PATH="$root/.tools/bin:$PATH"
  else
    step "Installing deno@$version from npm into .tools/ (for the base image and npm packages)"
    npm install --silent --no-audit --no-fund --prefix .tools "deno@$version" ||
      fail "npm install deno@$version failed (is the npm registry reachable?)"
    export PATH="$root/.tools/node_modules/.bin:$PATH"
  fi
fi
base="denoland/deno:distroless-$version"
if ! docker image inspect "$base" >/dev/null 2>&1; then
  step "Pulling $base"
  if ! timeout 120 docker pull "$base"; then
    step "No registry: building a local $base from the npm deno binary"
    deploy/offline/build_base_image.sh
  fi
fi
step "Seeding the image's npm packages (deploy/docker/node_modules)"
deploy/offline/seed_node_modules.sh

# --- 4. Images and the stack -----------------------------------------------------------------
step "Building the images (classic builder, local base image)"
build() { DOCKER_BUILDKIT=0 docker build --quiet --tag "$@" >/dev/null; }
build "gatehouse:$tag" --build-arg "REVISION=$(git rev-parse HEAD 2>/dev/null || true)" .
build "gatehouse-demo-http:$tag" --build-arg APP=http_app.ts e2e/apps
build "gatehouse-demo-ws:$tag" --build-arg APP=ws_app.ts e2e/apps
build "gatehouse-demo-tcp:$tag" --build-arg APP=tcp_echo.ts \
  --build-arg PROBE=tcp://127.0.0.1:7000 e2e/apps
build "gatehouse-socket-proxy:$tag" deploy/socket-proxy

step "Starting the stack (${compose[*]} up --detach)"
"${compose[@]}" up --detach --no-build
id="$("${compose[@]}" ps -q gatehouse)"
for _ in $(seq 1 60); do
  health="$(docker inspect --format '{{.State.Health.Status}}' "$id")"
  [[ "$health" == healthy ]] && break
  sleep 1
done
[[ "$health" == healthy ]] ||
  fail "Gatehouse is $health after 60 s; see: ${compose[*]} logs gatehouse"
docker cp "$id:/certs/gatehouse-dev-ca.crt" gatehouse-dev-ca.crt

https="${GATEHOUSE_HTTPS_PORT:-443}"
port="$([[ "$https" == 443 ]] && echo "" || echo ":$https")"
cat <<EOF

Gatehouse is running in front of the demo apps.
  curl --cacert gatehouse-dev-ca.crt https://app.localhost$port/
  wss://ws.localhost$port (WebSocket echo); TCP echo: curl telnet://localhost:${GATEHOUSE_TCP_PORT:-7000}
  admin: curl http://127.0.0.1:${GATEHOUSE_ADMIN_PORT:-9901}/status
The development CA is in ./gatehouse-dev-ca.crt: trust it as certs/README.md says.
Logs: ${compose[*]} logs -f gatehouse    Stop: ${compose[*]} down (-v also removes the CA)
EOF
