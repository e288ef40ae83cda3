# Sourced (not run) by the container scripts: a Docker daemon for this run, never a silent skip.
#   docker_up LOGDIR   installs Debian's docker.io and debootstrap when missing (apt, as root),
#                      then uses the daemon that answers (`docker info`) or starts `dockerd` as
#                      root (default data root, so images such as the base image outlive the
#                      run; its log in LOGDIR/dockerd.log). Fails loudly when Docker cannot work.
#   docker_down        stops the daemon if docker_up started it (images stay on disk).
# shellcheck shell=bash

docker_started_pid=""

docker_say() { printf 'docker: %s\n' "$*"; }
docker_fail() { printf '\033[1mdocker: FAILED:\033[0m %s\n' "$*" >&2; return 1; }

docker_up() { # logdir
  local logdir=$1 missing=() p
  mkdir -p "$logdir"
  command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
  command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
  if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || { docker_fail "missing ${missing[*]} and not root: install them (apt-get install ${missing[*]})"; return 1; }
    docker_say "installing ${missing[*]} (apt-get)"
    apt-get update -qq >"$logdir/apt.log" 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$logdir/apt.log" 2>&1 \
      || { tail -n 20 "$logdir/apt.log"; docker_fail "apt-get install ${missing[*]}"; return 1; }
  else
    docker_say "docker.io and debootstrap: present"
  fi
  if docker info >/dev/null 2>&1; then
    docker_say "a Docker daemon answers: using it ($(docker version -f '{{.Server.Version}}'))"
    return 0
  fi
  [ "$(id -u)" = 0 ] || { docker_fail "no Docker daemon answers and dockerd needs root"; return 1; }
  docker_say "starting dockerd (log: $logdir/dockerd.log)"
  dockerd >"$logdir/dockerd.log" 2>&1 &
  docker_started_pid=$!
  for p in $(seq 1 120); do
    docker info >/dev/null 2>&1 && { docker_say "dockerd $(docker version -f '{{.Server.Version}}') is up (pid $docker_started_pid)"; return 0; }
    kill -0 "$docker_started_pid" 2>/dev/null || break
    sleep 0.5
  done
  tail -n 30 "$logdir/dockerd.log" >&2
  docker_started_pid=""
  docker_fail "dockerd did not start (log above)"
}

docker_down() {
  [ -n "$docker_started_pid" ] || return 0
  docker_say "stopping the dockerd this run started (pid $docker_started_pid)"
  kill "$docker_started_pid" 2>/dev/null || true
  local _
  for _ in $(seq 1 60); do
    kill -0 "$docker_started_pid" 2>/dev/null || break
    sleep 0.5
  done
  docker_started_pid=""
}
