@role-trunk @basic-auth @caller-identity
Feature: Caller identity: P-Asserted-Identity, Privacy and E.164 numbers
  A trunk toward the PSTN vouches for its callers: it sends its destination (a carrier, inside its trust
  domain) a P-Asserted-Identity (RFC 3325) with the number of the customer it authenticated, not whatever
  the customer's equipment claims; it honours a caller's request for privacy (RFC 3323: the From becomes
  "Anonymous" <sip:anonymous@anonymous.invalid>, the real identity travels only in the P-Asserted-Identity,
  with the Privacy header, toward a trusted destination); and it writes numbers in E.164 (+ form, with
  user=phone), as SIPconnect and carriers expect. The international prefix 00 becomes +. The scenarios
  tagged reference-only set the embedded reference server's other policies (relay, untrusted destination).

  Background:
    Given the trunk "example" accepts user "alice" with password "secret"
    And the trunk asserts the caller's identity and writes numbers in E.164, country code 1
    And the destination rings, then answers

  Scenario: The trunk asserts the caller's number in E.164, and calls the E.164 number
    When the UA calls "0015550100" from "0015550123" and hangs up after 200 ms
      | header              | value                            |
      | P-Asserted-Identity | <sip:+19995550000@pbx.invalid>   |
    Then the call is answered
    And the INVITE reaching the destination carries "Request-URI" with user "+15550100"
    And the INVITE reaching the destination carries "Request-URI" containing "user=phone"
    And the INVITE reaching the destination carries "From" with user "+15550123"
    And the INVITE reaching the destination carries "P-Asserted-Identity" with user "+15550123"
    And the INVITE reaching the destination carries "P-Asserted-Identity" containing "user=phone"

  Scenario: A caller asking for privacy: anonymous From, identity only in P-Asserted-Identity
    When the UA calls "+15550100" from "+15550123" and hangs up after 200 ms
      | header  | value |
      | Privacy | id    |
    Then the call is answered
    And the INVITE reaching the destination carries "From" with user "anonymous"
    And the INVITE reaching the destination carries "From" containing "anonymous.invalid"
    And the INVITE reaching the destination carries "P-Asserted-Identity" with user "+15550123"
    And the INVITE reaching the destination carries "Privacy" containing "id"

  @reference-only
  Scenario: Toward an untrusted destination no P-Asserted-Identity leaves the trunk
    Given the trunk's destination is outside its trust domain
    When the UA calls "+15550100" from "+15550123" and hangs up after 200 ms
      | header  | value |
      | Privacy | id    |
    Then the call is answered
    And the INVITE reaching the destination carries "From" with user "anonymous"
    And the INVITE reaching the destination carries no "P-Asserted-Identity"
    And the INVITE reaching the destination carries no "Privacy"

  @reference-only
  Scenario: A trunk that trusts its customer's equipment relays its P-Asserted-Identity
    Given the trunk relays the asserted identity its customer's equipment sends
    When the UA calls "+15550100" from "+15550123" and hangs up after 200 ms
      | header              | value                           |
      | P-Asserted-Identity | <sip:+15550199@pbx.example.com> |
    Then the call is answered
    And the INVITE reaching the destination carries "P-Asserted-Identity" with user "+15550199"
