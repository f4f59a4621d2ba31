@role-ua
Feature: The UA under test calls through the trunk
  Equipment in the role of the UA (a phone, a softphone, a PBX trunking out) places the spec's calls
  through trunkcheck's trunk (the reference server) to its destination, registers its extension and
  answers a call for it. The ladders are the spec's own. Equipment files with role "ua" drive it through
  their adapter (SIPp, baresip, or a person at the phone); without equipment the simulated UA plays it.
  Spec: "Basic authentication", "Early media handle", "Realy hangup cause", "Registration".

  Background:
    Given the trunk "example" accepts user "alice" with password "secret"

  @basic-auth
  Scenario: The UA under test places the documented authenticated call
    Given the destination rings, then answers
    When the UA under test calls "+15550100" and hangs up after 200 ms
    Then the capture follows the ladder:
      """
      UA                                   VoIPBin                                 Destination

      |                                        |                                        |
      |---------------- INVITE --------------->|                                        |
      |<-- 407 Proxy Authentication Required --|                                        |
      |---------------- ACK ------------------>|                                        |
      |                                        |                                        |
      |----- INVITE with Authorization ------->|                                        |
      |                                        |---------------- INVITE --------------->|
      |                                        |                                        |
      |                                        |<--------------- 100 Trying ------------|
      |<------------- 100 Trying --------------|                                        |
      |                                        |                                        |
      |                                        |<--------------- 180 Ringing -----------|
      |<------------- 180 Ringing -------------|                                        |
      |                                        |                                        |
      |                                        |<---------------- 200 OK ---------------|
      |<------------- 200 OK ------------------|                                        |
      |-------------- ACK -------------------->|                                        |
      |                                        |----------------- ACK ----------------->|
      |                                        |                                        |
      |                                        |                                        |
      |-------------- BYE -------------------->|                                        |
      |                                        |----------------- BYE ----------------->|
      |                                        |<---------------- 200 OK ---------------|
      |<------------- 200 OK ------------------|                                        |
      """
    And every 407 challenge is in the realm of the trunk's domain and offers qop "auth"

  @basic-auth @early-media
  Scenario: The UA under test calls into early media
    Given the destination sends 183 with early media, then answers after 300 ms
    When the UA under test calls "+15550100" and hangs up after 200 ms
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

  @basic-auth
  Scenario: The UA under test's call is rejected with 404 Not Found
    Given the destination rejects the call with 404 "Not Found"
    When the UA under test calls "+15550100"
    Then the capture follows the ladder:
      """
      UA                                   VoIPBin                                 Destination

      |                                        |                                        |
      ===================================================================================
      |----- INVITE with Authorization ------->|                                        |
      |                                        |---------------- INVITE --------------->|
      |                                        |<--------------- 100 Trying ------------|
      |<------------- 100 Trying --------------|                                        |
      |                                        |<--------------- 404 NOT FOUND ---------|
      |<------------- 404 NOT FOUND -----------|                                        |
      """

  @registration
  Scenario: The UA under test registers its extension
    When the UA under test registers its extension
    Then the capture shows:
      | from    | to      | message                     |
      | UA      | VoIPBin | REGISTER                    |
      | VoIPBin | UA      | 401 Unauthorized            |
      | UA      | VoIPBin | REGISTER with Authorization |
      | VoIPBin | UA      | 200 OK                      |
    And every 401 challenge is in the realm of the registrar's domain and offers qop "auth"

  @registration
  Scenario: The UA under test answers a call for its extension
    Given the UA under test has registered its extension
    When the carrier calls the UA under test's extension and hangs up after 300 ms
    Then the UA under test answered the carrier's call
