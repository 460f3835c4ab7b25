@cache
Feature: The cache knows who is online and what was just answered
  Live sessions, live connections and recent answers are cached per user, each for a
  limited time; ending a session clears exactly what belonged to it.

  Background:
    Given Alice is signed in

  @v1_only
  Scenario: A signed-in session is cached for an hour
    Then Alice's session is cached and expires within an hour

  @v1_only
  Scenario: A live connection is tracked, and forgotten when it drops
    Then Alice's connection is tracked by the cache
    When Alice loses her connection
    Then the cache forgets Alice's connection
    And Alice's session stays cached until it expires
    And Alice's session is recorded as disconnected

  @v1_only
  Scenario: An app that closes saying it is going away leaves its session disconnected
    When Alice's app closes the connection saying it is going away
    Then the cache forgets Alice's connection
    And Alice's session stays cached until it expires
    And Alice's session is recorded as disconnected

  Scenario: The answer to a request is cached for a day
    When Alice asks "What is 6 * 7?"
    Then Alice's answer is cached for a day

  @v1_only
  Scenario Outline: Ending a session removes that session's entries and nothing else: the <ended> of two
    Given Alice has asked "What is 6 * 7?"
    And Alice has a second session
    And Bob is signed in
    When Alice ends her <ended> session
    Then the cache no longer holds Alice's <ended> session or its connection
    And the cache still holds Alice's <other> session and its connection
    And Alice's answer is cached for a day
    And Bob's session is cached and expires within an hour

    Examples:
      | ended  | other  |
      | first  | second |
      | second | first  |

  @v1_only
  Scenario: Each user's entries are kept apart
    Given Bob is signed in
    When Alice asks "What is 2 + 2?" while Bob asks "What is 3 + 3?"
    Then everything cached for Alice is filed under her and about her own sessions and answers
    And everything cached for Bob is filed under him and about his own sessions and answers

  @revocation
  Scenario Outline: A revoked sign-in is remembered until it would have expired, for one that lasts <lifetime>
    Given Alice has a sign-in that lasts <lifetime>
    When Alice's sign-in is revoked
    Then the cache remembers the revocation until Alice's sign-in would be refused anyway, grace included
    When Alice connects again with that sign-in
    Then Alice is turned away before the connection opens, because the sign-in was revoked

    Examples:
      | lifetime             |
      | a quarter of an hour |
      | ninety-nine years    |

  @revocation
  Scenario: A revoked sign-in that ran out a second ago stays revoked through the grace the service allows
    Given Alice has a sign-in that ran out a second ago, inside the grace the service allows
    When Alice's sign-in is revoked
    Then the cache remembers the revocation until Alice's sign-in would be refused anyway, grace included
    When Alice connects again with that sign-in
    Then Alice is turned away before the connection opens, because the sign-in was revoked
