"""A scenario's packets: captured to a pcap, decoded by Wireshark's dissectors, attributed to roles.

- :mod:`~harness.capture.sniffer`: the capture (scapy), each datagram once;
- :mod:`~harness.capture.decode`, :mod:`~harness.capture.decode_stream`: tshark (pyshark) per file, per run
  of files, or one long-lived tshark for a whole run; :mod:`~harness.capture.decoded` is what they give;
- :mod:`~harness.capture.roles`: which role (ladder column) is at a transport address;
- :mod:`~harness.capture.observation`: a decoded capture with roles resolved, what every assertion reads.
"""
