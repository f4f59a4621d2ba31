#!/usr/bin/env bash
# Sets up everything trunkcheck needs on a fresh Debian machine, idempotently:
#   - system packages (tshark for pyshark's decode, SIPp, baresip and Kamailio as interop peers, dnsmasq as
#     the DNS server of the RFC 3263 tests),
#   - a virtual environment in .venv with trunkcheck and its development tools.
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(tshark sip-tester baresip kamailio kamailio-tls-modules sipsak linphone-cli tcpdump iproute2 iptables dnsmasq-base)
VENV=${TRUNKCHECK_VENV:-.venv}
PYTHON=${PYTHON:-python3}

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        echo "setup: installing system packages: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
        timeout 600 apt-get update -qq
        timeout 900 apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        echo "setup: missing system packages (${missing[*]}); run as root or install them; tests that need them will skip" >&2
    fi
fi

if [[ ! -x $VENV/bin/python ]]; then
    echo "setup: creating virtual environment $VENV"
    "$PYTHON" -m venv "$VENV"
fi
stamp=$VENV/.trunkcheck-installed
if [[ ! -f $stamp || pyproject.toml -nt $stamp ]]; then
    echo "setup: installing trunkcheck and its development tools into $VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
    "$VENV/bin/python" -m pip install -q -e '.[dev,docker,fast]'
    touch "$stamp"
fi
