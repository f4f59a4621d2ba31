#!/usr/bin/env bash
# Builds (and downloads) every wheel the trunkcheck image installs into docker/wheels/, on the host, so
# that `docker build` needs no network for Python packages: trunkcheck itself plus its dependencies and
# the `docker` extra. Uses this machine's pip and its configuration (index, certificates), as a plain
# `pip install` here would.
#
#   docker/wheels.sh [--clean]     --clean empties docker/wheels/ first
#
# The image's Python is 3.11 on Debian 12 (or python:3.11-slim-bookworm), so the wheels are built with a
# Python 3.11 here: $PYTHON, else .venv/bin/python, else python3.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=docker/wheels

if [[ -n ${PYTHON:-} ]]; then :; elif [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
ver=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
[[ $ver == 3.11 ]] || { echo "wheels.sh: $PYTHON is Python $ver; the image runs 3.11 (set PYTHON to a 3.11 interpreter)" >&2; exit 1; }

[[ ${1:-} == --clean ]] && rm -rf "$OUT"
mkdir -p "$OUT"
rm -f "$OUT"/trunkcheck-*.whl   # always rebuilt from the work tree
t0=$SECONDS
log=$(mktemp)
if ! timeout 600 "$PYTHON" -m pip wheel --disable-pip-version-check '.[docker]' -w "$OUT" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    rm -f "$log"
    echo "wheels.sh: pip wheel failed or took over 10 min (its output above)" >&2
    exit 1
fi
rm -f "$log"
echo "wheels.sh: $(ls "$OUT" | wc -l) wheels in $OUT ($(du -sh "$OUT" | cut -f1)) in $((SECONDS - t0)) s"
