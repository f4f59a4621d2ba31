@role-trunk @basic-auth @early-media
Feature: Early media
  For trunk calls VoIPBin turns early media on: the destination's 183 with SDP, and its RTP, reach the UA
  before the call is answered. Spec: "Call handle", "Early media handle".

  Background:
    Given the trunk "example" accepts user "alice" with password "secret"

  Scenario: The documented early media flow
    Given the destination sends 183 with early media, then answers after 300 ms
    When the UA calls "+15550100" and hangs up after 200 ms
    Then the capture follows the ladder:
      """
      UA                                   VoIPBin                                 Destination

      |                                        |                                        |
      ===================================================================================
      |----- INVITE with Authorization ------->|                                        |
      |                                        |---------------- INVITE --------------->|
      |                                        |<--------------- 100 Trying ------------|
      |<------------- 100 Trying --------------|                                        |
      |                                        |<--------------- 183 Ringing -----------|
      |<------------- 183 Ringing -------------|                                        |
      |<------------- RTP Media ---------------|<---------------- RTP Media ------------|
      """
    And the RTP reaching the UA comes from the address and port in the 183's SDP, with its payload type
    And the RTP reaches the UA before the 200 OK

  @status-relay
  Scenario: Early media, then the destination rejects the call
    Given the destination sends 183 with early media, then rejects the call with 486 "Busy Here" after 300 ms
    When the UA calls "+15550100"
    Then the capture shows, earlier messages elided:
      | from        | to      | message              |
      | Destination | VoIPBin | 183 Session Progress |
      | VoIPBin     | UA      | 183 Session Progress |
      | Destination | VoIPBin | RTP Media            |
      | VoIPBin     | UA      | RTP Media            |
      | Destination | VoIPBin | 486 Busy Here        |
      | VoIPBin     | UA      | 486 Busy Here        |
    And the RTP reaching the UA comes from the address and port in the 183's SDP, with its payload type
    And the UA receives 486
