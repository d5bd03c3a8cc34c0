#!/usr/bin/env bash
# The images deploy/compose.yaml runs beside the service: the official ones when they can be
# pulled, else stand-ins built from the same Debian base and Debian's packages
# (deploy/local/*.Containerfile). Prints the variables to export for compose, e.g.
#   eval "$(scripts/container/standins.sh)"
set -euo pipefail
cd "$(dirname "$0")/../.."
export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/deploy/podman/containers.conf}

pick() {  # pick VARIABLE OFFICIAL NAME: the official image, or the local stand-in NAME
  local variable=$1 official=$2 name=$3 local_image="localhost/shopapi-$3:bookworm"
  if podman image exists "$official" || timeout 60 podman pull -q "$official" >/dev/null 2>&1; then
    echo "export $variable=$official"
    return
  fi
  if ! podman image exists "$local_image"; then
    echo "stand-in: building $local_image ($official cannot be pulled)" >&2
    podman build --format docker -q -f "deploy/local/$name.Containerfile" -t "$local_image" \
      deploy/local >&2
  fi
  echo "export $variable=$local_image"
}

bash scripts/container/base-image.sh >&2
# Keep these in step with the defaults in deploy/compose.yaml.
pick MARIADB_IMAGE docker.io/library/mariadb:11.4 mariadb
pick REDIS_IMAGE docker.io/library/redis:7.4 redis
pick NGINX_IMAGE docker.io/library/nginx:1.26 nginx
