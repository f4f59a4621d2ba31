@role-trunk @basic-auth @100rel
Feature: Reliable provisional responses
  A destination may send its 183 reliably (RFC 3262: Require: 100rel, RSeq) and expect a PRACK before it
  answers; early media rides on that 183 (RFC 3960). A trunk relays the 183 reliably to a caller that
  supports 100rel and the caller's PRACK end to end (RAck mapped to the destination's RSeq and CSeq). To a
  caller that does not, RFC 3262 §3 forbids a reliable response: the trunk PRACKs the destination itself
  and relays the 183 unreliably, early media unchanged. ETSI TS 102 027 and carrier plans check the RSeq
  and RAck rules.

  Background:
    Given the trunk "example" accepts user "alice" with password "secret"

  Scenario: A reliable 183 with early media, PRACK end to end
    Given the destination sends 183 with early media reliably (100rel), then answers after 300 ms
    When the UA, supporting 100rel, calls "+15550100" and hangs up after 200 ms
    Then the capture follows this ladder, which the spec does not draw:
      """
      UA                                   VoIPBin                                 Destination

      |                                        |                                        |
      ===================================================================================
      |----- INVITE with Authorization ------->|                                        |
      |                                        |---------------- INVITE --------------->|
      |                                        |<--------------- 100 Trying ------------|
      |<------------- 100 Trying --------------|                                        |
      |                                        |<---------- 183 Session Progress -------|
      |<---------- 183 Session Progress -------|                                        |
      |------------------ PRACK -------------->|                                        |
      |                                        |----------------- PRACK --------------->|
      |                                        |<---------------- 200 OK ---------------|
      |<----------------- 200 OK --------------|                                        |
      |<------------- RTP Media ---------------|<---------------- RTP Media ------------|
      """
    And the 183 reaches the UA reliably and the PRACKs acknowledge it on both legs
    And the RTP reaches the UA before the 200 OK

  Scenario: A UA without 100rel: the trunk PRACKs the destination itself
    Given the destination sends 183 with early media reliably (100rel), then answers after 300 ms
    When the UA calls "+15550100" and hangs up after 200 ms
    Then the capture shows, earlier messages elided:
      | from        | to          | message              |
      | Destination | VoIPBin     | 183 Session Progress |
      | VoIPBin     | Destination | PRACK                |
      | Destination | VoIPBin     | 200 OK               |
      | VoIPBin     | UA          | 183 Session Progress |
      | VoIPBin     | UA          | RTP Media            |
      | Destination | VoIPBin     | 200 OK               |
      | VoIPBin     | UA          | 200 OK               |
    And the 183 reaches the UA unreliably and the trunk PRACKs the destination itself
    And the RTP reaches the UA before the 200 OK
