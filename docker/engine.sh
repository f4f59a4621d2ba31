#!/usr/bin/env bash
# Starts (or stops) a Docker engine for trunkcheck on a Debian machine, idempotently.
#
#   docker/engine.sh [start]   install docker.io if missing, start dockerd in the background, wait for it
#   docker/engine.sh stop      stop the dockerd this script started (never one it did not start), unless
#                              containers still run in it (a build's too): stop --force stops it anyway
#   docker/engine.sh status    say whether an engine answers, and whose it is
#
# Addresses: the default bridge (docker0) is moved to 198.18.0.1/24 and networks created without an
# explicit subnet come from 198.18.64.0/18 (one /24 each), so nothing lands in a private range. The harness
# creates its own networks with explicit subnets in 198.18.32.0/19 (harness/docker/engine.py).
#
# Storage: overlay2 where the kernel and the data root allow it, else vfs (slow, but works anywhere).
# Firewall: dockerd's iptables rules through whichever iptables works (iptables-nft is Debian's default);
# if none does, dockerd runs with --iptables=false (user networks and host<->container traffic still work;
# containers then have no NAT to the outside, which trunkcheck does not need).
#
# Forwarding: dockerd runs with --ip-forward=false, so containers reach this host and each other but
# nothing beyond (trunkcheck's traffic stays on its own networks; the offline base needs no mirror
# during `docker build`). TRUNKCHECK_DOCKER_FORWARD=1 lets dockerd enable IPv4 forwarding and NAT (it
# then also sets the FORWARD chain's policy to DROP): needed only to build on a base without tshark and
# SIPp, whose build fetches them from Debian's mirror. `stop` puts back IPv4 forwarding and the FORWARD
# policy as they were before `start`, and removes docker0.
#
# Environment: TRUNKCHECK_DOCKERD_STATE (pid and log; default ${TMPDIR:-/tmp}/trunkcheck-dockerd),
# TRUNKCHECK_DOCKERD_WAIT (seconds to wait for `docker info`; default 60),
# TRUNKCHECK_DOCKER_STORAGE (force a storage driver), TRUNKCHECK_DOCKERD_ARGS (extra dockerd arguments).
set -euo pipefail

STATE=${TRUNKCHECK_DOCKERD_STATE:-${TMPDIR:-/tmp}/trunkcheck-dockerd}
WAIT=${TRUNKCHECK_DOCKERD_WAIT:-60}
PIDFILE=$STATE/started.pid        # written by this script: the dockerd it started
DOCKERD_PIDFILE=$STATE/dockerd.pid # written by dockerd itself
LOG=$STATE/dockerd.log
BIP=198.18.0.1/24
POOL=base=198.18.64.0/18,size=24

say() { echo "engine.sh: $*"; }
die() { echo "engine.sh: $*" >&2; exit 1; }

engine_answers() { timeout 10 docker info >/dev/null 2>&1; }

our_pid() {
    [[ -f $PIDFILE ]] || return 1
    local pid
    pid=$(cat "$PIDFILE")
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == dockerd ]] \
        && echo "$pid"
}

install_engine() {
    command -v dockerd >/dev/null && command -v docker >/dev/null && return 0
    [[ $(id -u) -eq 0 ]] || die "docker.io is not installed and this is not root: run as root, or install docker.io"
    say "installing docker.io (Debian) ..."
    export DEBIAN_FRONTEND=noninteractive
    timeout 300 apt-get update -qq
    timeout 600 apt-get install -y -qq --no-install-recommends docker.io iptables >/dev/null
}

firewall_args() {
    if timeout 10 iptables -t nat -S >/dev/null 2>&1 && timeout 10 iptables -t filter -S >/dev/null 2>&1; then
        return 0
    fi
    say "iptables does not work here ($(timeout 10 iptables -t nat -S 2>&1 | head -1)); starting dockerd with --iptables=false" >&2
    echo "--iptables=false"
}

# start_with DRIVER: starts dockerd with that storage driver; returns 0 once `docker info` answers,
# 1 if dockerd exited (the log says why), 2 if it did not answer within $WAIT seconds.
start_with() {
    local driver=$1 fw forward=--ip-forward=false pid deadline
    fw=$(firewall_args)
    [[ ${TRUNKCHECK_DOCKER_FORWARD:-0} == 1 ]] && forward=
    rm -f "$DOCKERD_PIDFILE" # stale from a dockerd that died: dockerd refuses to start over it
    echo "=== engine.sh: dockerd start $(date -u +%FT%TZ) storage $driver $fw $forward" >>"$LOG"
    # shellcheck disable=SC2086  # word splitting of the optional arguments is intended
    setsid dockerd --bip "$BIP" --default-address-pool "$POOL" --storage-driver "$driver" \
        --pidfile "$DOCKERD_PIDFILE" $fw $forward ${TRUNKCHECK_DOCKERD_ARGS:-} >>"$LOG" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$PIDFILE"
    deadline=$((SECONDS + WAIT))
    while ((SECONDS < deadline)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            return 1
        fi
        engine_answers && return 0
        sleep 0.5
    done
    return 2
}

# What dockerd may change on the host (IPv4 forwarding, the FORWARD chain's policy), saved before it starts
# and put back after it stops; and its default bridge, removed after it stops.
save_host_state() {
    { echo "ip_forward=$(cat /proc/sys/net/ipv4/ip_forward)"
      echo "forward_policy=$(timeout 10 iptables -S FORWARD 2>/dev/null | awk '$1 == "-P" {print $3}')"
    } >"$STATE/host-state"
}

restore_host_state() {
    if [[ -f $STATE/host-state ]]; then
        local ip_forward forward_policy
        ip_forward=$(sed -n 's/^ip_forward=//p' "$STATE/host-state")
        forward_policy=$(sed -n 's/^forward_policy=//p' "$STATE/host-state")
        [[ -n $ip_forward ]] && echo "$ip_forward" >/proc/sys/net/ipv4/ip_forward
        [[ -n $forward_policy ]] && timeout 10 iptables -P FORWARD "$forward_policy" 2>/dev/null || true
        rm -f "$STATE/host-state"
    fi
    ip link show docker0 >/dev/null 2>&1 && ip link delete docker0 2>/dev/null || true
}

stop_engine() {
    local pid running
    if ! pid=$(our_pid); then
        rm -f "$PIDFILE"
        say "no dockerd started by this script is running (state in $STATE)"
        return 0
    fi
    if [[ ${1:-} != --force ]]; then
        running=$(timeout 10 docker ps --format '{{.Names}}' 2>/dev/null | tr '\n' ' ' || true)
        if [[ -n $running ]]; then
            say "not stopping dockerd $pid: containers still run in it (${running% }), perhaps another user's;" \
                "stop them first, or: $0 stop --force" >&2
            return 3
        fi
    fi
    kill -TERM "$pid"
    for _ in $(seq 1 60); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "dockerd $pid did not stop in 30 s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$PIDFILE"
    restore_host_state
    say "stopped dockerd $pid"
}

start_engine() {
    local t0=$SECONDS rc driver pid
    local -a drivers
    mkdir -p "$STATE"
    if engine_answers; then
        if pid=$(our_pid); then
            say "dockerd $pid (started by this script) is already running"
        else
            say "a Docker engine already answers at ${DOCKER_HOST:-unix:///var/run/docker.sock}; using it"
        fi
        return 0
    fi
    install_engine
    [[ $(id -u) -eq 0 ]] || die "no Docker engine answers and starting dockerd needs root: run as root, or set DOCKER_HOST"
    if pid=$(our_pid); then
        die "dockerd $pid is running but does not answer 'docker info'; see $LOG, or run: $0 stop"
    fi
    [[ -f $STATE/host-state ]] || save_host_state
    if [[ -n ${TRUNKCHECK_DOCKER_STORAGE:-} ]]; then
        drivers=("$TRUNKCHECK_DOCKER_STORAGE")
    else
        drivers=(overlay2 vfs)
    fi
    for driver in "${drivers[@]}"; do
        rc=0
        start_with "$driver" || rc=$?
        if ((rc == 0)); then
            say "dockerd $(cat "$PIDFILE") ready in $((SECONDS - t0)) s (storage $driver, bridge $BIP, pool $POOL; log $LOG)"
            return 0
        fi
        if ((rc == 2)); then
            stop_engine --force >/dev/null
            die "dockerd did not answer 'docker info' within ${WAIT} s (storage $driver); last log lines:
$(tail -n 15 "$LOG")"
        fi
        say "dockerd exited at start with storage $driver; last log lines:" >&2
        tail -n 5 "$LOG" >&2
        rm -f "$PIDFILE"
    done
    die "dockerd could not start with any storage driver (${drivers[*]}); full log: $LOG"
}

case ${1:-start} in
    start) start_engine ;;
    stop) stop_engine "${2:-}" ;;
    status)
        if engine_answers; then
            if pid=$(our_pid); then say "running: dockerd $pid, started by this script"; else say "running: an engine this script did not start"; fi
        else
            say "no Docker engine answers"; exit 1
        fi
        ;;
    *) die "unknown command '$1' (start, stop or status)" ;;
esac
