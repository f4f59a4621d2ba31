#!/usr/bin/env bash
# Builds trunkcheck's local base image from Debian packages, for machines that reach no image registry:
# a debootstrap (minbase) root filesystem of Debian 12 with Python 3.11, tshark, SIPp and a few network
# tools, imported with `docker import`. The trunkcheck image then builds on it with no network at all:
#
#   docker/build-base.sh [--force] [--tag TAG] [--mirror URI]
#   docker build --build-arg BASE=trunkcheck-base:bookworm -t trunkcheck .
#
# Cached twice: nothing is done when the image exists (unless --force), and the root filesystem's tarball
# is kept in ${XDG_CACHE_HOME:-~/.cache}/trunkcheck/ (keyed by the package list and mirror), so the image
# comes back in seconds after a `docker rmi`. --force rebuilds both.
#
# MIRROR: the Debian URI in apt's own sources on this machine (deb822 *.sources or sources.list), else
# http://deb.debian.org/debian. Needs root, debootstrap (installed if missing) and a running engine
# (docker/engine.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

TAG=trunkcheck-base:bookworm
SUITE=bookworm
FORCE=0
MIRROR=
# python3-venv: the image installs trunkcheck into a venv; tshark: pyshark's decode; sip-tester: SIPp;
# iproute2, tcpdump, iputils-ping: looking at a container's network when something goes wrong;
# dnsmasq-base: the DNS server of the @dns failover scenario.
PACKAGES=python3,python3-venv,ca-certificates,tshark,sip-tester,iproute2,tcpdump,iputils-ping,dnsmasq-base

say() { echo "build-base.sh: $*"; }
die() { echo "build-base.sh: $*" >&2; exit 1; }

while (($#)); do
    case $1 in
        --force) FORCE=1 ;;
        --tag) TAG=${2:?--tag needs a value}; shift ;;
        --mirror) MIRROR=${2:?--mirror needs a value}; shift ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) die "unknown option '$1' (--force, --tag TAG, --mirror URI)" ;;
    esac
    shift
done

apt_mirror() {
    # First URI of a deb source for Debian's main archive (not -security, not third-party repositories).
    local f uri
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f $f ]] || continue
        uri=$(awk '/^URIs:/ {for (i = 2; i <= NF; i++) print $i}' "$f" | grep -E '/debian/?$' | head -1 || true)
        [[ -n $uri ]] && { echo "${uri%/}"; return; }
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f $f ]] || continue
        uri=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; break } }' "$f" \
            | grep -E '/debian/?$' | head -1 || true)
        [[ -n $uri ]] && { echo "${uri%/}"; return; }
    done
    echo http://deb.debian.org/debian
}

timeout 15 docker info >/dev/null 2>&1 || die "no Docker engine answers: start one with docker/engine.sh (as root) or set DOCKER_HOST"
if ((!FORCE)) && docker image inspect "$TAG" >/dev/null 2>&1; then
    say "$TAG exists; nothing to do (--force rebuilds it)"
    exit 0
fi

MIRROR=${MIRROR:-$(apt_mirror)}
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/trunkcheck
KEY=$(printf '%s\n' "$SUITE" "$MIRROR" "$PACKAGES" "minbase-v1" | sha256sum | cut -c1-16)
TARBALL=$CACHE/base-$SUITE-$KEY.tar
mkdir -p "$CACHE"
t0=$SECONDS

if ((FORCE)) || [[ ! -s $TARBALL ]]; then
    [[ $(id -u) -eq 0 ]] || die "debootstrap needs root: run as root"
    if ! command -v debootstrap >/dev/null; then
        say "installing debootstrap ..."
        export DEBIAN_FRONTEND=noninteractive
        timeout 300 apt-get update -qq
        timeout 300 apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
    fi
    ROOT=$(mktemp -d "${TMPDIR:-/tmp}/trunkcheck-rootfs.XXXXXX")
    trap 'rm -rf "$ROOT"' EXIT
    say "debootstrap $SUITE from $MIRROR with $PACKAGES (a few minutes) ..."
    if ! timeout 1200 debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOT" "$MIRROR" \
        >"$ROOT.log" 2>&1; then
        tail -n 20 "$ROOT.log" >&2
        die "debootstrap failed or took over 20 min (log above, full log $ROOT.log)"
    fi
    rm -f "$ROOT.log"
    # apt inside the image uses the same mirror; the package lists and .debs are not kept.
    rm -f "$ROOT/etc/apt/sources.list"
    cat >"$ROOT/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    rm -rf "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/apt/*.bin "$ROOT"/var/cache/apt/archives/*.deb \
        "$ROOT"/usr/share/doc/* "$ROOT"/usr/share/man/* "$ROOT"/usr/share/info/* "$ROOT"/var/log/*.log
    : >"$ROOT/etc/hostname"
    say "debootstrap done in $((SECONDS - t0)) s; packing $TARBALL"
    tar --numeric-owner -C "$ROOT" -cf "$TARBALL.part" .
    mv "$TARBALL.part" "$TARBALL"
    rm -rf "$ROOT"
    trap - EXIT
else
    say "using the cached root filesystem $TARBALL"
fi

t1=$SECONDS
timeout 600 docker import \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/bash"]' \
    --change "LABEL org.opencontainers.image.description=\"trunkcheck base: Debian $SUITE minbase with $PACKAGES\"" \
    --message "debootstrap --variant=minbase --include=$PACKAGES $SUITE $MIRROR" \
    "$TARBALL" "$TAG" >/dev/null
size=$(docker image inspect -f '{{.Size}}' "$TAG")
say "$TAG ready: import $((SECONDS - t1)) s, total $((SECONDS - t0)) s, $((size / 1000000)) MB"
