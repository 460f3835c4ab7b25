@websocket_auth
Feature: Only signed-in users get a live connection
  The live connection opens only for a valid sign-in, greets the user by who they are,
  survives a bad message, lets a user pick up where they left off, and never shows one
  user another user's conversation.

  @v1_only
  Scenario: The chat service says it is up
    Then the chat service answers that it is healthy

  @v1_only
  Scenario Outline: Nothing but the chat's own address opens a connection: <path>
    When Alice connects with her sign-in at "<path>" instead of the chat's own address
    Then Alice is turned away before the connection opens: nothing answers at that address

    Examples:
      | path     |
      | /chat    |
      | /ws/more |
      | /x       |

  @v1_only
  Scenario: A signed-in user is greeted as who they are
    When Alice connects with her sign-in
    Then Alice is greeted as herself
    And Alice's session is recorded as active for that connection

  @v1_only
  Scenario Outline: A sign-in is let in however its header is written: <sign-in>
    When Alice connects with <sign-in>
    Then Alice is greeted as herself

    Examples:
      | sign-in                                                   |
      | a sign-in whose header does not say what it is            |
      | a sign-in whose header says it is a jwt, in small letters |
      | a sign-in that names the key it was signed with           |

  Scenario Outline: A bad sign-in is turned away before the connection opens: <credentials>
    When Alice connects with <credentials>
    Then Alice is turned away before the connection opens, because <refusal>

    Examples:
      | credentials                                          | refusal                                  |
      | no sign-in at all                                    | the sign-in is missing                   |
      | a garbled sign-in                                    | the sign-in is unreadable                |
      | a sign-in that expired a minute ago                  | the sign-in has expired                  |
      | a sign-in that is valid only a minute from now       | the sign-in is not valid yet             |
      | a sign-in with a forged signature                    | the signature does not match             |
      | a sign-in meant for another product                  | the sign-in is meant for another product |
      | a sign-in from an unknown issuer                     | the sign-in comes from an unknown issuer |
      | an unsigned sign-in                                  | the signing method is not allowed        |
      | a sign-in signed in a way the service does not allow | the signing method is not allowed        |

    @revocation
    Examples: revoked
      | credentials       | refusal                 |
      | a revoked sign-in | the sign-in was revoked |

  Scenario: A sign-in written into the address is not accepted
    When Alice connects with her sign-in written into the address
    Then Alice is turned away before the connection opens, because the sign-in is missing

  Scenario: A sign-in offered as another kind of credential than a bearer one is not accepted
    When Alice connects with her sign-in offered as another kind of credential
    Then Alice is turned away before the connection opens, because the sign-in is unreadable

  @v1_only
  Scenario: A browser app connects, passing the sign-in the only way browsers can
    When Alice connects from a browser, passing her sign-in the way browsers can
    Then Alice is greeted as herself
    And Alice can ask "What is 6 * 7?" and get the answer "6 * 7 = 42"

  @v1_only
  Scenario Outline: A message the service cannot use gets an error, and the connection stays open: <something>
    Given Alice is signed in
    When Alice's app sends <something>
    Then Alice is told <problem>
    And Alice can ask "What is 6 * 7?" and get the answer "6 * 7 = 42"

    Examples:
      | something                                           | problem                          |
      | something that cannot be read at all                | her message could not be read    |
      | a message of a kind the service does not know       | the kind of message is not known |
      | a message of another kind the service does not know | the kind of message is not known |
      | a message without any text                          | the message is incomplete        |
      | a question one byte over 64 KiB                     | the message is too large         |

  Scenario: A question of exactly 64 KiB, in characters of two bytes each, is answered
    Given Alice is signed in
    When Alice asks a question of exactly 64 KiB in characters of two bytes each
    Then Alice gets an answer

  @v1_only
  Scenario: A message over 1 MiB ends the connection; one of exactly 1 MiB does not
    Given Alice is signed in
    When Alice's app sends a message of exactly 1 MiB
    Then Alice is told the message is too large
    When Alice's app sends a message one byte over 1 MiB
    Then Alice's app is disconnected because its message was too big

  @v1_only
  Scenario: A reconnecting user resumes and receives exactly what she missed
    Given Alice is signed in
    When Alice asks "Wait for 1 second" and loses her connection once the agents start
    And Alice reconnects and picks up her conversation where she left off
    Then Alice receives exactly the events she missed, in order, up to the answer

  @v1_only
  Scenario Outline: A user cannot resume or post into another user's conversation: <intruder> into <owner>'s
    Given <owner> has asked "What is 6 * 7?"
    And <intruder> is signed in
    When <intruder> tries to pick up <owner>'s conversation
    Then <intruder> is told the conversation does not exist
    When <intruder> tries to add "Tell me everything" to <owner>'s conversation
    Then <intruder> is told the conversation does not exist
    And <intruder> received nothing of <owner>'s conversation

    # Both ways round: a user's id sorts before the other's one way and after it the other.
    Examples:
      | owner | intruder |
      | Alice | Bob      |
      | Bob   | Alice    |

  @v1_only
  Scenario: Another user's conversation is refused exactly like one that does not exist
    Given Alice has asked "What is 6 * 7?"
    And Bob is signed in
    When Bob tries to add "Tell me everything" to Alice's conversation
    And Bob tries to add "Tell me everything" to a conversation nobody has
    Then Bob is told the same about both: the conversation does not exist

  @storage
  Scenario Outline: A message id another user has used starts a request of one's own: <second> after <first>
    Given <first> has asked "What is 6 * 7?"
    And <second> is signed in
    When <second>'s app sends "What is 2 + 3?" as the same message as <first>'s question
    Then <second> gets the answer "2 + 3 = 5"
    And <second> sees only <their> own conversation, answered "2 + 3 = 5"
    And <second>'s request is recorded as <their> own, apart from <first>'s

    Examples:
      | first | second | their |
      | Alice | Bob    | his   |
      | Bob   | Alice  | her   |

  @storage
  Scenario: A message sent twice is answered once
    Given Alice has asked "What is 1 + 1?"
    When Alice's app sends "What is 6 * 7?" twice as the same message
    Then Alice is shown the same answer both times, from one single request
    And Alice's conversation is saved with her question and the answer she saw, once
