@role-trunk @basic-auth
Feature: Hangup cause relay
  VoIPBin relays the hangup cause of the outgoing call: the final status the destination answers reaches
  the UA unchanged (the spec's ladder: 404 -> 404; claim @status-relay), and VoIPBin adds the Q.850 cause
  in a Reason header (RFC 3326; causes as RFC 3398 maps them; claim @q850-reason), which a proxy or SBC
  that relays the status may not do. The two are claimed, and checked, apart.
  Spec: "Call handle", "Realy hangup cause".

  Background:
    Given the trunk "example" accepts user "alice" with password "secret"

  @status-relay
  Scenario: The documented flow, the destination answers 404 Not Found
    Given the destination rejects the call with 404 "Not Found"
    When the UA calls "+15550100"
    Then the capture follows the ladder:
      """
      UA                                   VoIPBin                                 Destination

      |                                        |                                        |
      ===================================================================================
      |----- INVITE with Authorization ------->|                                        |
      |                                        |---------------- INVITE --------------->|
      |                                        |<--------------- 100 Trying ------------|
      |<------------- 100 Trying --------------|                                        |
      |                                        |<--------------- 404 NOT FOUND ---------|
      |<------------- 404 NOT FOUND -----------|                                        |
      """
    And the UA receives 404

  @status-relay
  Scenario Outline: The destination's <status> <reason> reaches the UA unchanged
    Given the destination rejects the call with <status> "<reason>"
    When the UA calls "+15550100"
    Then the UA receives <status>

    Examples:
      | status | reason                  |
      | 480    | Temporarily Unavailable |
      | 486    | Busy Here               |
      | 488    | Not Acceptable Here     |
      | 500    | Server Internal Error   |
      | 502    | Bad Gateway             |
      | 503    | Service Unavailable     |
      | 603    | Decline                 |

  @q850-reason
  Scenario Outline: The destination's <status> <reason> reaches the UA with Q.850 cause <cause>
    Given the destination rejects the call with <status> "<reason>"
    When the UA calls "+15550100"
    Then the final response reaching the UA carries a Q.850 Reason header with cause <cause>

    Examples:
      | status | reason                  | cause |
      | 404    | Not Found               | 1     |
      | 480    | Temporarily Unavailable | 18    |
      | 486    | Busy Here               | 17    |
      | 488    | Not Acceptable Here     | 31    |
      | 500    | Server Internal Error   | 41    |
      | 502    | Bad Gateway             | 38    |
      | 503    | Service Unavailable     | 41    |
      | 603    | Decline                 | 21    |

  @reference-only @status-relay @q850-reason
  Scenario: A destination that rings and never answers
    Given the trunk lets a destination ring for at most 800 ms
    And the destination rings and never answers
    When the UA calls "+15550100"
    Then the capture shows, earlier messages elided:
      | from        | to          | message                |
      | Destination | VoIPBin     | 180 Ringing            |
      | VoIPBin     | UA          | 180 Ringing            |
      | VoIPBin     | Destination | CANCEL                 |
      | Destination | VoIPBin     | 200 OK                 |
      | Destination | VoIPBin     | 487 Request Terminated |
      | VoIPBin     | Destination | ACK                    |
      | VoIPBin     | UA          | 408 Request Timeout    |
      | UA          | VoIPBin     | ACK                    |
    And the UA receives 408 with a Q.850 Reason header carrying cause 102
