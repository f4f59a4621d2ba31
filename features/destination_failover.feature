@role-trunk @basic-auth @destination-failover
Feature: Failover to the trunk's next destination
  A trunk with several destinations in its configuration (here the Destination, then the Destination2)
  sends each call to the first and moves on to the next when that one answers 503 (RFC 3261 §21.5.4), gives
  no response at all, or cannot be reached (a transport error, RFC 3261 §8.1.3.1). A 503 with Retry-After
  keeps that destination out of calls for that long (a trunk under test keeps it across scenarios:
  the harness waits the Retry-After out before the next scenario). Any other final response is the callee's answer, not
  the server's state: it is relayed to the UA and the next destination is not tried (a 486 tried elsewhere
  would ring a busy callee twice). When every destination has failed, the UA gets 503. The reference
  trunk waits 1 s for a first response in these scenarios (`destination_timeout`; Timer B, 32 s, without it).

  Background:
    Given the trunk "example" accepts user "alice" with password "secret"
    And the trunk sends its calls to the Destination, then the Destination2
    And the trunk gives a destination 1000 ms to answer at all before it tries the next

  Scenario: The first destination answers 503 with Retry-After: the call goes to the second
    Given the destination answers 503 "Service Unavailable" with Retry-After 2
    And the Destination2 rings, then answers
    When the UA calls "+15550100" and hangs up after 200 ms
    Then the capture follows this ladder, which the spec does not draw:
      """
      UA                            VoIPBin                        Destination                     Destination2

      |                                |                                |                                |
      ====================================================================================================
      |-- INVITE with Authorization -->|                                |                                |
      |                                |----------- INVITE ------------>|                                |
      |                                |<--------- 100 Trying ----------|                                |
      |<--------- 100 Trying ----------|                                |                                |
      |                                |<--- 503 Service Unavailable ---|                                |
      |                                |------------- ACK ------------->|                                |
      |                                |---------------------------- INVITE ---------------------------->|
      |                                |<-------------------------- 100 Trying --------------------------|
      |                                |<------------------------- 180 Ringing --------------------------|
      |<--------- 180 Ringing ---------|                                |                                |
      |                                |<---------------------------- 200 OK ----------------------------|
      |<----------- 200 OK ------------|                                |                                |
      |------------- ACK ------------->|                                |                                |
      |                                |----------------------------- ACK ------------------------------>|
      |------------- BYE ------------->|                                |                                |
      |                                |----------------------------- BYE ------------------------------>|
      |                                |<---------------------------- 200 OK ----------------------------|
      |<----------- 200 OK ------------|                                |                                |
      """
    And no 503 reaches the UA

  Scenario: A second call within the Retry-After skips the destination that said it
    Given the destination answers 503 "Service Unavailable" with Retry-After 2
    And the Destination2 rings, then answers
    When the UA calls "+15550100" and hangs up after 200 ms
    And the UA calls "+15550100" and hangs up after 200 ms
    Then 1 INVITE reached the Destination
    And 2 INVITEs reached the Destination2

  Scenario: The first destination does not answer at all: after the destination timeout the call goes to the second
    Given the destination does not answer at all
    And the Destination2 rings, then answers
    When the UA calls "+15550100" and hangs up after 200 ms
    Then the capture shows, earlier messages elided:
      | from         | to           | message     |
      | VoIPBin      | Destination  | INVITE      |
      | VoIPBin      | Destination2 | INVITE      |
      | Destination2 | VoIPBin      | 100 Trying  |
      | Destination2 | VoIPBin      | 180 Ringing |
      | VoIPBin      | UA           | 180 Ringing |
      | Destination2 | VoIPBin      | 200 OK      |
      | VoIPBin      | UA           | 200 OK      |
    And the call is answered

  Scenario: Nothing listens at the first destination: the transport error moves the call to the second
    Given nothing listens at the destination's address
    And the Destination2 rings, then answers
    When the UA calls "+15550100" and hangs up after 200 ms
    Then the call is answered
    And 1 INVITE reached the Destination2

  @status-relay
  Scenario: A busy first destination is the answer: the second is not tried
    Given the destination rejects the call with 486 "Busy Here"
    And the Destination2 rings, then answers
    When the UA calls "+15550100"
    Then the UA receives 486
    And 0 INVITEs reached the Destination2

  Scenario: Every destination fails: the UA gets 503
    Given the destination answers 503 "Service Unavailable" with Retry-After 2
    And the Destination2 does not answer at all
    When the UA calls "+15550100"
    Then the UA receives 503
    And 1 INVITE reached the Destination2
