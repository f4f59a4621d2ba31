@wip @role-trunk @ip-auth
Feature: IP-based authentication
  The spec lists "IP base authentication(WIP)": work in progress at VoIPBin. The reference trunk already
  implements it behind the trunk's auth types (facts.md), so equipment can be checked early. Tagged @wip
  to document that status; these scenarios run and must pass like every other.

  Scenario: A call from an allowed address is connected without a challenge
    Given the trunk "example" authenticates by source address, allowing only the UA
    And the destination rings, then answers
    When the UA calls "+15550100" without credentials and hangs up after 200 ms
    Then the capture shows:
      | from        | to          | message     |
      | UA          | VoIPBin     | INVITE      |
      | VoIPBin     | UA          | 100 Trying  |
      | VoIPBin     | Destination | INVITE      |
      | Destination | VoIPBin     | 100 Trying  |
      | Destination | VoIPBin     | 180 Ringing |
      | VoIPBin     | UA          | 180 Ringing |
      | Destination | VoIPBin     | 200 OK      |
      | VoIPBin     | UA          | 200 OK      |
      | UA          | VoIPBin     | ACK         |
      | VoIPBin     | Destination | ACK         |
      | UA          | VoIPBin     | BYE         |
      | VoIPBin     | Destination | BYE         |
      | Destination | VoIPBin     | 200 OK      |
      | VoIPBin     | UA          | 200 OK      |
    And no 407 reaches the UA

  @reference-only
  Scenario Outline: A call from another address is <answer>
    Given the trunk "example" authenticates by <methods>, allowing only the UA
    And the destination rings, then answers
    When the UA2 calls "+15550100" without credentials
    Then the UA2 receives <status>
    And the destination receives no INVITE

    Examples:
      | methods                  | answer     | status |
      | source address           | refused    | 403    |
      | source address or digest | challenged | 407    |
