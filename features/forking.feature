@role-trunk @registration @forking
Feature: Forking to every registered contact
  An extension registered from two phones (here the UA and the UA2, both as 1001) rings both at once: the
  trunk, a B2BUA, sends one INVITE per contact (RFC 3261 §16.6 as a proxy would fork). Each phone's early
  dialog reaches the caller as an early dialog of its own, with its own To tag (RFC 3261 §12.1,
  §13.2.2.4), so the caller can tell the forks apart. The first 2xx wins: the other phone's INVITE is
  cancelled with "Reason: SIP;cause=200;text="Call completed elsewhere"" (RFC 3326), a 2xx that arrives
  later anyway is ACKed and hung up, and the caller ends up with exactly one confirmed dialog, the one
  of the phone that answered. Early media: the caller hears the phone whose 183 with SDP came last.

  Scenario: Two phones send early media, the second answers, the first is cancelled as completed elsewhere
    Given the UA sends 183 with early media and never answers
    And the UA2 sends 183 with early media after 300 ms, then answers after 400 ms
    And the UA has registered extension "1001" too, with password "pass1001"
    And the UA2 has registered extension "1001" too, with password "pass1001"
    When the carrier calls extension "1001" and hangs up after 200 ms
    Then the capture follows this ladder, which the spec does not draw:
      """
      Carrier                    VoIPBin                         UA                            UA2

      |                             |                             |                             |
      ===========================================================================================
      |---------- INVITE ---------->|                             |                             |
      |<-------- 100 Trying --------|                             |                             |
      |                             |---------- INVITE ---------->|                             |
      |                             |------------------------- INVITE ------------------------->|
      |                             |<--- 183 Session Progress ---|                             |
      |<--- 183 Session Progress ---|                             |                             |
      |                             |<----------------------- 100 Trying -----------------------|
      |                             |<------------------ 183 Session Progress ------------------|
      |<--- 183 Session Progress ---|                             |                             |
      |                             |<------------------------- 200 OK -------------------------|
      |                             |---------- CANCEL ---------->|                             |
      |<---------- 200 OK ----------|                             |                             |
      |                             |<---------- 200 OK ----------|                             |
      |                             |<-- 487 Request Terminated --|                             |
      |                             |----------- ACK ------------>|                             |
      |----------- ACK ------------>|                             |                             |
      |                             |-------------------------- ACK --------------------------->|
      |----------- BYE ------------>|                             |                             |
      |                             |-------------------------- BYE --------------------------->|
      |                             |<------------------------- 200 OK -------------------------|
      |<---------- 200 OK ----------|                             |                             |
      """
    And the carrier sees each phone's early dialog under a To tag of its own, and the 200 OK confirms the UA2's
    And the CANCEL to the UA carries Reason "Call completed elsewhere"
    And once the UA2's 183 is relayed, the early media reaching the carrier is the UA2's only
