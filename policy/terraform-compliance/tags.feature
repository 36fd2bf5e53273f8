Feature: Every resource that can carry tags carries the organisation's tags
  Seed 004 (production rules) and every estate's `required_tags`: each
  taggable resource names its environment, its owner and its cost centre.

  Scenario Outline: a taggable resource carries <tag>
    Given I have resource that supports tags defined
    When it has tags
    Then it must contain tags
    And it must contain <tag>
    And its value must match the ".+" regex

    Examples:
      | tag         |
      | environment |
      | owner       |
      | cost-center |
