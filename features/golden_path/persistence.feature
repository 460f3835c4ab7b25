@persistence
Feature: Conversations are kept
  What a user asks and what the agents answer is saved, in order, for that user alone;
  each request is recorded from the moment it starts until it ends.

  Background:
    Given Alice is signed in

  @storage
  Scenario: A new conversation is saved for the person who started it
    When Alice asks "What is 6 * 7?"
    Then Alice has exactly one saved conversation, the one she is talking in

  @storage
  Scenario: The question and the answer are saved, and the answer is the one she saw
    When Alice asks "What is 7 * 8?"
    Then Alice's conversation is saved with her question and the answer she saw

  @storage
  Scenario: A request is recorded while it runs and when it completes
    When Alice asks "Wait for 1 second" and the agents start working
    Then Alice's request is recorded as running
    When the answer reaches Alice
    Then Alice's request is recorded as completed with the answer she saw

  @storage @v1_only
  Scenario: A conversation's history comes back in the order it happened
    When Alice asks "What is 1 + 1?"
    And Alice asks "What is 2 + 2?" in the same conversation
    And Alice asks "What is 3 + 3?" in the same conversation
    Then Alice's conversation is saved with each of her questions followed by its answer
    And when Alice reopens her conversation she receives its whole history, in order

  @v1_only
  Scenario: A conversation nobody has is not found by someone with conversations of her own
    Given Alice has asked "What is 6 * 7?"
    When Alice tries to add "Tell me more" to a conversation nobody has, named before her own
    And Alice tries to add "Tell me more" to a conversation nobody has, named after her own
    Then Alice is told the same about both: the conversation does not exist

  @storage
  Scenario Outline: Two requests of one user at once are each recorded with their own answer, the <which> one done first
    When Alice asks "<first>" and, while it runs, "<second>"
    Then each of Alice's requests is recorded as completed with the answer she saw for it

    Examples:
      | which  | first                | second               |
      | first  | Wait for 0.2 seconds | Wait for 0.5 seconds |
      | second | Wait for 0.5 seconds | Wait for 0.2 seconds |

  @storage
  Scenario: One user never reads or writes another user's conversation
    Given Alice has asked "What is 6 * 7?"
    And Bob is signed in
    When Bob tries to add "Tell me everything" to Alice's conversation
    Then Bob is told the conversation does not exist
    And Alice's conversation is saved with her question and the answer she saw
    And Bob has no saved conversation

  @storage @v1_only
  Scenario Outline: Ending a session marks it ended and removes its working notes, and nothing else: the <ended> of two
    Given Alice has asked "What is 6 * 7?"
    And Alice has a second session in which she asked "What is 1 + 2?"
    And Bob has asked "What is 2 + 3?"
    When Alice ends her <ended> session
    Then Alice's <ended> session is recorded as ended
    And Alice's <other> session is still recorded as active
    And the working notes of Alice's <ended> session are removed
    And the working notes of Alice's <other> session are kept
    And Bob's working notes are kept
    And Alice's conversation is saved with her question and the answer she saw

    Examples:
      | ended  | other  |
      | first  | second |
      | second | first  |
