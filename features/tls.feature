@role-trunk @tls
Feature: Secure trunks: SIP over TLS
  The trunk's signalling runs over TLS (RFC 3261 §26, RFC 5630): the UA opens a TLS connection to the
  trunk and checks the trunk's certificate as RFC 5922 says (the chain, its dates, and the trunk's SIP
  domain among its subjectAltNames), the trunk opens TLS to the destination. The ladders are the same as
  over UDP: the capture is decrypted with the session keys every trunkcheck endpoint writes (the pcap is
  kept with them: <scenario>.keys, and <scenario>.pcapng opens decrypted in Wireshark).

  Background:
    Given the trunk "example" accepts user "alice" with password "secret"

  @basic-auth
  Scenario: The documented call flow over TLS, the caller hangs up
    Given the destination rings, then answers
    When the UA calls "+15550100" and hangs up after 200 ms
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
    And every 407 challenge is in the realm of the trunk's domain and offers qop "auth"
    And the ACK for the 407 does not reach the destination

  @basic-auth
  Scenario: The destination hangs up: its BYE reaches the UA over TLS
    Given the destination rings, answers, and hangs up after 200 ms
    When the UA calls "+15550100" and waits for the destination to hang up
    Then the capture shows, earlier messages elided:
      | from        | to          | message |
      | Destination | VoIPBin     | BYE     |
      | VoIPBin     | UA          | BYE     |
      | UA          | VoIPBin     | 200 OK  |
      | VoIPBin     | Destination | 200 OK  |

  @reference-only
  Scenario Outline: The UA refuses a trunk certificate <kind>
    Given the trunk presents a certificate <kind>
    And the destination rings, then answers
    When the UA calls "+15550100"
    Then the UA refuses the trunk's certificate: "<problem>"
    And the destination receives no INVITE

    Examples:
      | kind                 | problem                                   |
      | for another name     | not example.trunk.voipbin.net             |
      | that has expired     | certificate has expired                   |
      | from an untrusted CA | not issued by a CA of the CA file         |
