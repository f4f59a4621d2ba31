@role-trunk @basic-auth @hold
Feature: Hold and resume
  Either party puts the call on hold with a re-INVITE whose SDP says a=sendonly (it may still send: music
  on hold) or a=inactive, and takes it off hold with a=sendrecv (RFC 3264 §8.4, RFC 6337 §5.3). VoIPBin
  relays the re-INVITE to the other leg as a request of that leg's dialog (its own CSeq, Via and tags, the
  SDP pointing at its media relay) and relays the answer back (a=recvonly to a=sendonly, a=inactive to
  a=inactive). Its relay honours the directions: no RTP reaches a party whose SDP says it will not receive.
  Certification plans test this from both sides (Cisco's SP trunk validation plan, Telecom NZ PTC 228).

  A packet already on its way when the hold's 200 OK arrives is not a fault: RTP that reaches the holding
  party within 60 ms (three 20 ms frames) of that 200 OK is counted as in flight, and said so.

  Background:
    Given the trunk "example" accepts user "alice" with password "secret"

  Scenario: The UA holds the call with a=sendonly, then resumes it
    Given the destination rings, then answers
    When the UA calls "+15550100", holds it with a=sendonly after 300 ms, resumes it after 600 ms and hangs up after 400 ms
    Then the capture follows this ladder, which the spec does not draw:
      """
      UA                                   VoIPBin                                 Destination

      |                                        |                                        |
      ===================================================================================
      |------- INVITE with a=sendonly -------->|                                        |
      |                                        |------- INVITE with a=sendonly -------->|
      |                                        |<--------------- 200 OK ----------------|
      |<--------------- 200 OK ----------------|                                        |
      |------------------ ACK ---------------->|                                        |
      |                                        |------------------ ACK ---------------->|
      |------------- RTP Media --------------->|------------- RTP Media --------------->|
      |------- INVITE with a=sendrecv -------->|                                        |
      |                                        |------- INVITE with a=sendrecv -------->|
      |                                        |<--------------- 200 OK ----------------|
      |<--------------- 200 OK ----------------|                                        |
      |------------------ ACK ---------------->|                                        |
      |                                        |------------------ ACK ---------------->|
      """
    And the UA's hold re-INVITE (a=sendonly) is answered with a=recvonly on both legs
    And each leg's re-INVITEs carry that leg's own CSeq, above the leg's earlier requests
    And while the UA holds, no RTP reaches the UA
    And while the UA holds with a=sendonly, its RTP still reaches the destination
    And after the resume RTP flows both ways again

  Scenario: A destination that keeps sending while held: VoIPBin's relay keeps its RTP from the UA
    Given the destination rings, answers, and keeps sending RTP while held
    When the UA calls "+15550100", holds it with a=sendonly after 300 ms, resumes it after 600 ms and hangs up after 400 ms
    Then the UA's hold re-INVITE (a=sendonly) is answered with a=recvonly on both legs
    And while the UA holds, no RTP reaches the UA
    And after the resume RTP flows both ways again

  Scenario: The UA holds the call with a=inactive, then resumes it
    Given the destination rings, then answers
    When the UA calls "+15550100", holds it with a=inactive after 300 ms, resumes it after 600 ms and hangs up after 400 ms
    Then the capture shows, earlier messages elided:
      | from        | to          | message                 |
      | UA          | VoIPBin     | INVITE with a=inactive  |
      | VoIPBin     | Destination | INVITE with a=inactive  |
      | Destination | VoIPBin     | 200 OK                  |
      | VoIPBin     | UA          | 200 OK                  |
      | UA          | VoIPBin     | ACK                     |
      | VoIPBin     | Destination | ACK                     |
      | UA          | VoIPBin     | INVITE with a=sendrecv  |
      | VoIPBin     | Destination | INVITE with a=sendrecv  |
      | Destination | VoIPBin     | 200 OK                  |
      | VoIPBin     | UA          | 200 OK                  |
    And the UA's hold re-INVITE (a=inactive) is answered with a=inactive on both legs
    And while the UA holds, no RTP reaches the UA or the destination
    And after the resume RTP flows both ways again

  Scenario: The destination holds the call with a=sendonly, then resumes it
    Given the destination answers, holds the call with a=sendonly after 300 ms, resumes it after 600 ms and hangs up after 400 ms
    When the UA calls "+15550100" and waits for the destination to hang up
    Then the capture follows this ladder, which the spec does not draw:
      """
      UA                                   VoIPBin                                 Destination

      |                                        |                                        |
      ===================================================================================
      |                                        |<------- INVITE with a=sendonly --------|
      |<------- INVITE with a=sendonly --------|                                        |
      |---------------- 200 OK --------------->|                                        |
      |                                        |----------------- 200 OK -------------->|
      |                                        |<------------------ ACK ----------------|
      |<------------------ ACK ----------------|                                        |
      |<------------- RTP Media ---------------|<------------- RTP Media ---------------|
      |                                        |<------- INVITE with a=sendrecv --------|
      |<------- INVITE with a=sendrecv --------|                                        |
      |---------------- 200 OK --------------->|                                        |
      |                                        |----------------- 200 OK -------------->|
      |                                        |<------------------ ACK ----------------|
      |<------------------ ACK ----------------|                                        |
      """
    And the destination's hold re-INVITE (a=sendonly) is answered with a=recvonly on both legs
    And each leg's re-INVITEs carry that leg's own CSeq, above the leg's earlier requests
    And while the destination holds, no RTP reaches the destination
    And while the destination holds with a=sendonly, its RTP still reaches the UA
    And after the resume RTP flows both ways again
