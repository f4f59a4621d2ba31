@srtp
Feature: SRTP keyed by SDES
  Media encrypted with SRTP (RFC 3711), its keys exchanged in the SDP as a=crypto lines (SDES, RFC 4568):
  the caller offers RTP/SAVP with the key it will send with, the trunk answers with a key of its own, and
  every packet on the wire authenticates with the key its sender announced. The check reads the keys from
  the SDP in the capture and authenticates each packet with libsrtp: cleartext RTP, or SRTP under any other
  key, fails with its frame. A trunk that bridges to a cleartext destination (as trunks do) passes, since
  only the UA's leg is asked for SRTP. Not in the VoIPBin spec: scenarios for equipment that claims srtp.
  (SDES keys travel in clear with the SDP: outside a lab, only over TLS.)

  Background:
    Given the trunk "example" accepts user "alice" with password "secret"

  @role-trunk @basic-auth
  Scenario: An SRTP call through the trunk
    Given the UA offers SRTP
    And the destination rings, then answers
    When the UA calls "+15550100" and hangs up after 300 ms
    Then the call is answered
    And the media between the UA and VoIPBin is SRTP keyed by their SDP

  @role-trunk @basic-auth @early-media
  Scenario: SRTP early media reaches the UA before the answer
    Given the UA offers SRTP
    And the destination sends 183 with early media, then answers after 300 ms
    When the UA calls "+15550100" and hangs up after 200 ms
    Then the media between the UA and VoIPBin is SRTP keyed by their SDP
    And the RTP reaches the UA before the 200 OK

  @role-trunk @basic-auth @reference-only
  Scenario: SRTP on both legs, each with keys of its own
    Given the UA offers SRTP
    And the trunk offers SRTP to the destination
    And the destination sends 183 with early media, then answers after 300 ms
    When the UA calls "+15550100" and hangs up after 200 ms
    Then the media between the UA and VoIPBin is SRTP keyed by their SDP
    And the media between VoIPBin and the Destination is SRTP keyed by their SDP
    And the RTP reaches the UA before the 200 OK

  @role-trunk @basic-auth @reference-only
  Scenario: A trunk that takes no SRTP refuses an RTP/SAVP offer with 488
    Given the UA offers SRTP
    And the trunk does not accept SRTP
    When the UA calls "+15550100"
    Then the UA receives 488
    And the destination receives no INVITE

  @role-ua @basic-auth
  Scenario: The UA under test calls with SRTP
    Given the UA offers SRTP
    And the destination rings, then answers
    When the UA under test calls "+15550100" and hangs up after 300 ms
    Then the media between the UA and VoIPBin is SRTP keyed by their SDP
