@role-trunk @tls @srtp @basic-auth
Feature: Secure trunks: SIP over TLS with SRTP media
  The documented ladders with both halves of a secure trunk: the signalling over TLS (RFC 3261 §26, the
  trunk's certificate checked as RFC 5922 says) and the media SRTP keyed by SDES (RFC 3711, RFC 4568). The
  a=crypto keys travel only inside TLS, so the SRTP check reads them from the SDP of the capture decrypted
  with the scenario's key log (<scenario>.keys): the same wire check as the @srtp scenarios, on keys no
  eavesdropper could read.

  Background:
    Given the trunk "example" accepts user "alice" with password "secret"

  Scenario: The documented call flow over TLS with SRTP, the caller hangs up
    Given the UA offers SRTP
    And the destination rings, then answers
    When the UA calls "+15550100" and hangs up after 300 ms
    Then the capture follows the ladder:
      """
      UA                                   VoIPBin                                 Destination

      |                                        |                                        |
      |---------------- INVITE --------------->|                                        |
      |<-- 407 Proxy Authentication Required --|                                        |
      |---------------- ACK ------------------>|                                        |
      |                                        |                                        |
      |----- INVITE with Authorization ------->|                                        |
      |                                        |---------------- INVITE --------------->|
      |                                        |                                        |
      |                                        |<--------------- 100 Trying ------------|
      |<------------- 100 Trying --------------|                                        |
      |                                        |                                        |
      |                                        |<--------------- 180 Ringing -----------|
      |<------------- 180 Ringing -------------|                                        |
      |                                        |                                        |
      |                                        |<---------------- 200 OK ---------------|
      |<------------- 200 OK ------------------|                                        |
      |-------------- ACK -------------------->|                                        |
      |                                        |----------------- ACK ----------------->|
      |                                        |                                        |
      |                                        |                                        |
      |-------------- BYE -------------------->|                                        |
      |                                        |----------------- BYE ----------------->|
      |                                        |<---------------- 200 OK ---------------|
      |<------------- 200 OK ------------------|                                        |
      """
    And the media between the UA and VoIPBin is SRTP keyed by their SDP
    And the SRTP keys between the UA and VoIPBin travelled only inside TLS

  @early-media
  Scenario: The documented early media flow over TLS with SRTP
    Given the UA offers SRTP
    And the destination sends 183 with early media, then answers after 300 ms
    When the UA calls "+15550100" and hangs up after 200 ms
    Then the capture follows the ladder:
      """
      UA                                   VoIPBin                                 Destination

      |                                        |                                        |
      ===================================================================================
      |----- INVITE with Authorization ------->|                                        |
      |                                        |---------------- INVITE --------------->|
      |                                        |<--------------- 100 Trying ------------|
      |<------------- 100 Trying --------------|                                        |
      |                                        |<--------------- 183 Ringing -----------|
      |<------------- 183 Ringing -------------|                                        |
      |<------------- RTP Media ---------------|<---------------- RTP Media ------------|
      """
    And the media between the UA and VoIPBin is SRTP keyed by their SDP
    And the SRTP keys between the UA and VoIPBin travelled only inside TLS
    And the RTP reaches the UA before the 200 OK

  @reference-only
  Scenario: The destination hangs up over TLS, SRTP on both legs
    Given the UA offers SRTP
    And the trunk offers SRTP to the destination
    And the destination rings, answers, and hangs up after 300 ms
    When the UA calls "+15550100" and waits for the destination to hang up
    Then the capture shows, earlier messages elided:
      | from        | to          | message |
      | Destination | VoIPBin     | BYE     |
      | VoIPBin     | UA          | BYE     |
      | UA          | VoIPBin     | 200 OK  |
      | VoIPBin     | Destination | 200 OK  |
    And the media between the UA and VoIPBin is SRTP keyed by their SDP
    And the SRTP keys between the UA and VoIPBin travelled only inside TLS
    And the media between VoIPBin and the Destination is SRTP keyed by their SDP
    And the SRTP keys between VoIPBin and the Destination travelled only inside TLS
