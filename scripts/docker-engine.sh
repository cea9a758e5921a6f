#!/usr/bin/env bash
# Start a local Docker engine for the `docker` sandbox, installing it if needed.
#
# Installs Debian's docker.io when dockerd is missing, and debootstrap (which
# build-base-image.sh needs) in the same apt run, so a fresh machine updates
# the package lists once.
#
# The engine runs without any container networking (--bridge=none,
# --iptables=false): a sandboxed submission must never reach a network, and
# this also keeps the engine from touching the host's firewall rules.
#
# Idempotent: when an engine already answers on the socket, exits at once.
# Needs root (it installs packages and starts a daemon).
#
# Environment:
#   HARNESS_DOCKERD_LOG      where dockerd writes its log
#                            (default /var/log/harness-dockerd.log)
#   HARNESS_DOCKERD_TIMEOUT  seconds to wait for the socket (default 60)
set -euo pipefail

log_file="${HARNESS_DOCKERD_LOG:-/var/log/harness-dockerd.log}"
timeout_s="${HARNESS_DOCKERD_TIMEOUT:-60}"
socket=/var/run/docker.sock

say() { printf 'docker-engine: %s\n' "$*" >&2; }

engine_answers() {
    # The engine's own ping endpoint; needs no client/server version match.
    [ -S "$socket" ] && command -v curl >/dev/null 2>&1 \
        && curl -fsS --max-time 2 --unix-socket "$socket" http://localhost/_ping \
            >/dev/null 2>&1 && return 0
    [ -S "$socket" ] && command -v docker >/dev/null 2>&1 \
        && docker version --format '{{.Server.Version}}' >/dev/null 2>&1
}

if engine_answers; then
    say "engine already running"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    say "no engine answers on $socket and starting one needs root"
    exit 1
fi

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if [ "${#missing[@]}" -gt 0 ]; then
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Whether process $1 is alive (and, when $2 is given, named $2). A daemon
# killed uncleanly can linger as a zombie until reaped, and dockerd takes a
# zombie named in a pid file for a live daemon, then waits for it forever
# instead of starting one.
running() {
    local state
    [ -n "$1" ] && [ -r "/proc/$1/stat" ] || return 1
    [ -z "${2:-}" ] || [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ] || return 1
    state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)"
    [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# Whether the pid file $1 names a live process called $2.
alive() {
    running "$(cat "$1" 2>/dev/null)" "$2"
}

mkdir -p "$(dirname "$log_file")"
touch "$log_file"
log_start=$(($(stat -c %s "$log_file") + 1))
started=""
if ! alive /var/run/docker.pid dockerd; then
    rm -f /var/run/docker.pid
    if ! alive /var/run/docker/containerd/containerd.pid containerd; then
        rm -f /var/run/docker/containerd/containerd.pid
    fi
    say "starting dockerd (log: $log_file)"
    # setsid detaches the daemon from this shell's session, so it outlives the
    # script and is not hit by signals sent to the caller's process group.
    setsid dockerd \
        --storage-driver=overlay2 \
        --iptables=false \
        --bridge=none \
        --host="unix://$socket" \
        >>"$log_file" 2>&1 </dev/null &
    started=$!
fi

deadline=$((SECONDS + timeout_s))
until engine_answers; do
    # Not by name: until setsid has exec'd dockerd, the process is "setsid".
    if [ -n "$started" ] && ! running "$started"; then
        say "dockerd exited while starting; its log says:"
        tail -c "+$log_start" "$log_file" | tail -n 20 >&2
        exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
        say "engine did not answer within ${timeout_s}s; its log says:"
        tail -c "+$log_start" "$log_file" | tail -n 20 >&2
        exit 1
    fi
    sleep 0.5
done
say "engine ready"
