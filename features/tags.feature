Feature: Tag completeness
  Seed 001's policy denies any resource without environment, owner and
  cost-center tags; seed 004 enforces tags for cost attribution. Every
  taggable resource of every estate carries all three, non-empty, and its
  environment tag names the environment it runs in.

  Scenario Outline: every taggable resource of <estate> in <env> is tagged
    Given the "<estate>" estate in the "<env>" environment
    Then every taggable resource carries its environment, owner and cost-center tags

    Examples:
      | estate          | env     |
      | chatwoot        | dev     |
      | chatwoot        | staging |
      | chatwoot        | prod    |
      | chaufher        | dev     |
      | chaufher        | staging |
      | chaufher        | prod    |
      | openai-platform | dev     |
      | openai-platform | staging |
      | openai-platform | prod    |
      | vc-reporting    | dev     |
      | vc-reporting    | staging |
      | vc-reporting    | prod    |

  Scenario Outline: a missing tag in <estate>/<env> is caught
    Given the "<estate>" estate in the "<env>" environment
    When the estate is broken: a taggable resource loses its owner tag
    Then the "tags.required" check fails, naming the broken resource

    Examples:
      | estate          | env     |
      | chatwoot        | dev     |
      | chaufher        | staging |
      | openai-platform | prod    |
      | vc-reporting    | prod    |

  Scenario Outline: an empty tag in <estate>/<env> is caught
    Given the "<estate>" estate in the "<env>" environment
    When the estate is broken: a taggable resource has an empty cost-center tag
    Then the "tags.required" check fails, naming the broken resource

    Examples:
      | estate       | env  |
      | chatwoot     | prod |
      | vc-reporting | dev  |

  Scenario Outline: a wrong environment tag in <estate>/<env> is caught
    Given the "<estate>" estate in the "<env>" environment
    When the estate is broken: a resource's environment tag names another environment
    Then the "tags.environment" check fails, naming the broken resource

    Examples:
      | estate          | env     |
      | chaufher        | prod    |
      | openai-platform | staging |
