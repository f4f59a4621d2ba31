"""`trunkcheck ladder FILE.pcap`: the SIP (and RTP) of any capture as an ASCII ladder in the spec's format.

    trunkcheck ladder captures/20261126-074512/early-media/the-documented-early-media-flow.pcap
    trunkcheck ladder call.pcap --roles 10.0.0.5=UA,10.0.0.1=VoIPBin,10.0.0.9=Destination --sip-port 5080

Columns are named by IP address, or by the names `--roles` gives: `IP=NAME` names an address, `IP:PORT=NAME`
one transport address, for roles that share an IP (a laptop, a single-address SBC):

    trunkcheck ladder call.pcap --roles 127.0.0.1:5070=VoIPBin,127.0.0.1:5090=Destination --sip-port 5070

On such a shared IP, RTP goes to the role whose SDP announced its port first (harness.capture.roles); an
`IP=NAME` beside the `IP:PORT=NAME`s names whatever else is on that IP. An IP that sends SIP to itself is drawn by
ip:port even without `--roles`. With `--trunkcheck-roles` the harness's own loopback addresses are named
(UA, VoIPBin, Destination ...).
Decoded by tshark; SIP on port 5060 and the harness's ports is found without options, other ports need
`--sip-port` (a port or a range, repeatable). Exit status 2 when the file cannot be decoded.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.capture.decode import Decoded, DecodedMessage, DecodedRtp, DecodeError, decode_file, to_observed
from harness.capture.roles import RoleKey, RoleMap, parse_address_key
from harness.ladder import render_observed
from harness.ladder.expected import ROLE_ORDER, column_order
from harness.suite.dns_failover import SILENT, silent_ip
from harness.topology import LOOPBACK_ENV, LOOPBACK_ROLES, SIP_PORT_RANGE, RoleAddresses

__all__ = ["LadderError", "build_parser", "main", "parse_roles", "render_pcap"]


class LadderError(ValueError):
    """The capture cannot be drawn with these names (a column that sends to itself)."""


def parse_roles(text: str) -> dict[RoleKey, str]:
    """`127.0.0.10=UA,127.0.0.1:5070=VoIPBin` -> {"127.0.0.10": "UA", ("127.0.0.1", 5070): "VoIPBin"};
    ValueError naming the item that is not IP=NAME or IP:PORT=NAME (IPv6 with a port: [::1]:5060)."""
    out: dict[RoleKey, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        addr, sep, name = item.partition("=")
        if not sep or not addr.strip() or not name.strip():
            raise ValueError(f"--roles: {item!r} is not IP=NAME or IP:PORT=NAME (e.g. 127.0.0.10=UA)")
        try:
            key = parse_address_key(addr)
        except ValueError as err:
            raise ValueError(f"--roles: {item!r}: {err}") from None
        if key in out and out[key] != name.strip():
            raise ValueError(f"--roles: {addr.strip()} is named twice ({out[key]}, {name.strip()})")
        out[key] = name.strip()
    return out


def _role_map(decoded: list[Decoded], named: dict[RoleKey, str]) -> RoleMap:
    """The names given, plus: an IP that sends SIP to itself hosts several roles, so its SIP ends without a
    name are drawn by ip:port; any other unnamed IP is drawn by its address."""
    names = dict(named)
    given = RoleMap(names)
    self_talk = {m.src[0] for m in decoded if isinstance(m, DecodedMessage) and m.src[0] == m.dst[0]}
    for item in decoded:
        for ip, port in (item.src, item.dst):
            if ip in given.by_ip:
                continue
            if ip in self_talk or ip in given.shared:
                if isinstance(item, DecodedMessage) and (ip, port) not in given.by_addr:
                    names[(ip, port)] = f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"
            else:
                names[ip] = ip
    return RoleMap(names, decoded)


def render_pcap(
    path: Path, *, roles: dict[RoleKey, str] | None = None, sip_ports: list[str] | None = None, rtp: bool = True
) -> str:
    decoded = decode_file(path, sip_ports=[5060, SIP_PORT_RANGE, *(sip_ports or [])])
    role_map = _role_map(decoded, dict(roles or {}))  # SDP is read before RTP is left out
    if not rtp:
        decoded = [d for d in decoded if not isinstance(d, DecodedRtp)]
    observed = to_observed(decoded, role_map)
    if not observed:
        return ""
    for step in observed:
        if step.src == step.dst:
            raise LadderError(f"frame {step.frame_no}: {step.src} sends to itself ({step.label}); roles that "
                              "share an IP are told apart by port: --roles IP:PORT=NAME,IP:PORT=NAME")
    seen = [r for o in observed for r in (o.src, o.dst)]
    first_seen = list(dict.fromkeys(seen))
    named_only = all(r in (*ROLE_ORDER, "Carrier") for r in first_seen)
    return render_observed(observed, column_order(seen) if named_only else first_seen)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trunkcheck ladder", description=__doc__.split("\n")[0])
    parser.add_argument("pcap", type=Path, help="a capture file (pcap or pcapng)")
    parser.add_argument("--roles", default="", metavar="IP[:PORT]=NAME,...",
                        help="name the columns: by IP, or by IP:PORT where roles share an IP")
    parser.add_argument("--trunkcheck-roles", action="store_true",
                        help="name the harness's loopback addresses: " +
                        ", ".join(f"{ip}={name}" for name, ip in LOOPBACK_ROLES.items()) +
                        f", {silent_ip(LOOPBACK_ROLES)}={SILENT}")
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
            harness_roles = RoleAddresses.from_environment(args.loopback)
            silent = silent_ip(harness_roles)  # the @dns scenario's silent SRV target
            roles = {**{ip: name for name, ip in harness_roles.items()}, **({silent: SILENT} if silent else {}),
                     **roles}
    except ValueError as err:
        print(f"trunkcheck ladder: {err}", file=sys.stderr)
        return 2
    if not args.pcap.is_file():
        print(f"trunkcheck ladder: {args.pcap}: no such file", file=sys.stderr)
        return 2
    try:
        text = render_pcap(args.pcap, roles=roles, sip_ports=args.sip_port, rtp=not args.no_rtp)
    except (DecodeError, OSError) as err:
        print(f"trunkcheck ladder: cannot decode {args.pcap}: {err}", file=sys.stderr)
        return 2
    except LadderError as err:
        print(f"trunkcheck ladder: {args.pcap}: {err}", file=sys.stderr)
        return 2
    if not text:
        print(f"trunkcheck ladder: {args.pcap}: no SIP or RTP found (other SIP ports? use --sip-port)",
              file=sys.stderr)
        return 1
    sys.stdout.write(text)
    return 0
