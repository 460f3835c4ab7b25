@agent_pipeline
Feature: The agents answer a question
  When a user asks something, a supervisor plans the work and hands it to the right
  agents, who use tools; the user watches the work happen live until the answer arrives.

  Background:
    Given Alice is signed in

  @smoke @storage @cache @seq
  Scenario: Alice asks a question and gets the answer, saved and cached
    When Alice asks "What is 6 * 7?"
    Then Alice sees the agents start, work and finish, in order
    And Alice sees the tools finish before the answer
    And Alice gets the answer "6 * 7 = 42"
    And Alice's conversation is saved with her question and the answer she saw
    And Alice's request is recorded as completed with the answer she saw
    And Alice's answer is cached for a day

  @agents
  Scenario: An arithmetic question goes to the data agent and its calculator
    When Alice asks "What is 12.5 - 20?"
    Then only the data agent works on Alice's request
    And Alice sees the calculator work out 12.5 - 20 without error
    And Alice gets the answer "12.5 - 20 = -7.5"

  Scenario Outline: The calculator works out <question>
    When Alice asks "<question>"
    Then Alice gets the answer "<answer>"

    Examples:
      | question         | answer       |
      | What is 7 / 2?   | 7 / 2 = 3.5  |
      | What is -9 / 3?  | -9 / 3 = -3  |
      | What is 1.5 * 4? | 1.5 * 4 = 6  |
      | What is 12 / -4? | 12 / -4 = -3 |
      | What is 5 / 1?   | 5 / 1 = 5    |
      | What is -6 / -1? | -6 / -1 = 6  |

  Scenario: A wait of no time at all is done at once
    When Alice asks "Wait for 0 seconds"
    Then Alice gets the answer "Waited 0 seconds"

  @agents
  Scenario Outline: A wait of less than no time is refused, and the answer says so: <seconds> seconds
    When Alice asks "Wait for <seconds> seconds"
    Then Alice gets the answer "Waiting <seconds> seconds cannot be done: seconds must be a non-negative number."

    Examples:
      | seconds |
      | -1      |
      | -0.5    |

  @agents
  Scenario Outline: Advice is worked out from the products asked about: <question>
    When Alice asks "<question>"
    Then Alice gets the answer "<answer>"

    Examples:
      | question                                 | answer |
      | How can I reduce the cost of my storage? | Your usage of Object storage (per TB-month) costs about $21.60 a month. Switching off idle time and taking a 35% committed-use discount would bring it to about $14.04, saving $7.56 a month. |
      | How can I cut my bill?                   | Here is what I found about A100 GPU instance, L4 GPU instance, A100 GPU spot instance: 580 hours used last month. Plans available: Starter, Team, Committed use (1 year). |

  @agents
  Scenario Outline: The triage agent sorts a question under its topic by its words: <question>
    When Alice asks "<question>"
    Then the triage agent sorts Alice's question under "<topic>", for the words "<words>"

    Examples:
      | question                                 | topic   | words                 |
      | How can I reduce the cost of my storage? | cost    | reduce, cost, storage |
      | How many hours did we use?               | usage   | hours, use            |
      | What plans do you have?                  | plans   | plans                 |
      | Tell me something nice                   | general |                       |

  Scenario: Every tool that starts also finishes, exactly once
    When Alice asks "How can I reduce the cost of my GPU usage?"
    Then Alice sees every tool that starts finish exactly once, before the answer

  @seq
  Scenario: Events arrive in order, numbered without gaps, with one ending per question
    When Alice asks "What is 2 + 2?"
    And Alice asks "What is 3 + 3?" in the same conversation
    Then Alice saw the events of her conversation numbered one after another from the first
    And each of Alice's questions ended exactly once, with nothing after its ending

  @agents @storage
  Scenario: Several agents cooperate on one request
    When Alice asks "How can I reduce the cost of my GPU usage?"
    Then the triage, data, optimisation and reporting agents work on Alice's request, in that order
    And Alice's request is recorded as completed by the triage, data, optimisation and reporting agents
    And Alice gets the answer "Your usage of A100 GPU instance, L4 GPU instance, A100 GPU spot instance costs about $1472.00 a month. Switching off idle time and taking a 35% committed-use discount would bring it to about $686.40, saving $785.60 a month."

  @storage
  Scenario: A failing tool is recovered from
    When Alice asks "What is 1 / 0?"
    Then Alice sees the calculator fail because of a division by zero
    And Alice still gets an answer explaining that dividing by zero cannot be done
    And Alice's request is recorded as completed with the answer she saw

  @storage
  Scenario: A failing agent ends the request as failed, and it is recorded so
    When Alice asks "Simulate a failure"
    Then Alice is told her request failed because an agent failed
    And Alice's request is recorded as failed because an agent failed
    And Alice's conversation keeps her question, and no answer to it

  Scenario: Two users asking at the same time never see each other's work
    Given Bob is signed in
    When Alice asks "What is 2 * 21?" while Bob asks "What is 9 - 4?"
    Then Alice sees only her own conversation, answered "2 * 21 = 42"
    And Bob sees only his own conversation, answered "9 - 4 = 5"
