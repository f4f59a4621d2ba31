@role-trunk @basic-auth @session-timers
Feature: Session timers
  A trunk keeps a call alive only while it is refreshed (RFC 4028): the caller asks for a session interval
  in Session-Expires, an interval under the trunk's minimum gets 422 with Min-SE, the refresher (the side
  the 2xx names: refresher=uac or uas) sends a re-INVITE or UPDATE every half interval, and the trunk relays
  it to the other leg. A call whose refresh never comes is ended by the trunk with BYE on both legs, at
  the interval minus the smaller of 32 s and a third of it (RFC 4028 §10). Carrier and vendor test plans
  (Ribbon, Cisco) check it on every certified trunk.

  The interval is the run's session_interval: 4 s by default, so that a refresh comes after 2 s. RFC 4028
  forbids intervals under 90 s: trunkcheck's embedded trunk accepts them here only because the suite sets
  its test-only switch (allow_below_rfc_minimum, Min-SE 2 s). A trunk keeping the RFC floor answers the
  4 s with 422 and the UA asks for its Min-SE, so run it with -D session_interval=90 (a refresh takes 45 s).

  Background:
    Given the trunk "example" accepts user "alice" with password "secret"

  Scenario: An interval under the trunk's minimum is refused with 422 and Min-SE, the retry is answered
    Given the destination rings, then answers
    When the UA calls "+15550100" asking for a session interval of 1 s
    Then the capture shows, earlier messages elided:
      | from    | to          | message                        |
      | VoIPBin | UA          | 422 Session Interval Too Small |
      | UA      | VoIPBin     | ACK                            |
      | UA      | VoIPBin     | INVITE with Authorization      |
      | VoIPBin | Destination | INVITE                         |
      | VoIPBin | UA          | 100 Trying                     |
      | VoIPBin | UA          | 180 Ringing                    |
      | VoIPBin | UA          | 200 OK                         |
    And the trunk answers 422 with a larger Min-SE, and the UA's retry asking for it is answered

  Scenario Outline: The UA refreshes the session with <method>, relayed to the destination
    Given the destination rings, then answers
    When the UA calls "+15550100" with the run's session interval, refreshing it with <method>
    Then the capture shows, earlier messages elided:
      | from        | to          | message  |
      | Destination | VoIPBin     | 200 OK   |
      | VoIPBin     | UA          | 200 OK   |
      | UA          | VoIPBin     | ACK      |
      | VoIPBin     | Destination | ACK      |
      | UA          | VoIPBin     | <method> |
      | VoIPBin     | Destination | <method> |
      | Destination | VoIPBin     | 200 OK   |
      | VoIPBin     | UA          | 200 OK   |
    And the UA's refresh by <method> reaches the destination through the trunk and is answered

    Examples:
      | method |
      | UPDATE |
      | INVITE |

  Scenario: The destination refreshes the session with a re-INVITE, relayed to the UA
    Given the destination rings, then answers
    And the destination refreshes the session with re-INVITE
    When the UA calls "+15550100" with the run's session interval, leaving the refresh to the far end
    Then the capture shows, earlier messages elided:
      | from        | to          | message |
      | Destination | VoIPBin     | 200 OK  |
      | VoIPBin     | UA          | 200 OK  |
      | UA          | VoIPBin     | ACK     |
      | VoIPBin     | Destination | ACK     |
      | Destination | VoIPBin     | INVITE  |
      | VoIPBin     | UA          | INVITE  |
      | UA          | VoIPBin     | 200 OK  |
      | VoIPBin     | Destination | 200 OK  |
      | Destination | VoIPBin     | ACK     |
      | VoIPBin     | UA          | ACK     |
    And the destination's refresh by re-INVITE reaches the UA through the trunk and is answered

  Scenario: No refresh comes: the trunk ends the call with BYE on both legs
    Given the destination rings, then answers
    When the UA calls "+15550100" with the run's session interval as its refresher, and never refreshes
    Then the capture shows, earlier messages elided:
      | from        | to          | message |
      | Destination | VoIPBin     | 200 OK  |
      | VoIPBin     | UA          | 200 OK  |
      | UA          | VoIPBin     | ACK     |
      | VoIPBin     | Destination | ACK     |
      | VoIPBin     | UA          | BYE     |
      | VoIPBin     | Destination | BYE     |
      | UA          | VoIPBin     | 200 OK  |
      | Destination | VoIPBin     | 200 OK  |
    And the trunk ends the call with BYE on both legs when the session expires
