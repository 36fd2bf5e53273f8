Feature: Cost within budget
  Seed 000: "Budget: ~$1,065/month", with a cost table whose line items add
  up to it. The monthly estimate from the catalog's prices (plus the cost
  lines that are not resources) stays within the estate's budget.

  Scenario Outline: chatwoot in <env> costs $1,065 a month, within its budget
    Given the "chatwoot" estate in the "<env>" environment
    Then the priced line items add up to $1065 a month
    And the monthly estimate is within the budget

    Examples:
      | env     |
      | dev     |
      | staging |
      | prod    |

  Scenario Outline: an estate over its budget in <env> is caught
    Given the "chatwoot" estate in the "<env>" environment
    When the estate is broken: the budget is cut to $1 a month
    Then the "cost.budget" check fails, naming the broken resource

    Examples:
      | env  |
      | dev  |
      | prod |
