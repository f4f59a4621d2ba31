"""A scenario's packets: captured to a pcap, decoded by Wireshark's dissectors, attributed to roles.

- :mod:`~harness.capture.sniffer`: the capture (scapy), each datagram once;
- :mod:`~harness.capture.decode`, :mod:`~harness.capture.decode_stream`: tshark (pyshark) per file, per run
  of files, or one long-lived tshark for a whole run; :mod:`~harness.capture.decoded` is what they give;
- :mod:`~harness.capture.roles`: which role (ladder column) is at a transport address;
- :mod:`~harness.capture.observation`: a decoded capture with roles resolved, what every assertion reads.
"""

from __future__ import annotations

from harness.capture.decode import DecodeError, decode_file, decode_many, to_observed
from harness.capture.decode_stream import StreamDecoder
from harness.capture.decoded import Decoded, DecodedMessage, DecodedRtp
from harness.capture.observation import Observation
from harness.capture.roles import RoleKey, RoleMap, parse_address_key
from harness.capture.sniffer import Capture, CaptureError, CaptureNotPermitted

__all__ = [
    "Capture",
    "CaptureError",
    "CaptureNotPermitted",
    "DecodeError",
    "Decoded",
    "DecodedMessage",
    "DecodedRtp",
    "Observation",
    "RoleKey",
    "RoleMap",
    "StreamDecoder",
    "decode_file",
    "decode_many",
    "parse_address_key",
    "to_observed",
]
