#!/usr/bin/env bash
# Builds the images listed in deploy/containers/images with podman, docker or buildah, whichever is installed
# (CONTAINER_ENGINE chooses), tagged REGISTRY/NAME:TAG.
# Usage: REGISTRY=registry.example.org/tracker TAG=1.4.0 deploy/containers/build.sh [--push]
# The Docker image format is asked for because the OCI format has no HEALTHCHECK.
set -euo pipefail
cd "$(dirname "$0")/../.."

engine=${CONTAINER_ENGINE:-}
if [ -z "$engine" ]; then
  for candidate in podman docker buildah; do
    if command -v "$candidate" >/dev/null; then engine=$candidate; break; fi
  done
fi
[ -n "$engine" ] || { echo "build.sh: no podman, docker or buildah found (or set CONTAINER_ENGINE)" >&2; exit 1; }

tag=${TAG:-latest}
push=false
[ "${1:-}" = "--push" ] && push=true

while read -r name dockerfile; do
  case "$name" in ''|'#'*) continue ;; esac
  image="${REGISTRY:+$REGISTRY/}$name:$tag"
  echo "build.sh: $image from $dockerfile with $engine"
  case "$engine" in
    buildah) buildah bud --format docker -f "$dockerfile" -t "$image" . ;;
    podman) podman build --format docker -f "$dockerfile" -t "$image" . ;;
    *) "$engine" build -f "$dockerfile" -t "$image" . ;;
  esac
  if $push; then
    "$engine" push "$image"
  fi
done < deploy/containers/images
