@role-trunk @basic-auth
Feature: Trunk domain names
  Each trunk has its own server address, sip:{domain_name}.trunk.voipbin.net: the domain of a request
  selects the trunk, and a domain no trunk has reaches nobody. Spec: "Server address", "Domain name".

  Background:
    Given the trunk "example" accepts user "alice" with password "secret"

  Scenario: A call to sip:{number}@example.trunk.voipbin.net is accepted
    Given the destination rings, then answers
    When the UA calls "sip:+15550100@example.trunk.voipbin.net" and hangs up after 200 ms
    Then the call is answered
    And the destination receives the INVITE for "+15550100"

  Scenario: A call to an unknown trunk domain gets 404 and reaches nobody
    Given the destination rings, then answers
    When the UA calls "sip:+15550100@unknown.trunk.voipbin.net"
    Then the capture shows:
      | from    | to      | message       |
      | UA      | VoIPBin | INVITE        |
      | VoIPBin | UA      | 404 Not Found |
      | UA      | VoIPBin | ACK           |
    And nothing reaches the destination
