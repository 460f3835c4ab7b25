@resilience
Feature: Nothing is lost when things go wrong
  Connections drop, the chat service crashes, many people ask at once: every question is
  still answered or clearly ended, every answer is kept exactly once, and nobody ever sees
  anything of someone else's conversation.

  @v1_only
  Scenario: Alice loses her connection mid-answer and finds the whole answer when she comes back
    Given Alice is signed in
    When Alice asks "Wait for 0.5 seconds" and loses her connection once the agents start
    And Alice comes back and reopens that conversation from the start
    Then Alice finds the whole answer, from the agents starting to the answer, each step once
    And Alice's question and the answer she found are saved, once

  @v1_only
  Scenario: A busy evening: many people ask at once and everyone gets their own answers
    When 12 people each ask 2 questions at the same time, some losing their connection or sending a question twice
    Then every one of them gets their own answers
    And those who lost their connection found their whole answers when they came back
    And a question sent twice was answered by one single request
    And every question and every answer is saved exactly once
    And nobody sees anything of anyone else's conversations

  @fixture.own_chat_service @v1_only
  Scenario: The chat service is stopped during Alice's answer, and ends that answer as interrupted before it goes
    Given a chat service that the suite can crash and start again
    And Alice is signed in to that chat service
    When Alice asks "Wait for 10 seconds" and the agents start working
    And that chat service is stopped
    Then Alice's app is disconnected because the chat service is going away
    And Alice's request is recorded as failed because it was interrupted, with the agents she saw at work

  @fixture.own_chat_service @v1_only
  Scenario: The chat service crashes during Alice's answer, and when it is back she sees that answer ended as interrupted
    Given a chat service that the suite can crash and start again
    And Alice is signed in to that chat service
    When Alice asks "Wait for 10 seconds" and the agents start working
    And that chat service crashes and starts again
    And Alice comes back and reopens that conversation from the start
    Then Alice sees her answer end as interrupted, every tool it started closed
    And Alice's request is recorded as failed because it was interrupted, with the agents she saw at work

  @fixture.own_chat_service @v1_only
  Scenario: The chat service crashes for good during Alice's answer; the one beside it ends that answer as interrupted, and she finds it there
    Given a chat service that the suite can crash and start again
    And Alice has signed in to that chat service before, and signed out
    And Alice is signed in to that chat service
    And Bob is signed in
    When Alice asks "Wait for 10 seconds" and the agents start working
    And Bob asks "Wait for 10 seconds" and the agents start working
    And another chat service starts beside it, on the same storage
    And that first chat service crashes and stays down
    And Alice comes back on the other chat service and reopens that conversation from the start
    Then Alice sees her answer end as interrupted, every tool it started closed, once the other chat service has noticed the crash
    And Alice's request is recorded as failed because it was interrupted, with the agents she saw at work
    And Alice's session on the crashed chat service is recorded as disconnected
    And Alice's session she signed out of is still recorded as ended
    And Alice's session on the other chat service is still recorded as active
    When the answer reaches Bob, on the chat service that did not crash
    Then Bob gets the answer "Waited 10 seconds"
    And Bob's session is recorded as active for that connection

  @fixture.own_chat_service @v1_only
  Scenario: The cache goes away during Alice's answer: the answer still arrives and is saved, sign-ins wait, and the answer is cached once the cache is back
    Given a chat service that the suite can crash and start again
    And Alice is signed in to that chat service
    When Alice asks "Wait for 0.5 seconds" and the agents start working
    And the line between that chat service and its cache is cut
    And the answer reaches Alice
    Then Alice gets the answer "Waited 0.5 seconds"
    And Alice's request is recorded as completed with the answer she saw
    When Bob tries to sign in to that chat service
    Then Bob is turned away before the connection opens: the sign-in cannot be checked right now
    When the line between that chat service and its cache is back
    Then Alice's answer is cached for a day
    When Bob signs in to that chat service
    Then Bob is greeted as himself
