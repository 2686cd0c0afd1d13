#!/usr/bin/env bash
# Builds a local stand-in for the official Deno base image, for machines that cannot pull from a
# registry, and tags it with the exact name the Dockerfile's FROM uses:
#   denoland/deno:distroless-<engines.deno from deno.json>
# Contents, like the official distroless image: /bin/deno, the glibc libraries it links, a non-root
# user "deno" (uid 1993), /tmp, /etc/nsswitch.conf, DENO_DIR=/deno-dir/, ENTRYPOINT ["/bin/deno"].
# No shell, no package manager. The deno binary is the npm package's (the same one `npm install
# deno` puts on PATH): DENO_BIN=/path/to/deno overrides, else `deno` on PATH when its version is the
# pinned one, else `npm install deno@<version>` into a temporary directory.
#
# Usage: deploy/offline/build_base_image.sh [--force]   (run from anywhere)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
version="$(sed -n 's/^ *"deno": *"\([0-9][0-9.]*\)".*/\1/p' "$root/deno.json" | head -n 1)"
if [[ -z "$version" ]]; then
  echo "Cannot read engines.deno from $root/deno.json: add \"engines\": { \"deno\": \"X.Y.Z\" }" >&2
  exit 1
fi
image="denoland/deno:distroless-$version"

if [[ "${1:-}" != "--force" ]] && docker image inspect "$image" >/dev/null 2>&1; then
  echo "$image already exists (pass --force to rebuild it)"
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

is_pinned_deno() { [[ -x "$1" ]] && "$1" --version 2>/dev/null | head -n 1 | grep -qx "deno $version .*"; }

bin="${DENO_BIN:-}"
if [[ -z "$bin" ]] && command -v deno >/dev/null && is_pinned_deno "$(readlink -f "$(command -v deno)")"; then
  bin="$(readlink -f "$(command -v deno)")"
fi
if [[ -z "$bin" ]]; then
  echo "Installing deno@$version from npm into $work/npm"
  npm install --silent --no-audit --no-fund --prefix "$work/npm" "deno@$version" >&2
  bin="$(readlink -f "$work/npm/node_modules/.bin/deno")"
fi
if ! is_pinned_deno "$bin" || ! head -c 4 "$bin" | grep -q ELF; then
  echo "Cannot use $bin as the base image's deno: it is not the deno $version executable" >&2
  exit 1
fi

rootfs="$work/rootfs"
mkdir -p "$rootfs"/{bin,etc,tmp}
chmod 1777 "$rootfs/tmp"
install -m 0755 "$bin" "$rootfs/bin/deno"

# The dynamic loader and every library ldd lists, at the paths the binary asks for.
ldd "$bin" | grep -o '/[^ ]*' | sort -u | while read -r lib; do
  mkdir -p "$rootfs$(dirname "$lib")"
  cp -L "$lib" "$rootfs$lib"
done

cat >"$rootfs/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
deno:x:1993:1993:deno:/deno-dir:/sbin/nologin
PASSWD
cat >"$rootfs/etc/group" <<'GROUP'
root:x:0:
nogroup:x:65534:
deno:x:1993:
GROUP
printf 'hosts: files dns\n' >"$rootfs/etc/nsswitch.conf"

tar --numeric-owner --owner=0 --group=0 -C "$rootfs" -c . | docker import \
  --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
  --change "ENV DENO_DIR=/deno-dir/" \
  --change "ENV DENO_INSTALL_ROOT=/usr/local" \
  --change "ENV DENO_VERSION=$version" \
  --change "LABEL org.opencontainers.image.description=\"Local stand-in for $image, built by deploy/offline/build_base_image.sh from the npm deno binary\"" \
  --change 'ENTRYPOINT ["/bin/deno"]' \
  --change "CMD [\"eval\", \"console.log('Welcome to Deno!')\"]" \
  - "$image" >/dev/null
echo "Built $image ($(docker image inspect --format '{{.Size}}' "$image" | awk '{printf "%.1f MB", $1 / 1e6}'))"
