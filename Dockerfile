# trunkcheck as an image: the harness (`trunkcheck run`), the reference trunk server (`trunkcheck serve`),
# the simulator (`trunkcheck simulate`), tshark and SIPp.
#
#   docker/wheels.sh                    # on the host: the Python wheels the image installs (no pip
#                                       # network access needed during the build)
#   docker build -t trunkcheck .        # where Docker Hub is reachable: BASE=python:3.11-slim-bookworm
#
# Offline (no image registry, as on trunkcheck's CI machines): build the base from Debian packages first;
# it already holds tshark and SIPp, so the build below then needs no network at all.
#
#   docker/build-base.sh
#   docker build --build-arg BASE=trunkcheck-base:bookworm -t trunkcheck .
#
#   docker run --rm -v "$PWD/captures:/work/captures" trunkcheck run        # the suite, embedded server
#   docker run --rm trunkcheck serve --help                                  # the reference server
#   trunkcheck run --topology docker --image trunkcheck                      # on the host: every role in a
#                                                                            # container of its own
ARG BASE=python:3.11-slim-bookworm

# The suite sits outside the Python packages: the behave files (features/, steps/, environment.py), the
# spec its ladders come from (spec/) and the equipment examples (examples/). This stage picks them out.
FROM ${BASE} AS suite
LABEL trunkcheck.stage=suite
COPY . /src
RUN set -eu; mkdir -p /suite; cd /src; \
    for p in features steps environment.py spec examples; do if [ -e "$p" ]; then cp -a "$p" /suite/; fi; done

FROM ${BASE}
ARG DEBIAN_FRONTEND=noninteractive
# System tools: already in trunkcheck-base; installed from Debian's mirror on any other Debian base.
RUN set -eu; missing=; \
    command -v tshark >/dev/null || missing="$missing tshark"; \
    command -v sipp >/dev/null || missing="$missing sip-tester"; \
    command -v ip >/dev/null || missing="$missing iproute2"; \
    command -v tcpdump >/dev/null || missing="$missing tcpdump"; \
    command -v dnsmasq >/dev/null || [ -x /usr/sbin/dnsmasq ] || missing="$missing dnsmasq-base"; \
    python3 -c 'import ensurepip, venv' 2>/dev/null || missing="$missing python3-venv"; \
    if [ -n "$missing" ]; then \
        echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections; \
        apt-get update; \
        apt-get install -y --no-install-recommends $missing; \
        rm -rf /var/lib/apt/lists/*; \
    fi; \
    tshark -v | head -n 1; sipp -v | grep -m 1 SIPp; python3 --version

# trunkcheck and its dependencies from wheels built on the host by docker/wheels.sh: no index is asked.
COPY docker/wheels/ /tmp/wheels/
RUN set -eu; \
    if ! ls /tmp/wheels/trunkcheck-*.whl >/dev/null 2>&1; then \
        echo "no trunkcheck wheel in docker/wheels/: run docker/wheels.sh on the host, then build again" >&2; \
        exit 1; \
    fi; \
    python3 -m venv /opt/trunkcheck; \
    /opt/trunkcheck/bin/pip install --no-cache-dir --no-index --find-links /tmp/wheels 'trunkcheck[docker]'; \
    rm -rf /tmp/wheels
# TRUNKCHECK_SUITE: where `trunkcheck run` finds the suite (the package itself is in site-packages).
ENV PATH=/opt/trunkcheck/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    LANG=C.UTF-8 \
    TRUNKCHECK_SUITE=/work

WORKDIR /work
COPY --from=suite /suite/ /work/
RUN mkdir -p /work/captures
VOLUME ["/work/captures"]

LABEL org.opencontainers.image.title="trunkcheck" \
      org.opencontainers.image.description="SIP trunk conformance harness and reference trunk server"
# Python turns SIGINT into KeyboardInterrupt, which trunkcheck handles; as PID 1 it would ignore SIGTERM.
STOPSIGNAL SIGINT
ENTRYPOINT ["trunkcheck"]
CMD ["run"]
