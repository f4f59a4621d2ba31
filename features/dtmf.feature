@role-trunk @basic-auth @dtmf-rfc4733
Feature: DTMF as RFC 4733 telephone-events
  Digits travel in the media as RFC 4733 telephone-events (the successor of RFC 2833): the SDP offers
  `a=rtpmap:101 telephone-event/8000` and `a=fmtp:101 0-16`, the sender uses the payload type the receiver's
  SDP gives it, and VoIPBin's media relay carries the events to the other leg. SIPconnect, Zoom, Google and
  the certification plans (Cisco, Telecom NZ PTC 228) require it, in both directions.

  What is checked, from the capture decoded by Wireshark's rtpevent dissector, on each leg the events cross:
  the digits in order; every packet of one event with the same RTP timestamp (its start, RFC 4733 §2.4.1)
  and the marker bit on its first packet only (§2.4.2); the duration never shrinking; the event ended by
  packets with the E bit, all with the final duration (three of them are recommended, §2.5.1.4, and
  counted); events that do not overlap; and the payload type that leg's receiver gave telephone-event in its
  SDP. The reference trunk passes the SDP's payload types through unchanged, so both legs use the same.

  Background:
    Given the trunk "example" accepts user "alice" with password "secret"

  Scenario: The UA sends DTMF digits to the destination
    Given the destination rings, then answers
    When the UA calls "+15550100", sends DTMF "1234567890*#" after 200 ms and hangs up after 200 ms
    Then the UA sends DTMF "1234567890*#" as RFC 4733 telephone-events that reach the destination through VoIPBin

  Scenario: The destination sends DTMF digits to the UA
    Given the destination answers, sends DTMF "#0A9" after 200 ms and hangs up after 200 ms
    When the UA calls "+15550100" and waits for the destination to hang up
    Then the destination sends DTMF "#0A9" as RFC 4733 telephone-events that reach the UA through VoIPBin
