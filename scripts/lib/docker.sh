# Sourced by scripts/compose-test and scripts/docker-images: a Docker engine to build and run
# Permiso's images on this machine, and the Debian base image made without a registry.
#
#   docker_engine_start   use $DOCKER_HOST when it answers; else start a private dockerd
#                         (no bridge, no iptables: containers share the host's loopback)
#                         with its layers kept in $PERMISO_DOCKER_ROOT
#                         [/var/lib/permiso-docker] so later builds reuse them
#   docker_engine_stop    stop the daemon docker_engine_start started (if it did)
#   ensure_base_image     debian:bookworm-slim from debootstrap --variant=minbase, the rootfs
#                         tarball cached in $PERMISO_DOCKER_CACHE [$PERMISO_DOCKER_ROOT/cache]
#
# Debian's client (/usr/bin/docker, 20.10) and docker-compose (1.29) are used: another
# `docker` earlier in PATH may lack what these need.

DOCKER=${DOCKER:-/usr/bin/docker}
COMPOSE=${COMPOSE:-/usr/bin/docker-compose}
PERMISO_DOCKER_ROOT=${PERMISO_DOCKER_ROOT:-/var/lib/permiso-docker}
PERMISO_DOCKER_CACHE=${PERMISO_DOCKER_CACHE:-$PERMISO_DOCKER_ROOT/cache}
DOCKER_ENGINE_RUN=

docker_engine_start() {
  if [ -n "${DOCKER_HOST:-}" ] && "$DOCKER" info >/dev/null 2>&1; then
    return 0
  fi
  if [ ! -x "$DOCKER" ] || ! command -v dockerd >/dev/null 2>&1 || [ ! -x "$COMPOSE" ]; then
    echo "docker: install docker.io, docker-compose and debootstrap (scripts/bootstrap --containers)" >&2
    return 1
  fi
  DOCKER_ENGINE_RUN=$(mktemp -d "${TMPDIR:-/tmp}/permiso-dockerd.XXXXXX")
  mkdir -p "$PERMISO_DOCKER_ROOT/data"
  dockerd --data-root "$PERMISO_DOCKER_ROOT/data" --exec-root "$DOCKER_ENGINE_RUN/exec" \
    --pidfile "$DOCKER_ENGINE_RUN/dockerd.pid" --host "unix://$DOCKER_ENGINE_RUN/docker.sock" \
    --bridge=none --iptables=false --ip6tables=false >"$DOCKER_ENGINE_RUN/dockerd.log" 2>&1 &
  export DOCKER_HOST="unix://$DOCKER_ENGINE_RUN/docker.sock"
  for _ in $(seq 1 300); do
    "$DOCKER" info >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "docker: dockerd did not answer within 30 s:" >&2
  tail -20 "$DOCKER_ENGINE_RUN/dockerd.log" >&2
  return 1
}

docker_engine_stop() {
  [ -n "$DOCKER_ENGINE_RUN" ] || return 0
  local pid
  pid=$(cat "$DOCKER_ENGINE_RUN/dockerd.pid" 2>/dev/null || true)
  if [ -n "$pid" ]; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 200); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
  fi
  umount "$DOCKER_ENGINE_RUN/exec/netns/default" 2>/dev/null || true
  rm -rf "$DOCKER_ENGINE_RUN"
  DOCKER_ENGINE_RUN=
}

ensure_base_image() {
  if "$DOCKER" image inspect debian:bookworm-slim >/dev/null 2>&1; then
    return 0
  fi
  mkdir -p "$PERMISO_DOCKER_CACHE"
  local tarball="$PERMISO_DOCKER_CACHE/bookworm-minbase.tar"
  if [ ! -s "$tarball" ]; then
    local rootfs mirror
    rootfs=$(mktemp -d "${TMPDIR:-/tmp}/permiso-rootfs.XXXXXX")
    # The mirror apt already uses: no other network is reachable.
    mirror=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' | awk '$2=="bookworm"{print $1; exit}')
    echo "docker: making debian:bookworm-slim with debootstrap from $mirror (once; cached in $tarball)" >&2
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$PERMISO_DOCKER_CACHE/debootstrap.log" 2>&1
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
    rm -rf "$rootfs"
  fi
  "$DOCKER" import - debian:bookworm-slim <"$tarball" >/dev/null
}
