@role-trunk @basic-auth
Feature: Outgoing call with basic authentication
  A UA calls out through its VoIPBin trunk. The trunk challenges the first INVITE with 407 Proxy
  Authentication Required (digest, in the realm of the trunk's domain), the UA repeats the INVITE with
  Proxy-Authorization, and the trunk relays the call to the destination.
  Spec: "Basic authentication".

  Background:
    Given the trunk "example" accepts user "alice" with password "secret"

  Scenario: The documented call flow, the caller hangs up
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

  Scenario: A wrong password and an unknown user are never connected and cannot be told apart
    Given the destination rings, then answers
    When the UA calls "+15550100" with password "not-the-password"
    And the UA calls "+15550100" as user "mallory" with password "secret"
    Then the destination receives no INVITE
    And both calls get identical answers apart from the nonce

  @reference-only
  Scenario Outline: Digest authentication with <algorithm>
    Given the trunk offers the digest algorithm "<algorithm>"
    And the destination rings, then answers
    When the UA calls "+15550100" and hangs up after 200 ms
    Then the call is answered
    And the INVITE with Authorization answers the <algorithm> challenge

    Examples:
      | algorithm   |
      | MD5         |
      | SHA-256     |
      | SHA-512-256 |

  @reference-only
  Scenario: An expired nonce is challenged again with stale=TRUE, then the call goes through
    Given the trunk's nonces expire after 300 ms
    And the destination rings, then answers
    When the UA answers a 407 challenge after its nonce expired, calling "+15550100" and hanging up after 200 ms
    Then the trunk challenges the expired nonce with stale=TRUE
    And the call is answered

  Scenario: The destination hangs up
    Given the destination rings, answers, and hangs up after 200 ms
    When the UA calls "+15550100" and waits for the destination to hang up
    Then the capture shows, earlier messages elided:
      | from        | to          | message |
      | Destination | VoIPBin     | BYE     |
      | VoIPBin     | UA          | BYE     |
      | UA          | VoIPBin     | 200 OK  |
      | VoIPBin     | Destination | 200 OK  |

  @cancel
  Scenario: The caller cancels while the destination rings
    Given the destination rings and never answers
    When the UA calls "+15550100" and cancels when it rings
    Then the capture shows, earlier messages elided:
      | from        | to          | message                |
      | VoIPBin     | UA          | 180 Ringing            |
      | UA          | VoIPBin     | CANCEL                 |
      | VoIPBin     | UA          | 200 OK                 |
      | VoIPBin     | Destination | CANCEL                 |
      | Destination | VoIPBin     | 200 OK                 |
      | Destination | VoIPBin     | 487 Request Terminated |
      | VoIPBin     | Destination | ACK                    |
      | VoIPBin     | UA          | 487 Request Terminated |
      | UA          | VoIPBin     | ACK                    |
    And the UA receives 487
