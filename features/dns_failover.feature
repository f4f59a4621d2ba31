@role-trunk @basic-auth @dns
Feature: The trunk located through DNS
  The UA knows the trunk only by its SIP domain, example.trunk.voipbin.net ("a personalized DNS hostname
  designed to accept SIP traffic for your account", spec: "SIP Domain"), and finds it as RFC 3263 says:
  NAPTR, then SRV (lowest priority first), then A records. The harness runs the DNS server itself (dnsmasq,
  on the run's loopback block); the zone has two SRV targets: sip1 (priority 10), where nothing answers
  (the ladder's Silent column), and sip2 (priority 20), the trunk. A client that gets no response moves on
  to the next target once Timer B fires (RFC 3263 §4.3), sending the same INVITE as a new transaction.
  T1 is 40 ms in this scenario, so Timer B (64*T1) fires after 2.56 s instead of 32 s: the scenario takes
  about 3 s. Without dnsmasq the scenario is not applicable.

  Background:
    Given the trunk "example" accepts user "alice" with password "secret"

  Scenario: The first SRV target is silent: after Timer B the UA calls through the second
    Given the trunk's domain is published in DNS, its first SRV target silent
    And the UA's T1 is 40 ms, so its Timer B is 2.56 s
    And the destination rings, then answers
    When the UA calls "+15550100" and hangs up after 200 ms
    Then the capture shows:
      | from        | to          | message                           |
      | UA          | Silent      | INVITE                            |
      | UA          | VoIPBin     | INVITE                            |
      | VoIPBin     | UA          | 407 Proxy Authentication Required |
      | UA          | VoIPBin     | ACK                               |
      | UA          | VoIPBin     | INVITE with Authorization         |
      | VoIPBin     | Destination | INVITE                            |
      | Destination | VoIPBin     | 100 Trying                        |
      | VoIPBin     | UA          | 100 Trying                        |
      | Destination | VoIPBin     | 180 Ringing                       |
      | VoIPBin     | UA          | 180 Ringing                       |
      | Destination | VoIPBin     | 200 OK                            |
      | VoIPBin     | UA          | 200 OK                            |
      | UA          | VoIPBin     | ACK                               |
      | VoIPBin     | Destination | ACK                               |
      | UA          | VoIPBin     | BYE                               |
      | VoIPBin     | Destination | BYE                               |
      | Destination | VoIPBin     | 200 OK                            |
      | VoIPBin     | UA          | 200 OK                            |
    And the UA located the trunk through DNS: NAPTR, then SRV, then the A record of each target
    And the UA retransmitted the INVITE to the silent target until Timer B, then sent it to VoIPBin
