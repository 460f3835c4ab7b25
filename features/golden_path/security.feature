@security
Feature: The service stands up to hostile sign-ins and garbage
  Someone may forge a sign-in, claim a signing method that does not exist, or keep
  talking after their sign-in has run out; a broken or malicious app may send anything at
  all. The service turns the forgers away before a connection opens, ends a session whose
  sign-in ran out with an explanation, and answers garbage without harm to the sender's
  connection or to anyone else.

  @storage
  Scenario Outline: A forged sign-in is refused: <forgery>
    When Alice tries to get in with <forgery>
    Then Alice is turned away before the connection opens, because <refusal>
    And nobody was let in as Alice

    Examples:
      | forgery                                                      | refusal                          |
      | a sign-in that names a key the service does not have         | the signature does not match     |
      | a sign-in that names a key by an id shorter than any real one | the signature does not match     |
      | a sign-in with its signature cut off                         | the signature does not match     |
      | a sign-in that demands an extension the service does not know | the sign-in is unreadable        |
      | a sign-in that says it is a security event, not a sign-in    | the sign-in is unreadable        |

  @storage
  Scenario: Someone who edits their own sign-in to pass as another user is refused
    When Bob tries to get in with his own sign-in changed to say he is Alice
    Then Bob is turned away before the connection opens, because the signature does not match
    And nobody was let in as Alice

  @storage
  Scenario Outline: Someone cannot sign in with a made-up signing method: "<method>"
    When Alice tries to get in with a sign-in that claims the signing method "<method>"
    Then Alice is turned away before the connection opens, because the signing method is not allowed
    And nobody was let in as Alice

    Examples:
      | method |
      | none   |
      | NONE   |
      | HS1024 |
      | ROT13  |
      |        |

  @v1_only
  Scenario: A sign-in that runs out during a conversation ends it with an explanation
    Given Alice is signed in with a sign-in that runs out in 2 seconds
    And Alice has asked "What is 6 * 7?"
    When Alice's sign-in runs out
    Then Alice is told her sign-in has expired and her connection is closed
    And Alice's session is recorded as ended
    And after signing in again Alice finds her conversation with the answer "6 * 7 = 42"

  @v1_only
  Scenario: A sign-in that ran out moments ago is let in, but only for the grace the service allows
    Given Alice is let in with a sign-in that ran out moments ago, inside the grace the service allows
    When Alice's grace is over
    Then Alice is told her sign-in has expired and her connection is closed
    And Alice's session is recorded as ended

  @v1_only
  Scenario: Garbage from an app does not hurt anyone
    Given Alice is signed in
    And Bob is signed in
    When Alice's app sends a burst of garbage
    Then Alice is told about each piece of garbage, and her app stays connected
    And Alice can ask "What is 6 * 7?" and get the answer "6 * 7 = 42"
    And Alice's other connection still works
    And Bob can ask "What is 2 + 3?" and get the answer "2 + 3 = 5"

  @v1_only
  Scenario: An app that sends text that is not even characters is disconnected, and nobody else
    Given Alice is signed in
    And Bob is signed in
    When Alice's app sends text that is not valid characters
    Then Alice's app is disconnected because its text could not be decoded
    And Alice's other connection still works
    And Bob can ask "What is 2 + 3?" and get the answer "2 + 3 = 5"
