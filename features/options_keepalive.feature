@role-trunk @basic-auth @options-keepalive
Feature: OPTIONS keep-alive, both ways
  Equipment that connects to a cloud trunk is watched with SIP OPTIONS (RFC 3261 §11) in both directions:
  the trunk answers the OPTIONS its customers' SBCs and PBXs send (200 with Allow, Accept and Supported,
  without a challenge: a ping carries no credentials), and the trunk pings its own destinations, so that it
  stops sending calls to one that no longer answers. Microsoft Teams Direct Routing counts an SBC healthy
  when its OPTIONS come every minute and demotes it after three minutes without; Ribbon's SIP trunk interop
  plan checks that OPTIONS come no more than about once every 10 s. The sane window here is 10 to 60 s.
  The embedded reference server pings every 10 s and gives an unanswered OPTIONS 2 s (equipment under test:
  the options_interval and options_timeout its file declares bound the waits).

  Background:
    Given the trunk "example" accepts user "alice" with password "secret"

  Scenario: The trunk answers OPTIONS to its domain and to its address with what it supports
    When the UA sends OPTIONS to the trunk's domain
    And the UA sends OPTIONS to the trunk's address
    Then the capture shows:
      | from    | to      | message |
      | UA      | VoIPBin | OPTIONS |
      | VoIPBin | UA      | 200 OK  |
      | UA      | VoIPBin | OPTIONS |
      | VoIPBin | UA      | 200 OK  |
    And every OPTIONS the UA sent the trunk got 200 OK with Allow, Accept and Supported

  Scenario: The trunk pings its destination with OPTIONS at a sane interval
    Given the trunk pings its destination with OPTIONS every 10 s, counting one unanswered for 2 s as down
    When the destination has received 2 OPTIONS from the trunk
    Then the capture shows:
      | from        | to          | message |
      | VoIPBin     | Destination | OPTIONS |
      | Destination | VoIPBin     | 200 OK  |
      | VoIPBin     | Destination | OPTIONS |
      | Destination | VoIPBin     | 200 OK  |
    And the trunk's OPTIONS reached the destination 10 to 60 s apart

  Scenario: A destination that stops answering OPTIONS is marked down: calls get 503 at once
    Given the trunk pings its destination with OPTIONS every 10 s, counting one unanswered for 2 s as down
    And the destination does not answer OPTIONS
    And the destination rings, then answers
    When the UA calls "+15550100" once the trunk has had time to mark its silent destination down
    Then the capture shows:
      | from    | to          | message                           |
      | VoIPBin | Destination | OPTIONS                           |
      | UA      | VoIPBin     | INVITE                            |
      | VoIPBin | UA          | 407 Proxy Authentication Required |
      | UA      | VoIPBin     | ACK                               |
      | UA      | VoIPBin     | INVITE with Authorization         |
      | VoIPBin | UA          | 503 Service Unavailable           |
      | UA      | VoIPBin     | ACK                               |
    And the destination receives no INVITE
