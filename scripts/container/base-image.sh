#!/usr/bin/env bash
# Make the base image the Containerfile starts from (docker.io/library/debian:bookworm-slim)
# when it is not there and cannot be pulled: debootstrap's minbase of Debian bookworm from
# the mirror apt already uses, imported into podman under the same name.
set -euo pipefail
IMAGE=${BASE_IMAGE:-docker.io/library/debian:bookworm-slim}
export CONTAINERS_CONF=${CONTAINERS_CONF:-$(cd "$(dirname "$0")/../.." && pwd)/deploy/podman/containers.conf}

if podman image exists "$IMAGE"; then
  echo "base image: $IMAGE is there"
  exit 0
fi
if timeout 60 podman pull -q "$IMAGE" >/dev/null 2>&1; then
  echo "base image: pulled $IMAGE"
  exit 0
fi
command -v debootstrap >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap
}
# The first Debian mirror apt is set up with (deb822 .sources or a sources.list line).
mirror=$(grep -hoE '^URIs: *http[^ ]*/debian/?$' /etc/apt/sources.list.d/*.sources 2>/dev/null \
  | head -1 | sed 's/^URIs: *//' || true)
if [ -z "$mirror" ]; then
  mirror=$(grep -hoE '^deb +http[^ ]*/debian/? ' /etc/apt/sources.list 2>/dev/null \
    | head -1 | awk '{print $2}' || true)
fi
mirror=${mirror:-http://deb.debian.org/debian}

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
echo "base image: debootstrap --variant=minbase bookworm from $mirror (a few minutes)"
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.log" 2>&1 \
  || { tail -20 "$root.log"; rm -f "$root.log"; exit 1; }
rm -f "$root.log"
# What the official slim image leaves out: package lists, caches, documentation.
echo "deb $mirror bookworm main" >"$root/etc/apt/sources.list"
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
  "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/var/log/*.log
tar -C "$root" -c . | podman import --change 'CMD ["bash"]' - "$IMAGE" >/dev/null
echo "base image: made $IMAGE ($(podman image inspect --format '{{.Size}}' "$IMAGE") bytes)"
