@role-trunk @registration
Feature: Registration
  A phone registers its extension with VoIPBin's registrar to receive calls: REGISTER is challenged with
  401 Unauthorized and accepted with Authorization (RFC 3261 §10, §22). A call for the extension then
  rings the registered phone. Spec: "Registration".

  Scenario: REGISTER is challenged with 401 and accepted with credentials
    When the UA registers extension "1001" with password "pass1001" for 3600 seconds
    Then the capture shows:
      | from    | to      | message                     |
      | UA      | VoIPBin | REGISTER                    |
      | VoIPBin | UA      | 401 Unauthorized            |
      | UA      | VoIPBin | REGISTER with Authorization |
      | VoIPBin | UA      | 200 OK                      |
    And every 401 challenge is in the realm of the registrar's domain and offers qop "auth"

  Scenario: A call to a registered extension rings the UA
    Given the UA has registered extension "1001" with password "pass1001"
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

  Scenario: A call to an extension that is not registered gets 480
    When the carrier calls extension "1002"
    Then the carrier receives 480
    And no INVITE reaches the UA

  Scenario: A too brief registration interval gets 423 with Min-Expires
    When the UA registers extension "1001" with password "pass1001" for 30 seconds
    Then the capture shows:
      | from    | to      | message                     |
      | UA      | VoIPBin | REGISTER                    |
      | VoIPBin | UA      | 401 Unauthorized            |
      | UA      | VoIPBin | REGISTER with Authorization |
      | VoIPBin | UA      | 423 Interval Too Brief      |
    And the 423 carries Min-Expires 60

  Scenario: De-registration removes the binding
    Given the UA has registered extension "1001" with password "pass1001"
    When the UA de-registers
    And the carrier calls extension "1001"
    Then the de-registration is accepted with no binding left
    And the carrier receives 480
    And no INVITE reaches the UA
