@role-trunk @tls
Feature: Secure trunks: reaching a UA over its own TLS connection
  Most softphones over TLS (baresip, phones behind NAT) open their TLS connection to the trunk and accept
  none: the port in their Via and Contact has nothing listening. The trunk must send its responses and the
  requests of the UA's dialogs (the destination's BYE, calls to a registered extension) over the connection
  the UA opened, as RFC 3261 §18 says of responses and RFC 5923 / RFC 5626 of requests, never open one to
  the UA. The capture shows whom each connection was opened by (its SYN).

  @basic-auth
  Scenario: The destination hangs up: its BYE reaches the UA over the UA's connection
    Given the trunk "example" accepts user "alice" with password "secret"
    And the UA takes no incoming TLS connections
    And the destination rings, answers, and hangs up after 300 ms
    When the UA calls "+15550100" and waits for the destination to hang up
    Then the capture shows, earlier messages elided:
      | from        | to          | message |
      | Destination | VoIPBin     | BYE     |
      | VoIPBin     | UA          | BYE     |
      | UA          | VoIPBin     | 200 OK  |
      | VoIPBin     | Destination | 200 OK  |
    And VoIPBin reached the UA only over the connections the UA opened

  @registration
  Scenario: A call to an extension registered over TLS reaches it over its registration's connection
    Given the UA takes no incoming TLS connections
    And the UA has registered extension "1001" with password "pass1001"
    When the carrier calls extension "1001" and hangs up after 200 ms
    Then the capture shows, earlier messages elided:
      | from    | to      | message     |
      | Carrier | VoIPBin | INVITE      |
      | VoIPBin | Carrier | 100 Trying  |
      | VoIPBin | UA      | INVITE      |
      | UA      | VoIPBin | 180 Ringing |
      | VoIPBin | Carrier | 180 Ringing |
      | UA      | VoIPBin | 200 OK      |
      | VoIPBin | Carrier | 200 OK      |
      | Carrier | VoIPBin | ACK         |
      | VoIPBin | UA      | ACK         |
      | Carrier | VoIPBin | BYE         |
      | VoIPBin | UA      | BYE         |
      | UA      | VoIPBin | 200 OK      |
      | VoIPBin | Carrier | 200 OK      |
    And VoIPBin reached the UA only over the connections the UA opened
