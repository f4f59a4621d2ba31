"""`trunkcheck ladder FILE.pcap`: the SIP (and RTP) of any capture as an ASCII ladder in the spec's format.

    trunkcheck ladder captures/20261126-074512/early-media/the-documented-early-media-flow.pcap
    trunkcheck ladder call.pcap --roles 10.0.0.5=UA,10.0.0.1=VoIPBin,10.0.0.9=Destination --sip-port 5080

Columns are named by IP address, or by the names `--roles` gives (an address, or address:port, = a name);
with `--trunkcheck-roles` the harness's own loopback addresses are named (UA, VoIPBin, Destination ...).
Decoded by tshark; SIP on port 5060 and the harness's ports is found without options, other ports need
`--sip-port` (a port or a range, repeatable). Exit status 2 when the file cannot be decoded.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.decode import DecodedRtp, DecodeError, decode_file, to_observed
from harness.expected import column_order
from harness.ladder import render_observed
from harness.topology import ADDRESSES, LOOPBACK_ENV, SIP_PORT_RANGE, use_loopback

__all__ = ["build_parser", "main", "parse_roles", "render_pcap"]


def parse_roles(text: str) -> dict[str, str]:
    """`127.0.0.10=UA,127.0.0.20:5060=VoIPBin` -> {"127.0.0.10": "UA", "127.0.0.20:5060": "VoIPBin"}."""
    out: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        addr, sep, name = item.partition("=")
        if not sep or not addr.strip() or not name.strip():
            raise ValueError(f"--roles: {item!r} is not ADDRESS=NAME (e.g. 127.0.0.10=UA)")
        out[addr.strip()] = name.strip()
    return out


def render_pcap(
    path: Path, *, roles: dict[str, str] | None = None, sip_ports: list[str] | None = None, rtp: bool = True
) -> str:
    decoded = decode_file(path, sip_ports=[5060, SIP_PORT_RANGE, *(sip_ports or [])])
    if not rtp:
        decoded = [d for d in decoded if not isinstance(d, DecodedRtp)]
    names = dict(roles or {})
    role_map: dict[object, str] = {}
    for item in decoded:
        for ip, port in (item.src, item.dst):
            name = names.get(f"{ip}:{port}") or names.get(ip) or ip
            role_map[(ip, port)] = name
    observed = to_observed(decoded, role_map)
    if not observed:
        return ""
    seen = [r for o in observed for r in (o.src, o.dst)]
    known = column_order(seen)
    first_seen = list(dict.fromkeys(seen))
    columns = known if set(known) == set(first_seen) and roles else first_seen
    return render_observed(observed, columns)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trunkcheck ladder", description=__doc__.split("\n")[0])
    parser.add_argument("pcap", type=Path, help="a capture file (pcap or pcapng)")
    parser.add_argument("--roles", default="", metavar="ADDR=NAME,...", help="name the columns")
    parser.add_argument("--trunkcheck-roles", action="store_true",
                        help="name the harness's loopback addresses: " +
                        ", ".join(f"{ip}={name}" for name, ip in ADDRESSES.items()))
    parser.add_argument("--loopback", metavar="BASE",
                        help="with --trunkcheck-roles: the roles' loopback block of a `trunkcheck run --loopback "
                        f"BASE` run (default ${LOOPBACK_ENV}, else 127.0.0.0)")
    parser.add_argument("--sip-port", action="append", default=[], metavar="PORT",
                        help="decode this UDP/TCP port (or range A-B) as SIP (repeatable)")
    parser.add_argument("--no-rtp", action="store_true", help="leave RTP out of the ladder")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        roles = parse_roles(args.roles)
        if args.trunkcheck_roles:
            use_loopback(args.loopback)
    except ValueError as err:
        print(f"trunkcheck ladder: {err}", file=sys.stderr)
        return 2
    if args.trunkcheck_roles:
        roles = {**{ip: name for name, ip in ADDRESSES.items()}, **roles}
    if not args.pcap.is_file():
        print(f"trunkcheck ladder: {args.pcap}: no such file", file=sys.stderr)
        return 2
    try:
        text = render_pcap(args.pcap, roles=roles, sip_ports=args.sip_port, rtp=not args.no_rtp)
    except (DecodeError, OSError) as err:
        print(f"trunkcheck ladder: cannot decode {args.pcap}: {err}", file=sys.stderr)
        return 2
    if not text:
        print(f"trunkcheck ladder: {args.pcap}: no SIP or RTP found (other SIP ports? use --sip-port)",
              file=sys.stderr)
        return 1
    sys.stdout.write(text)
    return 0
