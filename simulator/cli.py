"""``trunkcheck simulate ua|destination``: play the calling UA or the destination against any equipment.

    trunkcheck simulate destination --listen 127.0.0.1:5080 --early-media --answer-after 500
    trunkcheck simulate ua --target sip:+15551234567@127.0.0.1:5080 --username alice --password secret

Both print a readable summary (the messages with timestamps, the final status, RTP counts), or the
whole record as JSON with ``--json``. The destination answers calls, concurrently, until SIGINT/SIGTERM
(or ``--calls N``, ``--timeout S``: :mod:`simulator.destination_run`). Exit status: 0 when the call(s)
ended as expected, 1 otherwise, 2 on bad settings.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from sipcore.aio.resolver import SipResolver
from sipcore.aio.tls import TlsOptions
from sipcore.digest_client import DEFAULT_PREFERENCE
from sipcore.locate import LocateError, ServerName, parse_nameserver, parse_server
from sipcore.q850 import reason_header
from sipcore.timers import TimerConfig
from sipcore.transport_address import TransportAddress, bracketed
from sipcore.uri import parse_sip_uri

from .destination import Destination, script_for
from .destination_run import serve_calls
from .record import Record
from .settings import (
    CHALLENGE_BEHAVIOURS,
    DestinationSettings,
    SettingsError,
    Step,
    UaSettings,
    check_sip_uri,
    parse_address,
)
from .summary import call_lines, incoming_lines, registration_line
from .ua import UserAgent

__all__ = ["main"]

USAGE = "usage: trunkcheck simulate {ua,destination} [options]  ('trunkcheck simulate ua --help')\n"


def _ms(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is not a number of milliseconds >= 0")
    return value


def _common(parser: argparse.ArgumentParser, listen_default: str) -> None:
    parser.add_argument("--listen", default=listen_default, metavar="[udp:|tcp:|tls:]IP:PORT",
                        help=f"address to bind (default {listen_default}; port 0 = any; IPv6 as [::1]:5070; "
                        "a udp:, tcp: or tls: prefix sets the transport)")
    parser.add_argument("--transport", default=None, type=str.upper, choices=["UDP", "TCP", "TLS"],
                        help="UDP (default), TCP or TLS (with --tls-cert and --tls-key)")
    parser.add_argument("--tls-cert", type=Path, metavar="FILE", help="TLS: certificate chain to listen with (PEM)")
    parser.add_argument("--tls-key", type=Path, metavar="FILE", help="TLS: its private key (PEM)")
    parser.add_argument("--tls-ca", type=Path, metavar="FILE",
                        help="TLS: CAs the peer's certificate must chain to (default: the system's)")
    parser.add_argument("--tls-name", metavar="DOMAIN", help="TLS: the SIP domain the trunk's certificate must "
                        "name (RFC 5922; default: --domain for a UA, the address dialled for a destination)")
    parser.add_argument("--tls-no-verify", action="store_true", help="TLS: accept any certificate (lab only)")
    parser.add_argument("--tls-keylog", type=Path, metavar="FILE",
                        help="TLS: append session secrets here (SSLKEYLOGFILE format) for Wireshark")
    parser.add_argument("--rtp-host", metavar="IP", help="address for RTP (default: the listen IP)")
    parser.add_argument("--tone", type=float, metavar="HZ", help="frequency of the RTP test tone")
    parser.add_argument("--t1", type=_ms, metavar="MS", help="SIP timer T1 (default 500 ms)")
    parser.add_argument("--json", action="store_true", help="print the record as JSON")


def _parsers() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    ua = argparse.ArgumentParser(prog="trunkcheck simulate ua", description="Call through a trunk (and "
                                 "register to receive calls) as a SIP UA.")
    _common(ua, "127.0.0.1:0")
    ua.add_argument("--target", metavar="URI", help="Request-URI and To of the call, e.g. "
                    "sip:+15551234567@example.trunk.voipbin.net (a bare number is put at --domain)")
    ua.add_argument("--request-uri", metavar="URI", help="Request-URI, when not --target")
    ua.add_argument("--proxy", metavar="ADDRESS|URI", help="where requests are sent (the trunk): [udp:|tcp:]HOST[:PORT] "
                    "or a sip: URI, a host name located through DNS as RFC 3263 says (NAPTR, SRV, A; the next "
                    "target on a timeout, a transport error or a 503); default: the server of --target")
    ua.add_argument("--dns", metavar="IP[:PORT]", help="the DNS server for host names (default: the system's "
                    "resolver; port 53)")
    ua.add_argument("--username", default="alice")
    ua.add_argument("--password")
    ua.add_argument("--auth-username", help="digest username, when not --username")
    ua.add_argument("--domain", help="From domain (the trunk domain); default: the host of --target")
    ua.add_argument("--from", dest="from_uri", metavar="URI", help="From URI (default sip:USERNAME@DOMAIN)")
    ua.add_argument("--display-name")
    ua.add_argument("--algorithm", action="append", metavar="NAME",
                    help=f"digest algorithm preference, repeatable (default {' '.join(DEFAULT_PREFERENCE)})")
    ua.add_argument("--max-auth-retries", type=int, default=2)
    ua.add_argument("--on-challenge", choices=CHALLENGE_BEHAVIOURS, default="answer")
    ua.add_argument("--wrong-password", action="store_const", dest="on_challenge", const="wrong-password",
                    help="answer challenges with a wrong password (same as --on-challenge wrong-password)")
    ua.add_argument("--hold", type=_ms, default=1000, metavar="MS", help="hang up MS after the answer")
    ua.add_argument("--cancel-after", type=_ms, metavar="MS", help="CANCEL MS after the INVITE")
    ua.add_argument("--cancel-on-ringing", action="store_true", help="CANCEL on the 180/183")
    ua.add_argument("--expect-remote-bye", action="store_true", help="wait for the far end to hang up")
    ua.add_argument("--remote-bye-timeout", type=_ms, default=10_000, metavar="MS")
    ua.add_argument("--ring-timeout", type=_ms, default=60_000, metavar="MS",
                    help="give up (CANCEL) when unanswered after MS")
    ua.add_argument("--no-early-send", action="store_true", help="send no RTP before the 200")
    ua.add_argument("--srtp", action="store_true", help="offer SRTP: RTP/SAVP with an SDES a=crypto key")
    ua.add_argument("--tls-no-listen", action="store_true",
                    help="TLS: accept no connection, like most softphones (--listen gives only the address of "
                         "its Via and Contact): the trunk must reach the UA over the connections it opened")
    ua.add_argument("--register", action="store_true", help="REGISTER first (and unregister at the end)")
    ua.add_argument("--registrar", metavar="ADDRESS|URI", help="registrar address, as --proxy, the same failover "
                    "(default: --proxy, else the server of --registrar-domain or --domain located through DNS)")
    ua.add_argument("--registrar-domain", help="domain of the AOR (default: --domain)")
    ua.add_argument("--expires", type=int, default=3600, help="REGISTER expiry in seconds")
    ua.add_argument("--wait-incoming", type=float, default=0.0, metavar="S",
                    help="after registering, answer incoming calls for S seconds")
    ua.add_argument("--answer-after", type=_ms, default=0, metavar="MS", help="answer incoming calls after MS")
    ua.add_argument("--expect-status", default="200", metavar="STATUS|timeout",
                    help="the expected final status (default 200)")
    dest = argparse.ArgumentParser(prog="trunkcheck simulate destination", description="Answer calls as the "
                                   "destination (carrier or phone), by a behaviour built from the options "
                                   "in this order: wait, 100, 180, 183 + early media, answer/reject/never.")
    _common(dest, "127.0.0.1:5080")
    _behaviour(dest)
    dest.add_argument("--number", action="append", default=[], metavar="NUMBER:BEHAVIOUR",
                      help="calls to NUMBER (the Request-URI's user part) behave as BEHAVIOUR says instead, "
                      "the options above without -- and comma-separated: '+15550404:reject=404,q850=1', "
                      "'+15550183:no-ringing,early-media,answer-after=300'; repeatable")
    dest.add_argument("--ignore-cancel", action="store_true", help="answer CANCEL 200 but send no 487")
    dest.add_argument("--calls", type=int, default=0, metavar="N",
                      help="exit after N calls have ended (default 0: answer calls until SIGINT/SIGTERM)")
    dest.add_argument("--timeout", type=float, metavar="S",
                      help="stop after S seconds (default: no limit); with --calls N, fewer calls is a failure")
    return ua, dest


def _behaviour(parser: argparse.ArgumentParser) -> None:
    """The options that make a destination's script (for every call, or for one --number)."""
    parser.add_argument("--wait", type=_ms, default=0, metavar="MS", help="wait MS before anything")
    parser.add_argument("--no-100", action="store_true", help="send no 100 Trying")
    parser.add_argument("--no-ringing", action="store_true", help="send no 180 Ringing")
    parser.add_argument("--early-media", action="store_true", help="send 183 with SDP and start RTP")
    parser.add_argument("--answer-after", type=_ms, default=0, metavar="MS", help="answer 200 after MS")
    parser.add_argument("--reject", type=int, metavar="STATUS", help="reject with STATUS (300..699)")
    parser.add_argument("--reject-after", type=_ms, default=0, metavar="MS", help="reject MS after the 180/183")
    parser.add_argument("--reason", metavar="TEXT", help="reason phrase of the rejection")
    parser.add_argument("--reason-header", metavar="VALUE", help="Reason header of the rejection")
    parser.add_argument("--q850", type=int, metavar="CAUSE", help="Reason: Q.850;cause=CAUSE;text=...")
    parser.add_argument("--never-answer", action="store_true")
    parser.add_argument("--hangup-after", type=_ms, metavar="MS", help="BYE MS after answering")


def _script(args: argparse.Namespace) -> tuple[Step, ...]:
    header = args.reason_header
    if args.q850 is not None:
        if header is not None:
            raise SettingsError("give --reason-header or --q850, not both")
        try:
            header = reason_header(args.q850)
        except ValueError as exc:
            raise SettingsError(f"--q850: {exc}") from None
    return script_for(wait_ms=args.wait, send_100=not args.no_100, ringing=not args.no_ringing,
                      early_media=args.early_media, answer_after_ms=args.answer_after, reject=args.reject,
                      reason=args.reason, reason_header=header, never_answer=args.never_answer,
                      hangup_after_ms=args.hangup_after, reject_after_ms=args.reject_after)


def _number_scripts(specs: list[str]) -> dict[str, tuple[Step, ...]]:
    """``--number NUMBER:BEHAVIOUR`` options -> {number: script}; SettingsError naming the option at fault."""
    parser = argparse.ArgumentParser(prog="--number", add_help=False, exit_on_error=False)
    _behaviour(parser)
    out: dict[str, tuple[Step, ...]] = {}
    for spec in specs:
        number, colon, behaviour = spec.partition(":")
        number = number.strip()
        if not colon or not number:
            raise SettingsError(f"--number {spec!r}: give NUMBER:BEHAVIOUR, e.g. '+15550404:reject=404'")
        if number in out:
            raise SettingsError(f"--number {spec!r}: {number} is given twice")
        argv = []
        for item in filter(None, (part.strip() for part in behaviour.split(","))):
            key, eq, value = item.partition("=")
            argv += [f"--{key.strip()}", *([value.strip()] if eq else [])]
        try:
            parsed, unknown = parser.parse_known_args(argv)
        except argparse.ArgumentError as exc:
            raise SettingsError(f"--number {spec!r}: {exc}") from None
        if unknown:
            raise SettingsError(f"--number {spec!r}: unknown {' '.join(unknown)!r}; use the behaviour options "
                                "without --: wait, no-100, no-ringing, early-media, answer-after, reject, "
                                "reject-after, reason, reason-header, q850, never-answer, hangup-after")
        try:
            out[number] = _script(parsed)
        except SettingsError as exc:
            raise SettingsError(f"--number {spec!r}: {exc}") from None
    return out


def _tls(args: argparse.Namespace, transport: str) -> TlsOptions | None:
    """The --tls-* options with transport TLS (None otherwise; given without TLS they are a mistake)."""
    given = [n for n in ("tls_cert", "tls_key", "tls_ca", "tls_name", "tls_keylog") if getattr(args, n)]
    if transport != "TLS":
        flags = [n for n in ("tls_no_verify", "tls_no_listen") if getattr(args, n, False)]
        if given or flags:
            raise SettingsError(f"--{(given or flags)[0].replace('_', '-')} needs transport TLS "
                                "(--transport TLS or a tls: address)")
        return None
    return TlsOptions(cert=args.tls_cert, key=args.tls_key, ca_file=args.tls_ca, verify=not args.tls_no_verify,
                      server_name=args.tls_name, keylog=args.tls_keylog,
                      accept=not getattr(args, "tls_no_listen", False))


def _timers(args: argparse.Namespace) -> TimerConfig:
    if args.t1 is None:
        return TimerConfig()
    t1 = args.t1 / 1000
    return TimerConfig(t1=t1, t2=max(t1, 4.0 if t1 >= 0.5 else 8 * t1), t4=max(t1, 5.0 if t1 >= 0.5 else 10 * t1))


def _written_transport(args: argparse.Namespace, *written: tuple[str, str | None]) -> str | None:
    """The transport the user chose: --transport, else a udp:/tcp: prefix (or ;transport=) of an address;
    None when none says (DNS may then). A prefix that disagrees with the transport chosen is a mistake
    (one agent, one transport)."""
    chosen, source = args.transport, "--transport"
    for what, transport in written:
        if transport is None:
            continue
        transport = transport.upper()
        if chosen is None:
            chosen, source = transport, what
        elif transport != chosen:
            raise SettingsError(f"{what} is {transport} but {source} is {chosen}: give one transport")
    return str(chosen) if chosen else None


def _transport(args: argparse.Namespace, *written: tuple[str, str | None]) -> str:
    """:func:`_written_transport`, else UDP."""
    return _written_transport(args, *written) or "UDP"


def _server(text: str, what: str) -> ServerName:
    try:
        return parse_server(text)
    except LocateError as exc:
        raise SettingsError(f"{what}: {exc}") from None


async def _locate(resolver: SipResolver, server: ServerName, what: str, transports: tuple[str, ...],
                  family: str) -> list[TransportAddress]:
    try:
        return await resolver.locate(server, transports=transports, families=(family,))
    except LocateError as exc:
        raise SettingsError(f"{what}: {exc}") from None


async def _ua_settings(args: argparse.Namespace) -> tuple[UaSettings, str | None]:
    target_uri = None
    domain = args.domain
    listen_transport, listen = parse_address(args.listen, "--listen", zero_port_ok=True)
    proxy = _server(args.proxy, "--proxy") if args.proxy else None
    registrar = _server(args.registrar, "--registrar") if args.registrar else None
    try:
        nameserver = parse_nameserver(args.dns) if args.dns else None
    except LocateError as exc:
        raise SettingsError(f"--dns: {exc}") from None
    proxy_what = "--proxy"
    if args.target:
        if ":" in args.target.split("@", 1)[0]:
            target_uri = check_sip_uri(args.target, "--target")
        else:
            if domain is None:
                raise SettingsError("--target is a bare number: give --domain (or a full sip: URI)")
            target_uri = check_sip_uri(f"sip:{args.target}@{domain}", "--target")
        uri = parse_sip_uri(target_uri)
        domain = domain or uri.hostport()
        if proxy is None:
            proxy, proxy_what = _server(target_uri, "--target"), "--target"
    chosen = _written_transport(args, ("--listen", listen_transport), (proxy_what, proxy.transport if proxy else None),
                                ("--registrar", registrar.transport if registrar else None))
    resolver = SipResolver(nameserver)
    family = "AAAA" if ":" in listen[0] else "A"
    transports = (chosen.lower(),) if chosen else ("tls",) if proxy and proxy.secure else ("udp", "tcp")
    located = await _locate(resolver, proxy, proxy_what, transports, family) if proxy else []
    if chosen is None and located:  # the transport DNS chose (NAPTR, SRV): the UA speaks only that one
        chosen = located[0].transport.upper()
    targets = [t.addr for t in located if t.transport.upper() == chosen]
    registrars = ([t.addr for t in await _locate(resolver, registrar, "--registrar", ((chosen or "udp").lower(),),
                                                 family)] if registrar else [])
    settings = UaSettings(
        listen=listen, transport=chosen or "UDP", tls=_tls(args, chosen or "UDP"),
        username=args.username, password=args.password, auth_username=args.auth_username,
        domain=domain or "example.trunk.voipbin.net", from_uri=args.from_uri, display_name=args.display_name,
        target=targets[0] if targets else None, alternates=tuple(targets[1:]), dns=nameserver,
        registrar=registrars[0] if registrars else None, registrar_alternates=tuple(registrars[1:]),
        registrar_domain=args.registrar_domain,
        algorithms=tuple(args.algorithm or DEFAULT_PREFERENCE), max_auth_retries=args.max_auth_retries,
        on_challenge=args.on_challenge, rtp_host=args.rtp_host, send_early_media=not args.no_early_send, srtp=args.srtp,
        hold_ms=args.hold, ring_timeout_ms=args.ring_timeout, remote_bye_timeout_ms=args.remote_bye_timeout,
        answer_after_ms=args.answer_after, register_expires=args.expires, timers=_timers(args))
    if args.tone is not None:
        settings = replace(settings, tone_hz=args.tone)
    return settings, target_uri


def _expected(text: str) -> int | str:
    if text == "timeout":
        return text
    if not text.isdigit() or not 100 <= int(text) <= 699:
        raise SettingsError(f"--expect-status: {text!r} is not a status 100..699 or 'timeout'")
    return int(text)


async def _run_ua(args: argparse.Namespace, out: TextIO) -> int:
    settings, target_uri = await _ua_settings(args)
    expected = _expected(args.expect_status)
    if target_uri is None and not args.register:
        raise SettingsError("give --target (a call) or --register (a registration), or both")
    ok = True
    ua = await UserAgent.start(settings, Record(f"ua {settings.username}"))
    lines: list[str] = []
    try:
        if args.register:
            registration = await ua.register(args.expires)
            lines.append(registration_line(registration))
            ok = registration.ok
            if ok and args.wait_incoming > 0:
                await ua.clock.sleep(args.wait_incoming)
        if target_uri is not None and ok:
            request_uri = check_sip_uri(args.request_uri, "--request-uri") if args.request_uri else None
            result = await ua.call(target_uri, request_uri=request_uri, cancel_after_ms=args.cancel_after,
                                   cancel_on_ringing=args.cancel_on_ringing,
                                   expect_remote_bye=args.expect_remote_bye)
            lines += call_lines(result, expected)
            if expected == "timeout":
                ok = result.timed_out and not result.answered
            else:
                ok = result.status == expected and not (args.expect_remote_bye and result.ended_by != "remote-bye")
        for incoming in ua.incoming:
            lines += incoming_lines(incoming)
        if args.register and ua.registrations and ua.registrations[-1].ok:
            lines.append(registration_line(await ua.unregister(), unregister=True))
    finally:
        await ua.stop()
    _print(ua.record, lines, args.json, out, ok)
    return 0 if ok else 1


def _dest_settings(args: argparse.Namespace) -> DestinationSettings:
    script = _script(args)
    listen_transport, listen = parse_address(args.listen, "--listen", zero_port_ok=True)
    transport = _transport(args, ("--listen", listen_transport))
    settings = DestinationSettings(listen=listen, transport=transport, tls=_tls(args, transport), script=script,
                                   numbers=_number_scripts(args.number), honour_cancel=not args.ignore_cancel,
                                   rtp_host=args.rtp_host, timers=_timers(args))
    return replace(settings, tone_hz=args.tone) if args.tone is not None else settings


async def _run_destination(args: argparse.Namespace, out: TextIO) -> int:
    settings = _dest_settings(args)
    if args.calls < 0 or (args.timeout is not None and args.timeout <= 0):
        raise SettingsError("--calls must be >= 0 and --timeout > 0")
    dest = await Destination.start(settings)
    host, port = dest.local_addr  # on stderr, so that stdout holds only the calls (or the JSON)
    until = f"{args.calls} call(s)" if args.calls else "SIGINT/SIGTERM"
    numbers = "".join(f"; {number}: {_steps(script)}" for number, script in settings.numbers.items())
    print(f"destination listening on {bracketed(host)}:{port} ({settings.transport}) until {until}; script: "
          f"{_steps(settings.script)}{numbers}", file=sys.stderr, flush=True)
    return await serve_calls(dest, calls=args.calls, timeout=args.timeout, as_json=args.json, out=out)


def _steps(script: Sequence[Step]) -> str:
    return ", ".join(type(s).__name__ + (f"({_fields(s)})" if _fields(s) else "") for s in script)


def _fields(step: Any) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in vars(step).items())


def _print(record: Record, lines: list[str], as_json: bool, out: TextIO, ok: bool) -> None:
    if as_json:
        data = json.loads(record.to_json())
        data["summary"] = lines
        data["ok"] = ok
        print(json.dumps(data, indent=2), file=out)
        return
    print("\n".join(record.lines()), file=out)
    print("\n".join(lines), file=out)


def main(argv: list[str] | None = None, *, out: TextIO | None = None) -> int:
    """``trunkcheck simulate ua|destination [options]``; returns the exit status."""
    args_in = sys.argv[1:] if argv is None else list(argv)
    stream = out or sys.stdout
    if not args_in or args_in[0] in ("-h", "--help"):
        print(USAGE, end="", file=stream)
        return 0 if args_in else 2
    ua_parser, dest_parser = _parsers()
    parsers = {"ua": ua_parser, "destination": dest_parser, "dest": dest_parser}
    parser = parsers.get(args_in[0])
    if parser is None:
        print(f"trunkcheck simulate: unknown role {args_in[0]!r}\n{USAGE}", end="", file=sys.stderr)
        return 2
    try:
        args = parser.parse_args(args_in[1:])
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    runner = _run_ua if parser is ua_parser else _run_destination
    try:
        return asyncio.run(runner(args, stream))
    except SettingsError as exc:
        print(f"trunkcheck simulate {args_in[0]}: {exc}", file=sys.stderr)
        return 2
