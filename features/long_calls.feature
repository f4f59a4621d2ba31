@role-trunk @basic-auth @long-calls
Feature: Long calls
  A trunk must carry a call for as long as it lasts: carrier and vendor plans hold calls for 5 or 30
  minutes with RTP both ways (Ribbon, Cisco, Telecom NZ PTC 228), across session refreshes (RFC 4028).
  The call lasts the run's long_call_seconds (6 s by default, for CI; -D long_call_seconds=1800 for the
  plans' 30 minutes) with a session interval of session_interval (4 s by default: a re-INVITE refresh,
  re-offering the media, every 2 s; see features/session_timers.feature for the test-only interval
  under RFC 4028's 90 s). The RTP is checked from the capture in all four directions.

  Background:
    Given the trunk "example" accepts user "alice" with password "secret"

  Scenario: A long call held across session refreshes with steady RTP both ways
    Given the destination rings, then answers
    When the UA holds a call to "+15550100" for the run's long-call duration, refreshing the session with re-INVITE
    Then the call lasted across at least one session refresh
    And RTP flows steadily both ways on both legs, no gap over 250 ms
    And the UA's refresh by re-INVITE reaches the destination through the trunk and is answered
