Feature: Rollback
  `statectl rollback` returns a stack to the release it ran before, keeping
  anything that holds data; in production it needs a reason, which history
  and the audit log keep.

  Scenario Outline: <estate> in dev rolls back from v1.1.0 to v1.0.0
    Given release "v1.0.0" of the "<estate>" estate runs in "dev"
    When the specs change the "release-train" tag of every resource to "2026-12"
    And release "v1.1.0" is applied to "dev"
    And the stack is rolled back with the reason "acceptance: v1.1.0 misbehaves"
    Then the stack runs release "v1.0.0"
    And the last generation is a "rollback"
    And nothing has drifted

    Examples:
      | estate          |
      | chatwoot        |
      | chaufher        |
      | openai-platform |
      | vc-reporting    |

  Scenario: a production rollback without a reason is refused and changes nothing
    Given release "v1.0.0" of the "vc-reporting" estate runs in "prod"
    When the specs change the "release-train" tag of every resource to "2026-12"
    And release "v1.1.0" is promoted to "prod"
    And the stack is rolled back
    Then the command fails saying "--reason"
    And the stored state is unchanged
    And the stack runs release "v1.1.0"
